"""The nemesis: fault kinds (faults.py), where they land (targets.py), how (network.py, latency.py,
delayer.py), what can be made here (preflight.py) and when (schedule.py).

Exports are loaded lazily so that `python -m harness.nemesis.delayer`, which runs inside a
pod's network for the latency fault, starts without importing the rest of the harness.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"Nemesis": "schedule", "ActiveFault": "faults", "Context": "faults", "TargetError": "targets"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"harness.nemesis.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'harness.nemesis' has no attribute {name!r}")

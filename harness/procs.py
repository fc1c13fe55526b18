"""Processes on this machine, judged from /proc: a run's owner, a pod's server."""

from __future__ import annotations

from typing import TypeGuard


def process_alive(pid: int | None) -> TypeGuard[int]:
    """Running (a zombie, exited but not yet reaped, is not)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False

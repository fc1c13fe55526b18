"""The environment a run ran in, and the key its results are filed under.

Two runs are comparable only when they measured the same thing on the same kind of machine. The
*key* (scenario + topology hash + platform) says what was measured; the *fingerprint* (server
versions, harness version and commit, kernel, CPU model and count, machine load) says where. A
trend compares runs with the same key and marks every point where the fingerprint changed, so
an upgrade of Redis or a move to another CI machine is seen as such, not as a regression.

The machine facts are taken by the runner into meta.json (`machine`) while the run goes on;
`record` of an older run directory without them falls back to the recording machine's facts,
and says so (`machine_source`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform as pyplatform
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Topology fields that pick a server binary: they are the fingerprint's business (server
# versions), not the key's, so that upgrading 7.0 to 7.2 stays on one trend line and is marked.
VERSION_FIELDS = ("server", "pod_servers")
# What counts as a change of environment between two runs of one key.
ENVIRONMENT_FIELDS = ("server_versions", "harness_version", "kernel", "cpu_model", "cpu_count")


@dataclass(frozen=True)
class Fingerprint:
    server_versions: str  # distinct versions, sorted, joined by ", " ("redis 7.0.15")
    harness_version: str
    harness_commit: str | None
    kernel: str | None
    cpu_model: str | None
    cpu_count: int | None
    load_per_cpu: float | None  # 1-minute load average at the end of the run / CPU count
    machine_source: str  # "run" (taken during the run) or "recorder" (the recording machine, later)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def topology_hash(topology: dict[str, Any]) -> str:
    """12 hex digits of the canonical JSON of what is deployed, server binary choice left out."""
    shape = {k: v for k, v in sorted(topology.items()) if k not in VERSION_FIELDS}
    return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()[:12]


def series_key(scenario: str, topo_hash: str, platform: str) -> str:
    return f"{scenario}|{topo_hash}|{platform}"


def machine_facts() -> dict[str, Any]:
    """This machine now: what the runner writes to meta.json (`machine`) at the start of a run."""
    return {"kernel": pyplatform.release(), "cpu_model": _cpu_model(), "cpu_count": os.cpu_count(),
            "harness_commit": harness_commit()}


def load_per_cpu() -> float | None:
    """The 1-minute load average per CPU: above 1 the generator competed with others for the CPU."""
    try:
        return round(os.getloadavg()[0] / (os.cpu_count() or 1), 3)
    except OSError:
        return None


def fingerprint(summary: dict[str, Any], meta: dict[str, Any]) -> Fingerprint:
    """The fingerprint of a recorded run, from its summary and meta.json (tolerant of missing fields)."""
    machine = meta.get("machine") if isinstance(meta.get("machine"), dict) else None
    source = "run" if machine else "recorder"
    machine = machine or machine_facts()
    versions = summary.get("versions") or {p.get("name"): p.get("version") for p in meta.get("pods") or []
                                           if isinstance(p, dict)}
    distinct = sorted({str(v) for v in (versions or {}).values() if v})
    load = machine.get("load_per_cpu_end") if source == "run" else None
    return Fingerprint(
        server_versions=", ".join(distinct) or "unknown",
        harness_version=str(meta.get("harness_version") or "unknown"),
        harness_commit=machine.get("harness_commit"),
        kernel=machine.get("kernel"), cpu_model=machine.get("cpu_model"),
        cpu_count=machine.get("cpu_count"), load_per_cpu=load if isinstance(load, (int, float)) else None,
        machine_source=source,
    )


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What changed between two fingerprints (dicts with ENVIRONMENT_FIELDS), as 'field: a -> b'."""
    return [f"{name}: {before.get(name)} -> {after.get(name)}" for name in ENVIRONMENT_FIELDS
            if not _same(before.get(name), after.get(name))]


def _same(a: Any, b: Any) -> bool:
    """Equal, or both unknown (None, or NaN where pandas read a missing number)."""
    def unknown(v: Any) -> bool:
        return v is None or (isinstance(v, float) and v != v)

    return (unknown(a) and unknown(b)) or a == b


def harness_commit() -> str | None:
    """The git commit of the harness's source tree, when it runs from a checkout (editable install)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return pyplatform.processor() or None

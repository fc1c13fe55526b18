"""Did the topology converge after heal and settle? Judged from final-state.json, meta.json and the pods' logs.

DESIGN.md: lost writes are counted against a healed and settled topology, so a topology that did
not converge is a failed outcome, not a note. Converged means: every pod of meta.json answers and
is in a role; each shard has one primary; every replica's link is up with its offset within
MAX_LAG_BYTES of its primary's; every cluster node says cluster_state:ok; every sentinel names a
primary. For a pod that did not, the reason is looked up in its own log (e.g. a 6.2 replica
under a newer primary logs `Can't handle RDB format version 11` on every sync).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

MAX_LAG_BYTES = 64 * 1024
"""After the load has stopped the primary only sends replication PINGs: a replica further behind
than this has not caught up."""

# Lines that say why a pod is not converging, most telling first; the last matching line of the first
# pattern that matches is quoted.
REASONS = [
    re.compile(p) for p in (
        r"Can't handle RDB format version", r"Bad file format", r"Failed trying to load the MASTER synchronization",
        r"MASTER aborted replication", r"Unable to partial resync", r"Error condition on socket for SYNC",
        r"Error reading", r"Unable to connect to MASTER", r"Connecting to MASTER", r"FAIL message received",
    )
]


def problems(state: dict[str, Any], expected: list[str] | None = None) -> list[dict[str, str]]:
    """[{pod, why}] for every pod that has not converged (module docstring); empty when converged."""
    pods = {p["name"]: p for p in state.get("pods") or []}
    found = [{"pod": name, "why": "not observed after heal"} for name in expected or [] if name not in pods]
    redis = [p for p in pods.values() if p.get("kind") == "redis"]
    for p in pods.values():
        if p.get("role") == "down":
            found.append({"pod": p["name"], "why": "does not answer"})
    primaries: dict[Any, list[str]] = {}
    for p in redis:
        if p.get("role") == "primary":
            primaries.setdefault(_primary_group(state.get("kind"), p), []).append(p["name"])
    for shard, names in primaries.items():
        if len(names) > 1 and state.get("kind") != "cluster":
            found.append({"pod": ",".join(sorted(names)), "why": "more than one primary"})
    if redis and not primaries:
        found.append({"pod": "-", "why": "no primary"})
    for p in redis:
        if p.get("role") == "replica":
            found += _replica_problems(p)
        if state.get("kind") == "cluster" and p.get("role") != "down" and p.get("cluster_state") != "ok":
            found.append({"pod": p["name"], "why": f"cluster_state {p.get('cluster_state')}"})
    actual = {name for names in primaries.values() for name in names}
    for p in pods.values():
        if p.get("kind") != "sentinel" or p.get("role") == "down":
            continue
        if not p.get("sentinel_primary"):
            found.append({"pod": p["name"], "why": "names no primary"})
        elif actual and p["sentinel_primary"] not in actual:
            found.append({"pod": p["name"], "why": f"names {p['sentinel_primary']} as primary, which is not one"})
    return found


def _primary_group(kind: str | None, pod: dict[str, Any]) -> Any:
    """What has exactly one primary: a cluster's shard, a naive deployment's every pod (three primaries is
    its converged shape), else the whole topology."""
    if kind == "cluster":
        return pod.get("shard")
    return pod["name"] if kind == "naive" else None


def _replica_problems(p: dict[str, Any]) -> list[dict[str, str]]:
    if not p.get("link_up"):
        return [{"pod": p["name"], "why": f"replica link to {p.get('primary') or 'its primary'} is down"}]
    offset, primary_offset = p.get("offset"), p.get("primary_offset")
    if offset is None or primary_offset is None:
        return []  # the primary is in another shard's view or not a pod: the link being up is what is known
    if primary_offset - offset > MAX_LAG_BYTES:
        return [{"pod": p["name"], "why": f"replica {primary_offset - offset} bytes behind {p.get('primary')}"}]
    return []


def judge(state: dict[str, Any] | None, meta: dict[str, Any], logs_dir: Path) -> list[dict[str, str]]:
    """problems() over the run's files, each with `log`: the line of the pod's log that says why, if any."""
    if state is None:
        return []
    expected = [p["name"] for p in meta.get("pods") or []]
    found = problems(state, expected)
    for problem in found:
        line = reason_line(logs_dir / f"{problem['pod']}.log")
        if line:
            problem["log"] = line
    return found


def reason_line(log: Path) -> str | None:
    """The most telling line of a pod's log (REASONS order), the last of its kind; None without a log."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for pattern in REASONS:
        for line in reversed(lines):
            if pattern.search(line):
                return line.strip()
    return None

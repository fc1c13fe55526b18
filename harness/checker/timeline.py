"""What a report draws and lists besides the numbers: role and primary changes, the run's notable
events and the run's own facts, put into summary.json so that a report reads only the checker.

Primary changes follow the checker's rule: as the sentinels or cluster nodes logged them, when they
did (server_logs.py, cluster_logs.py); the watcher's otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from harness.rundir import TIMELINE_EVENT_TYPES

MAX_TIMELINE = 2000  # a long run with repeated faults has many more; the report says how many it shows
# meta.json's facts about the run itself that a report shows (status, clock, versions...).
RUN_FIELDS = ("status", "error", "network", "harness_version", "run_start_wall", "start_wall", "deploy_s",
              "duration_s", "ended_t", "scenario", "platform", "topology", "pods")


def markers(events: list[dict[str, Any]], logged: list[pd.DataFrame]) -> list[dict[str, Any]]:
    """Role changes and primary changes, each {t, type, ...its fields}, sorted by time. `events` are
    events.jsonl's records (rundir.read_event_records); `logged` the events read from the servers' logs."""
    logged = [frame for frame in logged if len(frame)]
    rows = list(events)
    if logged:
        changes = pd.concat(logged, ignore_index=True)
        rows = [e for e in rows if e.get("type") != "primary-change"]
        rows += [_plain(e) for e in changes[changes["type"] == "primary-change"].to_dict("records")]
    keep = {"primary-change": ("new", "old", "shard"), "role-change": ("pod", "role", "shard")}
    out = [{"t": float(e["t"]), "type": e["type"], **{k: _json_safe(e[k]) for k in keep[e["type"]] if k in e}}
           for e in rows if e.get("type") in keep]
    return sorted(out, key=lambda m: m["t"])


def timeline(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The notable events as they were logged ({"events": first MAX_TIMELINE, "count": all of them})."""
    rows = [_json_safe(e) for e in events if e.get("type") in TIMELINE_EVENT_TYPES]
    return {"events": rows[:MAX_TIMELINE], "count": len(rows)}


def run_facts(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: _json_safe(meta[k]) for k in RUN_FIELDS if k in meta}


def _plain(event: dict[str, Any]) -> dict[str, Any]:
    """One logged event as a plain dict: the DataFrame's filler for fields it did not have dropped."""
    return {k: _scalar(v) for k, v in event.items() if not _missing(v)}


def _json_safe(value: Any) -> Any:
    """`value` as summary.json can hold it (strict JSON): a NaN or infinity that a logged event
    carried (Python's json writes them) becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _scalar(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value

"""The verdict of an upgrade drill (summary.json `drill`), from the steps' events and the checkers' figures.

Each drill step is a firing of its own (harness/nemesis/upgrade.py), so its client-observed
unavailability, detection and promotion are the per-fault figures of availability.py. Lost writes
are tied to a step by their first acknowledgement: a lost write belongs to the first step that
ended at or after it was acknowledged (the step during which it was still there to be lost); one
acknowledged after the last step belongs to no step but still counts for the drill.

Safe means: every step ran and was verified, no pod was found unable to load its primary's data,
and no acknowledged write was lost. Anything else is unsafe, with one reason per finding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from harness.checker.availability import Failover
from harness.checker.events import Firing, of_type, to_ns


def drill_verdict(events: pd.DataFrame, firings: list[Firing], failovers: list[Failover],
                  lost_acks: pd.DataFrame) -> dict[str, Any] | None:
    """None when the run had no drill."""
    starts = of_type(events, "drill-start") if len(events) else events
    if not len(starts):
        return None
    start = _row(starts.iloc[0])
    ends = of_type(events, "drill-end")
    end = _row(ends.iloc[0]) if len(ends) else {}
    steps = _steps(events, firings, failovers, str(start["fault_id"]))
    per_step = _lost_per_step(steps, lost_acks)
    for step, lost in zip(steps, per_step):
        step["lost_writes"] = lost
    end_s = float(end["t"]) if end else (steps[-1]["end_s"] if steps and steps[-1]["end_s"] is not None else None)
    incompatible = [s["failed"] for s in steps if s.get("failed") and s["failed"].get("log_line")]
    drill = {
        "fault_id": str(start["fault_id"]),
        "strategy": start.get("strategy"),
        "to": start.get("to"),
        "outcome": end.get("outcome") or "unfinished",
        "reason": end.get("reason"),
        "start_s": float(start["t"]),
        "end_s": end_s,
        "total_s": round(end_s - float(start["t"]), 3) if end_s is not None else None,
        "total_unavailable_s": round(sum(s["unavailable_s"] for s in steps), 3),
        "lost_writes": int(len(lost_acks)),
        "versions_before": start.get("versions") or {},
        "versions_after": end.get("versions") or {},
        "sentinels_not_upgraded": end.get("sentinels") or {},  # the drill rolls Redis pods only
        "incompatible": incompatible,
        "steps": steps,
    }
    drill["reasons"] = _reasons(drill)
    drill["verdict"] = "unsafe" if drill["reasons"] else "safe"
    return drill


def _steps(events: pd.DataFrame, firings: list[Firing], failovers: list[Failover], drill_id: str) -> list[dict]:
    verified = of_type(events, "fault-verified")
    fault_ends = of_type(events, "fault-end")
    starts = {str(r["fault_id"]): _row(r) for _, r in of_type(events, "fault-start").iterrows()}
    steps = []
    for firing, failover in zip(firings, failovers):
        if not firing.fault_id.startswith(drill_id + "/"):
            continue
        start = starts.get(firing.fault_id, {})
        raw_params = start.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        mine = verified[verified["fault_id"].astype(str) == firing.fault_id]
        ended = fault_ends[fault_ends["fault_id"].astype(str) == firing.fault_id]
        observed = _row(ended.iloc[0]).get("observed") if len(ended) else None
        observed = observed if isinstance(observed, dict) else {}
        steps.append({
            "fault_id": firing.fault_id,
            "step": params.get("step"),
            "action": params.get("action"),
            "pods": firing.target,
            "from": params.get("from") or {},
            "to": params.get("to"),
            "start_s": firing.start_s,
            "end_s": firing.end_s,
            "duration_s": round(firing.end_s - firing.start_s, 3) if firing.end_s is not None else None,
            "ok": bool(len(mine)) and all(v is True for v in mine["ok"]),
            "detail": " ".join(str(d) for d in mine["detail"]) if len(mine) else "",
            "unavailable_s": failover.unavailable_s,
            "detected_s": failover.detected_s,
            "promoted_s": failover.promoted_s,
            "new_primary": failover.new_primary or observed.get("new_primary"),
            "link_down_s": observed.get("link_down_s") or {},
            "resync": observed.get("resync") or {},
            "failed": observed.get("failed"),
        })
    return steps


def _row(row: pd.Series) -> dict[str, Any]:
    """An event as a dict without the NaNs pandas fills in for fields other event types have."""
    return {k: v for k, v in row.to_dict().items() if not (isinstance(v, float) and np.isnan(v))}


def _lost_per_step(steps: list[dict], lost_acks: pd.DataFrame) -> list[int]:
    if not steps:
        return []
    ends = np.array([to_ns(s["end_s"]) if s["end_s"] is not None else np.iinfo(np.int64).max for s in steps],
                    np.int64)
    owner = np.searchsorted(ends, lost_acks["complete_ns"].to_numpy(np.int64), side="left")
    return [int((owner == i).sum()) for i in range(len(steps))]


def _reasons(drill: dict) -> list[str]:
    reasons = []
    named = [item["log_line"] for item in drill["incompatible"]]
    if drill["outcome"] != "completed" and not any(line in str(drill["reason"]) for line in named):
        reasons.append(f"the drill {drill['outcome']}" + (f": {drill['reason']}" if drill["reason"] else ""))
    for item in drill["incompatible"]:
        reasons.append(f"version incompatibility: {item['pod']}: {item['log_line']}")
    for step in drill["steps"]:
        if not step["ok"] and not step.get("failed"):
            reasons.append(f"step {step['step']} ({step['action']} {step['pods']}) not verified: {step['detail']}")
    if drill["lost_writes"]:
        where = ", ".join(f"step {s['step']} ({s['action']} {s['pods']}): {s['lost_writes']}"
                          for s in drill["steps"] if s["lost_writes"])
        reasons.append(f"{drill['lost_writes']} acknowledged writes lost" + (f" ({where})" if where else ""))
    return reasons

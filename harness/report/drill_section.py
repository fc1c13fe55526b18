"""The upgrade drill's part of report.html: its verdict with reasons, then one row per step.

Reads summary.json's `drill` (harness/checker/drill.py) only; the steps are also on every time plot,
since each step is a fault firing of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.report.metrics import format_number

COLUMNS = ["step", "action", "pods", "from -> to", "start", "took", "unavailable", "lost", "link down",
           "resync", "promoted", "verified"]


@dataclass
class DrillView:
    verdict: str  # safe | unsafe
    line: str
    reasons: list[str]
    rows: list[list[str]] = field(default_factory=list)


def drill_view(summary: dict[str, Any]) -> DrillView | None:
    drill = summary.get("drill")
    if not isinstance(drill, dict):
        return None
    line = (f"{drill.get('strategy')} to {drill.get('to')}: {len(drill.get('steps') or [])} steps in "
            f"{_s(drill.get('total_s'))}, writes refused {_s(drill.get('total_unavailable_s'))} in all, "
            f"{drill.get('lost_writes', 0):,} acknowledged writes lost; drill {drill.get('outcome')}")
    sentinels = drill.get("sentinels_not_upgraded") or {}
    if sentinels:
        line += f"; sentinels not upgraded (still {', '.join(sorted(set(sentinels.values())))})"
    return DrillView(str(drill.get("verdict")), line, list(drill.get("reasons") or []),
                     [_row(step) for step in drill.get("steps") or []])


def _row(step: dict[str, Any]) -> list[str]:
    versions = sorted(set((step.get("from") or {}).values()))
    moved = f"{', '.join(versions)} -> {step['to']}" if step.get("to") else ", ".join(versions)
    links = ", ".join(f"{pod} {_s(v)}" for pod, v in (step.get("link_down_s") or {}).items() if v)
    resync = ", ".join(f"{pod} {kind}" for pod, kind in (step.get("resync") or {}).items() if kind)
    promoted = f"{step['new_primary']} at +{_s(step['promoted_s'])}" if step.get("promoted_s") is not None else \
        (step.get("new_primary") or "")
    failed = step.get("failed") or {}
    verified = "yes" if step.get("ok") else f"NO: {failed.get('log_line') or failed.get('why') or step.get('detail')}"
    return [str(step.get("step")), str(step.get("action")), str(step.get("pods")), moved,
            f"{format_number(step.get('start_s'))} s", _s(step.get("duration_s")), _s(step.get("unavailable_s")),
            str(step.get("lost_writes", 0)), links or "none", resync or "none", promoted, verified]


def _s(value: object) -> str:
    return "n/a" if value is None else f"{format_number(value)} s"


def drill_lines(summary: dict[str, Any]) -> list[str]:
    """The drill as the CLI prints it under the verdict: the verdict line, reasons, one line per step."""
    view = drill_view(summary)
    if view is None:
        return []
    lines = [f"upgrade drill: {view.verdict.upper()}: {view.line}"] + [f"  unsafe because: {r}" for r in view.reasons]
    for row in view.rows:
        cells = dict(zip(COLUMNS, row))
        lines.append(f"  step {cells['step']} {cells['action']} {cells['pods']} ({cells['from -> to']}): "
                     f"took {cells['took']}, unavailable {cells['unavailable']}, lost {cells['lost']}, "
                     f"link down {cells['link down']}, resync {cells['resync']}"
                     + (f", promoted {cells['promoted']}" if cells["promoted"] else "")
                     + ("" if cells["verified"] == "yes" else f", {cells['verified']}"))
    return lines

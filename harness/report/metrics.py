"""The numbers runs are compared and aggregated on, read from summary.json, and where to find them.

One flat name per number (`unavailable_s[0.0]` is fault 0.0's), with the direction that counts
as better, so compare and aggregate agree on what a metric is and which way is good.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from harness.rundir import RunDir


@dataclass(frozen=True)
class Metric:
    family: str  # the name without a fault id; thresholds are set per family
    label: str
    unit: str
    higher_is_better: bool


METRICS = {
    m.family: m
    for m in (
        Metric("throughput.baseline", "throughput, baseline", "ops/s", True),
        Metric("throughput.during_fault", "throughput, during faults", "ops/s", True),
        Metric("throughput.recovered", "throughput, recovered", "ops/s", True),
        Metric("latency.p50", "latency p50", "ms", False),
        Metric("latency.p99", "latency p99", "ms", False),
        Metric("latency.p999", "latency p99.9", "ms", False),
        Metric("unavailable_s", "unavailable", "s", False),
        Metric("lost_writes", "lost writes", "", False),
    )
}


def family(name: str) -> str:
    return name.split("[", 1)[0]


def metric(name: str) -> Metric:
    return METRICS[family(name)]


def metrics_of(summary: dict[str, Any]) -> dict[str, float]:
    """The summary's comparable numbers; a number the summary lacks is left out, never zero."""
    values: dict[str, float] = {}
    throughput = summary.get("throughput") or {}
    for key, name in (("baseline_ops_per_s", "throughput.baseline"),
                      ("during_fault_ops_per_s", "throughput.during_fault"),
                      ("recovered_ops_per_s", "throughput.recovered")):
        _put(values, name, throughput.get(key))
    latency = summary.get("latency_ms") or {}
    for key in ("p50", "p99", "p999"):
        _put(values, f"latency.{key}", latency.get(key))
    for failover in summary.get("failover") or []:
        _put(values, f"unavailable_s[{failover.get('fault_id')}]", failover.get("unavailable_s"))
    _put(values, "lost_writes", (summary.get("writes") or {}).get("lost"))
    return values


def _put(values: dict[str, float], name: str, value: Any) -> None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        values[name] = float(value)


def format_number(value: Any) -> str:
    """Plain and short: 21,896 / 12.3 / 0.402; "-" for unknown."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return str(value)  # a summary with something odd in it is shown as it is, not crashed on
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10 or value == int(value):
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:#.3g}"  # 3.00, 0.402: keep the digits that say how precise it is


def sort_key(name: str) -> tuple[int, str]:
    return list(METRICS).index(family(name)), name


# --------------------------------------------------------------------------- finding summaries


def summary_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Each path is a summary.json, a run directory, or a directory of run directories (a --repeat)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append(path)
        elif RunDir(path).summary.is_file():
            found.append(RunDir(path).summary)
        elif path.is_dir():
            runs = sorted(RunDir(p).summary for p in path.iterdir() if RunDir(p).summary.is_file())
            if not runs:
                raise FileNotFoundError(f"{path}: no summary.json in it nor in any run directory under it")
            found.extend(runs)
        else:
            raise FileNotFoundError(f"{path}: no such run directory or summary file")
    return found


def load_summaries(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    summaries = []
    for path in summary_paths(paths):
        try:
            summary = json.loads(path.read_text())
        except ValueError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from None
        if not isinstance(summary, dict):
            raise ValueError(f"{path}: a summary is a JSON object")
        summaries.append(summary)
    return summaries

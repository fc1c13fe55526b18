"""The scenario's SLOs, judged on the summary, and the run's verdict.

`max_*` SLOs pass when value <= limit, `min_*` when value >= limit. An SLO whose value could not
be measured (None: e.g. no detection event for a fault, no recovered phase) fails: a gate that
cannot be checked must not let a run through.
"""

from __future__ import annotations

from typing import Any, Callable

Summary = dict[str, Any]


def _max_over_faults(field: str) -> Callable[[Summary], float | None]:
    def value(summary: Summary) -> float | None:
        values = [f[field] for f in summary["failover"]]
        if any(v is None for v in values):
            return None
        return max(values, default=0.0)

    return value


MEASURES: dict[str, Callable[[Summary], float | None]] = {
    "max_unavailable_s": _max_over_faults("unavailable_s"),
    "max_lost_writes": lambda s: s["writes"]["lost"],
    "min_baseline_ops_per_s": lambda s: s["throughput"]["baseline_ops_per_s"],
    "min_recovered_ops_per_s": lambda s: s["throughput"]["recovered_ops_per_s"],
    "max_p99_ms": lambda s: s["latency_ms"]["p99"],
    "max_detection_s": _max_over_faults("detected_s"),
}


def evaluate(slos: list[tuple[str, float]], summary: Summary) -> tuple[list[dict], list[str]]:
    """[{name, limit, value, pass}] in the scenario's order, and notes on SLOs that could not be measured."""
    results, notes = [], []
    for name, limit in slos:
        measure = MEASURES.get(name)
        value = measure(summary) if measure else None
        if value is None:
            notes.append(f"SLO {name}: " + ("no measure of that name" if measure is None else "could not be measured")
                         + "; counted as failed")
            passed = False
        else:
            passed = value <= limit if name.startswith("max_") else value >= limit
        results.append({"name": name, "limit": limit, "value": value, "pass": bool(passed)})
    return results, notes


def verdict(slo_results: list[dict], complete: bool) -> str:
    if any(not r["pass"] for r in slo_results):
        return "fail"
    return "pass" if complete else "incomplete"

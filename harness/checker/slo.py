"""The scenario's SLOs, judged on the summary (the run's verdict is harness/checker/checks.py's).

`max_*` SLOs pass when value <= limit, `min_*` when value >= limit. Each result has a `status`:
"pass", "fail", or "not-evaluated" when there was no data to judge it (no load ran, no final read,
no fault fired, no detection event...). A not-evaluated SLO never passes (`pass` is false) and the
run cannot pass with one; a run that stopped before deploying has every SLO not evaluated, not the
0.0 an empty list would give.
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
    "max_missed_reads": lambda s: (s.get("reads") or {}).get("missed_acknowledged_write"),
    "min_baseline_ops_per_s": lambda s: s["throughput"]["baseline_ops_per_s"],
    "min_recovered_ops_per_s": lambda s: s["throughput"]["recovered_ops_per_s"],
    "max_p99_ms": lambda s: s["latency_ms"]["p99"],
    "max_detection_s": _max_over_faults("detected_s"),
}


NEEDS_FAULTS = {"max_unavailable_s", "max_detection_s", "min_recovered_ops_per_s"}


def missing_data(name: str, data: dict[str, bool]) -> str | None:
    """Why an SLO has no data in this run, or None. `data`: load (some driver produced operations),
    final_read (final.csv has rows), faults_scheduled, faults_fired."""
    if not data.get("load", True):
        return "no load ran"
    if name == "max_lost_writes" and not data.get("final_read", True):
        return "no final read"
    if name in NEEDS_FAULTS and data.get("faults_scheduled") and not data.get("faults_fired", True):
        return "no fault fired"
    return None


def evaluate(slos: list[tuple[str, float]], summary: Summary,
             data: dict[str, bool] | None = None) -> tuple[list[dict], list[str]]:
    """[{name, limit, value, pass, status, reason?}] in the scenario's order, and notes on SLOs not evaluated."""
    results, notes = [], []
    for name, limit in slos:
        measure = MEASURES.get(name)
        reason = "no measure of that name" if measure is None else missing_data(name, data or {})
        value = None if reason or measure is None else measure(summary)
        if value is None:
            reason = reason or "could not be measured"
            notes.append(f"SLO {name}: not evaluated ({reason})")
            results.append({"name": name, "limit": limit, "value": None, "pass": False, "status": "not-evaluated",
                            "reason": reason})
            continue
        passed = value <= limit if name.startswith("max_") else value >= limit
        results.append({"name": name, "limit": limit, "value": value, "pass": bool(passed),
                        "status": "pass" if passed else "fail"})
    return results, notes

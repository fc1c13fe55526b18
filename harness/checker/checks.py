"""Checks: what must hold for a run to count at all, before any SLO is read.

A run whose load driver died still has numbers (zeros, or a second of load), and an SLO on
another metric could pass on them; a check is what stops that. Each check is a small pure
function of `RunFacts` (loaded once from the run directory) returning zero or more results
`{"name", "status": "pass" | "fail" | "not-evaluated", "detail", "log"}`; `log` is the file, relative
to the run directory, that says more (null if none). To add a check, write one function and
append it to `CHECKS`. The verdict is pass only if every check and every SLO passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from harness.scenario import Scenario

Check = dict[str, Any]
PASS, FAIL, NOT_EVALUATED = "pass", "fail", "not-evaluated"
LOCUST_MAX_ERROR_RATIO = 0.2  # more failed requests than this and Locust's load is not the load asked for
DRIVER_LOGS = {"locust": "raw/locust.log", "redis-benchmark": "raw/redis-benchmark.out", "probe": "events.jsonl"}


@dataclass(frozen=True)
class RunFacts:
    """What the checks read; summary.build loads it from meta.json, scenario.yaml, events.jsonl, series/."""

    meta: dict[str, Any]
    scenario: Scenario | None
    events: pd.DataFrame
    series: dict[str, pd.DataFrame]  # per driver, the 1 s table (series/<driver>.csv; the probe's from history)


def check(name: str, status: str, detail: str, log: str | None = None) -> Check:
    return {"name": name, "status": status, "detail": detail, "log": log}


def run_completed(facts: RunFacts) -> list[Check]:
    status = facts.meta.get("status") or "unknown"
    if status == "complete":
        return [check("run completed", PASS, "the run ended at its duration and was torn down")]
    error = facts.meta.get("error") or "the harness stopped before the run ended"
    return [check("run completed", FAIL, f"status {status}: {error}", "meta.json")]


def scenario_read(facts: RunFacts) -> list[Check]:
    """Only when it could not be: then no SLO was judged, and the run cannot pass."""
    if facts.scenario is not None:
        return []
    return [check("scenario read", NOT_EVALUATED, "scenario.yaml could not be read, so no SLO was judged",
                  "scenario.yaml")]


def _driver_events(facts: RunFacts, driver: str, type_: str) -> list[str]:
    events = facts.events
    if not len(events) or "driver" not in events or "type" not in events:
        return []
    mine = events[(events["type"] == type_) & (events["driver"] == driver)]
    return [str(d) for d in (mine["detail"] if "detail" in mine else [""] * len(mine))]


def _counts(facts: RunFacts, driver: str) -> tuple[int, int]:
    """(acknowledged, failed or unknown) operations over the whole run."""
    series = facts.series.get(driver)
    if series is None or not len(series):
        return 0, 0
    bad = sum(int(series[c].sum()) for c in ("fail", "info") if c in series)
    return int(series["ok"].sum()), bad


def _enabled(facts: RunFacts, driver: str) -> bool:
    if facts.scenario is not None:
        load = facts.scenario.workload
        return {"locust": load.locust, "redis-benchmark": load.redis_benchmark, "probe": load.probe}[driver].enabled
    return driver in facts.series or bool(_driver_events(facts, driver, "driver-start"))


def _driver_check(facts: RunFacts, driver: str, name: str, max_error_ratio: float | None = None) -> list[Check]:
    """Fails when the driver never started, reported an error (died, aborted, exit code), completed
    no request, or (with `max_error_ratio`) saw more failed requests than that share."""
    if not _enabled(facts, driver):
        return []
    log = DRIVER_LOGS[driver]
    errors = _driver_events(facts, driver, "driver-error")
    ok, bad = _counts(facts, driver)
    if errors:
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        return [check(name, FAIL, f"{driver} failed: {_short(errors[0])}{more}", log)]
    if ok == 0:
        started = bool(_driver_events(facts, driver, "driver-start")) or bad
        return [check(name, FAIL, f"{driver} completed no request ({bad} failed)" if started
                      else f"{driver} never started", log)]
    ratio = bad / (ok + bad)
    if max_error_ratio is not None and ratio > max_error_ratio:
        return [check(name, FAIL, f"{ratio:.0%} of {ok + bad:,} {driver} requests failed "
                                  f"(more than {max_error_ratio:.0%})", log)]
    return [check(name, PASS, f"{ok:,} requests acknowledged, {bad:,} failed ({ratio:.1%})", log)]


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def driver_locust(facts: RunFacts) -> list[Check]:
    return _driver_check(facts, "locust", "driver locust", LOCUST_MAX_ERROR_RATIO)


def driver_redis_benchmark(facts: RunFacts) -> list[Check]:
    return _driver_check(facts, "redis-benchmark", "driver redis-benchmark")


def probe(facts: RunFacts) -> list[Check]:
    return _driver_check(facts, "probe", "probe")


CHECKS: list[Callable[[RunFacts], list[Check]]] = [run_completed, scenario_read, driver_locust, driver_redis_benchmark, probe]


def evaluate(facts: RunFacts) -> list[Check]:
    """Every check's results, in CHECKS order."""
    return [result for fn in CHECKS for result in fn(facts)]


def verdict(checks: list[Check], slos: list[dict[str, Any]]) -> str:
    """fail: a check or SLO failed (other than the run not completing); incomplete: the run did not
    complete, or something could not be evaluated; pass: everything passed."""
    others = [c for c in checks if c["name"] != "run completed"]
    if any(c["status"] == FAIL for c in others) or any(s.get("pass") is False for s in slos):
        return "fail"
    if any(c["status"] != PASS for c in checks) or any(s.get("pass") is None for s in slos):
        return "incomplete"
    return "pass"


def failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c["status"] == FAIL]


def headline_lines(summary: dict[str, Any], run_dir: str | Path) -> list[str]:
    """One line per failed or unevaluated check, naming it and the log to read (an absolute path, so it
    can be opened from wherever the headline is read): the CLI and report.html lead with these."""
    lines = []
    for c in summary.get("checks") or []:
        if not isinstance(c, dict) or c.get("status") == PASS or c.get("name") == "run completed":
            continue
        where = f" (log: {Path(run_dir) / c['log']})" if c.get("log") else ""
        word = "FAILED" if c.get("status") == FAIL else "NOT EVALUATED"
        lines.append(f"{word} {c.get('name')}: {c.get('detail')}{where}")
    return lines

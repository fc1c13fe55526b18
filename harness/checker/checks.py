"""Checks: what must hold for a run to count at all, before any SLO is read (DESIGN.md "A run passes only if").

A run whose load driver died still has numbers (zeros, or a second of load), a fault that did not
take still leaves a calm history, and an SLO could pass on either; a check is what stops that. Each
check is a small pure function of `RunFacts` (loaded once from the run directory) returning zero or
more results `{"name", "status": "pass" | "fail" | "not-evaluated", "detail", "log"}`; `log` is the
file, relative to the run directory, that says more (null if none). A check may carry
`"allowed": true` when the scenario accepted its outcome (a fault marked `allow_not_applied` that
did not take): it is reported, in the headline too, but does not block the verdict. To add a check,
write one function and append it to `CHECKS`. The verdict is pass only if every check and every SLO
passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from harness.checker.events import fault_firings
from harness.rundir import (EVENTS_FILE, FINAL_STATE_FILE, LOCUST_LOG, META_FILE, OPENLOOP_SECONDS_DIR,
                            REDIS_BENCHMARK_OUT, SCENARIO_FILE)
from harness.rundir.summary import FAIL, NOT_EVALUATED, PASS, slo_status
from harness.scenario import Scenario

Check = dict[str, Any]
RECOVERY_S = 5  # whole seconds after the last heal with only failures: the driver did not recover
LOCUST_MAX_ERROR_RATIO = 0.2  # more failed requests than this and Locust's load is not the load asked for
DRIVER_LOGS = {"locust": LOCUST_LOG, "redis-benchmark": REDIS_BENCHMARK_OUT, "openloop": OPENLOOP_SECONDS_DIR,
               "probe": EVENTS_FILE}


@dataclass(frozen=True)
class RunFacts:
    """What the checks read; summary.build loads it from meta.json, scenario.yaml, events.jsonl, series/."""

    meta: dict[str, Any]
    scenario: Scenario | None
    events: pd.DataFrame
    series: dict[str, pd.DataFrame]  # per driver, the 1 s table (series/<driver>.csv; the probe's from history)
    convergence: list[dict[str, str]] | None = None  # checker/convergence.judge's problems; None: no final-state.json
    drill: dict[str, Any] | None = None  # checker/drill.drill_verdict; None: the run had no upgrade drill
    sentinel_log: pd.DataFrame | None = None  # server_logs.sentinel_log_events; None or empty: no sentinel logs


def check(name: str, status: str, detail: str, log: str | None = None, **extra: Any) -> Check:
    return {"name": name, "status": status, "detail": detail, "log": log, **extra}


def run_completed(facts: RunFacts) -> list[Check]:
    status = facts.meta.get("status") or "unknown"
    if status == "complete":
        return [check("run completed", PASS, "the run ended at its duration and was torn down")]
    error = facts.meta.get("error") or "the harness stopped before the run ended"
    return [check("run completed", FAIL, f"status {status}: {error}", META_FILE)]


def scenario_read(facts: RunFacts) -> list[Check]:
    """Only when it could not be: then no SLO was judged, and the run cannot pass."""
    if facts.scenario is not None:
        return []
    return [check("scenario read", NOT_EVALUATED, "scenario.yaml could not be read, so no SLO was judged",
                  SCENARIO_FILE)]


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
        enabled = {"locust": load.locust.enabled, "redis-benchmark": load.redis_benchmark.enabled,
                   "openloop": load.openloop.enabled, "probe": load.probe.enabled}
        return enabled[driver]
    return driver in facts.series or bool(_driver_events(facts, driver, "driver-start"))


def _driver_check(facts: RunFacts, driver: str, name: str, max_error_ratio: float | None = None) -> list[Check]:
    """Fails when the driver never started, reported an error (died, aborted, exit code), completed
    no request, or (with `max_error_ratio`) saw more failed requests than that share."""
    if not _enabled(facts, driver):
        return []
    log = DRIVER_LOGS[driver]
    if not _reached_load(facts):
        return [check(name, NOT_EVALUATED, "the run stopped before the load started", META_FILE)]
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
    if stuck := _not_recovered(facts, driver):
        return [check(name, FAIL, f"{driver} did not recover: {stuck}", log)]
    return [check(name, PASS, f"{ok:,} requests acknowledged, {bad:,} failed ({ratio:.1%})", log)]


def _not_recovered(facts: RunFacts, driver: str) -> str | None:
    """Why the driver's load never came back after the last fault was healed: from then on it only
    failed, for RECOVERY_S whole seconds or more (a client left dialling a gone address); None when it
    came back, or when there is too little run after the heal to tell."""
    firings = fault_firings(facts.events) if len(facts.events) and "type" in facts.events else []
    series = facts.series.get(driver)
    if not firings or any(f.end_s is None for f in firings) or series is None or not len(series):
        return None
    healed = max(f.end_s for f in firings if f.end_s is not None)
    after = series[series["t_s"] >= healed + 1]
    if after["t_s"].nunique() < RECOVERY_S or after["ok"].sum() > 0 or after["fail"].sum() == 0:
        return None
    return (f"no request acknowledged in the {after['t_s'].nunique()} s after the last fault ended at "
            f"{healed:.1f} s ({int(after['fail'].sum()):,} failed)")


def _reached_load(facts: RunFacts) -> bool:
    """Whether any load ran: a run that stopped in deploy has no driver to judge."""
    events = facts.events
    if len(events) and "type" in events and events["type"].isin(["load-start", "driver-start"]).any():
        return True
    return any(len(s) for s in facts.series.values())


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def driver_locust(facts: RunFacts) -> list[Check]:
    return _driver_check(facts, "locust", "driver locust", LOCUST_MAX_ERROR_RATIO)


def driver_redis_benchmark(facts: RunFacts) -> list[Check]:
    return _driver_check(facts, "redis-benchmark", "driver redis-benchmark")


def driver_openloop(facts: RunFacts) -> list[Check]:
    """As the others; a generator that could not keep its own schedule (its CPU, its timer's lag: engine.py)
    says so in the detail, so its figures are not read as the server's limit."""
    results = _driver_check(facts, "openloop", "driver openloop")
    limits = [why for why in _driver_event_field(facts, "openloop", "driver-end", "generator_limit") if why]
    for result in results:
        if limits:
            result["detail"] += f"; the generator was its own limit: {limits[-1]}"
    return results


def _driver_event_field(facts: RunFacts, driver: str, type_: str, field: str) -> list[str]:
    events = facts.events
    if not len(events) or not {"driver", "type", field} <= set(events.columns):
        return []
    mine = events[(events["type"] == type_) & (events["driver"] == driver)]
    return [str(v) for v in mine[field] if isinstance(v, str)]


def probe(facts: RunFacts) -> list[Check]:
    return _driver_check(facts, "probe", "probe")


def faults_verified(facts: RunFacts) -> list[Check]:
    """One check per firing that was attempted: pass when at least one `fault-verified` says ok and none
    says otherwise; fail when one says not ok or it could not be applied (`fault-error`). `allowed`:
    fault ids (scenario index, "0") whose scenario entry has allow_not_applied."""
    events = facts.events
    allowed = {str(i) for i, f in enumerate(facts.scenario.faults) if f.allow_not_applied} if facts.scenario else set()
    if not len(events) or "fault_id" not in events:
        return []
    relevant = events[events["type"].isin(["fault-start", "fault-verified", "fault-error"])]
    checks = []
    for fault_id in dict.fromkeys(relevant["fault_id"].dropna().astype(str)):
        rows = relevant[relevant["fault_id"].astype(str) == fault_id]
        checks.append(_fault_check(fault_id, rows, fault_id.split(".")[0] in allowed))
    return checks


def _fault_check(fault_id: str, rows: pd.DataFrame, allowed: bool) -> Check:
    name = f"fault {fault_id} verified"
    start = rows[rows["type"] == "fault-start"]
    what = _describe(start.iloc[0]) if len(start) else ""
    errors = rows[rows["type"] == "fault-error"]
    verified = rows[rows["type"] == "fault-verified"]
    failed = verified[verified["ok"].map(lambda v: v is not True and v != "true")] if len(verified) else verified
    if len(errors) or len(failed):
        reasons = [str(d) for d in [*errors.get("detail", []), *failed.get("detail", [])]]
        detail = f"{what}not applied: " + "; ".join(reasons)
        return check(name, NOT_EVALUATED, detail + " (allowed by the scenario)", allowed=True) if allowed \
            else check(name, FAIL, detail)
    if not len(verified):
        return check(name, NOT_EVALUATED, f"{what}healed before it could be verified")
    return check(name, PASS, what + "; ".join(str(d) for d in verified.get("detail", [])))


def _describe(start: pd.Series) -> str:
    pod = start.get("pod")
    pod = ",".join(pod) if isinstance(pod, list) else pod
    return f"{start.get('kind')} {pod}: " if isinstance(pod, str) and pod else f"{start.get('kind')}: "


def topology_converged(facts: RunFacts) -> list[Check]:
    """After heal and settle: every pod back and in a role, links up and caught up (final-state.json)."""
    problems = facts.convergence
    if facts.meta.get("status") != "complete" and problems is None:
        return []  # the run never reached heal and settle: "run completed" already says so
    name = "topology converged"
    if problems is None:
        return [check(name, NOT_EVALUATED, "the run did not reach heal and settle (no final-state.json)")]
    if not problems:
        return [check(name, PASS, "every pod back and in a role, replica links up and caught up")]
    parts = [f"{p['pod']}: {p['why']}" + (f" (log: {p['log']})" if p.get("log") else "") for p in problems]
    return [check(name, FAIL, "; ".join(parts), FINAL_STATE_FILE)]


def upgrade_drill_safe(facts: RunFacts) -> list[Check]:
    """An upgrade drill passes only when its verdict is safe (checker/drill.py says why not)."""
    if facts.drill is None:
        return []
    drill = facts.drill
    if drill["verdict"] == "safe":
        return [check("upgrade drill safe", PASS, f"{len(drill['steps'])} steps, {drill['total_unavailable_s']:g} s "
                                                  f"unavailable, 0 acknowledged writes lost")]
    return [check("upgrade drill safe", FAIL, "unsafe: " + "; ".join(drill["reasons"]), EVENTS_FILE)]


TILT_S = 30  # Sentinel leaves TILT mode 30 s after its last stall


def sentinels_out_of_tilt(facts: RunFacts) -> list[Check]:
    """Sentinel enters TILT mode when its event loop stalled for more than 2 s (or the clock jumped) and
    then acts on nothing for 30 s: a failover it should make comes late or not at all. That is the
    machine's doing (seen: a blocking DNS lookup on the Kubernetes fixture, a paused primary detected
    4-5 s late), not Sentinel's answer to the fault, so a run with a sentinel in TILT while it ran
    does not count. Only for runs whose sentinels' logs were kept."""
    log = facts.sentinel_log
    if log is None or not len(log) or "event" not in log:
        return []
    name, where = "sentinels out of TILT", "logs/"
    tilts = log[(log["event"] == "+tilt") & (log["t"] > -TILT_S)]  # a TILT entered before t = 0 may last into the run
    if not len(tilts):
        return [check(name, PASS, "no sentinel entered TILT mode during the run")]
    parts = [f"{row['sentinel']} at {row['t']:.1f} s" for _, row in tilts.iterrows()]
    return [check(name, FAIL, "TILT mode (the sentinel's event loop stalled > 2 s; it then acts on nothing for "
                              f"{TILT_S} s): " + ", ".join(parts), where + f"{tilts.iloc[0]['sentinel']}.log")]


CHECKS: list[Callable[[RunFacts], list[Check]]] = [run_completed, scenario_read, driver_locust, driver_redis_benchmark,
                                                   driver_openloop,
                                                   probe, faults_verified, topology_converged, sentinels_out_of_tilt,
                                                   upgrade_drill_safe]


def evaluate(facts: RunFacts) -> list[Check]:
    """Every check's results, in CHECKS order."""
    return [result for fn in CHECKS for result in fn(facts)]


def blocking(checks: list[Check]) -> list[Check]:
    """The checks that keep a run from passing: anything but pass, unless the scenario allowed it."""
    return [c for c in checks if c["status"] != PASS and not c.get("allowed")]


def verdict(checks: list[Check], slos: list[dict[str, Any]]) -> str:
    """fail: a check (other than the run not completing) or an SLO failed; incomplete: the run did not
    complete, or something could not be evaluated; pass: everything passed."""
    stops = blocking(checks)
    if any(c["status"] == FAIL and c["name"] != "run completed" for c in stops) \
            or any(slo_status(s) == FAIL for s in slos):
        return "fail"
    if stops or any(slo_status(s) != PASS for s in slos):
        return "incomplete"
    return "pass"


def headline(verdict_: str, checks: list[Check], slos: list[dict]) -> str:
    """One line that says why: the verdict, then every check that did not pass and every SLO that did not."""
    reasons = [f"{c['name']}: {c['status']}" + (f" - {c['detail']}" if c.get("detail") else "")
               for c in checks if c["status"] != PASS]
    reasons += [f"SLO {s['name']}: {slo_status(s)}" for s in slos if slo_status(s) != PASS]
    return verdict_ + (": " + " | ".join(reasons) if reasons else "")


def failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c["status"] == FAIL]

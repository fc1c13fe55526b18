"""The run's checks: small pure functions, each one outcome a passing run needs (DESIGN.md "A run passes only if").

Every check is {"name", "status": "pass" | "fail" | "not-evaluated", "detail"}; `evaluate` assembles
them in a fixed order for summary.json's `checks`. A check may carry `"allowed": true` when the
scenario accepted its outcome (a fault marked `allow_not_applied` that did not take): it is then
reported, in the headline too, but does not fail the run.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

Check = dict[str, Any]
PASS, FAIL, NOT_EVALUATED = "pass", "fail", "not-evaluated"


def check(name: str, status: str, detail: str = "", **extra: Any) -> Check:
    return {"name": name, "status": status, "detail": detail, **extra}


def faults_verified(events: pd.DataFrame, allowed: set[str]) -> list[Check]:
    """One check per firing that was attempted: pass when at least one `fault-verified` says ok and none
    says otherwise; fail when one says not ok or it could not be applied (`fault-error`). `allowed`:
    fault ids (scenario index, "0") whose scenario entry has allow_not_applied."""
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


def topology_converged(problems: list[dict[str, str]] | None) -> Check:
    """problems: harness/checker/convergence.judge's; None when the run never reached its final read."""
    name = "topology converged"
    if problems is None:
        return check(name, NOT_EVALUATED, "the run did not reach heal and settle (no final-state.json)")
    if not problems:
        return check(name, PASS, "every pod back and in a role, replica links up and caught up")
    parts = [f"{p['pod']}: {p['why']}" + (f" (log: {p['log']})" if p.get("log") else "") for p in problems]
    return check(name, FAIL, "; ".join(parts))


def evaluate(*, events: pd.DataFrame, allowed_faults: set[str], convergence: list[dict[str, str]] | None) -> list[Check]:
    """Engineer A's checks (run completed, drivers, probe) join this list when the branches merge."""
    return [*faults_verified(events, allowed_faults), topology_converged(convergence)]


def blocking(checks: list[Check]) -> list[Check]:
    """The checks that keep a run from passing: anything but pass, unless the scenario allowed it."""
    return [c for c in checks if c["status"] != PASS and not c.get("allowed")]


def headline(verdict: str, checks: list[Check], slos: list[dict]) -> str:
    """One line that says why: the verdict, then every check that did not pass and every SLO that failed."""
    reasons = [f"{c['name']}: {c['status']}" + (f" - {c['detail']}" if c.get("detail") else "")
               for c in checks if c["status"] != PASS]
    reasons += [f"SLO {s['name']}: {s['status']}" for s in slos if s.get("status") != PASS]
    return verdict + (": " + " | ".join(reasons) if reasons else "")

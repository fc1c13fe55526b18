"""junit.xml: one test case per SLO, plus one for the run itself, for CI systems that show test results.

An SLO that fails gets a <failure> naming value and limit; one the checker could not evaluate (no
data: status not-evaluated) is <skipped> with the reason, never a pass. Each check of summary.json
(fault verified, topology converged) is a case too. SLOs never evaluated (no summary.json: the checker did not run)
are <skipped> with the reason, so CI shows them as not run rather than silently passing. The
run-completion case fails when the run is partial. Each check in summary.json (harness/checker/
checks.py: the run completed, every load driver and the probe produced load) is a case of its own:
a failed check fails, a not-evaluated one is skipped; the failure names the driver's log.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.report.rundata import RunData
from harness.rundir import HTML_FILE

SUITE = "redis-harness"


def write_junit(run: RunData, path: Path) -> None:
    tree = ET.ElementTree(junit_element(run))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def junit_element(run: RunData) -> ET.Element:
    checks = (run.summary or {}).get("checks")
    if isinstance(checks, list) and checks:
        cases = [_check_case(run, c) for c in checks if isinstance(c, dict)] + _slo_cases(run)
    else:  # no checker output (a killed run's directory before `report`), or a summary older than checks
        cases = [_completion_case(run)] + _slo_cases(run)
    suite = ET.Element("testsuite", name=f"{SUITE}.{_scenario_name(run)}", tests=str(len(cases)),
                       failures=str(sum(c.find("failure") is not None for c in cases)), errors="0",
                       skipped=str(sum(c.find("skipped") is not None for c in cases)),
                       time=f"{_run_seconds(run):.3f}")
    properties = ET.SubElement(suite, "properties")
    for name, value in (("run_id", run.run_id), ("verdict", (run.summary or {}).get("verdict", "unknown")),
                        ("partial", str(run.partial).lower()), ("report", HTML_FILE)):
        ET.SubElement(properties, "property", name=name, value=str(value))
    suite.extend(cases)
    suites = ET.Element("testsuites", name=SUITE, tests=suite.get("tests", "0"), failures=suite.get("failures", "0"),
                        errors="0", skipped=suite.get("skipped", "0"))
    suites.append(suite)
    return suites


def _completion_case(run: RunData) -> ET.Element:
    case = _case(run, "run", "run completed")
    status = run.meta.get("status", "unknown")
    if run.partial:
        ET.SubElement(case, "failure", type="PartialRun",
                      message=f"the run did not complete (status {status}): its results are partial").text = (
            str(run.meta.get("error") or "the harness stopped before the run ended"))
    elif run.summary is None:
        ET.SubElement(case, "failure", type="NoSummary", message="no summary.json: the checker did not run")
    elif status not in ("complete", "unknown"):
        ET.SubElement(case, "failure", type="RunFailed", message=f"run status {status}").text = str(
            run.meta.get("error") or "")
    return case


def _check_case(run: RunData, check: dict[str, Any]) -> ET.Element:
    name = str(check.get("name", "?"))
    case = _case(run, "run" if name == "run completed" else "check", name)
    detail, log = str(check.get("detail", "")), check.get("log")
    where = f" (see {log})" if log else ""
    if check.get("status") == "fail":
        ET.SubElement(case, "failure", type="CheckFailed", message=f"{name}: {detail}{where}").text = detail
    elif check.get("status") != "pass":
        ET.SubElement(case, "skipped", message=f"not evaluated: {detail}{where}")
    ET.SubElement(case, "system-out").text = detail
    return case


def _slo_cases(run: RunData) -> list[ET.Element]:
    evaluated = (run.summary or {}).get("slo")
    if isinstance(evaluated, list):
        return [_slo_case(run, slo) for slo in evaluated if isinstance(slo, dict)]
    if run.slo_limits is None:
        return []
    reason = "not evaluated: no summary.json (the checker did not run)"
    cases = []
    for name, limit in run.slo_limits:
        case = _case(run, "slo", name)
        ET.SubElement(case, "skipped", message=f"{reason}; limit {limit:g}")
        cases.append(case)
    return cases


def _slo_case(run: RunData, slo: dict[str, Any]) -> ET.Element:
    name = str(slo.get("name", "?"))
    case = _case(run, "slo", name)
    value, limit = slo.get("value"), slo.get("limit")
    bound = ">=" if name.startswith("min_") else "<="
    if slo.get("pass") is None or slo.get("status") == "not-evaluated":
        reason = slo.get("reason") or "no data"
        ET.SubElement(case, "skipped", message=f"not evaluated: {reason}; limit {bound} {limit}")
    elif not slo["pass"] and value is None:
        ET.SubElement(case, "failure", type="SLOUnmeasured",
                      message=f"{name}: could not be measured, counted as failed (limit {bound} {limit})")
    elif not slo["pass"]:
        ET.SubElement(case, "failure", type="SLOViolation",
                      message=f"{name}: {value} violates {bound} {limit}").text = (
            f"{name} = {value}, limit {bound} {limit}")
    ET.SubElement(case, "system-out").text = f"value={value} limit={limit}"
    return case


def _case(run: RunData, group: str, name: str) -> ET.Element:
    return ET.Element("testcase", classname=f"{SUITE}.{_scenario_name(run)}.{group}", name=name, time="0")


def _scenario_name(run: RunData) -> str:
    return str((run.summary or {}).get("scenario") or run.meta.get("scenario") or "run")


def _run_seconds(run: RunData) -> float:
    for value in ((run.summary or {}).get("duration_s"), run.meta.get("ended_t")):
        if isinstance(value, (int, float)):
            return float(value)
    return 0.0

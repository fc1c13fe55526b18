"""The run's checks on hand-made facts: a driver that died, did nothing or mostly failed cannot pass."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.checker import analyze
from harness.checker.checks import LOCUST_MAX_ERROR_RATIO, RunFacts, evaluate, headline_lines, verdict
from harness.report import build_report
from harness.scenario import Scenario
from harness.rundir import RunDir
from tests.synthetic_run import make_run

SCENARIO = Scenario.model_validate({"name": "c", "duration_s": 10, "topology": {"kind": "standalone"},
                                    "workload": {"locust": {"enabled": True}}})


def facts(events: list[dict], locust_ok: int = 500, locust_fail: int = 0, status: str = "complete") -> RunFacts:
    series = {"probe": pd.DataFrame({"t_s": [1, 2], "ok": [50, 50], "fail": [0, 0], "info": [0, 0]})}
    if locust_ok or locust_fail:
        series["locust"] = pd.DataFrame({"t_s": [1, 2], "ok": [locust_ok // 2, locust_ok - locust_ok // 2],
                                         "fail": [locust_fail, 0], "info": [0, 0]})
    started = [{"t": 0.0, "type": "load-start", "driver": None, "detail": ""}]
    started += [{"t": 0.5, "type": "driver-start", "driver": d, "detail": ""} for d in ("probe", "locust")]
    return RunFacts({"status": status}, SCENARIO, pd.DataFrame(started + events), series, convergence=[])


def by_name(checks: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in checks}


def test_healthy_run_passes_every_check():
    checks = evaluate(facts([]))
    assert [c["name"] for c in checks] == ["run completed", "driver locust", "probe",
                                            "topology converged"]  # redis-benchmark is off, no fault
    assert {c["status"] for c in checks} == {"pass"}
    assert verdict(checks, [{"name": "x", "pass": True}]) == "pass"


def test_driver_error_fails_the_driver_and_the_verdict():
    error = {"t": 5.0, "type": "driver-error", "driver": "locust", "detail": "exit code -9; see raw/locust.log"}
    checks = evaluate(facts([error]))
    locust = by_name(checks)["driver locust"]
    assert locust["status"] == "fail" and "exit code -9" in locust["detail"] and locust["log"] == "raw/locust.log"
    assert verdict(checks, []) == "fail"
    lines = headline_lines({"checks": checks}, "/runs/r1")
    assert lines == ["FAILED driver locust: locust failed: exit code -9; see raw/locust.log "
                     "(log: /runs/r1/raw/locust.log)"]


def test_no_request_completed_fails():
    checks = by_name(evaluate(facts([], locust_ok=0)))
    assert checks["driver locust"]["status"] == "fail"
    assert "completed no request" in checks["driver locust"]["detail"]


def test_locust_error_ratio_over_the_threshold_fails():
    over = int(1000 * (LOCUST_MAX_ERROR_RATIO + 0.05))
    checks = by_name(evaluate(facts([], locust_ok=1000 - over, locust_fail=over)))
    assert checks["driver locust"]["status"] == "fail" and "requests failed" in checks["driver locust"]["detail"]
    under = int(1000 * (LOCUST_MAX_ERROR_RATIO - 0.05))
    assert by_name(evaluate(facts([], locust_ok=1000 - under, locust_fail=under)))["driver locust"]["status"] == "pass"


def test_probe_client_death_fails_the_probe():
    error = {"t": 3.0, "type": "driver-error", "driver": "probe", "detail": "client 1: ConnectionError()"}
    probe = by_name(evaluate(facts([error])))["probe"]
    assert probe["status"] == "fail" and "client 1" in probe["detail"]


@pytest.mark.parametrize(("status", "slo_pass", "expected"), [
    ("complete", True, "pass"), ("complete", False, "fail"), ("complete", None, "incomplete"),
    ("interrupted", True, "incomplete"), ("interrupted", False, "fail"),
])
def test_verdict(status, slo_pass, expected):
    assert verdict(evaluate(facts([], status=status)), [{"name": "s", "pass": slo_pass}]) == expected


def test_dead_driver_in_a_run_directory_reaches_summary_junit_and_html(tmp_path: Path):
    """The whole path on a synthetic run: a driver-error event turns into a failed check everywhere."""
    run = make_run(tmp_path / "run", duration_s=30, write_summary=False)
    with open(RunDir(run).events, "a") as f:
        f.write(json.dumps({"t": 12.0, "wall": 0, "source": "driver", "type": "driver-error", "driver": "locust",
                            "detail": "exit code 137 (killed)"}) + "\n")
    summary = analyze(run)
    assert summary["verdict"] == "fail"
    assert "check driver locust failed: locust failed: exit code 137 (killed)" in summary["degraded"]
    page = build_report(run).read_text()
    assert 'id="failed-checks"' in page and f"{run}/raw/locust.log" in page
    junit = RunDir(run).junit.read_text()
    assert 'name="driver locust"' in junit and "CheckFailed" in junit

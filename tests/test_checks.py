"""The run's checks on hand-made facts: a driver that died, did nothing or mostly failed cannot pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.checker import analyze
from harness.checker.checks import LOCUST_MAX_ERROR_RATIO, RunFacts, evaluate, verdict
from harness.rundir import headline_lines
from harness.report import build_report
from harness.scenario import Scenario
from harness.rundir import RunDir
from tests.synthetic_run import make_run

ROOT = Path(__file__).resolve().parent.parent

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


@pytest.mark.parametrize("recovered_ok", [0, 40])
def test_a_driver_that_only_failed_after_the_last_heal_did_not_recover(recovered_ok):
    """Locust left dialling a recreated pod's old IP failed every request after the k8s drill while the
    probe recovered; 99.5% of its requests were fine overall, so the error ratio alone passed it."""
    seconds = list(range(1, 21))
    fault = [{"t": 5.0, "type": "fault-start", "fault_id": "0", "kind": "pod-kill", "target": "redis-0"},
             {"t": 9.0, "type": "fault-end", "fault_id": "0", "kind": "pod-kill", "target": "redis-0"}]
    run = facts(fault)
    run.series["locust"] = pd.DataFrame({"t_s": seconds, "ok": [900] * 9 + [recovered_ok] * 11,
                                         "fail": [0] * 9 + [10] * 11, "info": [0] * 20})
    locust = by_name(evaluate(run))["driver locust"]
    if recovered_ok:
        assert locust["status"] == "pass", locust
    else:
        assert locust["status"] == "fail", locust
        assert locust["detail"] == ("locust did not recover: no request acknowledged in the 11 s after the last "
                                    "fault ended at 9.0 s (110 failed)")


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


@pytest.mark.parametrize(("lost", "expected"), [(0, 0), (3, 1)])
def test_report_command_exits_like_run(tmp_path: Path, lost: int, expected: int):
    """`redis-harness report` on a kept run is a CI gate too: 1 when the re-checked verdict is fail."""
    run = make_run(tmp_path / "run", duration_s=30, lost_writes=lost, slos={"max_lost_writes": 0},
                   write_summary=False)
    done = subprocess.run([sys.executable, "-m", "harness.cli", "report", str(run)], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == expected, done.stdout + done.stderr
    assert f"verdict: {'pass' if expected == 0 else 'fail'}" in done.stdout


def test_a_sentinel_in_tilt_mode_during_the_run_fails_it(tmp_path: Path):
    """A sentinel whose event loop stalled (TILT: it acts on nothing for 30 s) makes the run not count; read
    from the sentinels' own logs, as the checker reads them. A TILT entered 30 s or more before t = 0 is
    over when the load starts."""
    from dataclasses import replace

    from harness.checker.server_logs import sentinel_log_events

    logs = tmp_path / "logs"
    logs.mkdir()
    start = 1_796_054_900.0  # meta start_wall: 2026-11-30 16:08:20 UTC

    def line(offset_s: float, text: str) -> str:
        stamp = pd.Timestamp(start + offset_s, unit="s").strftime("%d %b %Y %H:%M:%S.%f")[:-3]
        return f"13:X {stamp} # {text}\n"

    (logs / "sentinel-0.log").write_text(line(-40, "+tilt #tilt mode entered") + line(-10, "-tilt #tilt mode exited")
                                         + line(12, "+sdown master mymaster 10.0.0.1 6379"))
    (logs / "sentinel-1.log").write_text(line(-5, "+tilt #tilt mode entered") + line(25, "-tilt #tilt mode exited"))
    meta = {"start_wall": start, "utc_offset_s": 0}
    tilted = by_name(evaluate(replace(facts([]), sentinel_log=sentinel_log_events(logs, meta))))
    check = tilted["sentinels out of TILT"]
    assert check["status"] == "fail" and "sentinel-1 at -5.0 s" in check["detail"], check
    assert "sentinel-0" not in check["detail"] and check["log"] == "logs/sentinel-1.log"
    (logs / "sentinel-1.log").unlink()
    calm = by_name(evaluate(replace(facts([]), sentinel_log=sentinel_log_events(logs, meta))))
    assert calm["sentinels out of TILT"]["status"] == "pass"
    assert "sentinels out of TILT" not in by_name(evaluate(facts([])))  # no sentinel logs: not a sentinel run


def test_openloop_generator_limit_is_said_in_its_check_not_failed():
    """A generator that could not keep its own schedule passes (its requests were served) but says it is
    its own limit, so its figures are not read as the server's."""
    scenario = Scenario.model_validate({"name": "o", "duration_s": 10, "topology": {"kind": "standalone"},
                                        "workload": {"openloop": {"enabled": True, "rate": 100}}})
    series = {"openloop": pd.DataFrame({"t_s": [0, 1], "ok": [100, 98], "fail": [0, 2], "info": [0, 0]})}
    events = [{"t": 0.0, "type": "driver-start", "driver": "openloop", "detail": ""},
              {"t": 10.0, "type": "driver-end", "driver": "openloop", "detail": "",
               "generator_limit": "its busiest process used 97% of a core"}]
    check = by_name(evaluate(RunFacts({"status": "complete"}, scenario, pd.DataFrame(events), series)))["driver openloop"]
    assert check["status"] == "pass"
    assert "198 requests acknowledged, 2 failed" in check["detail"]
    assert "the generator was its own limit: its busiest process used 97% of a core" in check["detail"]
    assert check["log"] == "raw/openloop-seconds"

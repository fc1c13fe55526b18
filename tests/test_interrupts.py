"""A run that dies leaves a report-able directory; `cleanup` removes what a SIGKILLed run left; SIGINT heals.

These start the real CLI in a subprocess and hit it with signals, as a user or a CI timeout would.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.platforms.local import netns
from harness.deployment import state_root
from harness.platforms.local.platform import process_alive
from harness.poll import wait_until
from tests.conftest import needs_redis, needs_root, reaped, state_dirs_owned_by

pytestmark = [needs_redis, needs_root, pytest.mark.slow]


def start_run(tmp_path: Path, scenario: dict) -> tuple[subprocess.Popen, Path]:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({"name": "interrupted", "settle_s": 1, **scenario}))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(path), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, out


def meta(out: Path) -> dict:
    return json.loads((out / "meta.json").read_text()) if (out / "meta.json").exists() else {}


def wait_for_event(out: Path, type_: str, timeout: float = 60) -> None:
    def seen() -> bool:
        path = out / "events.jsonl"
        return path.exists() and any(json.loads(line)["type"] == type_ for line in path.read_text().splitlines())

    wait_until(seen, timeout=timeout, interval=0.1, what=f"a {type_} event")


def leftovers(prefix: str) -> list[str]:
    return [n for n in netns.list_netns() + netns.list_links() if n.startswith(prefix)]


SENTINEL = {"kind": "sentinel", "replicas": 2, "sentinels": 3, "quorum": 2, "down_after_ms": 1000}


def test_sigkill_mid_run_then_cleanup_and_partial_report(tmp_path):
    proc, out = start_run(tmp_path, {"duration_s": 60, "topology": SENTINEL,
                                     "workload": {"probe": {"clients": 2, "rate_per_client": 50}}})
    with reaped(proc):
        wait_for_event(out, "load-start")
        wait_until(lambda: (out / "history.csv").exists() and (out / "history.csv").stat().st_size > 2000,
                   timeout=30, what="history rows on disk")
        pods = meta(out)["pods"]
        state_dirs = state_dirs_owned_by(proc.pid)
        assert len(state_dirs) == 1
        prefix = state_dirs[0].name
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    pids = [json.loads((state_dirs[0] / "deployment.json").read_text())["pods"][i]["pid"] for i in range(len(pods))]
    assert any(process_alive(pid) for pid in pids), "a SIGKILLed run leaves its pods running"
    assert leftovers(prefix)

    cleaned = subprocess.run([sys.executable, "-m", "harness.cli", "cleanup"], capture_output=True, text=True)
    assert cleaned.returncode == 0, cleaned.stderr
    assert f"netns {prefix}-redis-0" in cleaned.stdout
    assert not any(process_alive(pid) for pid in pids)
    assert leftovers(prefix) == []
    assert not state_dirs[0].exists()

    # The raw data on disk still makes a report, marked partial.
    assert meta(out)["status"] == "running"
    report = subprocess.run([sys.executable, "-m", "harness.cli", "report", str(out)], capture_output=True, text=True)
    assert report.returncode == 3, report.stdout + report.stderr  # as `run` exits for a partial run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["partial"] is True and summary["verdict"] == "incomplete"
    assert summary["writes"]["acknowledged"] > 0
    assert "PARTIAL" in (out / "report.html").read_text()


def test_sigint_mid_partition_heals_and_tears_down(tmp_path):
    proc, out = start_run(tmp_path, {
        "duration_s": 60, "topology": SENTINEL, "workload": {"probe": {"clients": 2, "rate_per_client": 50}},
        "faults": [{"kind": "partition", "mode": "isolate", "target": {"role": "replica"}, "at_s": 3,
                    "duration_s": 50}],
    })
    with reaped(proc):
        wait_for_event(out, "fault-start")
        prefix = state_dirs_owned_by(proc.pid)[0].name
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3, output
    assert meta(out)["status"] == "interrupted"
    assert leftovers(prefix) == []
    assert not (state_root() / prefix).exists()
    types = [json.loads(line)["type"] for line in (out / "events.jsonl").read_text().splitlines()]
    assert "fault-end" in types and types[-1] == "run-end"
    assert (out / "summary.json").exists() and json.loads((out / "summary.json").read_text())["verdict"] == "incomplete"


def test_run_dir_removed_mid_run_still_tears_down(tmp_path):
    """A run whose directory vanishes (a cleaned or full disk) still stops everything and tears down."""
    proc, out = start_run(tmp_path, {"duration_s": 6, "topology": SENTINEL,
                                     "workload": {"probe": {"clients": 2, "rate_per_client": 50}}})
    with reaped(proc):
        wait_for_event(out, "load-start")
        state = state_dirs_owned_by(proc.pid)[0]
        pids = [p["pid"] for p in json.loads((state / "deployment.json").read_text())["pods"]]
        shutil.rmtree(out)
        output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 3, output
    assert "Traceback" not in output
    assert not [pid for pid in pids if process_alive(pid)], "pods survived a run whose directory was removed"
    assert leftovers(state.name) == []
    assert not state.exists()


def test_used_out_dir_is_refused(tmp_path):
    """A second run into an earlier run's directory would merge into its meta.json and history."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "meta.json").write_text("{}")
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({"name": "reused", "duration_s": 2, "topology": {"kind": "standalone"}}))
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(path), "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert str(out) in done.stderr and "already holds files" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["meta.json"]

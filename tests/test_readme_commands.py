"""The README's first command, run the way a user runs it, and the ways its load driver can die.

Why these exist: every run test used an absolute tmp_path and Locust off, so a default (relative)
run directory that sent Locust's figures to the wrong place passed the suite while the README's
flagship command failed for every new user. Here: `scripts/flagship` from the repository root with
the default reports/ directory and Locust on; the same run from another directory with a relative
`--out`; and a Locust child killed mid-run, which must fail the run and say so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.poll import wait_until
from tests.conftest import needs_redis, needs_root, reaped

pytestmark = [needs_redis, needs_root, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
FLAGSHIP = "scenarios/sentinel-primary-kill.yaml"
SHORT = ["--duration", "35"]  # the flagship's fault (at 20 s, 10 s long) stays inside


def run_dir_from(stdout: str) -> Path:
    match = re.search(r"^verdict: .*dir: (\S+)$", stdout, re.M)
    assert match, stdout
    return Path(match.group(1))


def events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def assert_locust_ran(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "pass", summary["checks"]
    locust = summary["throughput"]["by_driver"]["locust"]
    print(f"{run_dir.name}: Locust baseline {locust['baseline_ops_per_s']} ops/s")
    assert locust["baseline_ops_per_s"] > 0
    assert len(pd.read_csv(run_dir / "series" / "locust.csv")) > 0
    assert not [e for e in events(run_dir) if e["type"] == "driver-error"]
    assert {c["name"]: c["status"] for c in summary["checks"]}["driver locust"] == "pass"
    assert not (run_dir / "raw" / "reports").exists() and not list((run_dir / "raw").glob("*/*/raw"))


def test_flagship_as_the_readme_says(tmp_path):
    """`scripts/flagship` from the repository root: default reports/<run-id>, Locust on."""
    done = subprocess.run(["scripts/flagship", *SHORT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    run_dir = run_dir_from(done.stdout)
    try:
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
        assert run_dir.parent == ROOT / "reports"
        assert_locust_ran(run_dir)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def test_flagship_from_another_directory_with_relative_out(tmp_path):
    """The same run started elsewhere, with `--out` relative to that directory."""
    cli = ROOT / ".venv" / "bin" / "redis-harness"
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "harness.cli"]
    done = subprocess.run([*command, "run", str(ROOT / FLAGSHIP), *SHORT, "--out", "runs/flagship"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert run_dir_from(done.stdout) == tmp_path / "runs" / "flagship"
    assert_locust_ran(tmp_path / "runs" / "flagship")


def test_locust_killed_mid_run_fails_and_names_the_driver(tmp_path):
    """Locust's whole process group SIGKILLed while it loads: verdict fail, the headline names it and its log."""
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", FLAGSHIP, "--duration", "15",
                             "--set", "faults=[]", "--set", "settle_s=1", "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with reaped(proc):
        def locust_pid() -> int | None:
            if not (out / "events.jsonl").exists():
                return None
            started = [e for e in events(out) if e["type"] == "driver-start" and e.get("driver") == "locust"]
            return int(re.search(r"\(pid (\d+)\)", started[0]["detail"]).group(1)) if started else None

        wait_until(lambda: locust_pid() is not None, timeout=60, interval=0.2, what="Locust to start")
        wait_until(lambda: any((out / "raw" / "locust-seconds").glob("*.csv")), timeout=30, interval=0.2,
                   what="Locust's first second on disk")
        os.killpg(locust_pid(), signal.SIGKILL)  # its own session: timeout(1), Locust and any workers
        output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verdict"] == "fail"
    assert {c["name"]: c["status"] for c in summary["checks"]}["driver locust"] == "fail"
    assert "FAILED driver locust: " in output and f"(log: {out}/raw/locust.log)" in output, output
    assert "driver locust" in (out / "report.html").read_text()

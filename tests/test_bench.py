"""Every benchmark in its short mode, so none rots: there only correctness decides the exit code.

The full runs (figures and targets) are for a quiet machine; on CI's shared one a missed target
would say more about the neighbours than about the code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import needs_redis, needs_root

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from outcome import Outcome  # noqa: E402

ON_SERVERS = [needs_redis, needs_root]


@pytest.mark.parametrize("script", [
    pytest.param("bench_checker.py", id="checker"),
    pytest.param("bench_report.py", id="report"),
    pytest.param("bench_deploy.py", id="deploy", marks=ON_SERVERS),
    pytest.param("bench_probe.py", id="probe", marks=ON_SERVERS),
    pytest.param("bench_load.py", id="load", marks=[*ON_SERVERS, pytest.mark.slow]),
    pytest.param("openloop_vs_redis_benchmark.py", id="openloop", marks=[*ON_SERVERS, pytest.mark.slow]),
    pytest.param("openloop_clients.py", id="openloop-clients", marks=ON_SERVERS),
    pytest.param("bench_tls.py", id="tls", marks=ON_SERVERS),
])
def test_bench_quick_mode_is_correct(script):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "correctness: " in done.stdout and "WRONG" not in done.stdout


@pytest.mark.parametrize(("quick", "correct", "met", "code"), [
    (True, True, False, 0), (False, True, False, 1), (True, False, True, 1), (False, True, True, 0),
])
def test_exit_code_rules(quick, correct, met, code):
    outcome = Outcome(quick)
    outcome.correct(correct, "a correctness check")
    outcome.target(met, "a target")
    assert outcome.exit_code() == code

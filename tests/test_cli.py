"""The interactive commands on a real deployment: deploy, status, destroy, and the version flag."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.deployment import Deployment
from tests.conftest import needs_redis, needs_root

pytestmark = [needs_redis, needs_root]
ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env=env)


def test_version():
    from harness import __version__

    assert cli("--version").stdout.strip() == f"redis-harness {__version__}"


def test_deploy_status_destroy(tmp_path):
    deployed = cli("deploy", "scenarios/sentinel-primary-kill.yaml", "--set", "topology.replicas=1")
    assert deployed.returncode == 0, deployed.stderr
    state = next(line.split("=", 1)[1] for line in deployed.stdout.splitlines() if line.startswith("export "))
    deployment = Deployment.load(state)
    try:
        assert deployment.owner_pid is None  # interactive: `cleanup` leaves it alone unless --all
        status = cli("status", state)
        assert status.returncode == 0, status.stderr
        lines = {line.split()[0]: line for line in status.stdout.splitlines()[2:]}
        assert lines["redis-0"].split()[1] == "primary"
        assert "of redis-0 link up" in lines["redis-1"]
        assert set(lines) == {"redis-0", "redis-1", "sentinel-0", "sentinel-1", "sentinel-2"}
        assert "nothing left behind" in cli("cleanup").stdout and Path(state).exists()
    finally:
        destroyed = cli("destroy", state)
    assert destroyed.returncode == 0, destroyed.stderr
    assert not Path(state).exists()
    assert cli("status", state).returncode == 2


def test_repeat_then_compare(tmp_path):
    """`run --repeat` writes one run directory per repetition and an aggregate; `compare` reads them back."""
    out = tmp_path / "runs"
    ran = cli("run", "scenarios/standalone-baseline.yaml", "--repeat", "2", "--duration", "4", "--out", str(out),
              "--set", "workload.locust.enabled=false", "--set", "settle_s=0", "--set", "slos={}")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["run-1", "run-2"]
    assert (out / "aggregate.json").exists() and "median" in (out / "aggregate.md").read_text().lower()
    same = cli("compare", str(out / "run-1"), str(out / "run-2"), "--markdown", str(tmp_path / "diff.md"))
    assert same.returncode in (0, 1), same.stderr  # two real runs: either verdict is honest, a crash is not
    assert (tmp_path / "diff.md").read_text().startswith("#") or "|" in (tmp_path / "diff.md").read_text()
    identical = cli("compare", str(out / "run-1"), str(out / "run-1"))
    assert identical.returncode == 0, identical.stdout
    bad = cli("compare", str(out / "run-1"), str(out / "run-1"), "--threshold", "no.such.metric=10%")
    assert bad.returncode == 2 and "no.such.metric" in bad.stderr


def test_benchmark_only_scenario(tmp_path):
    """No probe, no faults: redis-benchmark's own per-test table lands in the report, throughput in the summary.
    As shipped (only shorter): its rounds repeat until the run ends, so a fast machine still has whole
    seconds to measure (one round of 100,000 requests took 1.8 s here, and its throughput was n/a)."""
    out = tmp_path / "cap"
    ran = cli("run", "scenarios/standalone-capacity.yaml", "--duration", "8", "--out", str(out))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["throughput"]["driver"] == "redis-benchmark" and summary["throughput"]["baseline_ops_per_s"] > 1000
    assert summary["writes"]["attempted"] == 0 and summary["failover"] == []
    seconds = [int(line.split(",")[0]) for line in (out / "series" / "redis-benchmark.csv").read_text().splitlines()[1:]]
    assert max(seconds) >= 6, seconds  # the load lasted to the run's end (t = 8 s), not one round
    page = (out / "report.html").read_text()
    assert "<h2>redis-benchmark</h2>" in page and "<td>SET</td>" in page and "<td>GET</td>" in page

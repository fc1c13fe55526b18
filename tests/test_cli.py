"""The interactive commands on a real deployment: deploy, status, destroy, and the version flag."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.platforms.base import Deployment
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

"""The Chaos Toolkit extension: the shipped experiments pass under the real `chaos run`, and the probes tell the truth."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import chaostoolkit as ctk
from harness.deployment import Deployment
from harness.poll import wait_until
from tests.conftest import needs_redis, needs_root
from tests.test_nemesis import assert_no_fault_left

# The `chaos` of this interpreter's environment, so the CLI imports this checkout's harness.
CHAOS = shutil.which("chaos", path=str(Path(sys.executable).parent)) or shutil.which("chaos")
pytestmark = [needs_redis, needs_root,
              pytest.mark.skipif(CHAOS is None, reason="the chaostoolkit CLI is not installed")]

EXPERIMENTS = Path(__file__).resolve().parents[1] / "scenarios" / "chaostoolkit"
SENTINEL = {"kind": "sentinel", "replicas": 2, "sentinels": 3, "quorum": 2, "down_after_ms": 1000,
            "failover_timeout_ms": 5000}


def chaos_run(experiment: Path, deployment, tmp_path: Path) -> dict:
    journal = tmp_path / "journal.json"
    env = {**os.environ, ctk.ENV: str(deployment.state_file)}
    proc = subprocess.run(
        [CHAOS, "--no-version-check", "--log-file", str(tmp_path / "chaostoolkit.log"), "run",
         "--rollback-strategy", "always", "--journal-path", str(journal), str(experiment)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert journal.exists(), proc.stdout + proc.stderr
    result = json.loads(journal.read_text())
    failed = [(r["activity"]["name"], r.get("exception")) for r in result["run"] + result["rollbacks"]
              if r["status"] != "succeeded"]
    assert proc.returncode == 0 and result["status"] == "completed" and not result["deviated"], (
        f"status {result['status']}, deviated {result['deviated']}, failed activities {failed}\n{proc.stderr[-3000:]}")
    assert not failed, failed
    return result


def outputs(journal: dict) -> dict[str, object]:
    return {r["activity"]["name"]: r.get("output") for r in journal["run"] + journal["rollbacks"]}


def test_primary_kill_experiment_completes_with_a_new_primary(deploy, local_platform, tmp_path):
    d = deploy(SENTINEL, "ctkkill")
    journal = chaos_run(EXPERIMENTS / "sentinel-primary-kill.json", d, tmp_path)
    out = outputs(journal)
    assert out["kill-the-primary"]["pods"] == ["redis-0"]
    assert out["primary-before-the-kill"] == d.pod("redis-0").address
    assert out["primary-after-the-failover"] != out["primary-before-the-kill"]
    assert out["restart-the-killed-pod"] == [out["kill-the-primary"]["fault_id"]]
    assert_no_fault_left(local_platform, Deployment.load(d.state_file))  # with the restarted pod's pid


def test_replica_partition_experiment_completes_and_heals(deploy, local_platform, tmp_path):
    d = deploy(SENTINEL, "ctkpart")
    journal = chaos_run(EXPERIMENTS / "replica-partition.json", d, tmp_path)
    out = outputs(journal)
    assert out["isolate-a-replica"]["sides"][0] == ["redis-1"]
    assert out["its-link-goes-down"] == "master_link_status:down on some replica"
    assert out["the-primary-is-unchanged"] == d.pod("redis-0").address
    assert_no_fault_left(local_platform, d)


def test_probes_and_timed_actions_in_process(deploy, local_platform, tmp_path):
    d = deploy({"kind": "sentinel", "replicas": 1, "sentinels": 1, "quorum": 1}, "ctkprobe")
    path = str(d.state_file)
    assert ctk.ping(deployment=path) and ctk.role_of("redis-1", deployment=path) == "replica"
    assert ctk.primary_address(deployment=path) == d.pod("redis-0").address
    assert ctk.acknowledged_writes_lost(count=20, deployment=path) == 0  # first call: writes only
    assert ctk.replication_lag(deployment=path) == 0  # WAIT made the replica acknowledge the batch
    assert ctk.acknowledged_writes_lost(count=20, deployment=path) == 0  # second call: reads the first batch

    paused = ctk.pause(pod="redis-1", duration_s=1.5, deployment=path)
    assert not ctk.ping(pod="redis-1", deployment=path)
    wait_until(lambda: ctk.ping(pod="redis-1", deployment=path), timeout=30, what="the timed pause to heal itself")
    book = json.loads((Path(d.state_dir) / "chaostoolkit" / "faults.json").read_text())
    assert book[paused["fault_id"]]["healed"]

    with pytest.raises(ctk.ActivityFailed, match="cluster topology"):
        ctk.cluster_state_ok(deployment=path)
    assert ctk.heal_all(deployment=path) == []  # nothing left to heal
    assert_no_fault_left(local_platform, d)

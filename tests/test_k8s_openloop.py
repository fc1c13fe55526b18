"""`workload.openloop` as a resilience run's load on a real cluster (marked `kubernetes`: tests/k8s/ci.sh runs it
on the fixture).

The scenario of tests/test_openloop_resilience.py (Sentinel, 1,000 ops/s open loop, the primary pod killed at
6 s), as a user runs it: `redis-harness run --platform kubernetes`. Two placements of the generator:
- Sentinel, with TLS: the generator as two pods in the run's namespace (`workload.openloop.workers: 2`,
  harness.platforms.kubernetes.openloop), dialing the pods by their DNS names over TLS with the mounted Secret;
- Cluster (three shards, shard 1's primary killed): the generator on this machine dialing pod IPs.
Known before the run, as locally:
- every scheduled request is accounted for (ok, fail or dropped) and the schedule is rate x duration;
- outside the fault window (the kill to the promotion the summary gives, plus the generator's time to ask
  the sentinels again) the acknowledged requests equal the offered ones within 3% (before the window, and
  after it), nothing fails, nothing is dropped;
- the kill shows inside that window (failed or dropped requests), and none before the kill;
- the generator follows the new primary: a replica was promoted, the rate is served again after it, the
  generator reconnected;
- the run's namespace is gone afterwards.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from pathlib import Path

import pytest

from tests.test_openloop_resilience import DURATION_S, RATE, SCENARIO, print_series, read_series, run_cli
from tests.test_same_truth import namespace_gone

pytestmark = pytest.mark.kubernetes

RATE_TOLERANCE = 0.03
# after the promotion the generator asks the sentinels again every 50 ms (route.py); a second bounds that
FOLLOW_S = 1.0
# With sentinels the clock starts at the later of the promotion and the leader's +switch-master (the watcher's
# primary-change): a sentinel other than the leader names the old primary, flagged down, until the leader's hello
# (every 2 s) reaches it; the generator skips such a sentinel as redis-py does (roles.sentinel_primary), so it
# needs no hello period. Seen on the fixture before that rule (load average ~10, TLS): promoted at 10.16 s,
# +switch-master at 10.43 s, the generator pods sending again at ~11.9 s, the probe at 12.68 s.
# the same with a cluster of three shards, shard 1's primary killed: its replica takes the slots
CLUSTER = {**SCENARIO, "name": "openloop-kill-cluster",
           "topology": {"kind": "cluster", "shards": 3, "replicas": 1, "cluster_node_timeout_ms": 2000},
           "faults": [{**SCENARIO["faults"][0], "target": {"role": "primary", "shard": 1}}]}


# Sentinel over TLS with the generator as two pods in the cluster, half the rate and connections each
PODS_TLS = {**SCENARIO, "name": "openloop-kill-pods-tls", "topology": {**SCENARIO["topology"], "tls": True},
            "workload": {**SCENARIO["workload"], "openloop": {**SCENARIO["workload"]["openloop"], "workers": 2}}}


@pytest.mark.parametrize("scenario", [PODS_TLS, CLUSTER], ids=["sentinel-tls-generator-pods", "cluster"])
def test_openloop_follows_a_failover_on_kubernetes(scenario, tmp_path):
    pods = bool(scenario["workload"]["openloop"].get("workers"))
    if not pods and os.environ.get("REDIS_HARNESS_K8S_ACCESS") != "pod-ip":
        pytest.skip("the generator on this machine needs REDIS_HARNESS_K8S_ACCESS=pod-ip (through a port-forward "
                    "it would measure the tunnel)")
    run_dir = tmp_path / "run"
    try:
        proc = run_cli(tmp_path, scenario, "--platform", "kubernetes")
        print(proc.stdout)
        assert_follows_the_failover(run_dir, proc.stderr)
        if pods:
            assert_ran_in_pods(run_dir, scenario["workload"]["openloop"]["workers"])
    finally:
        delete_namespace_left(run_dir)


def assert_follows_the_failover(run_dir: Path, stderr: str) -> None:
    assert (run_dir / "summary.json").exists(), stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    (fault,), failover = summary["faults"], summary["failover"][0]
    kill, promoted = fault["start_s"], fault["start_s"] + failover["promoted_s"]
    rows = read_series(run_dir)
    print_series(rows, kill, promoted, "kill to promotion")
    print("failover:", failover, "| driver:", driver_end(run_dir))
    assert failover["new_primary"] not in (None, fault["target"]), (fault, failover)
    assert_open_loop_window(rows, kill, follow_end(run_dir, summary, promoted))
    (check,) = [c for c in summary["checks"] if c["name"] == "driver openloop"]
    assert check["status"] == "pass", check
    assert int(re.search(r"reconnects (\d+)", driver_end(run_dir))[1]) >= 1, "it never asked for the new primary"
    assert namespace_gone(run_dir)


def assert_open_loop_window(rows: list[dict], start: float, end: float) -> None:
    """The open loop's known outcomes around one fault window [start, end] (run seconds; module docstring)."""
    by_t = {int(r["t_s"]): r for r in rows}
    offered = sum(r["offered"] for r in rows)
    assert abs(offered - RATE * DURATION_S) <= 1
    assert sum(r["ok"] + r["fail"] + r["dropped"] for r in rows) == offered
    window = range(math.floor(start), math.ceil(end))
    outside = {t: r for t, r in by_t.items() if t not in window}
    assert all(r["fail"] == 0 and r["dropped"] == 0 for r in outside.values()), (window, outside)
    assert sum(r["fail"] + r["dropped"] for t, r in by_t.items() if t in window) > 0, "the kill did not show"
    # per span, not per second: on the shared 2-core machine a starved second's replies land in the next one
    for span in (range(0, window.start), range(window.stop, max(by_t) + 1)):
        ok, due = (sum(by_t[t][k] for t in span if t in by_t) for k in ("ok", "offered"))
        print(f"seconds {span.start}-{span.stop - 1}: {ok:,.0f} acknowledged of {due:,.0f} offered")
        assert due > 0 and abs(ok - due) <= RATE_TOLERANCE * due, (span, ok, due)


def delete_namespace_left(run_dir: Path) -> None:
    """The run deletes its namespace on every exit path; this is for a test stopped before the run's teardown."""
    meta = run_dir / "meta.json"
    if meta.exists() and not namespace_gone(run_dir):
        from harness.platforms.kubernetes.objects import namespace_name
        from harness.platforms.kubernetes.platform import KubernetesPlatform

        KubernetesPlatform().delete_namespace(namespace_name(json.loads(meta.read_text())["run_id"]))


def driver_end(run_dir: Path) -> str:
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return next(e["detail"] for e in events if e["type"] == "driver-end" and e.get("driver") == "openloop")


def assert_ran_in_pods(run_dir: Path, workers: int) -> None:
    """The requests left from the pods: each pod's per-second file holds its share of the schedule, and the
    driver's start says when the run's zero reached them."""
    files = sorted((run_dir / "raw" / "openloop-seconds").glob("openloop-seconds-openloop-*.csv"))
    assert [f.name for f in files] == [f"openloop-seconds-openloop-{i}.csv" for i in range(workers)], files
    for f in files:
        with open(f) as fh:
            offered = sum(int(r["offered"]) for r in csv.DictReader(fh))
        assert abs(offered - RATE * DURATION_S / workers) <= 1, (f.name, offered)
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    start = next(e["detail"] for e in events if e["type"] == "driver-start" and e.get("driver") == "openloop")
    print("driver-start:", start)
    written = float(re.search(r"written in every pod by t=([0-9.]+)s", start)[1])
    assert written < 1.0, start  # the start crossed pre-opened execs: well within the first second


def follow_end(run_dir: Path, summary: dict, promoted: float) -> float:
    """When the generator must be sending to the new primary again (FOLLOW_S above)."""
    if summary["topology"]["kind"] != "sentinel":
        return promoted + FOLLOW_S
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    switched = min(e["t"] for e in events if e["type"] == "primary-change" and e["t"] >= promoted - 1)
    print(f"+switch-master at {switched:.2f}s (promoted at {promoted:.2f}s)")
    return max(promoted, switched) + FOLLOW_S

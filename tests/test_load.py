"""Load drivers on real servers: Locust (the bundled locustfile) and the real redis-benchmark.

Known outcomes: Locust's own final request count equals the per-second series' count exactly;
a sentinel failover shows failures while the primary is gone and successes after; redis-benchmark's
per-second counts add up to exactly `-n` x tests, and its parsed rps is the one it printed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from harness.poll import wait_until
from harness.roles import sentinel_primary
from harness.rundir import SERIES_COLUMNS, EventLog, RunClock, RunDir
from harness.scenario import LocustLoad, RedisBenchmarkLoad
from harness.workload import persecond
from harness.workload.locust_driver import LOCUSTFILE, LocustDriver
from harness.workload.redis_benchmark import OutputParser, RedisBenchmarkDriver, read_table
from tests.conftest import needs_redis

pytestmark = needs_redis

ALL_COMMANDS = {"get": 4, "set": 2, "incr": 1, "hset": 1, "hget": 1, "lpush": 1, "lrange": 1, "pipeline": 1}


@pytest.fixture
def run(tmp_path):
    """(run_dir, clock, events) for one driver; the event log is closed afterwards."""
    run_dir = RunDir(tmp_path / "run").create()
    clock = RunClock.start()
    events = EventLog(run_dir.events, clock)
    yield run_dir, clock, events
    events.close()


def driver_events(run_dir: RunDir, driver: str) -> list[dict]:
    lines = run_dir.events.read_text().splitlines()
    return [e for e in map(json.loads, lines) if e.get("driver") == driver]


def locust_stats(run_dir: RunDir) -> dict[str, dict]:
    """Locust's own final stats (its --json-file), by request name."""
    return {e["name"]: e for e in json.loads((run_dir.raw_dir / "locust.json").read_text())}


# --------------------------------------------------------------------------- Locust


def per_second_so_far(run_dir: RunDir) -> dict[int, persecond.MergedSecond]:
    """What the Locust processes have written so far (each second is written once it has closed)."""
    return persecond.merge_files(sorted((run_dir.raw_dir / "locust-seconds").glob(persecond.FILE_GLOB)))


def seconds_with_ok(run_dir: RunDir) -> int:
    return sum(1 for s in per_second_so_far(run_dir).values() if s.ok > 0)


@pytest.mark.parametrize("topology, processes", [
    ({"kind": "standalone"}, 2),
    ({"kind": "sentinel", "replicas": 1, "sentinels": 3}, 1),
    ({"kind": "cluster", "shards": 3}, 1),
], ids=["standalone-2-processes", "sentinel", "cluster"])
def test_locust_per_second_stats(deploy, run, topology, processes):
    deployment = deploy(topology, f"locust-{topology['kind']}")
    run_dir, clock, events = run
    spec = LocustLoad(enabled=True, users=6, spawn_rate=50, processes=processes, mix=ALL_COMMANDS,
                      key_distribution="zipfian", keyspace=1000, value_size=(8, 128), pipeline=5)
    driver = LocustDriver(deployment, spec, run_dir, clock, events, duration_s=120, seed=7)
    driver.start()
    try:
        wait_until(lambda: seconds_with_ok(run_dir) >= 3, timeout=90, what="3 seconds of Locust requests")
    finally:
        rc = driver.stop()
    assert rc == 0, (run_dir.raw_dir / "locust.log").read_text()[-2000:]

    series = pd.read_csv(run_dir.series("locust"))
    assert list(series.columns) == SERIES_COLUMNS
    assert (series["driver"] == "locust").all() and series["t_s"].diff().dropna().eq(1).all()
    assert (series["ok"] > 0).sum() >= 3 and series["fail"].sum() == 0
    busy = series[series["ok"] > 0]
    assert (busy["p50_ms"] <= busy["p90_ms"]).all() and (busy["p99_ms"] <= busy["max_ms"]).all()
    # Locust's own stats see the same requests, command by command, without failures
    stats = locust_stats(run_dir)
    assert set(stats) == set(ALL_COMMANDS) and all(s["num_failures"] == 0 for s in stats.values())
    assert driver.totals["requests"] == driver.totals["requests_locust"] > 0
    # a pipeline of 5 is 5 operations in the series, one request in Locust
    pipelines = stats["pipeline"]["num_requests"]
    assert series["ok"].sum() == sum(s["num_requests"] for s in stats.values()) + 4 * pipelines
    assert [e["type"] for e in driver_events(run_dir, "locust")] == ["driver-start", "driver-end"]


def test_locust_stops_by_itself_at_the_runs_end(deploy, run):
    deployment = deploy({"kind": "standalone"}, "locust-end")
    run_dir, clock, events = run
    driver = LocustDriver(deployment, LocustLoad(enabled=True, users=2), run_dir, clock, events,
                          duration_s=clock.t() + 6)
    driver.start()
    assert driver.wait() == 0  # default bound: the run's end plus a grace
    (end,) = [e for e in driver_events(run_dir, "locust") if e["type"] == "driver-end"]
    assert end["t"] < driver.duration_s + 20
    assert driver.totals["requests"] == driver.totals["requests_locust"]


def test_locust_goes_on_through_a_sentinel_failover(deploy, local_platform, run):
    deployment = deploy({"kind": "sentinel", "replicas": 1, "sentinels": 3, "down_after_ms": 1000,
                         "failover_timeout_ms": 2000}, "locust-failover")
    run_dir, clock, events = run
    spec = LocustLoad(enabled=True, users=4, spawn_rate=50, timeout_ms=300, error_backoff_ms=50)
    driver = LocustDriver(deployment, spec, run_dir, clock, events, duration_s=120)
    driver.start()
    try:
        wait_until(lambda: sum(s.ok for s in per_second_so_far(run_dir).values()) > 100, timeout=60,
                   what="Locust requests to succeed before the fault")
        old = deployment.pod("redis-0")
        local_platform.kill_pod(deployment, old)
        killed_s = clock.t()
        new = wait_until(lambda: (p := sentinel_primary(deployment)) and p.name != old.name and p, timeout=60,
                         what="the sentinels to promote a replica")
        promoted_s = clock.t()
        wait_until(lambda: any(t > promoted_s + 1 and s.ok > 0 for t, s in per_second_so_far(run_dir).items()),
                   timeout=60, what="Locust requests to succeed on the new primary")
    finally:
        rc = driver.stop()
    assert rc == 0, (run_dir.raw_dir / "locust.log").read_text()[-2000:]

    series = pd.read_csv(run_dir.series("locust")).set_index("t_s")
    before = series.loc[: int(killed_s) - 1]
    window = series.loc[int(killed_s): int(promoted_s)]
    after = series.loc[int(promoted_s) + 2:]
    assert before["ok"].sum() > 0 and before["fail"].sum() == 0
    assert window["fail"].sum() > 0, f"no failure counted while {old.name} was down:\n{series}"
    assert after["ok"].sum() > 0, f"no success after {new.name} was promoted:\n{series}"
    stats = locust_stats(run_dir)
    assert sum(s["num_failures"] for s in stats.values()) == series["fail"].sum()  # one op per request here
    assert driver.totals["requests"] == driver.totals["requests_locust"]


def test_plain_locust_f_against_a_deployment(deploy, tmp_path):
    """What a user does by hand: `locust -f <bundled locustfile>` with the deployment's JSON in the env."""
    deployment = deploy({"kind": "standalone"}, "locust-plain")
    env = os.environ | {"REDIS_HARNESS_DEPLOYMENT": str(deployment.state_file)}
    env.pop("REDIS_HARNESS_WORKLOAD", None)
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", "3", "-r", "10", "-t", "3s",
         "--json", "--only-summary", "--exit-code-on-error", "1"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    stats = {e["name"]: e for e in json.loads(proc.stdout)}
    assert set(stats) == {"get", "set"}  # LocustLoad's default mix
    assert stats["get"]["num_requests"] > stats["set"]["num_requests"] > 0  # weights 8 : 2


# --------------------------------------------------------------------------- redis-benchmark


def test_redis_benchmark_table_matches_its_own_summary(deploy, run):
    deployment = deploy({"kind": "standalone"}, "redis-benchmark")
    run_dir, clock, events = run
    spec = RedisBenchmarkLoad(enabled=True, tests=["set", "get"], clients=20, requests=60000)
    driver = RedisBenchmarkDriver(deployment, spec, run_dir, clock, events, duration_s=120)
    driver.start()
    assert driver.wait(timeout=120) == 0

    raw = (run_dir.raw_dir / "redis-benchmark.out").read_text()
    printed = [float(x) for x in re.findall(r"throughput summary: ([\d.]+) requests per second", raw)]
    table = read_table(run_dir.raw_dir / "redis-benchmark.csv")
    assert [row["test"] for row in table] == ["SET", "GET"]
    assert [float(row["rps"]) for row in table] == printed
    for row in table:
        assert row["aborted"] == "False" and int(row["requests"]) == 60000
        assert float(row["rps"]) == pytest.approx(60000 / float(row["elapsed_s"]), rel=0.01)
        assert float(row["min_ms"]) <= float(row["p50_ms"]) <= float(row["p99_ms"]) <= float(row["max_ms"])
    series = pd.read_csv(run_dir.series("redis-benchmark"))
    assert series["ok"].sum() == 2 * 60000 and (series["fail"] == 0).all()
    assert series["t_s"].diff().dropna().eq(1).all()
    assert [e["type"] for e in driver_events(run_dir, "redis-benchmark")] == ["driver-start", "driver-end"]
    # an in-cluster Job's log has "\n" where this output has "\r" (harness.platforms.kubernetes.benchmark)
    # and arrives in chunks that split lines: the same parser makes the same table of it
    parser, pod_log = OutputParser(), raw.replace("\r", "\n")
    for at in range(0, len(pod_log), 1000):
        parser.feed(pod_log[at:at + 1000], 0.0)
    parser.close(0.0)
    assert [(r.test, r.requests, r.rps, r.p50_ms, r.max_ms) for r in parser.table(None)] == [
        (row["test"], int(row["requests"]), float(row["rps"]), float(row["p50_ms"]), float(row["max_ms"]))
        for row in table]


def _summary(test: str, n: int, rps: float, numbers: str) -> str:
    """One test's closing block as redis-benchmark 7.0 prints it."""
    return (f"====== {test} ======\n  {n} requests completed in {n / rps:.2f} seconds\n  50 parallel clients\n"
            f"\nSummary:\n  throughput summary: {rps:.2f} requests per second\n  latency summary (msec):\n"
            f"          avg       min       p50       p95       p99       max\n        {numbers}\n\n")


def test_redis_benchmark_test_without_a_progress_line_is_its_own_row():
    """A quick -n on a fast server can finish GET before the first progress tick: its summary is
    GET's row, not a second summary overwriting SET's (CI once printed GET's figures as SET's)."""
    out = ("SET: rps=80000.0 (overall: 80000.0) avg_msec=0.300 (overall: 0.300)\r"
           + _summary("SET", 10000, 84746.0, "0.320     0.100     0.303     0.500     0.791     1.200")
           + _summary("GET", 10000, 99009.9, "0.280     0.090     0.271     0.450     0.650     1.000"))
    parser = OutputParser()
    parser.feed(out, 1.0)
    parser.close(1.0)
    assert [(r.test, r.requests, r.rps, r.p50_ms, r.p99_ms, r.aborted) for r in parser.table(None)] == [
        ("SET", 10000, 84746.0, 0.303, 0.791, False), ("GET", 10000, 99009.9, 0.271, 0.65, False)]


def test_redis_benchmark_abort_is_recorded(deploy, local_platform, run):
    deployment = deploy({"kind": "standalone"}, "redis-benchmark-abort")
    run_dir, clock, events = run
    spec = RedisBenchmarkLoad(enabled=True, tests=["set"], clients=10, requests=None)  # loop until the end
    driver = RedisBenchmarkDriver(deployment, spec, run_dir, clock, events, duration_s=120)
    driver.start()
    try:
        wait_until(lambda: driver.parser.runs and len(driver.parser.runs[-1].points) >= 3, timeout=60,
                   what="redis-benchmark to report progress")
        local_platform.kill_pod(deployment, deployment.redis_pods()[0])
        rc = driver.wait(timeout=60)
    finally:
        driver.stop()
    assert rc != 0
    (row,) = read_table(run_dir.raw_dir / "redis-benchmark.csv")
    assert row["aborted"] == "True" and row["detail"].startswith("Error"), row
    types = [e["type"] for e in driver_events(run_dir, "redis-benchmark")]
    assert types == ["driver-start", "driver-error", "driver-end"]
    assert pd.read_csv(run_dir.series("redis-benchmark"))["ok"].sum() > 0


def test_locust_dials_a_recreated_pod_at_its_new_address(tmp_path):
    """Locust's processes read deployment.json at their start; a Kubernetes pod recreated during the run
    (an upgrade step, a pod-kill) comes back at a new IP, which the platform saves. Dialling the address
    read at the start timed out for the rest of the run (Locust: 0 ops/s recovered after the k8s drill).
    In a subprocess: importing the locustfile patches this process for gevent."""
    from harness.deployment import Deployment, Pod

    dns = "redis-1.redis-headless.ns.svc.cluster.local"
    deployment = Deployment(
        id="d", platform="kubernetes", topology={"kind": "sentinel"}, network="kubernetes", state_dir=str(tmp_path),
        client_address="10.244.0.1", extra={"aliases": {f"{dns}:6379": "redis-1"}},
        pods=[Pod("redis-1", "redis", "10.244.0.5", 6379), Pod("sentinel-0", "sentinel", "10.244.0.9", 26379)])
    deployment.save()
    code = (
        "import os, time\n"
        "from harness.deployment import Deployment\n"
        "from harness.workload.locustfile import TARGET\n"
        f"print(TARGET.dial({dns!r}, 6379))\n"
        "d = Deployment.load(os.environ['REDIS_HARNESS_DEPLOYMENT'])\n"
        "d.pod('redis-1').host = '10.244.0.7'  # recreated: the platform's refresh saves the new address\n"
        "d.save()\n"
        "os.utime(d.state_file, ns=(time.time_ns() + 10**9,) * 2)  # a distinct mtime on a coarse clock too\n"
        f"print(TARGET.dial({dns!r}, 6379))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={**os.environ, "REDIS_HARNESS_DEPLOYMENT": str(deployment.state_file)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["('10.244.0.5', 6379)", "('10.244.0.7', 6379)"], done.stdout


def test_unfollowing_a_log_stream_that_ended_by_itself_is_no_error():
    """The in-cluster benchmark's pod ends at the run's end (timeout(1)); when its log stream has ended by
    itself, urllib3 has released the connection and refuses shutdown(): CI's run failed on exactly that
    ("Cannot shutdown as connection has already been released to the pool"). Nothing is left to unblock."""
    from harness.platforms.kubernetes.benchmark import InClusterBenchmark

    class Released:  # urllib3 HTTPResponse.shutdown() after the body was read to its end
        def shutdown(self) -> None:
            raise RuntimeError("Cannot shutdown as connection has already been released to the pool")

    job = object.__new__(InClusterBenchmark)
    job._following, job._response = True, Released()
    job._unfollow()
    assert job._following is False

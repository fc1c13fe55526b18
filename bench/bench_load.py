"""Load drivers side by side, in one run, against one standalone pod on the local platform.

Target (issue 5): one Locust process (the bundled locustfile, redis-py under gevent) reaches at
least 50% of a plain redis-py loop's requests/s. Also printed for scale: redis-benchmark -c 50
without and with -P 16, and Locust with 2 processes.

Same work everywhere it can be: GET/SET 1:1, 3-byte values, 10,000 keys. Locust and the loop
count requests (one command each); redis-benchmark counts commands (with -P 16, 16 per round trip).
Locust's figure is the mean of its per-second series over full seconds (the first and last,
partial, are dropped).

    python bench/bench_load.py [--seconds 8] [--users 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from outcome import Outcome, add_quick

from harness.deployment import Deployment
from harness.platforms.local.platform import LocalPlatform
from harness.rundir import EventLog, RunClock, RunDir
from harness.scenario import LocustLoad, RedisBenchmarkLoad, Topology
from harness.workload.locust_driver import LocustDriver
from harness.workload.redis_benchmark import run_benchmark

KEYSPACE = 10_000
VALUE = b"xxx"


def redis_benchmark_rps(deployment: Deployment, pipeline: int, requests: int = 200_000) -> list[tuple[str, float]]:
    spec = RedisBenchmarkLoad(tests=["set", "get"], clients=50, requests=requests * pipeline, pipeline=pipeline,
                              data_size=len(VALUE), keyspace=KEYSPACE)
    label = f"redis-benchmark -c 50{f' -P {pipeline}' if pipeline > 1 else ''}"
    return [(f"{label} {row.test}", row.rps or 0.0) for row in run_benchmark(deployment, spec, timeout_s=300)]


def locust_rps(deployment: Deployment, processes: int, users: int, seconds: float) -> float:
    spec = LocustLoad(enabled=True, users=users, spawn_rate=1000, processes=processes, mix={"get": 1, "set": 1},
                      keyspace=KEYSPACE, value_size=len(VALUE))
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        run_dir = RunDir(Path(tmp)).create()
        clock = RunClock.start()
        events = EventLog(run_dir.events, clock)
        startup = 10.0 if processes > 1 else 4.0  # Locust's import and fork time, not measured
        driver = LocustDriver(deployment, spec, run_dir, clock, events, duration_s=startup + seconds)
        driver.start()
        driver.wait()
        events.close()
        series = pd.read_csv(run_dir.series("locust"))
    full = series.iloc[1:-1]
    return float(full["ok"].mean()) if len(full) else 0.0


def redis_py_loop_rps(deployment: Deployment, seconds: float) -> float:
    """What one plain synchronous redis-py client does on one connection, same mix and keys."""
    pod = deployment.redis_pods()[0]
    client = redis.Redis(host=pod.host, port=pod.port, single_connection_client=True, retry=Retry(NoBackoff(), 0))
    rng = random.Random(0)
    done = 0
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        for _ in range(100):
            key = f"lt:s:{rng.randrange(KEYSPACE)}"
            if rng.random() < 0.5:
                client.get(key)
            else:
                client.set(key, VALUE)
        done += 100
    elapsed = time.perf_counter() - start
    client.close()
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per Locust / loop run")
    parser.add_argument("--users", type=int, default=10, help="Locust users")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of loop / Locust (medians)")
    add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = min(args.seconds, 3.0), 1
    platform = LocalPlatform()
    deployment = platform.deploy(Topology(kind="standalone"), f"bench-load-{secrets.token_hex(4)}",
                                 owner_pid=os.getpid())
    loops, ones, twos = [], [], []
    try:
        rows = redis_benchmark_rps(deployment, 1) + redis_benchmark_rps(deployment, 16)
        for _ in range(args.rounds):  # interleaved, so that a busy moment of the shared machine hits all alike
            loops.append(redis_py_loop_rps(deployment, args.seconds))
            ones.append(locust_rps(deployment, 1, args.users, args.seconds))
            twos.append(locust_rps(deployment, 2, args.users, args.seconds))
    finally:
        platform.teardown(deployment)
    loop, one, two = (statistics.median(x) for x in (loops, ones, twos))
    print(f"one standalone pod ({deployment.network} network), {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f} (the machine is shared); "
          f"Locust and loop: median of {args.rounds} interleaved rounds [min-max]")
    print(f"{'driver':<44}{'requests/s':>12}")
    for name, rps in rows:
        print(f"{name:<44}{rps:>12,.0f}")
    for name, median, values in ((f"locust, 1 process, {args.users} users", one, ones),
                                 (f"locust, 2 processes, {args.users} users", two, twos),
                                 ("redis-py loop, 1 connection", loop, loops)):
        print(f"{name:<44}{median:>12,.0f}   [{min(values):,.0f}-{max(values):,.0f}]")
    ratio = one / loop if loop else 0.0
    outcome = Outcome(args.quick)
    outcome.correct(all(rps > 0 for _, rps in rows) and min(loops + ones + twos) > 0,
                    "every driver completed requests (redis-benchmark, Locust 1 and 2 processes, loop)")
    outcome.target(ratio >= 0.5, f"locust 1 process / redis-py loop {ratio:.0%} >= 50%")
    outcome.finish()


if __name__ == "__main__":
    main()

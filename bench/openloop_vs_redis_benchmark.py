"""The open-loop generator's maximum achieved rate next to redis-benchmark's and Locust's, in one run,
against one standalone pod on the local platform, with the same connections and pipelining.

Targets (issue 15): at least 50% of redis-benchmark's rate without pipelining, at least 30% with
-P 16, and at least 3x one Locust process. The generator is offered far more than the server can
take (so it sends as fast as it can; the excess is dropped and counted), and its achieved rate is
acknowledged replies per measured second. Same work everywhere: SET/GET 1:1, 3-byte values, 10,000
keys, 50 connections. Generator and server share this machine's cores (and, here, with other work):
the generator-vs-Locust figure is the median of interleaved rounds, and each process's ops per
CPU-second is printed beside it (on a machine whose cores are taken by others, a process's rate
says more about its neighbours than about it).

    python bench/openloop_vs_redis_benchmark.py [--quick] [--seconds 5] [--processes 1 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import statistics

from bench_load import KEYSPACE, VALUE, locust_rps, redis_benchmark_rps
from outcome import Outcome, add_quick

from harness.platforms.local.platform import LocalPlatform
from harness.scenario import Topology
from harness.workload.openloop.pool import GeneratorPool
from harness.workload.openloop.spec import OpenLoopLoad

CLIENTS = 50


def generator_max(deployment, pipeline: int, processes: int, seconds: float, offered: float):
    spec = OpenLoopLoad(clients=CLIENTS, pipeline=pipeline, processes=processes, mix={"get": 1, "set": 1},
                        keyspace=KEYSPACE, value_size=len(VALUE))
    with GeneratorPool(deployment, spec) as pool:
        pool.warm()
        return pool.step(offered, seconds + 1.0, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per generator step")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="generator process counts to try")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved generator / Locust rounds (medians)")
    add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.processes, args.rounds = 2.0, [1], 1
    platform = LocalPlatform()
    deployment = platform.deploy(Topology(kind="standalone"), f"bench-openloop-{secrets.token_hex(4)}",
                                 owner_pid=os.getpid())
    rows: list[tuple[str, float, str]] = []
    best: dict[int, float] = {}
    rb: dict[int, float] = {}
    try:
        for pipeline in (1, 16):
            bench = redis_benchmark_rps(deployment, pipeline, 50_000 if args.quick else 200_000)
            rb[pipeline] = sum(r for _, r in bench) / len(bench)  # SET and GET: their mean
            rows.append((f"redis-benchmark -c {CLIENTS} -P {pipeline} (mean of SET, GET)", rb[pipeline], ""))
            for processes in args.processes:
                step = generator_max(deployment, pipeline, processes, args.seconds, offered=3 * rb[pipeline])
                best[pipeline] = max(best.get(pipeline, 0.0), step.achieved_rate)
                note = (f"cpu {step.generator_cpu:.0%}, p50 {step.p50_ms} ms"
                        f"{', generator saturated: ' + step.generator_why if step.generator_saturated else ''}")
                rows.append((f"open-loop -c {CLIENTS} -P {pipeline}, {processes} process(es)", step.achieved_rate, note))
        gens, locusts = [], []
        for _ in range(args.rounds):  # interleaved: a busy moment of the shared machine hits both alike
            step = generator_max(deployment, 1, 1, args.seconds, offered=3 * rb[1])
            gens.append((step.achieved_rate, step.achieved_rate / step.generator_cpu if step.generator_cpu else 0.0))
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            rate = locust_rps(deployment, 1, 10, args.seconds)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            locusts.append((rate, rate * (args.seconds + 4.0) / cpu if cpu else 0.0))
        gen_rate, gen_eff = (statistics.median(x[i] for x in gens) for i in (0, 1))
        locust, locust_eff = (statistics.median(x[i] for x in locusts) for i in (0, 1))
        rows.append((f"open-loop -c {CLIENTS} -P 1, 1 process, median of {args.rounds}", gen_rate,
                     f"{gen_eff:,.0f} ops per CPU-second of the process"))
        rows.append((f"locust, 1 process, 10 users, median of {args.rounds}", locust,
                     f"{locust_eff:,.0f} ops per CPU-second (start-up included)"))
    finally:
        platform.teardown(deployment)
    print(f"one standalone pod ({deployment.network} network), {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f} (the machine is shared: generator, server and other work on the same cores)")
    print(f"{'driver':<56}{'ops/s':>12}  notes")
    for name, rate, note in rows:
        print(f"{name:<56}{rate:>12,.0f}  {note}")
    outcome = Outcome(args.quick)
    outcome.correct(all(rate > 0 for _, rate, _ in rows), "every driver completed requests")
    for pipeline, floor in ((1, 0.5), (16, 0.3)):
        ratio = best[pipeline] / rb[pipeline] if rb[pipeline] else 0.0
        outcome.target(ratio >= floor, f"open-loop / redis-benchmark at -P {pipeline}: {ratio:.0%} >= {floor:.0%}")
    times = gen_rate / locust if locust else 0.0
    outcome.target(times >= 3, f"open-loop 1 process / Locust 1 process: {times:.1f}x >= 3x")
    outcome.finish()


if __name__ == "__main__":
    main()

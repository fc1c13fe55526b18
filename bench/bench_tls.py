"""What TLS costs one standalone pod, measured with a C client: redis-benchmark against a plaintext
pod and a `topology.tls` pod (client certificates required), in interleaved rounds.

The capacity sweep (`scenarios/capacity-tls.yaml`) answers the planner's question with the open-loop
generator, whose own TLS (Python's ssl under asyncio) costs it CPU on the cores the server shares;
this script takes the client out of the question as far as one machine can: redis-benchmark does its
TLS in C (OpenSSL), with the same connections and requests against both pods. Printed per pod: the
median requests/s, p50 / p99 of SET and GET, and the server's CPU-ms per 1,000 requests from
/proc/<pid>/schedstat over the benchmark (the server's own cost of TLS, whatever the client's).

    python bench/bench_tls.py [--requests 100000] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics

from outcome import Outcome, add_quick

from harness.deployment import Deployment
from harness.platforms.local.platform import LocalPlatform
from harness.scenario import RedisBenchmarkLoad, Topology
from harness.workload.openloop.procstat import schedstat
from harness.workload.redis_benchmark import TestResult, run_benchmark


def one_round(deployment: Deployment, requests: int) -> tuple[list[TestResult], float]:
    """(SET and GET rows, server CPU-ms per 1,000 requests) of one redis-benchmark run."""
    pod = deployment.redis_pods()[0]
    before = schedstat(pod.pid)
    spec = RedisBenchmarkLoad(tests=["set", "get"], clients=50, requests=requests, data_size=100, keyspace=10_000)
    rows = run_benchmark(deployment, spec, timeout_s=300)
    after = schedstat(pod.pid)
    done = sum(r.requests or 0 for r in rows)
    cpu_ms = (after.cpu_s - before.cpu_s) * 1000 if before and after else float("nan")
    return rows, cpu_ms / done * 1000 if done else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100_000, help="redis-benchmark -n per test and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
    add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.requests, args.rounds = 10_000, 1
    platform = LocalPlatform()
    pods: dict[str, Deployment] = {}
    results: dict[str, list[tuple[list[TestResult], float]]] = {"plaintext": [], "tls": []}
    try:
        for name, tls in (("plaintext", False), ("tls", True)):
            pods[name] = platform.deploy(Topology(kind="standalone", tls=tls), f"bench-tls-{secrets.token_hex(4)}",
                                         owner_pid=os.getpid())
        for _ in range(args.rounds):  # interleaved: a busy moment of the shared machine hits both alike
            for name, deployment in pods.items():
                results[name].append(one_round(deployment, args.requests))
    finally:
        for deployment in pods.values():
            platform.teardown(deployment)
    print(f"one standalone pod each, redis-benchmark -c 50 -d 100 -n {args.requests:,}, {args.rounds} interleaved "
          f"round(s), medians; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (the machine is shared)")
    print(f"{'pod':<11}{'test':<6}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}")
    medians: dict[tuple[str, str], float] = {}
    for name, rounds in results.items():
        for test in ("SET", "GET"):
            rows = [r for rs, _ in rounds for r in rs if r.test.upper() == test]
            rps = statistics.median(r.rps or 0.0 for r in rows)
            medians[(name, test)] = rps
            p50 = statistics.median(r.p50_ms or 0.0 for r in rows)
            p99 = statistics.median(r.p99_ms or 0.0 for r in rows)
            print(f"{name:<11}{test:<6}{rps:>12,.0f}{p50:>9.3f}{p99:>9.3f}")
    cpu = {name: statistics.median(c for _, c in rounds) for name, rounds in results.items()}
    for name, value in cpu.items():
        print(f"{name:<11}server CPU {value:.1f} CPU-ms per 1k requests")
    for test in ("SET", "GET"):
        plain, tls = medians[("plaintext", test)], medians[("tls", test)]
        print(f"TLS / plaintext {test}: {tls / plain:.0%} of the requests/s" if plain else f"{test}: no plaintext rate")
    print(f"TLS / plaintext server CPU per request: {cpu['tls'] / cpu['plaintext']:.2f}x")
    outcome = Outcome(args.quick)
    outcome.correct(all(r.rps and r.rps > 0 and not r.aborted for rounds in results.values() for rs, _ in rounds
                        for r in rs), "every redis-benchmark run completed, plaintext and TLS")
    outcome.finish()


if __name__ == "__main__":
    main()

"""Which client should drive the open-loop generator? Each candidate's top rate on one core, measured.

Against one standalone local pod, SET of 64 B values on 10,000 keys, `--concurrency` requests in
flight, for `--seconds`: redis-py's asyncio client (hiredis parser), coredis, valkey-glide (Rust
core) when installed (`pip install coredis valkey-glide`: not dependencies of the harness), and
the generator's own wire (raw RESP on asyncio transports, hiredis parsing), offered far more than it
can send. Each runs in a fresh process so one's warm-up does not help another; the CPU seconds each
process used are printed too (glide's Rust core runs threads of its own beside Python's).

    python bench/openloop_clients.py [--quick] [--seconds 4] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import subprocess
import sys
import time

from outcome import Outcome, add_quick

KEYS = 10_000
VALUE = b"x" * 64


async def _closed_loop(call, concurrency: int, seconds: float) -> float:
    done = 0
    end = time.monotonic() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        n = w
        while time.monotonic() < end:
            await call(f"k:{n % KEYS}")
            n += concurrency
            done += 1

    start = time.monotonic()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return done / (time.monotonic() - start)


async def redis_py(host: str, port: int, concurrency: int, seconds: float) -> float:
    import redis.asyncio as aredis

    client = aredis.Redis(host=host, port=port, max_connections=concurrency)
    rate = await _closed_loop(lambda k: client.set(k, VALUE), concurrency, seconds)
    await client.aclose()
    return rate


async def coredis_client(host: str, port: int, concurrency: int, seconds: float) -> float:
    import coredis

    client = coredis.Redis(host=host, port=port, max_connections=concurrency)
    async with client:
        return await _closed_loop(lambda k: client.set(k, VALUE), concurrency, seconds)


async def glide(host: str, port: int, concurrency: int, seconds: float) -> float:
    from glide import GlideClient, GlideClientConfiguration, NodeAddress

    client = await GlideClient.create(GlideClientConfiguration([NodeAddress(host, port)]))
    rate = await _closed_loop(lambda k: client.set(k, VALUE), concurrency, seconds)
    await client.close()
    return rate


def generator(deployment_json: str, concurrency: int, seconds: float) -> float:
    from harness.deployment import Deployment
    from harness.workload.openloop.engine import Engine, StepPlan
    from harness.workload.openloop.spec import OpenLoopLoad

    deployment = Deployment.load(deployment_json)
    spec = OpenLoopLoad(clients=concurrency, mix={"set": 1}, keyspace=KEYS, value_size=len(VALUE))
    plan = StepPlan(500_000, seconds + 1, 1.0, time.monotonic_ns() + 300_000_000, concurrency, seed=0)
    result = asyncio.run(Engine(deployment, spec, plan).run())
    return result.ok / result.measured_s if result.measured_s else 0.0


CANDIDATES = {"redis-py asyncio + hiredis": redis_py, "coredis": coredis_client, "valkey-glide": glide}


def child(name: str, deployment_json: str, concurrency: int, seconds: float) -> None:
    """Runs in its own process; prints one JSON line."""
    from harness.deployment import Deployment

    pod = Deployment.load(deployment_json).redis_pods()[0]
    try:
        if name == "open-loop generator (raw RESP + hiredis)":
            rate = generator(deployment_json, concurrency, seconds)
        else:
            rate = asyncio.run(CANDIDATES[name](pod.host, pod.port, concurrency, seconds))
        print(json.dumps({"rate": rate}))
    except ImportError as exc:
        print(json.dumps({"missing": str(exc)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--child", nargs=2, metavar=("NAME", "DEPLOYMENT"), help=argparse.SUPPRESS)
    add_quick(parser)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.concurrency, args.seconds)
        return
    if args.quick:
        args.seconds = 1.5
    from harness.platforms.local.platform import LocalPlatform
    from harness.scenario import Topology

    platform = LocalPlatform()
    deployment = platform.deploy(Topology(kind="standalone"), f"bench-clients-{secrets.token_hex(4)}",
                                 owner_pid=os.getpid())
    results: dict[str, dict] = {}
    try:
        for name in [*CANDIDATES, "open-loop generator (raw RESP + hiredis)"]:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            done = subprocess.run([sys.executable, __file__, "--child", name, str(deployment.state_file),
                                   "--seconds", str(args.seconds), "--concurrency", str(args.concurrency)],
                                  capture_output=True, text=True, timeout=120)
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            results[name] = json.loads(lines[-1]) if lines else {"error": done.stderr.strip()[-300:]}
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            results[name]["cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    finally:
        platform.teardown(deployment)
    print(f"one standalone pod ({deployment.network} network), SET 64 B, {args.concurrency} in flight, one process "
          f"each, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (shared machine)")
    for name, r in results.items():
        figure = (f"{r['rate']:>10,.0f} ops/s   (the process used {r['cpu_s']:.1f} CPU-s in all, start-up included)"
                  if "rate" in r else f"not measured: {r.get('missing') or r.get('error')}")
        print(f"{name:<44}{figure}")
    outcome = Outcome(args.quick)
    ours = results["open-loop generator (raw RESP + hiredis)"].get("rate", 0)
    outcome.correct(ours > 0, "the generator's wire completed requests")
    base = results["redis-py asyncio + hiredis"].get("rate", 0)
    outcome.target(ours >= base, f"the generator's wire / redis-py asyncio: {ours / base if base else 0:.2f}x >= 1x")
    for name, r in results.items():
        if "rate" in r and not name.startswith("open-loop"):
            print(f"generator / {name}: {ours / r['rate']:.2f}x")
    outcome.finish()


if __name__ == "__main__":
    main()

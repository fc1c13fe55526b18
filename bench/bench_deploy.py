"""Deploy time of a sentinel topology (1 primary + 2 replicas + 3 sentinels) on the local platform.

Target (issue 2): under 10 s on a 2-core machine. Measures deploy until ready (replication links
up, every sentinel sees both replicas and the other sentinels) and teardown separately.

    python bench/bench_deploy.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import time

from outcome import Outcome, add_quick

from harness.platforms.local.platform import LocalPlatform, process_alive
from harness.redisconn import pod_client
from harness.scenario import Topology


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    add_quick(parser)
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    outcome = Outcome(args.quick)
    platform = LocalPlatform()
    topology = Topology(kind="sentinel", replicas=2, sentinels=3, quorum=2)
    deploys, teardowns = [], []
    answered = gone = True
    for _ in range(runs):
        start = time.perf_counter()
        deployment = platform.deploy(topology, f"bench-{secrets.token_hex(4)}", owner_pid=os.getpid())
        deploys.append(time.perf_counter() - start)
        try:
            answered &= all(pod_client(deployment, pod).ping() for pod in deployment.pods)
        finally:
            start = time.perf_counter()
            platform.teardown(deployment)
            teardowns.append(time.perf_counter() - start)
        gone &= not any(process_alive(pod.pid) for pod in deployment.pods)
    print(f"sentinel 1+2+3 on the local platform ({platform.network} network), {runs} runs, {os.cpu_count()} cores")
    print(f"deploy until ready: median {statistics.median(deploys):.2f} s, min {min(deploys):.2f} s, max {max(deploys):.2f} s")
    print(f"teardown:           median {statistics.median(teardowns):.2f} s, max {max(teardowns):.2f} s")
    outcome.correct(answered, "every pod answered PING after deploy")
    outcome.correct(gone, "no pod process left after teardown")
    outcome.target(max(deploys) < 10, "deploy under 10 s")
    outcome.finish()


if __name__ == "__main__":
    main()

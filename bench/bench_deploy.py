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

from harness.platforms.local import LocalPlatform
from harness.scenario import Topology


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    platform = LocalPlatform()
    topology = Topology(kind="sentinel", replicas=2, sentinels=3, quorum=2)
    deploys, teardowns = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        deployment = platform.deploy(topology, f"bench-{secrets.token_hex(4)}", owner_pid=os.getpid())
        deploys.append(time.perf_counter() - start)
        start = time.perf_counter()
        platform.teardown(deployment)
        teardowns.append(time.perf_counter() - start)
    print(f"sentinel 1+2+3 on the local platform ({platform.network} network), {args.runs} runs, {os.cpu_count()} cores")
    print(f"deploy until ready: median {statistics.median(deploys):.2f} s, min {min(deploys):.2f} s, max {max(deploys):.2f} s")
    print(f"teardown:           median {statistics.median(teardowns):.2f} s, max {max(teardowns):.2f} s")
    print(f"target: deploy under 10 s -> {'met' if max(deploys) < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()

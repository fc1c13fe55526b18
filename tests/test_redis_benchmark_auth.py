"""redis-benchmark and the password: the one client of the harness that still takes it on its command line.

The issue asks for REDISCLI_AUTH instead of `-a` everywhere. redis-cli reads that variable; the
redis-benchmark the harness runs (7.0.15) does not, nor any other variable or file: against a real
server with `requirepass`, the variable alone gets NOAUTH and `-a` gets through. So the driver keeps
`-a` (its logs and events show the command line masked). When a redis-benchmark that honours the
variable arrives, the first assertion fails and the driver can switch.
"""

from __future__ import annotations

import os
import subprocess

from harness.scenario import RedisBenchmarkLoad
from harness.workload.redis_benchmark import benchmark_argv, shown_argv
from tests.conftest import needs_redis

PASSWORD = "bench-pw"


def run(argv: list[str], **env: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    return done.stdout + done.stderr


@needs_redis
def test_redis_benchmark_reads_the_password_from_its_command_line_only(deploy):
    deployment = deploy({"kind": "standalone", "password": PASSWORD}, "bench-auth")
    argv = benchmark_argv(deployment, RedisBenchmarkLoad(enabled=True, tests=["set"], clients=2, requests=200))
    at = argv.index("-a")
    assert argv[at + 1] == PASSWORD and PASSWORD not in shown_argv(argv)
    without = argv[:at] + argv[at + 2:]
    assert "NOAUTH" in run(without, REDISCLI_AUTH=PASSWORD)  # the variable is not read: -a stays
    served = run(argv)
    assert "NOAUTH" not in served and "requests per second" in served, served

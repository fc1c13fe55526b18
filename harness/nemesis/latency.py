"""The latency fault's moving part: starting, checking and stopping the NFQUEUE delayer in a pod's network.

Traffic covered: every IPv4/IPv6 packet the pod sends on a non-loopback interface (client
replies, replication in both roles, Sentinel hellos and pings, the cluster bus) waits
delay ± jitter, in order. So every round trip that involves the pod gains `delay_ms` once,
whoever started it, and the pod's own loopback traffic is untouched. What the pod receives is
not delayed (as with netem on an interface's egress).
"""

from __future__ import annotations

import sys
import zlib

from harness.errors import PlatformError
from harness.deployment import Deployment, Pod
from harness.poll import PollTimeout, wait_until

MARKER = "harness.nemesis.delayer"  # the delayer's module; also what `stop` looks for in a command line
# the same delayer.py as a command, as the project's Kubernetes sidecar image installs it
SIDECAR_COMMAND = "redis-harness-delayer"
QUEUE_PROC = "/proc/net/netfilter/nfnetlink_queue"
# true while pid $1 runs a command line containing $2 (the delayer's `--queue=N `)
_IS_DELAYER = 'tr "\\0" " " < /proc/$1/cmdline 2>/dev/null | grep -q -- "$2"'


def queue_number(fault_id: str) -> int:
    """A stable queue number per fault, so overlapping latency faults in one namespace do not share one."""
    return 1 + zlib.crc32(fault_id.encode()) % 65000


def delayer_args(queue: int, delay_ms: float, jitter_ms: float, *, seed: int, lifetime_s: float) -> list[str]:
    """The delayer's arguments, wherever it runs (this venv's module, or the sidecar image's command).
    `=` forms: the pid checks look for the exact token `--queue=N`."""
    return [f"--queue={queue}", f"--delay-ms={delay_ms:g}", f"--jitter-ms={jitter_ms:g}", f"--seed={seed}",
            f"--lifetime-s={lifetime_s:g}"]


def delayer_argv(queue: int, delay_ms: float, jitter_ms: float, *, seed: int, lifetime_s: float) -> list[str]:
    return [sys.executable, "-m", MARKER, *delayer_args(queue, delay_ms, jitter_ms, seed=seed, lifetime_s=lifetime_s)]


def check_args(queue: int) -> list[str]:
    return [f"--queue={queue}", "--check"]


def check_argv(queue: int) -> list[str]:
    return [sys.executable, "-m", MARKER, *check_args(queue)]


def start(platform, deployment: Deployment, pod: Pod, queue: int, delay_ms: float, jitter_ms: float, *,
          seed: int, lifetime_s: float) -> int:
    """Start the delayer in the pod's network; returns its pid once it holds the queue."""
    proc = platform.run_in_pod_network(
        deployment, pod, delayer_argv(queue, delay_ms, jitter_ms, seed=seed, lifetime_s=lifetime_s), timeout=30)
    try:
        return int(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise PlatformError(f"the latency delayer in {pod.name} did not report its pid: {proc.stdout!r}") from None


def bound_queues(platform, deployment: Deployment, pod: Pod) -> set[int]:
    """Queue numbers some process listens on in the pod's network (the file is per namespace)."""
    proc = platform.run_in_pod_network(deployment, pod, ["cat", QUEUE_PROC], check=False)
    return {int(line.split()[0]) for line in proc.stdout.splitlines() if line.strip()}


def stop(platform, deployment: Deployment, pod: Pod, pid: int, queue: int, timeout: float = 30) -> None:
    """SIGTERM the delayer (it releases what it holds, then exits) and wait until it is gone.

    Only a process whose command line is this delayer's for this queue is signalled, so a
    recycled pid is never hit. Harmless when it is already gone.
    """
    platform.run_in_pod_network(deployment, pod, ["sh", "-c", _IS_DELAYER + ' && kill -TERM "$1"; exit 0', "sh",
                                                  str(pid), f"--queue={queue} "], check=False)

    def gone() -> bool:
        alive = platform.run_in_pod_network(deployment, pod, ["sh", "-c", _IS_DELAYER, "sh", str(pid),
                                                              f"--queue={queue} "], check=False)
        return alive.returncode != 0 and queue not in bound_queues(platform, deployment, pod)

    try:
        wait_until(gone, timeout=timeout, interval=0.1, what=f"the latency delayer in {pod.name} to exit")
    except PollTimeout as exc:
        raise PlatformError(str(exc)) from None

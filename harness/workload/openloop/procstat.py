"""A process's CPU time and its time waiting for a CPU, from /proc/<pid>/schedstat (Linux).

CPU time alone does not say whether a process had all it wanted: on a machine shared with other
work a process can be runnable all the time and still get 40% of a core. schedstat's second field
is the time spent runnable on a run queue; CPU + that wait, per wall second, is the process's
demand, and a demand near 1 means it was CPU-bound, by its own work or by its neighbours.
"""

from __future__ import annotations

from typing import NamedTuple


class SchedStat(NamedTuple):
    cpu_s: float
    wait_s: float


def schedstat(pid: int | str = "self") -> SchedStat | None:
    """The main thread's (for redis-server and the generator, the one doing the work)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            cpu_ns, wait_ns, *_ = f.read().split()
    except (OSError, ValueError):
        return None
    return SchedStat(int(cpu_ns) / 1e9, int(wait_ns) / 1e9)

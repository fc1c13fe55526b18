"""What the server says about itself during a step: INFO figures and its process's CPU seconds.

Two CPU sources, because only one platform knows the server's pid:
- `schedstat`: /proc/<pid>/schedstat of the server's main thread (the local platform), which also gives
  its run-queue wait (on a busy machine the server, too, waits for a CPU);
- `info`: INFO cpu's `used_cpu_sys + used_cpu_user` (getrusage of the whole server process, its
  background threads included; forked children such as BGSAVE are not counted), read over the same
  connection on any platform (Kubernetes: no pid here). It has no run-queue wait.

A step's CPU comes from schedstat when every sampled server has a pid, else from INFO; the INFO figure
is kept next to it either way, so a local run shows that the two agree. A sampler thread reads both
every `interval_s` during a step, so the step's figures come from its measured window only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from harness.deployment import Deployment, Pod
from harness.redisconn import pod_client
from harness.workload.openloop.procstat import schedstat

SCHEDSTAT, INFO = "schedstat", "info"
SOURCES = {SCHEDSTAT: "/proc/<pid>/schedstat (server main thread)",
           INFO: "INFO cpu used_cpu_sys + used_cpu_user (server process)"}


def cpu_source(pods: list[Pod]) -> str:
    """schedstat when the harness knows every server's pid (local platform), else INFO."""
    return SCHEDSTAT if pods and all(p.pid for p in pods) else INFO


def info_cpu_s(info: dict) -> float | None:
    """The server process's own CPU seconds from INFO (cpu section); None when INFO lacks them."""
    try:
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    except (KeyError, TypeError, ValueError):
        return None


@dataclass
class Sample:
    mono_ns: int
    cpu_s: float | None  # schedstat
    wait_s: float | None  # schedstat
    info_cpu_s: float | None  # INFO cpu
    ops_per_s: float | None
    used_memory: int | None


@dataclass
class ServerSampler:
    """Samples the given primaries (summed) until stopped; bounded by `max_s` whatever happens."""

    deployment: Deployment
    pods: list[Pod]
    interval_s: float = 0.25
    max_s: float = 3600.0
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._clients = [pod_client(self.deployment, p, timeout=0.5) for p in self.pods]
        self._thread = threading.Thread(target=self._run, name="capacity-server-sampler", daemon=True)
        self.source = cpu_source(self.pods)

    def start(self) -> "ServerSampler":
        self.samples.append(self.sample())
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.samples.append(self.sample())

    def _run(self) -> None:
        end = time.monotonic() + self.max_s
        while not self._stop.wait(self.interval_s) and time.monotonic() < end:
            self.samples.append(self.sample())

    def sample(self) -> Sample:
        stats = [schedstat(p.pid) if p.pid else None for p in self.pods]
        ops = mem = 0
        cpu_info: float | None = 0.0
        ok = True
        for client in self._clients:
            try:
                info = client.info()  # default sections: stats, memory and cpu among them
            except Exception:  # noqa: BLE001 - a busy or paused server: this sample has no INFO
                ok = False
                continue
            ops += int(info.get("instantaneous_ops_per_sec", 0))
            mem += int(info.get("used_memory", 0))
            own = info_cpu_s(info)
            cpu_info = None if own is None or cpu_info is None else cpu_info + own
        known = [st for st in stats if st is not None]
        whole = len(known) == len(stats)
        cpu = sum(st.cpu_s for st in known) if whole else None
        wait = sum(st.wait_s for st in known) if whole else None
        return Sample(time.monotonic_ns(), cpu, wait, cpu_info if ok else None, ops if ok else None,
                      mem if ok else None)

    def window(self, start_ns: int, end_ns: int) -> dict[str, float | str | None]:
        """CPU seconds per second between the samples nearest the window's ends (each source on its own
        samples); median INFO ops/s and the last used_memory inside it."""
        inside = [s for s in self.samples if start_ns <= s.mono_ns <= end_ns]
        sched = _rate(self.samples, start_ns, end_ns, lambda s: s.cpu_s)
        wait = _rate(self.samples, start_ns, end_ns, lambda s: s.wait_s)
        info = _rate(self.samples, start_ns, end_ns, lambda s: s.info_cpu_s)
        cpu = sched if self.source == SCHEDSTAT else info
        ops = sorted(s.ops_per_s for s in inside if s.ops_per_s is not None)
        mem = [s.used_memory for s in inside if s.used_memory is not None]
        return {"server_cpu_s_per_s": _round(cpu), "server_cpu_source": self.source,
                "server_info_cpu_s_per_s": _round(info), "server_wait_s_per_s": _round(wait),
                "server_ops_per_s": ops[len(ops) // 2] if ops else None,
                "used_memory": mem[-1] if mem else None}


def _rate(samples: list[Sample], start_ns: int, end_ns: int,
          value: Callable[[Sample], float | None]) -> float | None:
    """(value at the end - value at the start) / seconds, over the samples that have it nearest each end."""
    have = [s for s in samples if value(s) is not None]
    if not have:
        return None
    first = min(have, key=lambda s: abs(s.mono_ns - start_ns))
    last = min(have, key=lambda s: abs(s.mono_ns - end_ns))
    if last.mono_ns <= first.mono_ns:
        return None
    return (value(last) - value(first)) / ((last.mono_ns - first.mono_ns) / 1e9)  # type: ignore[operator]


def _round(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None

"""What the server says about itself during a step: INFO figures and its process's CPU seconds.

CPU and run-queue wait come from /proc/<pid>/schedstat on the local platform, where the harness knows
the server's pid; elsewhere it is None and the report says so. A sampler thread reads both every
`interval_s` during a step, so the step's figures come from its measured window only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from harness.deployment import Deployment, Pod
from harness.redisconn import pod_client
from harness.workload.openloop.procstat import schedstat

@dataclass
class Sample:
    mono_ns: int
    cpu_s: float | None
    wait_s: float | None
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
        ok = True
        for client in self._clients:
            try:
                info = client.info()
            except Exception:  # noqa: BLE001 - a busy or paused server: this sample has no INFO
                ok = False
                continue
            ops += int(info.get("instantaneous_ops_per_sec", 0))
            mem += int(info.get("used_memory", 0))
        known = [st for st in stats if st is not None]
        whole = len(known) == len(stats)
        cpu = sum(st.cpu_s for st in known) if whole else None
        wait = sum(st.wait_s for st in known) if whole else None
        return Sample(time.monotonic_ns(), cpu, wait, ops if ok else None, mem if ok else None)

    def window(self, start_ns: int, end_ns: int) -> dict[str, float | None]:
        """CPU seconds per second between the samples nearest the window's ends; median INFO ops/s
        and the last used_memory inside it."""
        inside = [s for s in self.samples if start_ns <= s.mono_ns <= end_ns]
        first = min(self.samples, key=lambda s: abs(s.mono_ns - start_ns))
        last = min(self.samples, key=lambda s: abs(s.mono_ns - end_ns))
        cpu = wait = None
        if first.cpu_s is not None and last.cpu_s is not None and last.mono_ns > first.mono_ns:
            span = (last.mono_ns - first.mono_ns) / 1e9
            cpu = (last.cpu_s - first.cpu_s) / span
            wait = (last.wait_s - first.wait_s) / span  # type: ignore[operator]
        ops = sorted(s.ops_per_s for s in inside if s.ops_per_s is not None)
        mem = [s.used_memory for s in inside if s.used_memory is not None]
        return {"server_cpu_s_per_s": round(cpu, 4) if cpu is not None else None,
                "server_wait_s_per_s": round(wait, 4) if wait is not None else None,
                "server_ops_per_s": ops[len(ops) // 2] if ops else None,
                "used_memory": mem[-1] if mem else None}

"""Several generator processes driving one step together, and their results merged.

One Python process tops out near one core; the offered rate and the connections are split
evenly over `processes` workers that start the step at the same CLOCK_MONOTONIC instant (the
clock is system-wide). The workers stay up across the steps of a sweep, so a step costs no
interpreter start. The merged result says whether the generator itself was the limit.
"""

from __future__ import annotations

import base64
import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from harness.deployment import Deployment
from harness.workload.openloop.engine import NS, StepPlan, run_step
from harness.workload.openloop.spec import OpenLoopLoad
from harness.workload.persecond import new_histogram

START_DELAY_S = 1.0  # time for every worker to draw its requests and connect before the schedule starts
CPU_SATURATED = 0.85  # of one core, per process
LAG_SATURATED_MS = 2.0  # p99 of how late the generator's timer woke
LATE_SATURATED = 0.01  # share of requests sent late while the server was keeping up


@dataclass
class Step:
    """One step's merged figures; latencies in ms from each request's intended send time."""

    offered_rate: float
    offered: int
    sent: int
    ok: int
    errors: int
    unknown: int
    late: int
    dropped: int
    measured_s: float
    achieved_rate: float
    p50_ms: float | None
    p99_ms: float | None
    p999_ms: float | None
    max_ms: float | None
    mean_ms: float | None
    generator_cpu: float  # busiest process's CPU, as a fraction of one core
    generator_busy: float  # busiest process's CPU + run-queue wait per wall second (1 = CPU-bound)
    loop_lag_p99_ms: float
    generator_saturated: bool
    generator_why: str
    reconnects: int
    error_kinds: dict[str, int]
    per_second: list[dict[str, int]] = field(default_factory=list)
    hist: str = ""
    start_mono_ns: int = 0  # when the schedule started (CLOCK_MONOTONIC)

    def row(self) -> dict[str, Any]:
        """The step as a flat table row (no histogram, no per-second list)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("per_second", "hist", "error_kinds", "start_mono_ns")}


class GeneratorPool:
    """`processes` worker processes; use as a context manager so they end with the caller."""

    def __init__(self, deployment: Deployment, spec: OpenLoopLoad, *, seed: int = 0):
        self.deployment, self.spec, self.seed = deployment, spec, seed
        self.processes = spec.processes
        self._executor = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"))
        self._steps = 0

    def __enter__(self) -> "GeneratorPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def warm(self) -> None:
        """Start the workers and import the engine in each (the first step would otherwise pay for it)."""
        list(self._executor.map(_noop, range(self.processes)))

    def step(self, rate: float, duration_s: float, warmup_s: float) -> Step:
        self._steps += 1
        start = time.monotonic_ns() + int(START_DELAY_S * NS)
        share = client_shares(self.spec.clients, self.processes)
        futures = [self._executor.submit(run_step, self.deployment, self.spec,
                                         StepPlan(rate / self.processes, duration_s, warmup_s, start, share[i],
                                                  seed=self.seed * 1_000_003 + self._steps * 101 + i))
                   for i in range(self.processes)]
        step = merge(rate, [f.result() for f in futures], warmup_s, duration_s)
        step.start_mono_ns = start
        return step


def client_shares(clients: int, processes: int) -> list[int]:
    """The connections of each process: `clients` split as evenly as it goes."""
    return [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]


def _noop(_: int) -> None:
    import harness.workload.openloop.engine  # noqa: F401


def merge(rate: float, parts: list[dict[str, Any]], warmup_s: float, duration_s: float) -> Step:
    """One step's figures over all processes. The achieved rate is acknowledged replies per second by
    completion time, over the whole seconds of the measured window (after warm-up, before the
    schedule's end): a starved process's late bookkeeping cannot inflate it."""
    hist = new_histogram()
    for part in parts:
        if part["hist"]:
            hist.add(HdrHistogram.decode(base64.b64decode(part["hist"])))
    total = {k: sum(p[k] for p in parts) for k in ("offered", "sent", "ok", "errors", "unknown", "late", "dropped",
                                                   "reconnects")}
    measured_s = max((p["measured_s"] for p in parts), default=0.0)
    cpu = max((p["cpu_s"] / p["measured_s"] for p in parts if p["measured_s"]), default=0.0)
    busy = max(((p["cpu_s"] + p["wait_s"]) / p["measured_s"] for p in parts if p["measured_s"]), default=0.0)
    lag = max((p["loop_lag_p99_ms"] for p in parts), default=0.0)
    start_lag_s = max((p["start_lag_ms"] for p in parts), default=0.0) / 1000
    kinds: dict[str, int] = {}
    for p in parts:
        for k, v in p["error_kinds"].items():
            kinds[k] = kinds.get(k, 0) + v
    seconds: dict[int, dict[str, int]] = {}
    for p in parts:
        for row in p["per_second"]:
            acc = seconds.setdefault(row["t"], dict.fromkeys(row, 0) | {"t": row["t"]})
            for k, v in row.items():
                if k != "t":
                    acc[k] += v
    whole = range(math.ceil(warmup_s), math.floor(duration_s))
    if len(whole):
        achieved = sum(seconds[t]["ok"] for t in whole if t in seconds) / len(whole)
    else:
        achieved = total["ok"] / measured_s if measured_s else 0.0
    why = saturation_reason(cpu, busy, lag, total["late"] + total["dropped"], total["offered"])
    if start_lag_s > warmup_s:  # its catch-up burst fell into the measured window
        why = "; ".join(filter(None, [why, f"a process was ready only {start_lag_s:.2f} s after the step began, "
                                           f"after the {warmup_s:g} s warm-up"]))
    has = hist.get_total_count() > 0

    def q(p: float) -> float | None:
        return hist.get_value_at_percentile(p) / 1000 if has else None

    return Step(rate, total["offered"], total["sent"], total["ok"], total["errors"], total["unknown"], total["late"],
                total["dropped"], round(measured_s, 3), round(achieved, 1), q(50), q(99), q(99.9),
                hist.get_max_value() / 1000 if has else None, hist.get_mean_value() / 1000 if has else None,
                round(cpu, 3), round(busy, 3), lag, bool(why), why, total["reconnects"], kinds,
                [seconds[s] for s in sorted(seconds)], base64.b64encode(hist.encode()).decode() if has else "")


def saturation_reason(cpu: float, busy: float, lag_p99_ms: float, late_or_dropped: int, offered: int) -> str:
    """Why the generator, not the server, may have set this step's figures ('' when it kept up).

    Late requests alone do not say it: when every connection is busy the server is slow. They
    count only together with the generator's own signs (its CPU or its timer's lag).
    """
    reasons = []
    if busy >= CPU_SATURATED:
        reasons.append(f"its busiest process was on or waiting for a CPU {busy:.0%} of the time "
                       f"(it ran {cpu:.0%}; the rest it waited: the machine's cores were busy)" if cpu < CPU_SATURATED
                       else f"its busiest process used {cpu:.0%} of a core")
    if lag_p99_ms >= LAG_SATURATED_MS:
        reasons.append(f"its timer woke {lag_p99_ms:.1f} ms late at p99")
    if reasons and offered and late_or_dropped / offered >= LATE_SATURATED:
        reasons.append(f"{late_or_dropped / offered:.0%} of requests were sent late or dropped")
    return "; ".join(reasons)

"""The open-loop generator as a run's load driver (`workload.openloop`): `rate` ops/s on a fixed
schedule from run time 0 to the run's end, leaving `series/openloop.csv`.

Its worker processes (harness.workload.openloop.engine, one core each at most) are spawned and
import everything before t = 0 (`prepare`), then wait for the schedule's start, which `start`
sends: run time 0, so the schedule and the run clock share their zero. The engine follows the
primary as the probe does (route.py: the sentinels asked again after a lost connection, READONLY
or MOVED; a cluster's slots), counts requests lost in flight as `fail` and drops (and counts) those
overdue by more than `max_backlog_ms`; nothing is retried behind the user's back. Each process
appends its per-second rows to raw/openloop-seconds/ as they come; a thread here merges them into
series/openloop.csv every second, and once more at the end.

Bounded three ways: the engine ends its schedule at the run's end (plus its reply timeout), a
worker waits for its start at most `START_WAIT_S`, and `wait`/`stop` end what is left.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import threading
import time
from multiprocessing.context import SpawnProcess
from typing import Any

from harness.deployment import Deployment
from harness.poll import PollTimeout, wait_until
from harness.rundir import EventLog, RunClock, RunDir, write_series
from harness.scenario import OpenLoopRunLoad
from harness.workload.openloop import seconds
from harness.workload.openloop.engine import StepPlan
from harness.workload.openloop.pool import client_shares, merge, saturation_reason

DRIVER = seconds.DRIVER
START_WAIT_S = 600.0  # a worker never told to start ends by itself after this
READY_TIMEOUT_S = 60.0  # for the workers to start and import, before t = 0
GRACE_S = 10.0  # beyond the run's end: the engine's reply timeout, its last replies, the final rows
MERGE_EVERY_S = 1.0
UNSTARTED_NS = 10**15  # a schedule start this far ahead: nothing due yet


def _worker(deployment: Deployment, spec: OpenLoopRunLoad, rate: float, duration_s: float, clients: int, seed: int,
            path: str, starts: Any, ready: Any, stop: Any, results: Any) -> None:
    """One generator process: import, connect, say it is ready, wait for the schedule's start
    (CLOCK_MONOTONIC ns), run it."""
    from pathlib import Path

    out = seconds.SecondsFile(Path(path))
    try:
        not_yet = time.monotonic_ns() + UNSTARTED_NS  # nothing is due while it connects (start_at moves it)
        result = asyncio.run(_generate(deployment, spec, StepPlan(rate, duration_s, 0.0, not_yet, clients, seed),
                                       out, starts, ready, stop))
        if result is not None:
            results.put(result)
    except Exception as exc:  # noqa: BLE001 - said in the driver's events, not lost in a child's stderr
        results.put({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        ready.set()
        out.close()


async def _generate(deployment: Deployment, spec: OpenLoopRunLoad, plan: StepPlan, out: seconds.SecondsFile,
                    starts: Any, ready: Any, stop: Any) -> dict[str, Any] | None:
    """Connected before t = 0, so the schedule's first requests leave on time; None: never started."""
    from harness.workload.openloop.engine import Engine

    engine = Engine(deployment, spec, plan, sink=out.write, stop=stop.is_set)
    try:
        await engine.connect()
    except RuntimeError:  # no primary right now: run() tries again at the start and says what failed
        pass
    ready.set()
    try:
        start_ns = await asyncio.get_running_loop().run_in_executor(None, starts.get, True, START_WAIT_S)
    except queue.Empty:
        return None
    if start_ns is None:  # stopped before t = 0
        return None
    engine.start_at(start_ns)
    return (await engine.run()).as_dict()


class OpenLoopSeries:
    """What a run's open loop is wherever its generator runs (processes here, pods on Kubernetes:
    harness.platforms.kubernetes.openloop): the per-second files merged into series/openloop.csv as
    they come, and at the end the totals, the generator's own limit and the driver-end event.
    A subclass starts and ends the generator, fills `parts` with its results and says its `_errors`."""

    name = DRIVER

    def __init__(self, deployment: Deployment, spec: OpenLoopRunLoad, run_dir: RunDir, clock: RunClock,
                 events: EventLog, *, duration_s: float, seed: int = 0):
        self.deployment, self.spec, self.run_dir = deployment, spec, run_dir
        self.clock, self.events, self.duration_s, self.seed = clock, events, duration_s, seed
        self.dir = run_dir.openloop_seconds_dir
        self._merger: threading.Thread | None = None
        self._merged = threading.Event()  # set at the end: the merging thread stops
        self._started = self._finished = False
        self._lock = threading.Lock()
        self.parts: list[dict[str, Any]] = []
        self.totals: dict[str, Any] = {}

    def _alive(self) -> bool:
        """Some part of the generator still runs."""
        raise NotImplementedError

    def _errors(self) -> list[str]:
        """What went wrong, each said as a driver-error event (non-empty: the driver failed)."""
        raise NotImplementedError

    def _start_merging(self) -> None:
        self._merger = threading.Thread(target=self._merge_loop, name="openloop-series", daemon=True)
        self._merger.start()

    def _merge_loop(self) -> None:
        bound = time.monotonic() + self.duration_s + GRACE_S + 30
        while self._alive() and time.monotonic() < bound and not self._finished:
            self._write_series()
            self._merged.wait(MERGE_EVERY_S)

    def _write_series(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = seconds.series_rows(seconds.merge_files(sorted(self.dir.glob(seconds.FILE_GLOB))))
            write_series(self.run_dir.series(DRIVER), rows, seconds.SERIES_FILE_COLUMNS)
            return rows

    def _finish(self) -> int:
        with self._lock:
            if self._finished:
                return 0 if not self._errors() else 1
            self._finished = True
        self._merged.set()
        rows = self._write_series()
        errors = self._errors()
        for error in errors:
            self.events.emit("driver", "driver-error", driver=DRIVER, detail=error)
        self.totals = {k: sum(int(r[k]) for r in rows) for k in ("offered", "ok", "fail", "dropped", "late")}
        good = [p for p in self.parts if "error" not in p]
        why = ""
        if good and self._started:  # its CPU and timer only: connecting at t = 0 is not a saturation (merge's
            step = merge(self.spec.rate, good, 0.0, self.duration_s)  # start-lag reason is a sweep step's)
            why = saturation_reason(step.generator_cpu, step.generator_busy, step.loop_lag_p99_ms,
                                    step.late + step.dropped, step.offered)
            self.totals |= {"reconnects": step.reconnects, "generator_cpu": step.generator_cpu,
                            "loop_lag_p99_ms": step.loop_lag_p99_ms}
        if not self._started:
            detail = "never started (stopped before t=0)"
        else:
            detail = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v:g}" for k, v in self.totals.items())
        self.events.emit("driver", "driver-end", driver=DRIVER, generator_limit=why,
                         detail=detail + (f"; generator limit: {why}" if why else ""))
        return 1 if errors else 0


class OpenLoopDriver(OpenLoopSeries):
    """The runner's LoadDriver for `workload.openloop`: the generator as processes on this machine."""

    def __init__(self, deployment: Deployment, spec: OpenLoopRunLoad, run_dir: RunDir, clock: RunClock,
                 events: EventLog, *, duration_s: float, seed: int = 0):
        super().__init__(deployment, spec, run_dir, clock, events, duration_s=duration_s, seed=seed)
        ctx = multiprocessing.get_context("spawn")
        self._ctx = ctx
        self._starts = [ctx.Queue() for _ in range(spec.processes)]
        self._ready = [ctx.Event() for _ in range(spec.processes)]
        self._stop, self._results = ctx.Event(), ctx.Queue()
        self._procs: list[SpawnProcess] = []

    def prepare(self) -> None:
        """Spawn the workers now: their interpreter start and imports fall before t = 0."""
        self.dir.mkdir(parents=True, exist_ok=True)
        rate = self.spec.rate / self.spec.processes
        for i, clients in enumerate(client_shares(self.spec.clients, self.spec.processes)):
            proc = self._ctx.Process(
                target=_worker, name=f"openloop-{i}", daemon=True,
                args=(self.deployment, self.spec, rate, self.duration_s, clients, self.seed * 1_000_003 + i,
                      str(seconds.seconds_path(self.dir, i)), self._starts[i], self._ready[i], self._stop,
                      self._results))
            proc.start()
            self._procs.append(proc)
        try:
            wait_until(lambda: all(r.is_set() for r in self._ready) or not all(p.is_alive() for p in self._procs),
                       timeout=READY_TIMEOUT_S, interval=0.05, what="the open-loop generator's processes to start")
        except PollTimeout:
            pass  # said by driver-start's detail; the schedule starts at t = 0 regardless

    def start(self) -> None:
        """The schedule starts at run time 0 (the clock's zero, a moment ago) and ends at the run's end."""
        if not self._procs:
            self.prepare()
        for q in self._starts:
            q.put(self.clock.start_mono_ns)
        self._started = True
        unready = sum(1 for r in self._ready if not r.is_set())
        late = f"; {unready} process(es) not ready at t=0 (their first requests are late)" if unready else ""
        self.events.emit("driver", "driver-start", driver=DRIVER,
                         detail=f"open loop {self.spec.rate:g} ops/s from t=0 until t={self.duration_s:g}s, "
                                f"{self.spec.clients} connections per node, pipeline {self.spec.pipeline}, "
                                f"{self.spec.processes} process(es) (pids {', '.join(str(p.pid) for p in self._procs)}){late}")
        self._start_merging()

    def _alive(self) -> bool:
        return any(p.is_alive() for p in self._procs)

    def wait(self, timeout: float | None = None) -> int:
        """Until the workers end (their schedule ends at the run's end); past `timeout`, stopped: an error."""
        if timeout is None:
            timeout = max(0.0, self.duration_s - self.clock.t()) + GRACE_S
        deadline = time.monotonic() + timeout
        self._collect_results(deadline)
        if any(p.is_alive() for p in self._procs):
            self.events.emit("driver", "driver-error", driver=DRIVER,
                             detail=f"still running {timeout:g}s after wait() began; stopping it")
            return self.stop()
        return self._finish()

    def stop(self) -> int:
        """Tell the workers to end their schedule now (their figures complete), terminate any that linger."""
        self._stop.set()
        for q in self._starts:
            q.put(None)  # a worker still waiting for its start ends
        self._collect_results(time.monotonic() + 5.0)
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(2.0)
        return self._finish()

    def _collect_results(self, deadline: float) -> None:
        """Each started worker's result (read before joining: a queue's writer ends only once it is read)."""
        expected = len(self._procs) if self._started else 0
        while len(self.parts) < expected and time.monotonic() < deadline:
            try:
                self.parts.append(self._results.get(timeout=max(0.01, min(1.0, deadline - time.monotonic()))))
            except queue.Empty:
                if not any(p.is_alive() for p in self._procs):
                    break
        for proc in self._procs:
            proc.join(max(0.0, min(2.0, deadline - time.monotonic())))

    def _errors(self) -> list[str]:
        errors = [f"a generator process failed: {p['error']}" for p in self.parts if "error" in p]
        missing = (len(self._procs) if self._started else 0) - len(self.parts)
        if missing > 0:
            codes = [p.exitcode for p in self._procs]
            errors.append(f"{missing} generator process(es) left no result (exit codes {codes}); "
                          f"the series ends where they stopped writing")
        return errors

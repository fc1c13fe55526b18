"""One generator process: an asyncio loop that sends requests on a fixed schedule and times each
reply from the moment the schedule said the request should go.

Request i of a step is due at `start + i / rate`, whatever the replies do. A periodic timerfd
(timer.py) wakes the loop every `tick_us`; each wake, and each batch of replies, sends every due
request on a connection with room (at most `pipeline` commands in flight per connection, written
together, as redis-benchmark -P does). A request waits in the backlog while every connection is
busy; its latency still counts from its due time (the queueing a closed-loop client hides). One
sent more than `late_ms` after its due time is counted late; one still unsent `max_backlog_ms`
after it is dropped and counted (k6's dropped iterations). The wire is raw RESP over asyncio
transports parsed by hiredis: measured faster than the client libraries (bench/openloop_clients.py).

The process also watches itself: CPU seconds per wall second and how late the timer wakes
(`loop lag`), so a step the generator could not drive is reported as the generator's limit.

Given a `sink`, the engine also hands out its per-second figures while it runs (about once a
second): counts and an HDR histogram of latency from due time per second of completion, as deltas
(a second may come in several rows; readers add them up), so a run's load driver can write its
series as data arrives. At the end every request is accounted for: still in flight counts as
fail, never sent as dropped.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any, Callable

import hiredis
import numpy as np
from hdrh.histogram import HdrHistogram

from harness.deployment import Deployment, SavedDeployment
from harness.redisconn import ssl_context
from harness.workload.openloop import resp
from harness.workload.openloop.procstat import SchedStat, schedstat
from harness.workload.openloop.ring import build_ring
from harness.workload.openloop.route import Routes, discover
from harness.workload.openloop.spec import OpenLoopLoad
from harness.workload.openloop.timer import PeriodicTimer
from harness.workload.persecond import MAX_US, new_histogram

NS = 1_000_000_000
EMIT_EVERY_NS = NS  # how often the per-second figures go to the sink
SECOND_FIELDS = ("due", "sent", "ok", "fail", "late", "dropped")  # Engine.seconds' rows, in this order
Sink = Callable[[list[dict[str, Any]]], None]
_RECONNECT_PAUSE_S = 0.05
_CONNECT_TIMEOUT_S = 2.0
_MOVED_CHECK_S = 0.2  # while connecting after a lost connection, ask this often whether the primary moved


@dataclass
class StepPlan:
    """One step of one process: offer `rate` ops/s from `start_mono_ns` for `duration_s`, measuring
    after `warmup_s`. `clients` connections per node; `seed` makes the draws repeatable."""

    rate: float
    duration_s: float
    warmup_s: float
    start_mono_ns: int
    clients: int
    seed: int


@dataclass
class StepResult:
    """What one process saw in one step (merged over processes by pool.merge)."""

    offered: int = 0  # requests the schedule had in the measured window
    sent: int = 0
    ok: int = 0
    errors: int = 0  # error replies (MOVED, READONLY, OOM...)
    unknown: int = 0  # sent, outcome unknown: connection lost or reply timed out
    late: int = 0  # sent more than late_ms after due
    dropped: int = 0  # never sent: more than max_backlog_ms overdue
    measured_s: float = 0.0
    cpu_s: float = 0.0  # this process's CPU in the measured window
    wait_s: float = 0.0  # ... and its time runnable but waiting for a CPU (procstat.py)
    loop_lag_p99_ms: float = 0.0
    loop_lag_max_ms: float = 0.0
    reconnects: int = 0
    start_lag_ms: float = 0.0  # how long after the schedule's start this process was ready to send
    error_kinds: dict[str, int] = field(default_factory=dict)
    per_second: list[dict[str, int]] = field(default_factory=list)  # t, due, sent, ok, fail, late, dropped
    hist: str = ""  # base64 HDR histogram of acknowledged latencies from due time, microseconds

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Window:
    """This process's CPU and run-queue wait over the measured window (warm-up end to schedule end),
    read on the run loop's 50 ms polls: the drain of late replies after the schedule is not counted."""

    def __init__(self, start_ns: int, end_ns: int):
        self.start_ns, self.end_ns = start_ns, end_ns
        self.first: tuple[int, float, SchedStat | None] | None = None
        self.last: tuple[int, float, SchedStat | None] | None = None

    def observe(self, now: int, final: bool = False) -> None:
        if self.first is None and now >= self.start_ns:
            self.first = (now, time.process_time(), schedstat())
        elif self.first is not None and self.last is None and (now >= self.end_ns or final):
            self.last = (now, time.process_time(), schedstat())

    def figures(self) -> tuple[float, float, float]:
        """(cpu_s, wait_s, wall_s) of the window; zeros when it was never reached."""
        if self.first is None or self.last is None or self.last[0] <= self.first[0]:
            return 0.0, 0.0, 0.0
        (t0, c0, s0), (t1, c1, s1) = self.first, self.last
        wait = s1.wait_s - s0.wait_s if s0 is not None and s1 is not None else 0.0
        return c1 - c0, wait, (t1 - t0) / NS


class _Conn(asyncio.Protocol):
    __slots__ = ("engine", "node", "reader", "inflight", "transport", "in_ready", "last_io_ns", "closed")

    def __init__(self, engine: "Engine", node: int):
        self.engine, self.node = engine, node
        self.reader = hiredis.Reader()
        self.inflight: deque[int] = deque()  # due time (ns) of each command in flight; -1: AUTH
        self.transport: asyncio.Transport | None = None
        self.in_ready = False
        self.last_io_ns = time.monotonic_ns()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.engine.password:
            self.inflight.append(-1)
            transport.write(resp.encode(b"AUTH", self.engine.password.encode()))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        now = time.monotonic_ns()
        self.last_io_ns = now
        engine, inflight, gets = self.engine, self.inflight, self.reader.gets
        if now >= engine.lats_until:  # latencies are kept per second of completion (only with a sink)
            engine.roll_second(now)
        lats, measure_from = engine.lats, engine.measure_from
        ok = 0
        while (reply := gets()) is not False:
            due = inflight.popleft()
            if type(reply) is hiredis.ReplyError:
                engine.on_error_reply(str(reply), due, now)
            elif due >= 0:
                ok += 1
                if due >= measure_from:
                    lats.append(now - due)
        if ok:
            engine.on_ok(ok, now)
        if not self.in_ready and not inflight and not self.closed:
            self.in_ready = True
            engine.ready[self.node].append(self)
        engine.dispatch(now)

    def connection_lost(self, exc: Exception | None) -> None:
        self.engine.on_lost(self)


class Engine:
    """One process's generator for one step; `run()` returns its StepResult."""

    def __init__(self, deployment: Deployment, spec: OpenLoopLoad, plan: StepPlan, *, sink: Sink | None = None,
                 stop: Callable[[], bool] | None = None):
        """`sink`: receives per-second rows while the step runs (module docstring); `stop`: polled, True
        ends the step early (its figures still complete)."""
        self.deployment, self.spec, self.plan = deployment, spec, plan
        # routes come from the deployment as last saved: a recreated Kubernetes pod has a new address
        self.saved = SavedDeployment(deployment.state_file) if deployment.state_file.exists() else None
        self.sink, self.should_stop = sink, stop
        self.password = deployment.password
        self.ssl = ssl_context(deployment)  # TLS with the deployment's client certificate; None without
        self.period_ns = NS / plan.rate
        self.start = plan.start_mono_ns
        self.total = int(plan.rate * plan.duration_s)
        self.measure_from = self.start + int(plan.warmup_s * NS)
        self.first_measured = int(np.ceil(plan.warmup_s * plan.rate))
        self.late_ns = int(spec.late_ms * 1e6)
        self.backlog_ns = int(spec.max_backlog_ms * 1e6)
        self.timeout_ns = int(spec.timeout_ms * 1e6)
        self.pipeline = spec.pipeline
        self.ring = build_ring(spec, plan.seed)
        self.lats: list[int] = []  # latencies (ns) not yet put into the histogram
        self.result = StepResult()
        self.hist = new_histogram()
        self.lag_hist = new_histogram()
        self.seconds: dict[int, list[int]] = {}  # second -> [due, sent, ok, fail, late, dropped]
        self.emitted: dict[int, list[int]] = {}  # ... the part of each already handed to the sink
        self.second_hists: dict[int, HdrHistogram] = {}  # second of completion -> latencies not yet handed out
        self.lats_second = 0  # the second of completion of every latency in `lats` (with a sink)
        self.lats_until = NS * 10**12 if sink is None else 0  # when `lats` must move to the next second
        self.due_emitted = 0  # seconds [0, due_emitted) had their scheduled count handed out
        self.last_emit_ns = 0
        self.next_i = 0
        self.routes: Routes | None = None
        self.conns: list[list[_Conn]] = []
        self.ready: list[deque[_Conn]] = []
        self.rerouting = False
        self.connected = False  # connect() done
        self.finished = False  # the step is over: lost connections are not reopened
        self.done = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.timer_zero = self.ticks = self.tick_ns = self.last_sweep_ns = 0  # set when the step starts (run)

    # --------------------------------------------------------------- hot path
    def _second(self, ns: int) -> list[int]:
        s = (ns - self.start) // NS
        row = self.seconds.get(s)
        if row is None:
            row = self.seconds[s] = [0, 0, 0, 0, 0, 0]
        return row

    def on_ok(self, count: int, now: int) -> None:
        self._second(now)[2] += count
        if len(self.lats) >= 8192:
            self._flush_latencies()

    def _flush_latencies(self) -> None:
        """Into the HDR histogram in bulk: numpy groups equal microsecond values, hdrh adds each once."""
        if not self.lats:
            return
        us = np.minimum(np.asarray(self.lats, dtype=np.int64) // 1000, MAX_US)
        self.lats.clear()
        self.result.ok += len(us)
        values, counts = np.unique(hdr_floor(us), return_counts=True)
        second = None
        if self.sink is not None:
            second = self.second_hists.get(self.lats_second)
            if second is None:
                second = self.second_hists[self.lats_second] = new_histogram()
        for value, count in zip(values.tolist(), counts.tolist()):
            self.hist.record_value(value, count)
            if second is not None:
                second.record_value(value, count)

    def roll_second(self, now: int) -> None:
        """`lats` holds one second's completions: flush them before the next second's arrive."""
        self._flush_latencies()
        self.lats_second = (now - self.start) // NS
        self.lats_until = self.start + (self.lats_second + 1) * NS

    def on_error_reply(self, message: str, due: int, now: int) -> None:
        self._second(now)[3] += 1
        kind = message.split(" ", 1)[0]
        if due >= self.measure_from:
            self.result.errors += 1
            self.result.error_kinds[kind] = self.result.error_kinds.get(kind, 0) + 1
        if kind in ("MOVED", "ASK", "READONLY", "MASTERDOWN", "LOADING", "CLUSTERDOWN"):
            self._reroute()

    def dispatch(self, now: int) -> None:
        """Send every request due by `now` that a connection has room for."""
        due_upto = min(self.total, int((now - self.start) / self.period_ns) + 1)
        i = self.next_i
        if i >= due_upto:
            return
        oldest = int((now - self.backlog_ns - self.start) / self.period_ns)
        if oldest > i:
            self._drop(i, oldest)
            i = self.next_i
        routes = self.routes
        if routes is None or i >= due_upto:
            return
        end = self._send_one_node(i, due_upto, now) if routes.slot_node is None else \
            self._send_by_slot(i, due_upto, now, routes.slot_node)
        if end > i:
            late_end = int((now - self.late_ns - self.start) / self.period_ns) + 1  # due before it: late
            self._count_sent(i, end, max(0, min(end, late_end) - i), now)
            self.next_i = end

    def _send_one_node(self, i: int, due_upto: int, now: int) -> int:
        """Standalone / sentinel: fill each ready connection with a slice of the ring, one write each."""
        queue, pipeline, data, size = self.ready[0], self.pipeline, self.ring.data, self.ring.size
        start, period = self.start, self.period_ns
        while i < due_upto and queue:
            conn = queue[0]
            k = min(pipeline - len(conn.inflight), due_upto - i)
            conn.inflight.extend([start + int(j * period) for j in range(i, i + k)])
            if len(conn.inflight) >= pipeline:
                queue.popleft()
                conn.in_ready = False
            at = i % size
            if k == 1:
                conn.transport.write(data[at])  # type: ignore[union-attr]
            elif at + k <= size:
                conn.transport.write(b"".join(data[at:at + k]))  # type: ignore[union-attr]
            else:
                conn.transport.write(b"".join(data[at:] + data[:at + k - size]))  # type: ignore[union-attr]
            conn.last_io_ns = now
            i += k
        return i

    def _send_by_slot(self, i: int, due_upto: int, now: int, slot_node: list[int]) -> int:
        """Cluster: each request to the primary owning its key's slot; stops at the first request whose
        node has no connection with room (requests leave in schedule order)."""
        ready, pipeline, data, slots, size = self.ready, self.pipeline, self.ring.data, self.ring.slots, self.ring.size
        touched: dict[_Conn, list[bytes]] = {}
        while i < due_upto:
            at = i % size
            queue = ready[slot_node[slots[at]]]
            if not queue:
                break
            conn = queue[0]
            conn.inflight.append(self.start + int(i * self.period_ns))
            if len(conn.inflight) >= pipeline:
                queue.popleft()
                conn.in_ready = False
            touched.setdefault(conn, []).append(data[at])
            i += 1
        for conn, parts in touched.items():
            conn.transport.write(parts[0] if len(parts) == 1 else b"".join(parts))  # type: ignore[union-attr]
            conn.last_io_ns = now
        return i

    def _count_sent(self, first: int, end: int, late: int, now: int) -> None:
        row = self._second(now)
        row[1] += end - first
        row[4] += late
        if end > self.first_measured:
            measured = end - max(first, self.first_measured)
            self.result.sent += measured
            self.result.late += max(0, late - max(0, self.first_measured - first))

    def _drop(self, first: int, end: int) -> None:
        end = min(end, self.total)
        self._second(self.start + int(first * self.period_ns))[5] += end - first
        self.result.dropped += max(0, end - max(first, self.first_measured))
        self.next_i = end

    # --------------------------------------------------------------- ticks, timeouts, failover
    def _on_tick(self) -> None:
        expirations = self.timer.expirations()
        if not expirations:
            return
        now = time.monotonic_ns()
        self.ticks += expirations
        self.lag_hist.record_value(max(0, now - (self.timer_zero + self.ticks * self.tick_ns)) // 1000 + 1)
        self.dispatch(now)
        if now - self.last_sweep_ns > 50_000_000:
            self.last_sweep_ns = now
            self._flush_latencies()
            self._expire(now)
        if self.sink is not None and now - self.last_emit_ns >= EMIT_EVERY_NS:
            self.last_emit_ns = now
            self._emit(now)
        if self.next_i >= self.total and not any(c.inflight for node in self.conns for c in node):
            self.done.set()

    def _expire(self, now: int) -> None:
        """A connection silent for timeout_ms with commands in flight is dropped: its commands are unknown."""
        for node in self.conns:
            for conn in list(node):
                if conn.inflight and now - conn.last_io_ns > self.timeout_ns and conn.transport is not None:
                    conn.transport.abort()

    def on_lost(self, conn: _Conn) -> None:
        retired, conn.closed = conn.closed, True
        now = time.monotonic_ns()
        lost = [d for d in conn.inflight if d >= 0]
        conn.inflight.clear()
        if lost:
            self._second(now)[3] += len(lost)
            self.result.unknown += sum(1 for d in lost if d >= self.measure_from)
        if retired:  # closed by _open or at the end: its lists are gone already
            return
        if conn in self.ready[conn.node]:
            self.ready[conn.node].remove(conn)
        if conn in self.conns[conn.node]:
            self.conns[conn.node].remove(conn)
        if not self.finished:
            self._reroute()

    def _reroute(self) -> None:
        if not self.rerouting and not self.finished:
            self.rerouting = True
            asyncio.ensure_future(self._reconnect())

    def _deployment_now(self) -> Deployment:
        return self.saved.current() if self.saved is not None else self.deployment

    async def _reconnect(self) -> None:
        """Ask for the routes again (the primary may have moved) and reopen every connection."""
        try:
            while not self.finished:
                routes = await self._discover()
                if routes is not None and await self._open_unless_moved(routes):
                    return
                await asyncio.sleep(_RECONNECT_PAUSE_S)
        finally:
            self.rerouting = False

    async def _discover(self) -> Routes | None:
        return await self.loop.run_in_executor(None, discover, self._deployment_now())  # type: ignore[union-attr]

    async def _open_unless_moved(self, routes: Routes) -> bool:
        """_open(routes), given up as soon as the routes change while it connects. A connect to a deleted
        Kubernetes pod's address gets no reset (the address is gone, not the port closed, as a local pod's
        is) and waits out its timeout, while the sentinels (or the cluster) may name the new primary
        meanwhile: without this the generator followed a failover up to _CONNECT_TIMEOUT_S late."""
        opening = asyncio.ensure_future(self._open(routes))
        while not opening.done():
            await asyncio.wait({opening}, timeout=_MOVED_CHECK_S)
            if not opening.done() and await self._discover() not in (None, routes):
                opening.cancel()
                await asyncio.wait({opening})
        return not opening.cancelled() and opening.result()

    async def _open(self, routes: Routes) -> bool:
        """Connect `clients` connections to every node; True when all are up (requests flow again)."""
        old = [c for node in self.conns for c in node]
        self.routes = None  # hold requests in the backlog while connecting
        conns: list[list[_Conn]] = []
        ready: list[deque[_Conn]] = []
        for host, port in routes.nodes:
            made: list[_Conn] = []
            try:
                for _ in range(self.plan.clients):
                    try:
                        _, conn = await asyncio.wait_for(
                            self.loop.create_connection(partial(_Conn, self, len(conns)), host, port,  # type: ignore[union-attr]
                                                        ssl=self.ssl),
                            _CONNECT_TIMEOUT_S)
                    except (OSError, asyncio.TimeoutError):
                        break
                    made.append(conn)
            except asyncio.CancelledError:  # the routes moved (_open_unless_moved): close what this opened
                _close([*made, *(c for node in conns for c in node)])
                raise
            conns.append(made)
            ready.append(deque(made))
            for c in made:
                c.in_ready = True
        self.conns, self.ready = conns, ready
        _close(old)
        if not all(conns):
            return False
        self.routes = routes
        self.result.reconnects += 1
        return True

    # --------------------------------------------------------------- per-second figures while running
    def _emit(self, now: int, final: bool = False) -> None:
        """Hand the sink what changed since the last call, per second: counts (the scheduled `due` once a
        second has passed, or at the end) and that second's latency histogram (base64, microseconds)."""
        self._flush_latencies()
        upto = self._schedule_seconds() if final else min(self._schedule_seconds(), max(0, (now - self.start) // NS))
        for s in range(self.due_emitted, upto):
            self._second(self.start + s * NS)[0] = self._due_in(s)
        self.due_emitted = max(self.due_emitted, upto)
        rows = []
        for s in sorted(self.seconds):
            row, done = self.seconds[s], self.emitted.setdefault(s, [0] * len(SECOND_FIELDS))
            delta = [a - b for a, b in zip(row, done)]
            hist = self.second_hists.pop(s, None)
            if any(delta) or hist is not None:
                self.emitted[s] = list(row)
                rows.append({"t": s, **dict(zip(SECOND_FIELDS, delta)),
                             "hist": hist.encode().decode() if hist is not None else ""})
        if rows and self.sink is not None:
            self.sink(rows)

    def _schedule_seconds(self) -> int:
        return int(np.ceil(self.plan.duration_s))

    def _due_in(self, s: int) -> int:
        """Requests the schedule has in second s (the offered rate)."""
        first = int(np.ceil(s * self.plan.rate))
        end = min(self.total, int(np.ceil((s + 1) * self.plan.rate)))
        return max(0, end - first)

    def _account_the_rest(self, now: int) -> None:
        """At the step's end: what is still in flight failed (outcome unknown), what was never sent is
        dropped, so that ok + fail + dropped is every scheduled request."""
        if self.next_i < self.total:
            self._drop(self.next_i, self.total)
        for node in self.conns:
            for conn in node:
                lost = [d for d in conn.inflight if d >= 0]
                conn.inflight.clear()
                if lost:
                    self._second(now)[3] += len(lost)
                    self.result.unknown += sum(1 for d in lost if d >= self.measure_from)

    # --------------------------------------------------------------- the step
    async def connect(self) -> None:
        """Find the target and open every connection (run() does it unless done before)."""
        self.loop = asyncio.get_running_loop()
        routes = await self.loop.run_in_executor(None, discover, self._deployment_now())
        if routes is None:
            raise RuntimeError("no primary to send to (the topology has none right now)")
        if not await self._open(routes):
            raise RuntimeError(f"could not connect to {routes.nodes}")
        self.result.reconnects = 0
        self.connected = True

    def start_at(self, start_mono_ns: int) -> None:
        """Move the schedule's start (a run's t = 0, known only once the engine has connected)."""
        self.plan = replace(self.plan, start_mono_ns=start_mono_ns)
        self.start = start_mono_ns
        self.measure_from = self.start + int(self.plan.warmup_s * NS)
        if self.sink is not None:
            self.lats_until = 0

    async def run(self) -> StepResult:
        if not self.connected:
            await self.connect()
        self.loop = asyncio.get_running_loop()
        self.result.start_lag_ms = max(0.0, (time.monotonic_ns() - self.start) / 1e6)
        await asyncio.sleep(max(0.0, (self.start - time.monotonic_ns()) / NS))
        self.tick_ns = self.spec.tick_us * 1000
        self.timer = PeriodicTimer(self.tick_ns)
        self.timer_zero, self.ticks, self.last_sweep_ns = time.monotonic_ns(), 0, time.monotonic_ns()
        self.loop.add_reader(self.timer.fd, self._on_tick)
        window = _Window(self.measure_from, self.start + int(self.plan.duration_s * NS))
        deadline = window.end_ns + self.timeout_ns + 2 * NS
        try:
            while not self.done.is_set():
                now = time.monotonic_ns()
                window.observe(now)
                if now > deadline or (self.should_stop is not None and self.should_stop()):
                    break
                try:
                    await asyncio.wait_for(self.done.wait(), 0.05)
                except asyncio.TimeoutError:
                    pass
        finally:
            self.finished = True
            self.loop.remove_reader(self.timer.fd)
            self.timer.close()
            self._account_the_rest(time.monotonic_ns())
            _close([c for node in self.conns for c in node])
        window.observe(time.monotonic_ns(), final=True)
        self._flush_latencies()
        if self.sink is not None:
            self._emit(time.monotonic_ns(), final=True)
        self.result.cpu_s, self.result.wait_s, self.result.measured_s = window.figures()
        self.result.offered = self.total - self.first_measured
        self.result.loop_lag_p99_ms = self.lag_hist.get_value_at_percentile(99) / 1000
        self.result.loop_lag_max_ms = self.lag_hist.get_max_value() / 1000
        self.result.per_second = [dict(zip(("t", *SECOND_FIELDS), [s, *row]))
                                  for s, row in sorted(self.seconds.items())]
        self._fill_due()
        self.result.hist = base64.b64encode(self.hist.encode()).decode() if self.hist.get_total_count() else ""
        return self.result

    def _fill_due(self) -> None:
        """Requests due per second: the schedule's own count (the offered rate)."""
        by_t = {row["t"]: row for row in self.result.per_second}
        for s in range(self._schedule_seconds()):
            row = by_t.setdefault(s, {"t": s, "due": 0, "sent": 0, "ok": 0, "fail": 0, "late": 0, "dropped": 0})
            row["due"] = self._due_in(s)
        self.result.per_second = [by_t[s] for s in sorted(by_t)]


def _close(conns: list[_Conn]) -> None:
    """Close connections this engine no longer uses; their on_lost then counts what was in flight and
    no more (closed first: they are retired)."""
    for conn in conns:
        if conn.transport is not None and not conn.closed:
            conn.closed = True
            conn.transport.close()


def hdr_floor(us: np.ndarray) -> np.ndarray:
    """Each value rounded down to the lowest value of its HDR bucket (2 significant digits: 256
    sub-buckets, so 8 significant bits), so equal buckets group into one record_value call."""
    shift = np.maximum(np.floor(np.log2(np.maximum(us, 1))).astype(np.int64) + 1 - 8, 0)
    return (us >> shift) << shift


def run_step(deployment: Deployment, spec: OpenLoopLoad, plan: StepPlan) -> dict[str, Any]:
    """Entry point of a generator process: one step, its result as a dict (picklable)."""
    return asyncio.run(Engine(deployment, spec, plan).run()).as_dict()

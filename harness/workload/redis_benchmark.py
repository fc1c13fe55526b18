"""Run the real `redis-benchmark` against a deployment; keep its output, parse it into tables.

How the figures are obtained, honestly:

- redis-benchmark prints nothing but the final table with `--csv` (its progress line is
  suppressed), so it runs WITHOUT `--csv` and `-q`: its progress line (`SET: rps=... (overall:
  ...) avg_msec=...`, every 250 ms) gives the per-second series, and each test's `Summary:` block
  (`throughput summary: R requests per second` and `latency summary (msec)`: avg min p50 p95 p99
  max, the very fields `--csv` has) gives the table `raw/redis-benchmark.csv`.
- Per-second `ok` in `series/redis-benchmark.csv`: each progress line is stamped on arrival with
  the run clock; completed requests at that moment are `overall rps x time since the test's first
  progress line` (printed 1 ms after the test starts), the test's printed `N requests completed`
  closes it, and the cumulative count is interpolated linearly at second boundaries. redis-benchmark
  reports no per-second percentiles, so p50/p90/p99/max are left empty; `avg_ms` (an extra column)
  is the mean of its per-interval `avg_msec`, weighted by requests. `fail` is 0: redis-benchmark
  does not count failures, it aborts. A test cut at the run's end (or aborted) contributes the
  requests up to its last progress line, so up to 250 ms of it is missing from the series.
- Under faults it aborts on a lost connection (`Error: Connection reset by peer`, exit 1): the
  test's row then has `aborted=True` and the error, a `driver-error` event says so, and the series
  simply ends. Nothing is restarted behind the user's back.

It runs from the harness's side of the network, against the current primary (asked of the
servers when the driver starts), or with `--cluster` against a cluster. On Kubernetes it can run as
a Job in the cluster instead (harness.platforms.kubernetes.benchmark), whose log stream goes through
the same `consume` and `record` as a local process's stdout.
"""

from __future__ import annotations

import csv
import math
import re
import subprocess
import threading
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, Iterable

from harness.binaries import redis_tool
from harness.redisconn import tls_cli_args
from harness.errors import HarnessError
from harness.deployment import Deployment
from harness.roles import primaries
from harness.rundir import EventLog, RunClock, RunDir
from harness.scenario import RedisBenchmarkLoad
from harness.workload.child import ChildDriver, ChildProcess, RunBoundChild
from harness.rundir import SERIES_COLUMNS, write_series

DRIVER = "redis-benchmark"
DEFAULT_REQUESTS = 100_000  # redis-benchmark's own -n default, used per round when looping
STOP_GRACE_S = 20.0
SERIES_EXTRA = ["avg_ms"]

_PROGRESS = re.compile(r"^(?P<test>.+?): rps=(?P<rps>[-\d.naif]+) \(overall: (?P<overall>[-\d.naif]+)\) "
                       r"avg_msec=(?P<avg>\S+) \(overall: \S+\)$")
_HEADER = re.compile(r"^====== (?P<test>.+) ======$")
_COMPLETED = re.compile(r"^(?P<n>\d+) requests completed in (?P<s>[\d.]+) seconds$")
_THROUGHPUT = re.compile(r"^throughput summary: (?P<rps>[\d.]+) requests per second$")
_NUMBERS = re.compile(r"^[\d.]+(\s+[\d.]+){5}$")
_ERROR = re.compile(r"^(Error|Could not connect|ERROR|Server closed)")


@dataclass
class TestResult:
    """One row of raw/redis-benchmark.csv: one test (one round of it, when looping)."""

    test: str
    start_s: float | None = None
    end_s: float | None = None
    requests: int | None = None
    elapsed_s: float | None = None
    rps: float | None = None
    avg_ms: float | None = None
    min_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    aborted: bool = False
    detail: str = ""


TABLE_COLUMNS = [f.name for f in fields(TestResult)]


@dataclass
class _Progress:
    t: float
    cumulative: float
    avg_ms: float | None


@dataclass
class _TestRun:
    result: TestResult
    points: list[_Progress]
    summary_next: bool = False  # the line after `avg min p50 p95 p99 max` holds the numbers
    done: bool = False


class OutputParser:
    """Feeds on redis-benchmark's stdout as it arrives (lines end in \\r or \\n), stamped with run time."""

    def __init__(self) -> None:
        self.runs: list[_TestRun] = []
        self.errors: list[str] = []
        self._pending = ""

    def feed(self, text: str, t: float) -> None:
        parts = re.split(r"[\r\n]", self._pending + text)
        self._pending = parts.pop()
        for line in parts:
            self._line(line.strip(), t)

    def close(self, t: float) -> None:
        if self._pending:
            self._line(self._pending.strip(), t)
            self._pending = ""

    def _line(self, line: str, t: float) -> None:
        if not line:
            return
        current = self.runs[-1] if self.runs else None
        if m := _PROGRESS.match(line):
            if current is None or current.done or current.result.test != m["test"]:
                current = _TestRun(TestResult(m["test"], start_s=t), [])
                self.runs.append(current)
            overall = _number(m["overall"]) or 0.0
            started = current.result.start_s if current.result.start_s is not None else t
            current.points.append(_Progress(t, overall * (t - started), _number(m["avg"])))
        elif m := _HEADER.match(line):
            if current is None or current.done or current.result.test != m["test"]:
                # a test that finished before redis-benchmark's first progress tick (a quick -n on
                # a fast server) prints only its summary: its own row, not the previous test's
                current = _TestRun(TestResult(m["test"], start_s=t), [])
                self.runs.append(current)
            current.done, current.result.end_s = True, t
        elif (m := _COMPLETED.match(line)) and current is not None:
            current.result.requests, current.result.elapsed_s = int(m["n"]), float(m["s"])
        elif (m := _THROUGHPUT.match(line)) and current is not None:
            current.result.rps = float(m["rps"])
        elif line.startswith("avg") and line.split() == ["avg", "min", "p50", "p95", "p99", "max"]:
            if current is not None:
                current.summary_next = True
        elif current is not None and current.summary_next and _NUMBERS.match(line):
            r = current.result
            r.avg_ms, r.min_ms, r.p50_ms, r.p95_ms, r.p99_ms, r.max_ms = (float(x) for x in line.split())
            current.summary_next = False
        elif _ERROR.match(line):
            self.errors.append(line)

    # results --------------------------------------------------------------
    def table(self, stop_reason: str | None) -> list[TestResult]:
        """Every test seen; one without its summary is `aborted` (an error) or cut at the run's end."""
        rows = []
        for run in self.runs:
            r = run.result
            if r.rps is None:
                if self.errors and run is self.runs[-1]:
                    r.aborted, r.detail = True, self.errors[-1]
                elif stop_reason:
                    r.detail = f"stopped ({stop_reason}) before its summary"
                else:
                    r.aborted, r.detail = True, "ended without a summary"
                if r.end_s is None and run.points:
                    r.end_s = run.points[-1].t
            rows.append(r)
        return rows

    def series(self) -> list[dict]:
        """Per-second ok and mean latency, from the cumulative counts (see the module docstring)."""
        ok: dict[int, int] = {}
        weighted: dict[int, tuple[float, float]] = {}
        for run in self.runs:
            points = [(p.t, p.cumulative) for p in run.points]
            if run.done and run.result.requests is not None and run.result.end_s is not None:
                points.append((run.result.end_s, float(run.result.requests)))
            points = _monotonic(points)
            if len(points) < 2:
                continue
            for second, count in _per_second(points).items():
                ok[second] = ok.get(second, 0) + count
            for (t0, c0), (t1, c1), p in zip(points, points[1:], run.points[1:]):
                if p.avg_ms is not None and c1 > c0:
                    total, weight = weighted.get(math.floor(t1), (0.0, 0.0))
                    weighted[math.floor(t1)] = (total + p.avg_ms * (c1 - c0), weight + (c1 - c0))
        if not ok:
            return []
        rows = []
        for second in range(min(ok), max(ok) + 1):
            total, weight = weighted.get(second, (0.0, 0.0))
            rows.append({"t_s": second, "driver": DRIVER, "ok": ok.get(second, 0), "fail": 0, "info": 0,
                         "p50_ms": "", "p90_ms": "", "p99_ms": "", "max_ms": "",
                         "avg_ms": round(total / weight, 3) if weight else ""})
        return rows


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _monotonic(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for t, c in points:
        if out and t <= out[-1][0]:
            out[-1] = (out[-1][0], max(out[-1][1], c))
            continue
        out.append((t, max(c, out[-1][1]) if out else c))
    return out


def _per_second(points: list[tuple[float, float]]) -> dict[int, int]:
    """Integer counts per run second from a piecewise-linear cumulative curve; they add up exactly to
    the last cumulative value (rounded), because rounding happens on the cumulative curve."""

    def at(t: float) -> float:
        for (t0, c0), (t1, c1) in zip(points, points[1:]):
            if t <= t1:
                return c0 + (c1 - c0) * (t - t0) / (t1 - t0)
        return points[-1][1]

    first, last = points[0][0], points[-1][0]
    boundaries = [first] + [float(s) for s in range(math.floor(first) + 1, math.ceil(last))] + [last]
    cumulative = [round(at(b)) for b in boundaries]
    out: dict[int, int] = {}
    for b0, c0, c1 in zip(boundaries, cumulative, cumulative[1:]):
        out[math.floor(b0)] = out.get(math.floor(b0), 0) + (c1 - c0)
    return out


# --------------------------------------------------------------------------- command line


def benchmark_argv(deployment: Deployment, spec: RedisBenchmarkLoad, *, loop: bool | None = None) -> list[str]:
    """redis-benchmark's command line for the spec, aimed at the current primary (or the cluster)."""
    kind = deployment.topology["kind"]
    if kind == "cluster":
        host = deployment.redis_pods()[0]
        argv = [redis_tool("redis-benchmark"), "-h", host.host, "-p", str(host.port), "--cluster"]
    else:
        primary = primaries(deployment).get(None) or deployment.redis_pods()[0]
        argv = [redis_tool("redis-benchmark"), "-h", primary.host, "-p", str(primary.port)]
    argv += benchmark_options(spec, loop=loop)
    if deployment.password:  # redis-benchmark reads no REDISCLI_AUTH nor any file (tests/test_redis_benchmark_auth.py)
        argv += ["-a", deployment.password]
    return argv + tls_cli_args(deployment.tls)


def benchmark_options(spec: RedisBenchmarkLoad, *, loop: bool | None = None) -> list[str]:
    """The spec's options (all but target and password), shared by the local run and the in-cluster Job:
    null `requests` or `loop` repeat rounds of -n (default redis-benchmark's own) until the run's end."""
    looping = (spec.loop or spec.requests is None) if loop is None else loop
    argv = ["-t", ",".join(spec.tests), "-c", str(spec.clients), "-n", str(spec.requests or DEFAULT_REQUESTS),
            "-P", str(spec.pipeline), "-d", str(spec.data_size)]
    if spec.keyspace:
        argv += ["-r", str(spec.keyspace)]
    if spec.threads:
        argv += ["--threads", str(spec.threads)]
    if looping:
        argv.append("-l")
    return argv


def shown_argv(argv: list[str]) -> str:
    """The command line for logs and events, password masked."""
    return " ".join("***" if prev == "-a" else arg for prev, arg in zip([""] + argv, argv))


def write_table(path: Path, rows: list[TestResult]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=TABLE_COLUMNS)
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)


def read_table(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run_benchmark(deployment: Deployment, spec: RedisBenchmarkLoad, *, timeout_s: float = 300.0,
                  raw_out: Path | None = None) -> list[TestResult]:
    """Quick capacity numbers (a benchmark-only scenario, no faults): run once to completion, no loop.

    Raises TimeoutError if it has not finished within `timeout_s` (the process is killed), and
    HarnessError if redis-benchmark failed (its own error text)."""
    if spec.requests is None:
        raise ValueError("requests: a benchmark-only run needs a request count (-n), not a loop")
    argv = benchmark_argv(deployment, spec, loop=False)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"redis-benchmark did not finish within {timeout_s:g}s: {shown_argv(argv)}") from None
    if raw_out is not None:
        raw_out.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        error = (proc.stderr.strip() or proc.stdout.strip()[-300:]).splitlines()[-1:] or ["no output"]
        raise HarnessError(f"redis-benchmark failed (exit code {proc.returncode}): {error[0]}; {shown_argv(argv)}")
    parser = OutputParser()
    parser.feed(proc.stdout, 0.0)
    parser.close(0.0)
    return parser.table(None)


# --------------------------------------------------------------------------- the driver


class RedisBenchmarkDriver(ChildDriver):
    """redis-benchmark draws its own keys (-r): the seed has nothing to seed."""

    name = DRIVER
    grace_s = STOP_GRACE_S

    def __init__(self, deployment: Deployment, spec: RedisBenchmarkLoad, run_dir: RunDir, clock: RunClock,
                 events: EventLog, *, duration_s: float, seed: int = 0):
        super().__init__(deployment, spec, run_dir, clock, events, duration_s=duration_s, seed=seed)
        self.parser = OutputParser()
        self.table: list[TestResult] = []
        self._reader: threading.Thread | None = None
        self.raw_out = run_dir.redis_benchmark_out

    def start(self) -> None:
        """Start at the spec's `start_s` (run time) and stop at the run's end, whichever way it runs.
        The target (current primary) is resolved when it starts; `driver-start` is emitted then."""
        redis_tool("redis-benchmark")  # a missing binary fails here, not at a delayed start
        now = self.clock.t()
        ends_in = max(0.0, self.duration_s - now)
        child = ChildProcess(lambda: benchmark_argv(self.deployment, self.spec), max_s=ends_in + STOP_GRACE_S,
                             pipe_stdout=True)
        self._run = RunBoundChild(child, ends_in_s=ends_in, start_in_s=max(0.0, self.spec.start_s - now),
                                  on_start=self._on_start)
        self._reader = threading.Thread(target=self._read, name="redis-benchmark-reader", daemon=True)
        self._run.start()
        self._reader.start()

    def _on_start(self) -> None:
        child = self._started().child
        self.events.emit("driver", "driver-start", driver=DRIVER,
                         detail=f"{shown_argv(child.argv)} (pid {child.pid}, until t={self.duration_s:g}s)")

    def _read(self) -> None:
        run = self._started()
        if not run.wait_started(self.spec.start_s + 60):
            return
        stream = run.child.stdout
        if stream is not None:
            consume(iter(lambda: _read_some(stream), b""), self.parser, self.raw_out, self.clock)

    def _collect(self, rc: int) -> None:
        if self._reader is not None:
            self._reader.join(timeout=10)
        run = self._run
        self.table = record(self.run_dir, self.events, self.parser, rc, reason=run.stop_reason if run else None,
                            error=run.error if run else None,
                            never_started=f"stopped before its start at t={self.spec.start_s:g}s"
                            if run is not None and not run.started else None)


def consume(chunks: Iterable[bytes], parser: OutputParser, raw_out: Path, clock: RunClock) -> None:
    """redis-benchmark's output as it arrives, from a local process or an in-cluster pod's log stream
    (harness.platforms.kubernetes.benchmark): each chunk kept raw and fed to the parser stamped with
    the run clock on arrival."""
    with open(raw_out, "ab") as raw:
        for chunk in chunks:
            raw.write(chunk)
            raw.flush()
            parser.feed(chunk.decode(errors="replace"), clock.t())
    parser.close(clock.t())


def record(run_dir: RunDir, events: EventLog, parser: OutputParser, rc: int, *, reason: str | None,
           error: Exception | None = None, never_started: str | None = None) -> list[TestResult]:
    """The parsed output into raw/redis-benchmark.csv and series/redis-benchmark.csv, and the driver's
    events (errors, end), whichever way redis-benchmark ran. `reason`: who stopped it ("run-end",
    "harness"; None: it ended by itself); `never_started`: why it did not run at all."""
    table = parser.table(reason)
    write_table(run_dir.redis_benchmark_csv, table)
    write_series(run_dir.series(DRIVER), parser.series(), SERIES_COLUMNS + SERIES_EXTRA)
    if error is not None:
        events.emit("driver", "driver-error", driver=DRIVER, detail=f"did not start: {error}")
    aborted = [r for r in table if r.aborted]
    if aborted:
        events.emit("driver", "driver-error", driver=DRIVER,
                    detail=f"aborted during {aborted[-1].test}: {aborted[-1].detail} (exit code {rc})")
    elif rc != 0 and reason is None:
        events.emit("driver", "driver-error", driver=DRIVER,
                    detail=f"exit code {rc}: {'; '.join(parser.errors) or 'see raw/'}")
    done = sum(1 for r in table if r.rps is not None)
    how = {"run-end": ", stopped at the run's end", "harness": ", stopped by the harness"}.get(reason or "", "")
    if never_started:
        how = f", never started ({never_started})"
    events.emit("driver", "driver-end", driver=DRIVER,
                detail=f"exit code {rc}{how}; {done} test(s) complete, {len(aborted)} aborted")
    return table


def _read_some(stream: IO[bytes]) -> bytes:
    return stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)

"""Probe overhead: the probe at full speed against one standalone pod, history recording on vs off.

Target (issue 4): recording costs under 10% of the probe's throughput. "Off" is a null writer that
drops every row; "on" is the real HistoryWriter streaming history.csv. Rounds alternate on/off so
(and swap which goes first) so that load from other work on the machine hits both alike; each run
starts on an empty keyspace; the median of each side is compared.

    python bench/bench_probe.py [--seconds 5] [--rounds 3] [--clients 3] [--no-reads]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from outcome import Outcome, add_quick

from harness.platforms.local.platform import LocalPlatform
from harness.redisconn import pod_client
from harness.rundir import EventLog, HistoryWriter, RunClock
from harness.scenario import ProbeLoad
from harness.scenario import Topology
from harness.workload.probe import ClientRows, Probe


class NullHistory:
    """A HistoryWriter that drops every row: the probe's speed without recording (rows are still built)."""

    def __init__(self, clock: RunClock):
        self.clock = clock

    def record(self, *args: object, **kwargs: object) -> None:
        pass

    def record_rows(self, rows: list[tuple]) -> None:
        pass

    def close(self) -> None:
        pass


def run_once(deployment, spec: ProbeLoad, workdir: Path, seconds: float, recording: bool) -> tuple[float, float, int]:
    """(operations per second, this process's CPU microseconds per operation, history bytes) for one
    timed run of the probe, on an empty keyspace."""
    pod_client(deployment, deployment.redis_pods()[0]).flushall()
    clock = RunClock.start()
    history_path = workdir / f"history-{secrets.token_hex(3)}.csv"
    history = HistoryWriter(history_path, clock) if recording else NullHistory(clock)
    events = EventLog(workdir / "events.jsonl", clock)
    probe = Probe(deployment, spec, history, events, max_duration_s=seconds + 30)
    start, cpu = time.perf_counter(), time.process_time()
    probe.start()
    time.sleep(seconds)  # a benchmark's measuring window, not a synchronisation
    probe.stop()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    history.close()
    events.close()
    ops_per_write = 1 + (1 if spec.reads else 0)
    size = history_path.stat().st_size if history_path.exists() else 0
    history_path.unlink(missing_ok=True)
    ops = probe.writes_invoked() * ops_per_write
    return ops / elapsed, cpu / ops * 1e6, size


def recording_cpu_us(workdir: Path, n: int = 200_000) -> float:
    """CPU microseconds recording costs per operation (its two rows), measured alone: steadier than
    ops/s on a machine shared with other work."""
    history = HistoryWriter(workdir / "alone.csv", RunClock.start())
    rows = ClientRows(history, 0)
    start = time.process_time()
    for seq in range(n):
        key = f"probe:0:{seq}"
        rows.add("invoke", "write", key, seq)
        rows.add("ok", "write", key, seq, "redis-0", "")
    rows.flush()
    with_rows = time.process_time() - start
    start = time.process_time()
    for seq in range(n):
        key = f"probe:0:{seq}"  # the same loop without recording
    without = time.process_time() - start
    history.close()
    return (with_rows - without) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--no-reads", action="store_true")
    add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = min(args.seconds, 2.0), 1
    spec = ProbeLoad(clients=args.clients, rate_per_client=0, reads=not args.no_reads)
    platform = LocalPlatform()
    deployment = platform.deploy(Topology(kind="standalone"), f"bench-probe-{secrets.token_hex(4)}",
                                 owner_pid=os.getpid())
    on: list[float] = []
    off: list[float] = []
    cpu: dict[bool, list[float]] = {True: [], False: []}
    rows_bytes = 0
    try:
        with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmp:
            run_once(deployment, spec, Path(tmp), 1.0, recording=False)  # warm-up: imports, first connections
            for round_ in range(args.rounds):
                for recording in (False, True) if round_ % 2 == 0 else (True, False):
                    rate, cpu_us, size = run_once(deployment, spec, Path(tmp), args.seconds, recording)
                    (on if recording else off).append(rate)
                    cpu[recording].append(cpu_us)
                    rows_bytes = size or rows_bytes
            alone_us = recording_cpu_us(Path(tmp))
    finally:
        platform.teardown(deployment)
    off_median, on_median = statistics.median(off), statistics.median(on)
    overhead = (off_median - on_median) / off_median * 100
    print(f"probe at full speed: {args.clients} clients, SET{' + GET' if spec.reads else ''} per round, "
          f"standalone pod ({platform.network} network), {args.rounds} x {args.seconds:g} s each side, "
          f"{os.cpu_count()} cores")
    print(f"{'round':>6} {'recording off':>15} {'recording on':>15}   client CPU per op: off / on")
    for i, (a, b, ca, cb) in enumerate(zip(off, on, cpu[False], cpu[True])):
        print(f"{i:>6} {a:>10,.0f} op/s {b:>10,.0f} op/s   {ca:6.1f} us / {cb:6.1f} us")
    cpu_off, cpu_on = statistics.median(cpu[False]), statistics.median(cpu[True])
    print(f"{'median':>6} {off_median:>10,.0f} op/s {on_median:>10,.0f} op/s   {cpu_off:6.1f} us / {cpu_on:6.1f} us")
    print(f"recording overhead: {overhead:.1f}% of ops/s; {(cpu_on - cpu_off) / cpu_off * 100:.1f}% more client CPU "
          f"per op (history.csv: {rows_bytes / 1e6:.1f} MB in the last round)")
    print(f"recording alone: {alone_us:.1f} us CPU per operation = {alone_us / cpu_off * 100:.1f}% of the median "
          f"client CPU per operation with recording off")
    outcome = Outcome(args.quick)
    outcome.correct(min(on + off) > 0 and rows_bytes > 0, "the probe completed operations and recorded history rows")
    outcome.target(overhead < 10, f"recording overhead {overhead:.1f}% under 10% (ops/s)")
    outcome.finish()


if __name__ == "__main__":
    main()

"""The run directory: one place that names every file of a run, and the writers that stream to them.

Everything a run learns goes to disk as it arrives, so a run killed halfway still leaves a
directory that `redis-harness report` can read. The layout is documented in docs/run-directory.md.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HISTORY_COLUMNS = ["t_ns", "process", "type", "f", "key", "value", "pod", "error"]
FINAL_COLUMNS = ["key", "present", "value", "pod"]


def refuse_used_run_dir(path: Path) -> None:
    """A run directory is written by one run only: a second run would merge meta.json and append to
    the first one's history. Raises ScenarioError (bad input, exit 2) before anything is deployed."""
    from harness.errors import ScenarioError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ScenarioError(f"--out {path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()):
        raise ScenarioError(f"--out {path}: already holds files (an earlier run?); give a new or empty directory")


def fresh_run_path(reports_root: Path, run_id: str) -> Path:
    """reports/<run-id>, or <run-id>-2, -3... when a run of the same scenario started in the same second."""
    path, n = Path(reports_root) / run_id, 1
    while path.exists():
        n += 1
        path = Path(reports_root) / f"{run_id}-{n}"
    return path


def new_run_id(scenario_name: str) -> str:
    return f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{scenario_name}"


@dataclass
class RunClock:
    """Run time: seconds since the load started, on the monotonic clock (CLOCK_MONOTONIC is system-wide,
    so other processes' monotonic stamps convert too); wall time is kept only to map foreign stamps.

    A run's clock starts provisionally when the run starts and is moved to the moment the load
    starts by `restart` (DESIGN.md: a fault's `at_s` and `duration_s` count from the load, so a
    scenario means the same on a 2 s and a 20 s deploy). Everything sharing the clock sees the move;
    it happens before any component that stamps with it is started.
    """

    start_mono_ns: int
    start_wall: float

    @classmethod
    def start(cls) -> "RunClock":
        return cls(time.monotonic_ns(), time.time())

    def ns(self) -> int:
        return time.monotonic_ns() - self.start_mono_ns

    def restart(self) -> float:
        """Make now t = 0; returns the seconds the old zero lay before the new one (the setup time)."""
        mono, wall = time.monotonic_ns(), time.time()
        before = (mono - self.start_mono_ns) / 1e9
        self.start_mono_ns, self.start_wall = mono, wall
        return before

    def t(self) -> float:
        return self.ns() / 1e9

    def from_wall(self, wall: float) -> float:
        return wall - self.start_wall


class RunDir:
    def __init__(self, path: str | Path):
        """`path` is made absolute here, where it enters: every file name below is handed to child
        processes (Locust runs in raw/), reports and state, none of which share the caller's cwd."""
        self.path = Path(path).absolute()

    # files ------------------------------------------------------------------
    scenario = property(lambda self: self.path / "scenario.yaml")
    meta = property(lambda self: self.path / "meta.json")
    events = property(lambda self: self.path / "events.jsonl")
    history = property(lambda self: self.path / "history.csv")
    final = property(lambda self: self.path / "final.csv")
    final_state = property(lambda self: self.path / "final-state.json")  # every pod after heal and settle
    lost = property(lambda self: self.path / "lost.csv")  # lost writes per second and acknowledging pod
    series_dir = property(lambda self: self.path / "series")
    raw_dir = property(lambda self: self.path / "raw")
    logs_dir = property(lambda self: self.path / "logs")
    summary = property(lambda self: self.path / "summary.json")
    junit = property(lambda self: self.path / "junit.xml")
    html = property(lambda self: self.path / "report.html")
    plots_dir = property(lambda self: self.path / "plots")

    def series(self, driver: str) -> Path:
        """Per-second table of one load driver (probe, locust, redis-benchmark)."""
        return self.series_dir / f"{driver}.csv"

    def create(self) -> "RunDir":
        for d in (self.path, self.series_dir, self.raw_dir, self.logs_dir, self.plots_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self

    # meta -------------------------------------------------------------------
    def read_meta(self) -> dict[str, Any]:
        return json.loads(self.meta.read_text()) if self.meta.exists() else {}

    def update_meta(self, **fields: Any) -> None:
        """Merge fields into meta.json atomically (status, clock, versions, pods, errors...)."""
        meta = self.read_meta()
        meta.update(fields)
        tmp = self.meta.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, indent=2, default=str))
        tmp.replace(self.meta)

    def clock(self) -> RunClock:
        meta = self.read_meta()
        return RunClock(meta["start_mono_ns"], meta["start_wall"])


class EventLog:
    """events.jsonl: one JSON object a line, flushed at once (events are few and each one matters).

    Every event has `t` (run seconds), `wall`, `source` and `type`; the rest depends on the type
    (docs/run-directory.md lists them). Thread-safe: nemesis, watchers and the runner share one.
    """

    def __init__(self, path: Path, clock: RunClock):
        self.clock = clock
        self._file = open(path, "a", buffering=1)
        self._lock = threading.Lock()

    def emit(self, source: str, type: str, **fields: Any) -> dict[str, Any]:
        event = {"t": round(self.clock.t(), 6), "wall": time.time(), "source": source, "type": type, **fields}
        line = json.dumps(event, default=str)
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")
        return event

    def close(self) -> None:
        with self._lock:
            self._file.close()


class HistoryWriter:
    """history.csv: `invoke` then one of `ok` / `fail` / `info` per operation, per process.

    Rows are buffered and flushed every `flush_every_s`, so a crash loses at most that much;
    the writer holds no rows in memory beyond the OS buffer.
    """

    def __init__(self, path: Path, clock: RunClock, flush_every_s: float = 0.2):
        new = not path.exists()
        self.clock = clock
        self._file = open(path, "a", newline="", buffering=1 << 16)
        self._writer = csv.writer(self._file)
        self._lock = threading.Lock()
        self._flush_every = flush_every_s
        self._last_flush = time.monotonic()
        if new:
            self._writer.writerow(HISTORY_COLUMNS)

    def record(self, process: int, type: str, f: str, key: str, value: Any = "", pod: str = "",
               error: str = "") -> None:
        row = (self.clock.ns(), process, type, f, key, value, pod, error)
        with self._lock:
            if self._file.closed:
                return
            self._writer.writerow(row)
            self._flush_if_due()

    def record_rows(self, rows: list[tuple]) -> None:
        """Rows already stamped (`t_ns`, then the other HISTORY_COLUMNS) under one lock: the probe
        batches a few of each client's rows so that recording stays cheap at full speed."""
        with self._lock:
            if self._file.closed:
                return
            self._writer.writerows(rows)
            self._flush_if_due()

    def _flush_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last_flush >= self._flush_every:
            self._file.flush()
            self._last_flush = now

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()

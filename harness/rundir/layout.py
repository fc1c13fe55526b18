"""The run directory's layout: the name of every file of a run, the run's id and clock, and meta.json.

The layout is documented in docs/run-directory.md; the format's version and history are in
harness/rundir/__init__.py.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

FORMAT_VERSION = 6  # the run directory's format; its history is at the top of harness/rundir/__init__.py

# File names relative to the run directory: the only place they are spelt.
SCENARIO_FILE, META_FILE, EVENTS_FILE = "scenario.yaml", "meta.json", "events.jsonl"
HISTORY_FILE, FINAL_FILE, FINAL_STATE_FILE, LOST_FILE = "history.csv", "final.csv", "final-state.json", "lost.csv"
SUMMARY_FILE, JUNIT_FILE, HTML_FILE = "summary.json", "junit.xml", "report.html"
REPLICATION_LAG_FILE = "replication-lag.csv"  # the metrics sidecars' replication figures, as scraped
SERIES_DIR, RAW_DIR, LOGS_DIR, TABLES_DIR, PLOTS_DIR = "series", "raw", "logs", "tables", "plots"
LOCUST_LOG = f"{RAW_DIR}/locust.log"  # Locust's own log, kept as Locust writes it
LOCUST_SECONDS_DIR = f"{RAW_DIR}/locust-seconds"  # per-process per-second HDR files (workload/persecond.py)
OPENLOOP_SECONDS_DIR = f"{RAW_DIR}/openloop-seconds"  # the open-loop generator's, per process (openloop/seconds.py)
REDIS_BENCHMARK_OUT = f"{RAW_DIR}/redis-benchmark.out"  # redis-benchmark's stdout and stderr
REDIS_BENCHMARK_CSV = f"{RAW_DIR}/redis-benchmark.csv"


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
    """Start time, scenario and a random suffix: two runs of one scenario started in the same second
    (a CI matrix, `--repeat` on two machines) must not share a Kubernetes namespace or a state dir."""
    return f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{scenario_name}-{secrets.token_hex(2)}"


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
        self._meta: dict[str, Any] | None = None  # what this process wrote to meta.json: never read back

    # The file names: nothing outside this package spells them.

    scenario = property(lambda self: self.path / SCENARIO_FILE)
    meta = property(lambda self: self.path / META_FILE)
    events = property(lambda self: self.path / EVENTS_FILE)
    history = property(lambda self: self.path / HISTORY_FILE)
    final = property(lambda self: self.path / FINAL_FILE)
    final_state = property(lambda self: self.path / FINAL_STATE_FILE)  # every pod after heal and settle
    lost = property(lambda self: self.path / LOST_FILE)  # lost writes per second and acknowledging pod
    replication_lag = property(lambda self: self.path / REPLICATION_LAG_FILE)
    series_dir = property(lambda self: self.path / SERIES_DIR)
    raw_dir = property(lambda self: self.path / RAW_DIR)
    logs_dir = property(lambda self: self.path / LOGS_DIR)
    summary = property(lambda self: self.path / SUMMARY_FILE)
    tables_dir = property(lambda self: self.path / TABLES_DIR)  # the checker's parquet tables
    junit = property(lambda self: self.path / JUNIT_FILE)
    html = property(lambda self: self.path / HTML_FILE)
    plots_dir = property(lambda self: self.path / PLOTS_DIR)
    locust_log = property(lambda self: self.path / LOCUST_LOG)
    locust_seconds_dir = property(lambda self: self.path / LOCUST_SECONDS_DIR)
    openloop_seconds_dir = property(lambda self: self.path / OPENLOOP_SECONDS_DIR)
    redis_benchmark_out = property(lambda self: self.path / REDIS_BENCHMARK_OUT)
    redis_benchmark_csv = property(lambda self: self.path / REDIS_BENCHMARK_CSV)

    def series(self, driver: str) -> Path:
        """Per-second table of one load driver (probe, locust, redis-benchmark)."""
        return self.series_dir / f"{driver}.csv"

    def create(self) -> "RunDir":
        for d in (self.path, self.series_dir, self.raw_dir, self.logs_dir, self.plots_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self

    def table(self, name: str) -> Path:
        """tables/<name>.parquet, a table the checker wrote (history, events, series...)."""
        return self.tables_dir / f"{name}.parquet"

    # meta.json ----------------------------------------------------------------
    def read_meta(self) -> dict[str, Any]:
        """meta.json of a finished (or dead) run, for those who read one; the writer never reads it back."""
        return json.loads(self.meta.read_text()) if self.meta.exists() else {}

    def update_meta(self, **fields: Any) -> None:
        """Merge fields into meta.json, written whole and atomically (status, clock, versions, pods...).

        The fields live in this object and the file is their copy: meta.json is written as the run
        goes (a run that dies leaves what it knew) but never read back to be merged. A file already
        there (a test's fixture, a run directory being amended) is read once, the first time.
        """
        if self._meta is None:
            self._meta = {"format_version": FORMAT_VERSION, **self.read_meta()}
        self._meta.update(fields)
        self._write_meta()

    def add_degraded(self, message: str) -> None:
        """Append to meta.json's `degraded`: what the run could not do."""
        if self._meta is None:
            self.update_meta()
        assert self._meta is not None
        self._meta["degraded"] = [*(self._meta.get("degraded") or []), message]
        self._write_meta()

    def _write_meta(self) -> None:
        tmp = self.meta.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._meta, indent=2, default=str))
        tmp.replace(self.meta)

"""The results store: every recorded run's summary, metrics and environment in one SQLite file.

Why SQLite: one file a CI job can cache or upload as an artifact, appended to without rewriting,
read by pandas directly (`pd.read_sql("select * from runs", sqlite3.connect(path))`), and by any
SQL tool. The tables, one job each:

- `runs`: one row per run: its key (scenario, topology hash, platform), batch (the runs recorded
  together: one night's repeats), start time, verdict, saturation flag, where its report is, the
  environment fingerprint, and the whole summary.json as text (nothing is lost on record);
- `metrics`: (run, name, value) for every comparable number, named as `compare` names them
  (harness.report.metrics), so trends and compare agree on what a metric is;
- `slos`: (run, name, limit, value, status) as the summary gave them;
- `aliases`: a renamed scenario's old name -> new name; applied when reading, so the old runs
  join the new name's trend without rewriting history.

A run is recorded once (its run id is unique); recording it again is a no-op, so a retried CI
step does not double a night.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from harness.errors import StoreError
from harness.report.metrics import metrics_of, summary_paths
from harness.rundir import RunDir
from harness.rundir.summary import slo_status
from harness.store.fingerprint import Fingerprint, fingerprint, series_key, topology_hash
from harness.store.saturation import saturation

DEFAULT_FILE = "results.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS store_info (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL UNIQUE,
  batch TEXT NOT NULL,
  scenario TEXT NOT NULL,
  topology_hash TEXT NOT NULL,
  platform TEXT NOT NULL,
  started_at REAL NOT NULL,
  recorded_at REAL NOT NULL,
  verdict TEXT,
  partial INTEGER NOT NULL,
  saturated TEXT,
  run_dir TEXT,
  report TEXT,
  server_versions TEXT,
  harness_version TEXT,
  harness_commit TEXT,
  kernel TEXT,
  cpu_model TEXT,
  cpu_count INTEGER,
  load_per_cpu REAL,
  machine_source TEXT,
  summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_key ON runs (scenario, topology_hash, platform, started_at);
CREATE TABLE IF NOT EXISTS metrics (run INTEGER NOT NULL REFERENCES runs(id), name TEXT NOT NULL, value REAL NOT NULL);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics (run);
CREATE TABLE IF NOT EXISTS slos (run INTEGER NOT NULL REFERENCES runs(id), name TEXT NOT NULL, limit_value REAL,
                                 value REAL, status TEXT);
CREATE TABLE IF NOT EXISTS aliases (old TEXT PRIMARY KEY, new TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Recorded:
    """What `record` did with one run."""

    run_id: str
    key: str
    added: bool  # False: the run id was already in the store
    saturated: str | None
    fingerprint: Fingerprint
    summary: dict[str, Any]
    started_at: float

    @property
    def labels(self) -> dict[str, str]:
        """The key as labels (OpenMetrics): scenario, topology (hash), platform."""
        return dict(zip(("scenario", "topology", "platform"), self.key.split("|")))


class Store:
    """One SQLite file. PATH names it (an existing file, or a new name with a suffix such as
    `.sqlite`), or a directory to keep `results.sqlite` in (made if missing): what a CI cache keeps."""

    def __init__(self, path: str | Path):
        path = Path(path)
        self.path = path if path.is_file() or (path.suffix and not path.is_dir()) else path / DEFAULT_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path)
            self.db.executescript(_SCHEMA)
            self.db.execute("INSERT OR IGNORE INTO store_info VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self.db.commit()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a results store: {exc}") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------- writing

    def record(self, paths: Iterable[str | Path], batch: str | None = None, live_load: float | None = None
               ) -> list[Recorded]:
        """Record run directories (or summary.json files, or a directory of repeated runs) as one batch.

        `batch` defaults to the first run's id: the runs recorded together are one night's repeats.
        `live_load` is the machine's load per CPU now, for a run that has just ended and whose
        meta.json predates the runner's own measurement.
        """
        try:
            found = summary_paths(list(paths))
        except FileNotFoundError as exc:
            raise StoreError(str(exc)) from None
        done = []
        with self.db:
            for path in found:
                summary = _read_json(path)
                run_dir = RunDir(path.parent)
                meta = run_dir.read_meta() if run_dir.meta.is_file() else {}
                batch = batch or str(summary.get("run_id") or path.parent.name)
                done.append(self._insert(summary, meta, run_dir, batch, live_load))
        return done

    def _insert(self, summary: dict[str, Any], meta: dict[str, Any], run_dir: RunDir, batch: str,
                live_load: float | None) -> Recorded:
        run_id = str(summary.get("run_id") or meta.get("run_id") or run_dir.path.name)
        scenario = str(summary.get("scenario") or meta.get("scenario") or "")
        platform = str(summary.get("platform") or meta.get("platform") or "local")
        topology = summary.get("topology") or meta.get("topology") or {}
        if not scenario or not isinstance(topology, dict):
            raise StoreError(f"{run_dir.path}: the summary names no scenario or topology; not a run's summary")
        topo = topology_hash(topology)
        fp = fingerprint(summary, meta)
        if fp.load_per_cpu is None and live_load is not None:
            fp = Fingerprint(**{**fp.to_dict(), "load_per_cpu": live_load})
        flag = saturation(run_dir if run_dir.path.is_dir() else None, summary, meta)
        key = series_key(scenario, topo, platform)
        started = _started_at(summary, meta)
        if self.db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone():
            return Recorded(run_id, key, False, flag, fp, summary, started)
        report = run_dir.html.resolve() if run_dir.html.is_file() else None
        row = {
            "run_id": run_id, "batch": batch, "scenario": scenario, "topology_hash": topo, "platform": platform,
            "started_at": started, "recorded_at": time.time(),
            "verdict": summary.get("verdict"), "partial": int(bool(summary.get("partial"))), "saturated": flag,
            "run_dir": str(run_dir.path.resolve()) if run_dir.path.is_dir() else None,
            "report": str(report) if report else None, **fp.to_dict(),
            "summary": json.dumps(summary, default=str),
        }
        cursor = self.db.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                                 tuple(row.values()))
        self.db.executemany("INSERT INTO metrics VALUES (?, ?, ?)",
                            [(cursor.lastrowid, name, value) for name, value in metrics_of(summary).items()])
        self.db.executemany("INSERT INTO slos VALUES (?, ?, ?, ?, ?)",
                            [(cursor.lastrowid, *_slo_row(s)) for s in summary.get("slo") or [] if isinstance(s, dict)])
        return Recorded(run_id, key, True, flag, fp, summary, started)

    def alias(self, old: str, new: str) -> None:
        """File the runs of scenario `old` under `new` from now on (a renamed scenario keeps its history)."""
        if old == new:
            raise StoreError(f"alias {old}={new}: a scenario cannot be its own alias")
        if self._aliases().get(new) == old:
            raise StoreError(f"alias {old}={new}: {new} is already an alias of {old}")
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO aliases VALUES (?, ?)", (old, new))

    # ----------------------------------------------------------------------- reading

    def runs(self, scenario: str | None = None, since: float | None = None) -> pd.DataFrame:
        """One row per run (without the summary text), oldest first; scenario names after aliases.

        Columns include `key` (scenario|topology hash|platform) and `started` (UTC datetime).
        """
        frame = pd.read_sql("SELECT * FROM runs ORDER BY started_at, id", self.db).drop(columns=["summary"])
        aliases = self._aliases()
        frame["recorded_as"] = frame["scenario"]
        frame["scenario"] = frame["scenario"].map(lambda name: _resolve(name, aliases))
        if scenario is not None:
            frame = frame[frame["scenario"] == _resolve(scenario, aliases)]
        if since is not None:
            frame = frame[frame["started_at"] >= since]
        frame = frame.reset_index(drop=True)
        frame["key"] = frame["scenario"] + "|" + frame["topology_hash"] + "|" + frame["platform"]
        frame["started"] = pd.to_datetime(frame["started_at"], unit="s", utc=True)
        return frame

    def metrics(self) -> pd.DataFrame:
        """Long format: run (the runs table's id), name, value."""
        return pd.read_sql("SELECT run, name, value FROM metrics", self.db)

    def summary(self, run_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT summary FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"{run_id}: no such run in {self.path}")
        return json.loads(row[0])

    def _aliases(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT old, new FROM aliases").fetchall())


def parse_since(text: str, now: float | None = None) -> float:
    """'30d', '12h', '2w' back from now, or an ISO date ('2026-11-01'); returns Unix time."""
    now = time.time() if now is None else now
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([hdw])\s*", text)
    if match:
        return now - float(match[1]) * {"h": 3600, "d": 86400, "w": 7 * 86400}[match[2]]
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise StoreError(f"--since {text!r}: expected e.g. 30d, 12h, 2w or a date like 2026-11-01") from None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)).timestamp()


def _resolve(name: str, aliases: dict[str, str]) -> str:
    seen = {name}
    while name in aliases and aliases[name] not in seen:  # a chain of renames; a loop stops where it closes
        name = aliases[name]
        seen.add(name)
    return name


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path}: a summary is a JSON object")
    return data


def _started_at(summary: dict[str, Any], meta: dict[str, Any]) -> float:
    wall = meta.get("start_wall")
    if isinstance(wall, (int, float)):
        return float(wall)
    match = re.match(r"(\d{8}T\d{6}Z)", str(summary.get("run_id") or ""))
    if match:
        return datetime.strptime(match[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
    return time.time()


def _slo_row(slo: dict[str, Any]) -> tuple[str, float | None, float | None, str]:
    """Tolerant of a future `status` field (pass / fail / not-evaluated) beside or instead of `pass`."""
    status = slo_status(slo)
    number = [v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
              for v in (slo.get("limit"), slo.get("value"))]
    return str(slo.get("name")), number[0], number[1], str(status)

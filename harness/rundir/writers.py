"""The writers that stream to the run directory as things happen: events.jsonl, history.csv, series/.

Everything a run learns goes to disk as it arrives, so a run killed halfway still leaves a
directory that `redis-harness report` can read.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from pathlib import Path
from typing import Any

from harness.rundir.columns import HISTORY_COLUMNS, REPLICATION_LAG_COLUMNS, SERIES_COLUMNS
from harness.rundir.layout import RunClock


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


class ReplicationLagWriter:
    """replication-lag.csv: each scrape's rows written and flushed as they arrive (a scrape a second per
    pod: few rows, each worth keeping if the run dies). Thread-safe: one scraper thread per pod."""

    def __init__(self, path: Path):
        new = not path.exists()
        self._file = open(path, "a", newline="", buffering=1)
        self._writer = csv.writer(self._file)
        self._lock = threading.Lock()
        if new:
            self._writer.writerow(REPLICATION_LAG_COLUMNS)

    def record_rows(self, rows: list[tuple]) -> None:
        """Rows in REPLICATION_LAG_COLUMNS order."""
        with self._lock:
            if not self._file.closed:
                self._writer.writerows(rows)
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def write_series(path: Path, rows: list[dict], columns: list[str] = SERIES_COLUMNS) -> None:
    """series/<driver>.csv, replaced atomically so a reader never sees half a table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """summary.json, replaced atomically (a report never reads half of one); it carries the format's
    version (`format_version`, set by the checker where it builds the summary)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    tmp.replace(path)


def write_tables(tables_dir: Path, tables: dict[str, Any]) -> None:
    """tables/<name>.parquet from pyarrow tables; short repeated text (dictionary columns, `type`,
    `source`) dictionary-encoded."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables_dir.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        small_text = [f.name for f in table.schema if pa.types.is_dictionary(f.type) or f.name in ("type", "source")]
        pq.write_table(table, tables_dir / f"{name}.parquet", use_dictionary=small_text)

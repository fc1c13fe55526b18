"""The open-loop generator's per-second figures on disk, and their merge into `series/openloop.csv`.

Each generator process appends the rows its engine hands out (engine.py's sink: deltas, a second
possibly in several rows) to its own file and flushes them, so a crash loses at most the last
second; the driver merges the files into the series as the run goes and once more at its end.
Latency percentiles come from each second's merged HDR histogram of latency from due time (by
second of completion, as Locust's series: harness.workload.persecond).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from hdrh.histogram import HdrHistogram

from harness.rundir import SERIES_COLUMNS
from harness.workload.persecond import latency_columns, new_histogram

DRIVER = "openloop"
FILE_GLOB = "openloop-seconds-*.csv"
ROW_COLUMNS = ["t_s", "offered", "sent", "ok", "fail", "late", "dropped", "hist"]
SERIES_EXTRA = ["offered", "late", "dropped"]  # series/openloop.csv's columns beyond SERIES_COLUMNS
_COUNTS = ROW_COLUMNS[1:-1]


def seconds_path(directory: Path, process: int) -> Path:
    return directory / f"openloop-seconds-{process}.csv"


class SecondsFile:
    """One process's rows, appended and flushed as they come (the engine's sink)."""

    def __init__(self, path: Path):
        self._file = open(path, "a", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(ROW_COLUMNS)
        self._file.flush()

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Rows as the engine gives them: `t` (run second), due, sent, ok, fail, late, dropped, hist."""
        self._writer.writerows([r["t"], r["due"], r["sent"], r["ok"], r["fail"], r["late"], r["dropped"], r["hist"]]
                               for r in rows)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


@dataclass
class Second:
    t_s: int
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTS, 0))
    hist: HdrHistogram = field(default_factory=new_histogram)


def merge_files(paths: Iterable[Path]) -> dict[int, Second]:
    """Sum every process's rows per second; a row cut short by a crash is skipped."""
    merged: dict[int, Second] = {}
    for path in paths:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                try:
                    t_s, counts = int(row["t_s"]), {k: int(row[k]) for k in _COUNTS}
                    hist = HdrHistogram.decode(row["hist"].encode()) if row["hist"] else None
                except Exception:  # noqa: BLE001 - a row cut by a crash: not a number, a histogram cut short
                    continue
                second = merged.setdefault(t_s, Second(t_s))
                for k, v in counts.items():
                    second.counts[k] += v
                if hist is not None:
                    second.hist.add(hist)
    return merged


def series_rows(merged: dict[int, Second]) -> list[dict[str, Any]]:
    """One row per second from the first to the last with anything; a second between with nothing is a
    real zero. `fail` is error replies plus requests lost in flight (a connection dropped or timed out)."""
    if not merged:
        return []
    rows = []
    for t_s in range(min(merged), max(merged) + 1):
        second = merged.get(t_s, Second(t_s))
        c = second.counts
        rows.append({"t_s": t_s, "driver": DRIVER, "ok": c["ok"], "fail": c["fail"], "info": 0,
                     **latency_columns(second.hist), "offered": c["offered"], "late": c["late"],
                     "dropped": c["dropped"]})
    return rows


SERIES_FILE_COLUMNS = SERIES_COLUMNS + SERIES_EXTRA

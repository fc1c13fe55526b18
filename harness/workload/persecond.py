"""Per-second load figures written by each Locust process, and merged into `series/locust.csv`.

Why not Locust's own `_stats_history.csv`: its `Requests/s` and percentiles are averages over a
sliding ~10 s window, its counts are cumulative, and with `--processes` the master only hears
from its workers every 3 s, so a 1 s series derived from it would smear a failover over ten
seconds. Instead a request-event listener in the locustfile (a `SecondRecorder` per process)
buckets every completed request by run second and keeps an HDR histogram of acknowledged
latencies per second; the driver merges the processes' files here. Locust's own CSVs are still
written to raw/ unchanged, and `requests` here must add up to Locust's own request count.

Row format of a per-process file: `t_s,requests,ok,fail,hist` where `requests` counts Locust
requests, `ok`/`fail` count Redis commands (a pipeline of N is N), and `hist` is the base64 HDR
histogram (microseconds) of the acknowledged requests' response times in that second.
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from hdrh.histogram import HdrHistogram

FILE_GLOB = "locust-seconds-*.csv"
_ROW_COLUMNS = ["t_s", "requests", "ok", "fail", "hist"]
MAX_US = 3_600_000_000  # an hour: anything longer is clipped, not dropped


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_US, 2)


@dataclass
class _Bucket:
    requests: int = 0
    ok: int = 0
    fail: int = 0
    hist: HdrHistogram = field(default_factory=new_histogram)


class SecondRecorder:
    """One process's per-second buckets, each written out as soon as a later second begins.

    Completions arrive in time order, so a request in second s closes every second before s;
    a crash loses at most the current second. Rows for one second may repeat (after `flush`):
    readers add them up.
    """

    def __init__(self, path: Path, zero_ns: int, now_ns: Callable[[], int] = time.monotonic_ns):
        self._zero_ns, self._now_ns = zero_ns, now_ns
        self._file = open(path, "a", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(_ROW_COLUMNS)
        self._second: int | None = None
        self._bucket = _Bucket()

    def record(self, ok: bool, ops: int, response_ms: float) -> None:
        second = (self._now_ns() - self._zero_ns) // 1_000_000_000
        if second != self._second:
            self._write()
            self._second, self._bucket = second, _Bucket()
        bucket = self._bucket
        bucket.requests += 1
        if ok:
            bucket.ok += ops
            bucket.hist.record_value(min(MAX_US, max(1, round(response_ms * 1000))))
        else:
            bucket.fail += ops

    def _write(self) -> None:
        if self._second is None or not self._bucket.requests:
            return
        b = self._bucket
        self._writer.writerow([self._second, b.requests, b.ok, b.fail, b.hist.encode().decode()])
        self._file.flush()

    def flush(self) -> None:
        """Write the open second now (a test stopped); a later row for the same second adds to it."""
        if not self._file.closed:
            self._write()
            self._second, self._bucket = None, _Bucket()

    def close(self) -> None:
        if not self._file.closed:
            self._write()
            self._file.close()


def recorder_path(directory: Path) -> Path:
    return directory / f"locust-seconds-{os.getpid()}.csv"


@dataclass
class MergedSecond:
    t_s: int
    requests: int = 0
    ok: int = 0
    fail: int = 0
    hist: HdrHistogram = field(default_factory=new_histogram)


def merge_files(paths: Iterable[Path]) -> dict[int, MergedSecond]:
    """Sum the processes' rows per second; HDR histograms merge losslessly."""
    merged: dict[int, MergedSecond] = {}
    for path in paths:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                t_s = int(row["t_s"])
                second = merged.setdefault(t_s, MergedSecond(t_s))
                second.requests += int(row["requests"])
                second.ok += int(row["ok"])
                second.fail += int(row["fail"])
                if row["hist"]:
                    second.hist.add(HdrHistogram.decode(row["hist"].encode()))
    return merged


def series_rows(merged: dict[int, MergedSecond], driver: str) -> list[dict]:
    """One row per second from the first to the last second with any completion; a second in
    between with none (every user blocked) is a real zero, so it is written as one."""
    if not merged:
        return []
    rows = []
    for t_s in range(min(merged), max(merged) + 1):
        second = merged.get(t_s, MergedSecond(t_s))
        rows.append({"t_s": t_s, "driver": driver, "ok": second.ok, "fail": second.fail, "info": 0,
                     **latency_columns(second.hist)})
    return rows


def latency_columns(hist: HdrHistogram) -> dict[str, float | str]:
    """A second's p50_ms, p90_ms, p99_ms and max_ms from its histogram (microseconds); empty without values."""
    if hist.get_total_count() == 0:
        return {"p50_ms": "", "p90_ms": "", "p99_ms": "", "max_ms": ""}
    return {"p50_ms": round(hist.get_value_at_percentile(50) / 1000, 3),
            "p90_ms": round(hist.get_value_at_percentile(90) / 1000, 3),
            "p99_ms": round(hist.get_value_at_percentile(99) / 1000, 3),
            "max_ms": round(hist.get_max_value() / 1000, 3)}

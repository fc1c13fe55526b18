"""series/probe.csv: the probe's per-second table, made from history.csv.

The checker writes it after a run; a report of a run the checker never judged derives it the same
way, so a plot shows what the checker would have counted. The per-second percentiles use the same
rank rule as HdrHistogram (nearest rank, rank = round(p/100 * n), at least 1) but read the exact
sample, from one sort of (second, latency) pairs: no Python loop per second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.rundir.columns import NS, SERIES_COLUMNS
from harness.rundir.history import History

SERIES_PERCENTILES = {"p50_ms": 50.0, "p90_ms": 90.0, "p99_ms": 99.0}
_LATENCY_BITS = 40  # room for the latency in a (second, latency) sort key
_OK, _FAIL, _INFO = 0, 1, 2  # codes of History.ops["type"]


def probe_series(history: History, due_ns: np.ndarray | None = None) -> pd.DataFrame:
    """The probe's series/probe.csv table: per second, outcomes by completion time (an invoke that
    never completed at its invoke time) and latency percentiles of the acknowledged operations,
    measured from when each was due (`due_ns`, intended.py; default: its invoke)."""
    ops = history.ops
    outcome = ops["type"].cat.codes.to_numpy()
    invoke_ns, complete_ns = ops["invoke_ns"].to_numpy(), ops["complete_ns"].to_numpy()
    second = np.where(ops["completed"].to_numpy(), complete_ns, invoke_ns) // NS
    ok = outcome == _OK
    counts = pd.DataFrame({"t_s": second, "ok": ok, "fail": outcome == _FAIL, "info": outcome == _INFO})
    counts = counts.groupby("t_s", sort=True).sum().astype(np.int64).reset_index()
    start_ns = invoke_ns if due_ns is None else due_ns
    latencies = per_second(second[ok], (complete_ns[ok] - start_ns[ok]) // 1000)
    series = counts.merge(latencies, on="t_s", how="left")
    series.insert(1, "driver", "probe")
    return series[SERIES_COLUMNS]


def per_second(second: np.ndarray, latency_us: np.ndarray) -> pd.DataFrame:
    """Columns t_s, p50_ms, p90_ms, p99_ms, max_ms: one row per second that has samples."""
    columns = ["t_s", *SERIES_PERCENTILES, "max_ms"]
    if not len(second):
        return pd.DataFrame({c: pd.Series([], dtype=np.int64 if c == "t_s" else float) for c in columns})
    base = int(second.min())
    packed = ((second.astype(np.int64) - base) << _LATENCY_BITS) | np.clip(latency_us, 0, (1 << _LATENCY_BITS) - 1)
    packed.sort()
    seconds = packed >> _LATENCY_BITS
    values = packed & ((1 << _LATENCY_BITS) - 1)
    first = np.flatnonzero(np.r_[True, seconds[1:] != seconds[:-1]])
    count = np.diff(np.r_[first, len(packed)])
    table = {"t_s": seconds[first] + base}
    for name, p in SERIES_PERCENTILES.items():
        rank = np.maximum(np.floor(p * count / 100 + 0.5).astype(np.int64), 1)
        table[name] = values[first + rank - 1] / 1000
    table["max_ms"] = values[first + count - 1] / 1000
    return pd.DataFrame(table)

"""Latency percentiles of acknowledged operations.

The run's percentiles come from an HdrHistogram (3 significant figures, microseconds), filled
with one call per distinct value rather than per sample. The per-second percentiles of the probe
series use the same rank rule as HdrHistogram (nearest rank, rank = round(p/100 * n), at least 1)
but read the exact sample, from one sort of (second, latency) pairs: no Python loop per second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}
SERIES_PERCENTILES = {"p50_ms": 50.0, "p90_ms": 90.0, "p99_ms": 99.0}
_HIGHEST_US = 3_600_000_000  # one hour; longer latencies are recorded as one hour
_SIGNIFICANT_FIGURES = 3
_LATENCY_BITS = 40  # room for the latency in a (second, latency) sort key


def summarize(latency_us: np.ndarray) -> dict[str, float]:
    """p50, p90, p99, p999 and max in milliseconds; all 0 when there is no sample."""
    histogram = HdrHistogram(1, _HIGHEST_US, _SIGNIFICANT_FIGURES)
    values, counts = np.unique(np.clip(latency_us, 0, _HIGHEST_US), return_counts=True)
    for value, count in zip(values.tolist(), counts.tolist()):
        histogram.record_value(value, count)
    if not histogram.get_total_count():
        return {**{name: 0.0 for name in PERCENTILES}, "max": 0.0}
    at = histogram.get_percentile_to_value_dict(list(PERCENTILES.values()))
    summary = {name: _ms(at[p]) for name, p in PERCENTILES.items()}
    summary["max"] = _ms(histogram.get_max_value())
    return summary


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


def _ms(us: int) -> float:
    return round(us / 1000, 3)

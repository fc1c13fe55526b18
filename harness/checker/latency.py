"""Latency percentiles of acknowledged operations.

The run's percentiles come from an HdrHistogram (3 significant figures, microseconds), filled
with one call per distinct value rather than per sample. (The per-second percentiles of the probe
series are harness/rundir/series.py's.)
"""

from __future__ import annotations

import numpy as np
from hdrh.histogram import HdrHistogram

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}
_HIGHEST_US = 3_600_000_000  # one hour; longer latencies are recorded as one hour
_SIGNIFICANT_FIGURES = 3


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


def _ms(us: int) -> float:
    return round(us / 1000, 3)

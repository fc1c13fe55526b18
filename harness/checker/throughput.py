"""Acknowledged operations per second, per phase of the fault schedule.

Every driver is reduced to the same 1 s series (the probe's is built from its history by harness/rundir/series.py) and
measured the same way. Only whole seconds count: the driver's first and last active seconds
(it started or stopped inside them) are left out, and a second belongs to a phase only if it lies
entirely inside it:
- baseline: before the first fault starts;
- during: inside a fault window (start to end, or to the run's end for a fault never healed;
  overlapping windows merge);
- recovered: after the last fault ends plus the time until the driver's first success after it.
A phase with no whole second is None; a driver that did nothing at all scores 0.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.checker.events import NS, Firing, to_s
from harness.rundir.history import History

HEADLINE_DRIVERS = ("locust", "redis-benchmark", "openloop", "probe")  # the headline is the first one present
_OK = 0  # code of "ok" in History.ops["type"]


def phase_rates(series: pd.DataFrame, firings: list[Firing], run_end_s: float,
                recovery_start_s: float | None = None) -> dict[str, float | None]:
    """Mean acknowledged ops/s of the baseline, during-fault and recovered phases (module docstring).

    recovery_start_s: when the driver's first success after the last fault's end came, if known more
    precisely than the series can tell (the probe's history); else it is read from the series.
    """
    per_second = _whole_seconds(series)
    if per_second is None:
        none_or_zero = 0.0 if firings else None
        return _rates(0.0, none_or_zero, none_or_zero)
    t = per_second.index.to_numpy()
    if not firings:
        return _rates(_mean(per_second, np.ones(len(t), bool)), None, None)
    windows = _merged(firings, run_end_s)
    baseline = t + 1 <= firings[0].start_s
    during = np.zeros(len(t), bool)
    for start, end in windows:
        during |= (t >= start) & (t + 1 <= end)
    last_end = windows[-1][1]
    if recovery_start_s is None:
        recovery_start_s = _first_success_after(series, last_end)
    recovered = t >= math.ceil(max(recovery_start_s, last_end))
    return _rates(_mean(per_second, baseline), _mean(per_second, during), _mean(per_second, recovered))


def first_success_after(history: History, after_s: float) -> float:
    """Run time of the first acknowledged probe operation at or after `after_s` (or `after_s` if none)."""
    ops = history.ops
    done = ops["complete_ns"].to_numpy()[ops["type"].cat.codes.to_numpy() == _OK]
    later = done[done >= round(after_s * NS)]
    return to_s(later.min()) if len(later) else after_s


def _whole_seconds(series: pd.DataFrame) -> pd.Series | None:
    """ok per second over the driver's active span, gaps filled with 0, edge seconds dropped."""
    active = series[(series["ok"] + series["fail"] + series["info"]) > 0]
    if not len(active):
        return None
    first, last = int(active["t_s"].min()), int(active["t_s"].max())
    ok = series.groupby("t_s")["ok"].sum().reindex(range(first, last + 1), fill_value=0)
    return ok.iloc[1:-1]


def _merged(firings: list[Firing], run_end_s: float) -> list[tuple[float, float]]:
    windows = sorted((f.start_s, f.end_s if f.end_s is not None else run_end_s) for f in firings)
    merged = [windows[0]]
    for start, end in windows[1:]:
        if start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _first_success_after(series: pd.DataFrame, after_s: float) -> float:
    later = series[(series["ok"] > 0) & (series["t_s"] + 1 > after_s)]["t_s"]
    return max(float(later.min()), after_s) if len(later) else after_s


def _mean(ok: pd.Series, mask: np.ndarray) -> float | None:
    return round(float(ok.to_numpy()[mask].mean()), 3) if mask.any() else None


def _rates(baseline: float | None, during: float | None, recovered: float | None) -> dict[str, float | None]:
    return {"baseline_ops_per_s": baseline, "during_fault_ops_per_s": during, "recovered_ops_per_s": recovered}

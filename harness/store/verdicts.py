"""Regression verdicts over nights: the latest batch of runs against a baseline window, noise-aware.

The rules (each answers a complaint about nightly benchmark systems):

- **Baseline** is the runs of the previous `window` batches (nights) of the same key (scenario +
  topology hash + platform); partial runs and runs whose generator saturated are left out of it.
  Its median is what the night is compared with, not the single previous night.
- **Noise** is the window's coefficient of variation (stdev / mean). The **minimum detectable
  effect** is `Z_MDE * CV_up * sqrt(1/n_current + 1/n_baseline)` (one-sided 5% with 80% power;
  CV_up the 90% upper confidence bound of the CV, since a few quiet nights understate noise):
  a change smaller than that cannot be told from noise with the runs at hand.
- **Method**, said per metric: with >= 3 runs a side, a one-sided Mann-Whitney U test (the one
  `compare` uses); with fewer current runs (a single night) a bootstrap interval of the
  difference of medians, because Mann-Whitney with 1 run against 7 can never reach p <= 0.05.
- **Verdict**: `regressed` when the median moved the bad way by more than the threshold (relative
  change) and the MDE (compared on the log scale, |ln(current / baseline)|: see _log_effect),
  and the method calls it significant; `improved` likewise the good way; otherwise
  `unstable` when the noise is larger than the threshold (the metric cannot pass or fail at that
  threshold: quieten it or widen the threshold) unless the change is beyond ESCAPE_Z noise
  widths (a latency ten times the usual is a change even on a noisy metric), `not significant` when it moved past the
  threshold without significance, else `ok`. `no baseline` below MIN_BASELINE runs.
- **Flags**: a batch whose generator saturated has its throughput verdicts replaced by
  `saturated`; a batch whose environment fingerprint differs from the latest baseline run's is
  flagged with what changed. Both are said in the headline; neither is silently compared.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from statistics import fmean, median, stdev
from typing import Any

import numpy as np
import pandas as pd

from harness.report.compare import (ALPHA, DEFAULT_THRESHOLDS, MIN_RUNS_FOR_TEST, REGRESSED, IMPROVED, OK, NOISE,
                                    MISSING, bootstrap_median_difference, p_value, relative_change)
from harness.report.metrics import family, metric, sort_key
from harness.store.fingerprint import differences

# Nightly thresholds: throughput as redis-benchmarks-specification gates it (-5%); the rest as compare.
TREND_THRESHOLDS: dict[str, float] = {**DEFAULT_THRESHOLDS, "throughput.baseline": 0.05,
                                      "throughput.recovered": 0.05}
WINDOW = 7  # batches in the baseline window
MIN_BASELINE = 3  # runs
Z_MDE = 2.5  # z(one-sided 5%) + z(80% power) = 1.645 + 0.842
NOISE_CONFIDENCE = 0.90  # the MDE uses this upper confidence bound of the window's noise
ESCAPE_Z = 5.0  # an unstable metric still regresses when its change is this many noise widths
UNSTABLE, NO_BASELINE, SATURATED = "unstable", "no baseline", "saturated"
MANN_WHITNEY, BOOTSTRAP = "Mann-Whitney U", "bootstrap CI"
BUSY_LOAD_PER_CPU = 1.0


@dataclass(frozen=True)
class MetricVerdict:
    name: str
    label: str
    unit: str
    higher_is_better: bool
    baseline: float | None  # median of the baseline window
    baseline_low: float | None  # spread of the window (25th and 75th percentiles): the trend's band
    baseline_high: float | None
    current: float | None  # median of the batch's runs
    change: float | None  # relative
    threshold: float
    noise: float | None  # the window's coefficient of variation
    mde: float | None  # minimum detectable effect, relative
    method: str  # MANN_WHITNEY, BOOTSTRAP, or "" when nothing was tested
    p_value: float | None  # Mann-Whitney, one-sided toward worse
    interval: tuple[float, float] | None  # bootstrap: difference of medians, relative to the baseline
    n_baseline: int
    n_current: int
    verdict: str


@dataclass(frozen=True)
class BatchVerdict:
    key: str
    scenario: str
    batch: str
    started: pd.Timestamp
    run_ids: list[str]
    metrics: list[MetricVerdict]
    environment_changes: list[str] = field(default_factory=list)  # vs the latest baseline run
    saturated: list[str] = field(default_factory=list)  # run id: reason
    busy: list[str] = field(default_factory=list)  # run id: load per CPU above 1

    @property
    def regressions(self) -> list[MetricVerdict]:
        return [m for m in self.metrics if m.verdict == REGRESSED]

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    def verdict_of(self, name: str) -> str | None:
        return next((m.verdict for m in self.metrics if m.name == name), None)


def evaluate_series(runs: pd.DataFrame, values: pd.DataFrame, thresholds: dict[str, float] | None = None,
                    window: int = WINDOW, only_latest: bool = False) -> list[BatchVerdict]:
    """Every batch of one key against the `window` batches before it (or only the latest batch).

    `runs`: the store's runs rows of one key, oldest first; `values`: run id (the runs table's
    `id`) x metric name, NaN where a run lacks the metric. Plain arrays inside the loop: a
    1,000-night trend evaluates 1,000 batches, and pandas indexing per batch costs seconds.
    """
    limits = {**TREND_THRESHOLDS, **(thresholds or {})}
    records = runs.to_dict("records")
    matrix = values.reindex(runs["id"]).to_numpy(dtype=float)  # runs (in order) x metrics
    names = list(values.columns)
    order = sorted(range(len(names)), key=lambda j: sort_key(names[j]))
    usable = np.array([r["partial"] == 0 and not isinstance(r["saturated"], str) for r in records], dtype=bool)
    members: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        members.setdefault(r["batch"], []).append(i)
    batches = list(members)  # in order of first start
    out = []
    for n, batch in enumerate(batches):
        if only_latest and n != len(batches) - 1:
            continue
        base_idx = [i for b in batches[max(0, n - window):n] for i in members[b] if usable[i]]
        cur_idx = members[batch]
        current = [records[i] for i in cur_idx]
        saturated = [f"{r['run_id']}: {r['saturated']}" for r in current if isinstance(r["saturated"], str)]
        metrics = []
        for j in order:
            cur, base = _finite(matrix[cur_idx, j]), _finite(matrix[base_idx, j])
            if cur or base:
                metrics.append(_evaluate_metric(names[j], base, cur, limits.get(names[j], limits[family(names[j])]),
                                                saturated=bool(saturated) and names[j].startswith("throughput."),
                                                evidence=n == len(batches) - 1))
        changes = differences(records[base_idx[-1]], current[0]) if base_idx else []
        busy = [f"{r['run_id']}: load {r['load_per_cpu']:.2f} per CPU" for r in current
                if isinstance(r["load_per_cpu"], float) and r["load_per_cpu"] > BUSY_LOAD_PER_CPU]
        first = current[0]
        out.append(BatchVerdict(first["key"], first["scenario"], batch, first["started"],
                                [r["run_id"] for r in current], metrics, changes, saturated, busy))
    return out


def _finite(column: np.ndarray) -> list[float]:
    return [float(v) for v in column if v == v]  # NaN: the run lacks the metric


def _evaluate_metric(name: str, base: list[float], cur: list[float], threshold: float,
                     saturated: bool = False, evidence: bool = True) -> MetricVerdict:
    """One metric's verdict. Without `evidence` (an older night, for the trend page's marks) the
    test runs only when the change is large enough for it to matter: the verdict is the same, and
    a 1,000-night page skips a thousand bootstraps of steady nights."""
    about = metric(name)
    b = median(base) if base else None
    low, high = _quartiles(base) if base else (None, None)
    c = median(cur) if cur else None
    noise = _cv(base) if len(base) >= 2 else None
    row: dict[str, Any] = dict(name=name, label=about.label, unit=about.unit, higher_is_better=about.higher_is_better,
                               baseline=b, baseline_low=low, baseline_high=high, current=c, change=None,
                               threshold=threshold, noise=noise, mde=None, method="", p_value=None, interval=None,
                               n_baseline=len(base), n_current=len(cur))
    if not cur:
        return MetricVerdict(**row, verdict=MISSING)
    if len(base) < MIN_BASELINE or b is None or c is None or noise is None:  # MIN_BASELINE >= 2: all set
        return MetricVerdict(**row, verdict=NO_BASELINE)
    change = relative_change(b, c)
    mde = Z_MDE * _noise_upper(noise, len(base)) * math.sqrt(1 / len(cur) + 1 / len(base))
    row.update(change=change, mde=mde)
    if saturated:
        return MetricVerdict(**row, verdict=SATURATED)
    sign = 1 if about.higher_is_better else -1
    effect = _log_effect(b, c)
    worse = sign * change < -threshold and effect > mde
    better = sign * change > threshold and effect > mde
    if not (evidence or worse or better):
        sig_worse = sig_better = False
    elif len(cur) >= MIN_RUNS_FOR_TEST:
        row["method"] = MANN_WHITNEY
        row["p_value"] = p_value(cur, base, "less" if about.higher_is_better else "greater")
        sig_worse = row["p_value"] <= ALPHA
        sig_better = p_value(cur, base, "greater" if about.higher_is_better else "less") <= ALPHA
    else:
        row["method"] = BOOTSTRAP
        lo, hi = bootstrap_median_difference(cur, base)
        row["interval"] = (lo / abs(b), hi / abs(b)) if b else (lo, hi)
        sig_worse = hi < 0 if about.higher_is_better else lo > 0  # the whole interval on the bad side
        sig_better = lo > 0 if about.higher_is_better else hi < 0
    unstable = noise > threshold
    if unstable:  # too noisy to judge at its threshold: only a change far beyond the noise counts
        beyond = ESCAPE_Z * noise * math.sqrt(1 / len(cur) + 1 / len(base))  # the noise as measured
        worse, better = worse and effect > beyond, better and effect > beyond
    if worse and sig_worse:
        verdict = REGRESSED
    elif better and sig_better:
        verdict = IMPROVED
    elif unstable:
        verdict = UNSTABLE
    elif sign * change < -threshold or sign * change > threshold:
        verdict = NOISE
    else:
        verdict = OK
    return MetricVerdict(**row, verdict=verdict)


def _noise_upper(cv: float, n: int) -> float:
    """The 90% upper confidence bound of the noise (chi-square on the variance): seven quiet nights
    can understate a metric's noise by half, and an understated noise turns noise into "change"."""
    return cv * _noise_factor(n)


@functools.lru_cache(maxsize=None)
def _noise_factor(n: int) -> float:
    from scipy.special import chdtri  # the chi-square quantile, without importing slow scipy.stats

    return math.sqrt((n - 1) / chdtri(n - 1, NOISE_CONFIDENCE))


def _log_effect(base: float, cur: float) -> float:
    """|ln(cur / base)|: the size of a change on the scale noise is multiplicative on, where a drop
    to a sixth (-83%) is as large as a rise to six times (+500%). Against the MDE a relative
    change would cap drops at -100%, so a noisy throughput could never regress however far it fell."""
    if base > 0 and cur > 0:
        return abs(math.log(cur / base))
    return 0.0 if cur == base else math.inf


def _quartiles(values: list[float]) -> tuple[float, float]:
    """25th and 75th percentiles as numpy's default (linear) computes them; plain Python is faster
    than numpy on the handful of values a window holds."""
    ordered = sorted(values)

    def at(q: float) -> float:
        pos = q * (len(ordered) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)

    return at(0.25), at(0.75)


def _cv(values: list[float]) -> float:
    mean = fmean(values)
    sd = stdev(values)
    if mean == 0:
        return 0.0 if sd == 0 else math.inf
    return sd / abs(mean)

"""Baseline against current: per metric, the change and whether it is a regression.

A metric regresses when it moves the bad way (throughput down, latency, unavailability or lost
writes up) by more than its relative threshold. With repeated runs (at least three a side) the
move must also be significant by a one-sided Mann-Whitney U test, so that run-to-run noise is
not called a regression; with fewer runs the threshold alone decides.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median
from typing import Any, Sequence

from harness.report.metrics import METRICS, family, format_number, load_summaries, metric, metrics_of, sort_key

DEFAULT_THRESHOLDS: dict[str, float] = {
    "throughput.baseline": 0.10,
    "throughput.during_fault": 0.25,
    "throughput.recovered": 0.10,
    "latency.p50": 0.20,
    "latency.p99": 0.30,
    "latency.p999": 0.50,
    "unavailable_s": 0.30,
    "lost_writes": 0.50,  # and any loss where the baseline lost none
}
ALPHA = 0.05
MIN_RUNS_FOR_TEST = 3

REGRESSED, IMPROVED, OK, NOISE, MISSING = "regressed", "improved", "ok", "not significant", "missing"


@dataclass(frozen=True)
class MetricComparison:
    name: str
    label: str
    unit: str
    higher_is_better: bool
    baseline: float | None  # median over the baseline runs
    current: float | None
    change: float | None  # relative: (current - baseline) / |baseline|; +-inf from a zero baseline
    threshold: float
    p_value: float | None  # one-sided, toward "worse"; None without enough runs
    n_baseline: int
    n_current: int
    verdict: str


@dataclass(frozen=True)
class Comparison:
    metrics: list[MetricComparison]
    n_baseline: int
    n_current: int
    alpha: float

    @property
    def regressions(self) -> list[MetricComparison]:
        return [m for m in self.metrics if m.verdict == REGRESSED]

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    def to_dict(self) -> dict[str, Any]:
        return {"regressed": self.regressed, "n_baseline": self.n_baseline, "n_current": self.n_current,
                "alpha": self.alpha, "metrics": [asdict(m) for m in self.metrics]}

    def to_text(self) -> str:
        rows = [["metric", "baseline", "current", "change", "threshold", "p", "verdict"]]
        rows += [_row(m) for m in self.metrics]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [self._headline(), self._method(), ""]
        for i, row in enumerate(rows):
            cells = [c.ljust(w) if j in (0, 6) else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))]
            lines.append("  ".join(cells).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        lines = [f"### {self._headline()}", "", self._method(), "",
                 "| metric | baseline | current | change | threshold | p | verdict |",
                 "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
        for m in self.metrics:
            cells = _row(m)
            if m.verdict == REGRESSED:
                cells[6] = f"**{cells[6]}**"
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        return "\n".join(lines) + "\n"

    def _headline(self) -> str:
        if not self.regressed:
            return "No regression"
        names = ", ".join(m.name for m in self.regressions)
        return f"REGRESSION in {len(self.regressions)} metric{'s' if len(self.regressions) > 1 else ''}: {names}"

    def _method(self) -> str:
        runs = f"baseline: {self.n_baseline} run{'s' if self.n_baseline != 1 else ''}, " \
               f"current: {self.n_current} run{'s' if self.n_current != 1 else ''}"
        if self.n_baseline >= MIN_RUNS_FOR_TEST and self.n_current >= MIN_RUNS_FOR_TEST:
            return (f"{runs}; medians compared; a change beyond its threshold is a regression only if a "
                    f"one-sided Mann-Whitney U test gives p <= {self.alpha:g}.")
        return (f"{runs}; a change beyond its threshold is a regression (fewer than {MIN_RUNS_FOR_TEST} runs "
                "a side: no significance test, repeat runs with --repeat to separate noise).")


def compare(baseline: Sequence[str | Path], current: Sequence[str | Path], thresholds: dict[str, float] | None = None,
            alpha: float = ALPHA) -> Comparison:
    """Compare run directories or summary.json files (a directory of run directories counts as its runs)."""
    return compare_summaries(load_summaries(baseline), load_summaries(current), thresholds, alpha)


def compare_summaries(baseline: list[dict[str, Any]], current: list[dict[str, Any]],
                      thresholds: dict[str, float] | None = None, alpha: float = ALPHA) -> Comparison:
    if not baseline or not current:
        raise ValueError("compare needs at least one run on each side")
    limits = _thresholds(thresholds)
    base_values = [metrics_of(s) for s in baseline]
    current_values = [metrics_of(s) for s in current]
    names = sorted({n for v in base_values + current_values for n in v}, key=sort_key)
    rows = [_compare_metric(name, [v[name] for v in base_values if name in v],
                            [v[name] for v in current_values if name in v],
                            limits.get(name, limits[family(name)]), alpha) for name in names]
    return Comparison(rows, len(baseline), len(current), alpha)


def parse_thresholds(items: list[str]) -> dict[str, float]:
    """`name=value` pairs from a command line: a fraction (0.1) or a percentage (10%) per metric or family."""
    thresholds = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"threshold {item!r}: expected name=value, e.g. throughput.baseline=10%")
        try:
            number = float(value.rstrip("%")) / (100 if value.endswith("%") else 1)
        except ValueError:
            raise ValueError(f"threshold {item!r}: {value!r} is not a number or a percentage") from None
        thresholds[name.strip()] = number
    _thresholds(thresholds)  # validate names and values now, not at compare time
    return thresholds


def _thresholds(overrides: dict[str, float] | None) -> dict[str, float]:
    for name, value in (overrides or {}).items():
        if family(name) not in METRICS:
            raise ValueError(f"unknown metric {name!r} in thresholds; known: {sorted(METRICS)} "
                             "(or unavailable_s[<fault id>])")
        if not value >= 0:
            raise ValueError(f"threshold for {name!r} must be a relative change >= 0, got {value}")
    return {**DEFAULT_THRESHOLDS, **(overrides or {})}


def _compare_metric(name: str, base: list[float], cur: list[float], threshold: float,
                    alpha: float) -> MetricComparison:
    about = metric(name)
    if not base or not cur:
        return MetricComparison(name, about.label, about.unit, about.higher_is_better, _median(base),
                                _median(cur), None, threshold, None, len(base), len(cur), MISSING)
    b, c = median(base), median(cur)
    change = relative_change(b, c)
    sign = 1 if about.higher_is_better else -1
    worse, better = sign * change < -threshold, sign * change > threshold
    tested = len(base) >= MIN_RUNS_FOR_TEST and len(cur) >= MIN_RUNS_FOR_TEST
    p_worse = p_value(cur, base, "less" if about.higher_is_better else "greater") if tested else None
    if worse:
        verdict = REGRESSED if p_worse is None or p_worse <= alpha else NOISE
    elif better:
        p_better = p_value(cur, base, "greater" if about.higher_is_better else "less") if tested else None
        verdict = IMPROVED if p_better is None or p_better <= alpha else NOISE
    else:
        verdict = OK
    return MetricComparison(name, about.label, about.unit, about.higher_is_better, b, c, change, threshold,
                            p_worse, len(base), len(cur), verdict)


def relative_change(base: float, cur: float) -> float:
    if base == 0:
        return 0.0 if cur == 0 else math.copysign(math.inf, cur)
    return (cur - base) / abs(base)


def p_value(cur: list[float], base: list[float], alternative: str) -> float:
    from scipy.stats import mannwhitneyu  # here, not at the top: scipy.stats takes seconds to import

    if len(set(cur) | set(base)) == 1:
        return 1.0  # all equal: no evidence either way (the test's variance is zero)
    p = float(mannwhitneyu(cur, base, alternative=alternative).pvalue)
    return 1.0 if math.isnan(p) else p


def bootstrap_median_difference(cur: list[float], base: list[float], confidence: float = 0.90,
                                resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """A percentile-bootstrap interval of median(cur) - median(base) (absolute units).

    For when one side has too few runs for Mann-Whitney U (a single night against a window):
    its smallest p-value with one run against seven is 1/8, never significant at 0.05, while
    the interval still says whether the night lies outside what the window's median could be.
    The default 90% two-sided interval is a one-sided 95% test either way. Seeded: the same
    store gives the same verdicts.
    """
    import numpy as np

    rng = np.random.default_rng(seed)

    def medians(values: list[float]) -> np.ndarray:
        if len(set(values)) == 1:
            return np.full(resamples, float(values[0]))  # one run (or all equal): nothing to resample
        rows = np.sort(rng.choice(np.asarray(values, dtype=float), size=(resamples, len(values))), axis=1)
        return (rows[:, (len(values) - 1) // 2] + rows[:, len(values) // 2]) / 2  # np.median, minus its overhead

    diffs = np.sort(medians(cur) - medians(base))
    tail = int((1 - confidence) / 2 * resamples)
    return float(diffs[tail]), float(diffs[resamples - 1 - tail])


def _median(values: list[float]) -> float | None:
    return median(values) if values else None


# --------------------------------------------------------------------------- formatting


def _row(m: MetricComparison) -> list[str]:
    unit = f" {m.unit}" if m.unit else ""
    allowed = f"{'-' if m.higher_is_better else '+'}{m.threshold:.0%}"
    p = "" if m.p_value is None else f"{m.p_value:.3f}"
    return [m.name, format_number(m.baseline) + unit, format_number(m.current) + unit, format_change(m.change),
            allowed, p, m.verdict]


def format_change(change: float | None) -> str:
    if change is None:
        return "-"
    if math.isinf(change):
        return "new (was 0)" if change > 0 else "-inf"
    return f"{change:+.1%}"

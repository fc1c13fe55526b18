"""Repeated runs of one scenario in a few numbers: per metric the median and its spread.

Medians, not means: one run hit by a noisy neighbour should not move the figure a person
reads. The spread (min, max, interquartile range) says how far to trust it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.report.metrics import format_number, load_summaries, metric, metrics_of, sort_key


@dataclass(frozen=True)
class Spread:
    n: int
    median: float
    min: float
    max: float
    q1: float
    q3: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @classmethod
    def of(cls, values: list[float]) -> "Spread":
        q1, med, q3 = np.percentile(values, [25, 50, 75])
        return cls(len(values), float(med), float(min(values)), float(max(values)), float(q1), float(q3))


@dataclass(frozen=True)
class Aggregate:
    runs: list[str]  # run ids
    verdicts: dict[str, int]  # pass / fail / incomplete -> count
    metrics: dict[str, Spread]

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "verdicts": self.verdicts,
                "metrics": {name: {**asdict(s), "iqr": s.iqr} for name, s in self.metrics.items()}}

    def to_text(self) -> str:
        rows = [["metric", "n", "median", "min", "max", "IQR"]] + [self._row(n, s) for n, s in self.metrics.items()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [self._headline(), ""]
        for i, row in enumerate(rows):
            lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                                   for j, (c, w) in enumerate(zip(row, widths))).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        lines = [f"### {self._headline()}", "", "| metric | n | median | min | max | IQR |",
                 "| --- | ---: | ---: | ---: | ---: | ---: |"]
        lines += ["| " + " | ".join(self._row(n, s)) + " |" for n, s in self.metrics.items()]
        return "\n".join(lines) + "\n"

    def _headline(self) -> str:
        verdicts = ", ".join(f"{count} {verdict}" for verdict, count in sorted(self.verdicts.items()))
        return f"{len(self.runs)} runs ({verdicts}): medians and spread"

    @staticmethod
    def _row(name: str, s: Spread) -> list[str]:
        unit = metric(name).unit
        unit = f" {unit}" if unit else ""
        return [name, str(s.n), format_number(s.median) + unit,
                *(format_number(v) for v in (s.min, s.max, s.iqr))]


def aggregate(summaries: list[dict[str, Any]]) -> Aggregate:
    values: dict[str, list[float]] = {}
    for summary in summaries:
        for name, value in metrics_of(summary).items():
            values.setdefault(name, []).append(value)
    verdicts = Counter(str(s.get("verdict", "unknown")) for s in summaries)
    return Aggregate(
        runs=[str(s.get("run_id", "")) for s in summaries],
        verdicts=dict(verdicts),
        metrics={name: Spread.of(values[name]) for name in sorted(values, key=sort_key)},
    )


def aggregate_runs(paths: list[str | Path]) -> Aggregate:
    """Run directories, summary files, or a directory holding the runs of one --repeat."""
    return aggregate(load_summaries(paths))

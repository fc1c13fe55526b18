"""From a store to trends: per key, its runs, their metric values, and every batch's verdict.

The one place that turns the store's tables into what the verdict table, the trend page and the
benchmark read, so that they judge the same runs the same way. Verdicts are evaluated on all the
key's runs; `--since` only narrows what is shown (the first night shown still has its window).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from harness.report.metrics import METRICS, family
from harness.store.db import Store, StoreError
from harness.store.fingerprint import ENVIRONMENT_FIELDS, differences
from harness.store.verdicts import WINDOW, BatchVerdict, evaluate_series


@dataclass(frozen=True)
class Trend:
    key: str
    scenario: str
    runs: pd.DataFrame  # the store's runs rows of this key (shown ones), oldest first
    values: pd.DataFrame  # run id x metric name
    verdicts: list[BatchVerdict]  # per batch (shown ones), oldest first

    @property
    def latest(self) -> BatchVerdict:
        return self.verdicts[-1]

    def environment_changes(self) -> list[tuple[pd.Timestamp, list[str]]]:
        """Where the fingerprint differs from the previous run's: (time, what changed)."""
        marks = []
        previous = None
        for row in self.runs.to_dict("records"):
            env = {name: row.get(name) for name in ENVIRONMENT_FIELDS}
            changed: list[str] = differences(previous, env) if previous is not None else []
            if changed:
                marks.append((row["started"], changed))
            previous = env
        return marks


def load_trends(store: Store, scenario: str | None = None, metrics: list[str] | None = None,
                since: float | None = None, thresholds: dict[str, float] | None = None, window: int = WINDOW,
                only_latest: bool = False) -> list[Trend]:
    """One Trend per key in the store (after aliases), filtered by scenario, metric names and time."""
    runs = store.runs(scenario=scenario)
    if runs.empty:
        where = f" for scenario {scenario!r}" if scenario else ""
        raise StoreError(f"{store.path}: no runs{where}")
    long = store.metrics()
    values = long[long["run"].isin(runs["id"])].pivot_table(index="run", columns="name", values="value",
                                                            aggfunc="last")
    if metrics:
        unknown = [m for m in metrics if family(m) not in METRICS and m not in ("throughput", "latency")]
        if unknown:
            raise StoreError(f"--metric {', '.join(unknown)}: unknown; known: {', '.join(METRICS)}")
        values = values[[c for c in values.columns if any(_matches(c, m) for m in metrics)]]
    trends = []
    for key, group in runs.groupby("key", sort=True):
        group = group.sort_values(["started_at", "id"])
        verdicts = evaluate_series(group, values, thresholds, window, only_latest)
        if since is not None:
            shown = set(group.loc[group["started_at"] >= since, "batch"])
            verdicts = [v for v in verdicts if v.batch in shown]
            group = group[group["batch"].isin(shown)]
        if group.empty:
            continue
        trends.append(Trend(str(key), str(group["scenario"].iloc[0]), group.reset_index(drop=True),
                            values.reindex(group["id"]), verdicts))
    if not trends:
        raise StoreError(f"{store.path}: no runs in the time asked for")
    return trends


def _matches(name: str, wanted: str) -> bool:
    """`latency.p99` itself, `unavailable_s` for every fault's, `latency` for the family group."""
    return name == wanted or family(name) == wanted or name.startswith(wanted + ".")

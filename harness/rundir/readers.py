"""Tolerant readers of the run directory: what a checker, a report or the store reads, read once here.

A run killed halfway leaves files cut mid-line, or not written at all. Reading never raises for
that: a torn line is skipped and counted, a missing or unreadable file comes back empty with a
note saying why, so each caller decides how to say so (the checker in `degraded`, the report
where the section would have been).

pandas is imported by the readers that make a table, not with the package: `validate`, a bad scenario's
error and a run's start do not wait for it (about 0.6 s of the CLI's start).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.rundir.columns import DRIVER_ORDER, LOST_COLUMNS, REPLICATION_LAG_COLUMNS, SERIES_COLUMNS

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Read:
    """What a reader found, and why it found less than the file promised (one note a problem)."""

    value: Any
    notes: list[str] = field(default_factory=list)


def read_event_records(path: str | Path) -> tuple[list[dict[str, Any]], int]:
    """events.jsonl's events sorted by `t` (stable), and how many lines were not JSON objects with a
    numeric `t` (a torn last line); a missing file has no events."""
    path = Path(path)
    records, bad = [], 0
    if not path.exists():
        return [], 0
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(record, dict) and isinstance(record.get("t"), (int, float)):
            records.append(record)
        else:
            bad += 1
    return sorted(records, key=lambda e: e["t"]), bad


def read_json_object(path: str | Path) -> Read:
    """A JSON object (meta.json, summary.json, final-state.json); {} with a note when it is missing,
    torn or not an object."""
    path = Path(path)
    if not path.exists():
        return Read({}, [f"no {path.name}"])
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return Read({}, [f"{path.name} is unreadable ({exc}); ignored"])
    if not isinstance(data, dict):
        return Read({}, [f"{path.name} is not a JSON object; ignored"])
    return Read(data)


def read_scenario_facts(path: str | Path) -> Read:
    """What a report needs of scenario.yaml when no checker judged the run: its SLOs as (name, limit)
    and its planned duration_s. Read as plain YAML, not validated (the checker validates)."""
    import yaml

    path = Path(path)
    if not path.exists():
        return Read({})
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        return Read({}, [f"{path.name} is unreadable ({exc}); its SLOs are not listed"])
    if not isinstance(data, dict):
        return Read({}, [f"{path.name} is not a mapping; its SLOs are not listed"])
    slos = data["slos"] if isinstance(data.get("slos"), dict) else {}
    duration = data.get("duration_s")
    return Read({"slos": [(str(k), float(v)) for k, v in slos.items() if isinstance(v, (int, float))],
                 "duration_s": float(duration) if isinstance(duration, (int, float)) else None})


def load_series(path: str | Path) -> pd.DataFrame:
    """series/<driver>.csv as written, with the outcome counts as integers (the checker's input)."""
    import numpy as np
    import pandas as pd

    series = pd.read_csv(path)
    for column in ("ok", "fail", "info"):
        series[column] = series[column].fillna(0).astype(np.int64) if column in series else 0
    return series


def read_series_dir(series_dir: Path) -> Read:
    """Every series/<driver>.csv, read tolerantly and completed to one row a second, in DRIVER_ORDER."""
    found = sorted(series_dir.glob("*.csv")) if series_dir.exists() else []
    series, notes = {}, []
    for path in found:
        read = read_series_csv(path)
        notes += read.notes
        if read.value is not None:
            series[path.stem] = read.value
    return Read(in_driver_order(series), notes)


def in_driver_order(series: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    order = {d: i for i, d in enumerate(DRIVER_ORDER)}
    return dict(sorted(series.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def read_series_csv(path: Path) -> Read:
    """One driver's table, SERIES_COLUMNS only, numbers coerced, rows cut by a crash dropped; None
    (with a note) when there is nothing usable."""
    import pandas as pd

    try:
        table = pd.read_csv(path, on_bad_lines="skip")
    except (OSError, ValueError) as exc:  # empty file, or cut before the header ended
        return Read(None, [f"{path.name} is unreadable ({exc}); ignored"])
    missing = [c for c in ("t_s", "ok") if c not in table.columns]
    if missing:
        return Read(None, [f"{path.name} lacks columns {missing}; ignored"])
    for column in SERIES_COLUMNS:
        if column == "driver":
            continue
        table[column] = pd.to_numeric(table[column], errors="coerce") if column in table else float("nan")
    table = table.dropna(subset=["t_s", "ok"])  # a row cut by a crash
    if table.empty:
        return Read(None, [f"{path.name} has no rows yet; ignored"])
    return Read(complete_seconds(table.assign(driver=path.stem)[SERIES_COLUMNS]))


def complete_seconds(table: pd.DataFrame) -> pd.DataFrame:
    """One row per second from the first to the last: a second with no row had no operations."""
    import pandas as pd

    if table.empty:
        return table
    table = table.groupby("t_s", as_index=True).first()  # a duplicated second keeps its first row
    seconds = pd.RangeIndex(int(table.index.min()), int(table.index.max()) + 1, name="t_s")
    table = table.reindex(seconds)
    table[["ok", "fail", "info"]] = table[["ok", "fail", "info"]].fillna(0)
    table["driver"] = table["driver"].ffill().bfill()
    return table.reset_index()[SERIES_COLUMNS]


def read_lost(path: Path) -> pd.DataFrame | None:
    """lost.csv when the checker wrote one with any row; a torn or foreign file is treated as absent."""
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError):
        return None
    if not set(LOST_COLUMNS) <= set(table.columns) or not len(table):
        return None
    return table


def read_replication_lag(path: Path) -> Read:
    """replication-lag.csv with numeric lag columns; None (no note) when the run scraped no exporter, and
    rows cut short (a torn last line) or with a non-numeric time dropped with a note."""
    import pandas as pd

    if not Path(path).exists():
        return Read(None)
    try:
        table = pd.read_csv(path, on_bad_lines="skip", dtype={"pod": str, "replica": str, "state": str})
    except (OSError, ValueError) as exc:
        return Read(None, [f"{Path(path).name} is unreadable ({exc}); ignored"])
    if not set(REPLICATION_LAG_COLUMNS) <= set(table.columns):
        return Read(None, [f"{Path(path).name} lacks the columns {REPLICATION_LAG_COLUMNS}; ignored"])
    for column in ("t_s", "lag_s", "lag_bytes"):
        table[column] = pd.to_numeric(table[column], errors="coerce")
    good = table.dropna(subset=["t_s", "pod", "replica", "state"])  # a torn last line lacks its state
    notes = [f"{Path(path).name}: {len(table) - len(good)} unreadable rows ignored"] if len(good) < len(table) else []
    return Read(good.reset_index(drop=True), notes)


def read_table(path: Path) -> pd.DataFrame | None:
    """tables/<name>.parquet as the checker wrote it; None when it is missing or unreadable."""
    import pyarrow.parquet as pq  # only the report's plots need the checker's tables

    try:
        return pq.read_table(path).to_pandas()
    except (OSError, ValueError):
        return None

"""summary.json `replication_lag`: per replica, the largest lag its primary's exporter reported during the
run (replication-lag.csv, written by harness/exporter_scrape.py). A report shows it as it stands."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def _figure(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 3)


def replication_lag(table: pd.DataFrame | None) -> dict[str, dict[str, Any]] | None:
    """{replica: {max_lag_s, max_lag_bytes, samples, primaries}}; None when the run scraped no exporter."""
    if table is None:
        return None
    out: dict[str, dict[str, Any]] = {}
    for replica, rows in table.groupby("replica", sort=True):
        out[str(replica)] = {"max_lag_s": _figure(rows["lag_s"].max()), "max_lag_bytes": _figure(rows["lag_bytes"].max()),
                             "samples": int(len(rows)), "primaries": sorted(rows["pod"].astype(str).unique())}
    return out

"""The checker: pure functions from a run directory's files to results (no Redis, no platform).

`analyze(run_dir)` reads history.csv, final.csv, events.jsonl, series/, meta.json and
scenario.yaml, and writes summary.json, series/probe.csv and tables/*.parquet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.checker import summary as _summary
from harness.rundir import RunDir

SCHEMA = _summary.SCHEMA


def analyze(run_dir: str | Path) -> dict[str, Any]:
    """Judge one run; returns the summary it wrote to summary.json."""
    run = RunDir(run_dir)
    if run.read_meta().get("kind") == "capacity":
        from harness.capacity.analysis import analyze_capacity
        return analyze_capacity(run.path)
    analysis = _summary.build(run)
    _summary.write(run, analysis)
    return analysis.summary


__all__ = ["analyze", "SCHEMA"]

"""Reports: what a person reads (report.html, plots) and what CI gates on (junit.xml, compare).

Everything here reads a run directory and nothing else, so `redis-harness report RUN_DIR`
rebuilds a report from the raw data of any run, finished or killed halfway.
"""

from __future__ import annotations

from pathlib import Path

from harness.report.aggregate import Aggregate, Spread, aggregate, aggregate_runs
from harness.report.compare import (DEFAULT_THRESHOLDS, Comparison, MetricComparison, compare, compare_summaries,
                                    parse_thresholds)
from harness.report.html import write_html
from harness.report.junit import write_junit
from harness.report.plots import write_plots
from harness.report.rundata import RunData, load_run
from harness.rundir import RunDir

__all__ = [
    "Aggregate", "Comparison", "DEFAULT_THRESHOLDS", "MetricComparison", "RunData", "Spread", "aggregate",
    "aggregate_runs", "build_report", "compare", "compare_summaries", "load_run", "parse_thresholds",
]


def build_report(run_dir: str | Path) -> Path:
    """Write plots/*.png, report.html and junit.xml into the run directory; return report.html's path."""
    rundir = RunDir(run_dir)
    if not rundir.path.is_dir():
        raise FileNotFoundError(f"{rundir.path}: no such run directory")
    if rundir.read_meta().get("kind") == "capacity":
        from harness.capacity.report import build_capacity_report
        return build_capacity_report(rundir.path)
    run = load_run(rundir.path)
    plots = write_plots(run, rundir.plots_dir)
    write_junit(run, rundir.junit)
    write_html(run, plots, rundir.html)
    return rundir.html

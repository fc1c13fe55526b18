"""One chart per metric over nights: the runs, the baseline band, regressions and environment changes.

Each chart comes back as PNG bytes plus the pixel position of every point, so the page can lay
an HTML image map over the inlined image and link each point to its run's report: a PNG cannot
link, and an interactive chart library would make the page depend on a script from elsewhere.
Figures use the object API on the Agg canvas (no shared pyplot state), as the run report's do.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import matplotlib.dates as mdates
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from harness.report.compare import IMPROVED, REGRESSED
from harness.report.metrics import metric
from harness.store.trends import Trend

DPI = 100
WIDTH_IN, HEIGHT_IN = 11.0, 3.4
POINT_COLOUR, FLAGGED_COLOUR, BAND_COLOUR = "#1f77b4", "#9e9e9e", "#2ca02c"
REGRESSED_COLOUR, IMPROVED_COLOUR, ENV_COLOUR = "#d62728", "#2ca02c", "#6a3d9a"
MAX_ENV_LABELS = 8
AREA_RADIUS_PX = 5


@dataclass(frozen=True)
class Area:
    """A clickable point on the chart, in image pixels (origin top left)."""

    x: int
    y: int
    run_id: str
    title: str


@dataclass(frozen=True)
class Chart:
    name: str
    png: bytes
    areas: list[Area]
    width: int
    height: int


def metric_chart(trend: Trend, name: str) -> Chart | None:
    """The chart of one metric of one key, or None when no run has it."""
    column = trend.values[name] if name in trend.values else None
    if column is None or column.notna().sum() == 0:
        return None
    about = metric(name)
    runs = trend.runs
    x = mdates.date2num(runs["started"].dt.tz_convert(None).to_numpy())
    y = column.to_numpy(dtype=float)
    flagged = (runs["saturated"].notna() | runs["partial"].astype(bool)).to_numpy()

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0.07, 0.15, 0.91, 0.66))
    _band(ax, trend, name)
    ok = ~flagged & ~np.isnan(y)
    ax.plot(x[ok], y[ok], "o", ms=3.5, color=POINT_COLOUR, zorder=3)
    if (flagged & ~np.isnan(y)).any():
        ax.plot(x[flagged], y[flagged], "o", ms=4, mfc="none", color=FLAGGED_COLOUR, zorder=3)
    _verdict_marks(ax, trend, name, x, y)
    _environment_marks(ax, trend)
    unit = f" ({about.unit})" if about.unit else ""
    figure.text(0.07, 0.93, f"{name}: {about.label}{unit}", fontsize=11, weight="bold")
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.grid(True, alpha=0.3)
    if np.nanmin(y) >= 0:
        ax.set_ylim(bottom=0)
    ax.legend(handles=_legend(), loc="lower left", fontsize=7.5, ncol=6, frameon=False, bbox_to_anchor=(0, 1),
              borderaxespad=0.2)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    width, height = int(figure.bbox.width), int(figure.bbox.height)
    pixels = ax.transData.transform(np.column_stack([x, np.nan_to_num(y)]))
    areas = [Area(int(px), int(height - py), str(run_id), f"{run_id}: {value:g}")
             for (px, py), run_id, value in zip(pixels, runs["run_id"], y) if not math.isnan(value)]
    return Chart(name, buffer.getvalue(), areas, width, height)


def _band(ax, trend: Trend, name: str) -> None:
    """Per batch, the window it was judged against: median line, 25th-75th percentile band."""
    starts, low, high, mid = [], [], [], []
    for verdict in trend.verdicts:
        m = next((m for m in verdict.metrics if m.name == name), None)
        if m is None or m.baseline is None:
            continue
        starts.append(mdates.date2num(verdict.started.tz_convert(None)))
        low.append(m.baseline_low)
        high.append(m.baseline_high)
        mid.append(m.baseline)
    if starts:
        ax.fill_between(starts, low, high, step="post", color=BAND_COLOUR, alpha=0.18, lw=0, zorder=1)
        ax.step(starts, mid, where="post", color=BAND_COLOUR, lw=1, alpha=0.8, zorder=2)


def _verdict_marks(ax, trend: Trend, name: str, x: np.ndarray, y: np.ndarray) -> None:
    run_index = {batch: i for i, batch in enumerate(trend.runs["batch"])}  # the batch's last run
    for verdict in trend.verdicts:
        v = verdict.verdict_of(name)
        if v not in (REGRESSED, IMPROVED) or verdict.batch not in run_index:
            continue
        i = run_index[verdict.batch]
        colour, marker = (REGRESSED_COLOUR, "X") if v == REGRESSED else (IMPROVED_COLOUR, "^")
        ax.plot([x[i]], [y[i]], marker, ms=10, color=colour, mec="white", mew=0.8, zorder=4)


def _environment_marks(ax, trend: Trend) -> None:
    changes = trend.environment_changes()
    for n, (when, what) in enumerate(changes):
        at = mdates.date2num(when.tz_convert(None))
        ax.axvline(at, color=ENV_COLOUR, ls="--", lw=1, zorder=2)
        if n < MAX_ENV_LABELS:
            label = "; ".join(w.split(":", 1)[0] + ":" + w.split("->")[-1] for w in what)
            ax.annotate(label, (at, 1), xycoords=("data", "axes fraction"), xytext=(3, -10),
                        textcoords="offset points", fontsize=7, color=ENV_COLOUR, va="top", zorder=5,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})


def _legend() -> list:
    return [Line2D([], [], marker="o", ls="", ms=4, color=POINT_COLOUR, label="run"),
            Line2D([], [], marker="o", ls="", ms=4, mfc="none", color=FLAGGED_COLOUR, label="saturated / partial"),
            Patch(color=BAND_COLOUR, alpha=0.3, label="baseline window: median, 25-75%"),
            Line2D([], [], marker="X", ls="", ms=7, color=REGRESSED_COLOUR, label="regression"),
            Line2D([], [], marker="^", ls="", ms=7, color=IMPROVED_COLOUR, label="improvement"),
            Line2D([], [], ls="--", color=ENV_COLOUR, label="environment change")]

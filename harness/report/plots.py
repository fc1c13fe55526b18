"""The report's plots: throughput, latency and availability over the whole run, and a close-up of
each failover.

The whole-run figures share one time axis (run time: seconds since the load started) and have one panel
per load driver: their rates differ by orders of magnitude, so one axis would flatten the probe
to zero. Fault windows are shaded and labelled, primary and role changes drawn as vertical
lines. On an hour-long run a three-second failover is a hairline, so each fault also gets a
close-up panel of the probe's outcomes around it. Figures use the object API on the Agg canvas:
no pyplot state is shared between reports.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import EngFormatter, MaxNLocator

from harness.report.rundata import FaultWindow, RunData

DPI = 100
WIDTH_IN = 12.0
PANEL_IN = 2.3
TOP_IN, BOTTOM_IN, GAP_IN, LEFT_IN, RIGHT_IN = 0.75, 0.5, 0.42, 0.7, 0.1
FAULT_COLOUR = "#d62728"
PRIMARY_COLOUR = "#6a3d9a"
ROLE_COLOUR = "#7f7f7f"
UNKNOWN_COLOUR = "#ff7f0e"
OK_COLOUR = "#2ca02c"
LOST_COLOURS = ("#000000", "#8c564b", "#e377c2", "#17becf")  # one per acknowledging pod
MAX_LABELLED_FAULTS = 12
MAX_LABELLED_MARKERS = 12
MAX_CLOSEUPS = 9
CLOSEUP_COLUMNS = 3
CLOSEUP_BEFORE_S, CLOSEUP_AFTER_S = 5.0, 10.0
DRIVER_TITLES = {"probe": "probe (checked writes)", "locust": "Locust", "redis-benchmark": "redis-benchmark",
                 "openloop": "open-loop generator (latency from due time)"}
OUTCOMES = (("ok", OK_COLOUR, "ok (acknowledged)"), ("fail", FAULT_COLOUR, "fail (refused)"),
            ("info", UNKNOWN_COLOUR, "info (unknown outcome)"))
UNAVAILABLE: dict[str, Any] = {"fill": False, "hatch": "///", "edgecolor": "#444444", "lw": 0.8}
LABEL_BOX: dict[str, Any] = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75}


def write_plots(run: RunData, out_dir: Path) -> dict[str, Path]:
    """Write plots/<name>.png for each plot there is data for; returns name -> path, in reading order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, build in (("throughput", throughput_figure), ("latency", latency_figure),
                        ("availability", availability_figure), ("failover", failover_figure)):
        figure = build(run)
        path = out_dir / f"{name}.png"
        if figure is None:
            path.unlink(missing_ok=True)  # a rebuilt report must not show a plot from an earlier build
            continue
        FigureCanvasAgg(figure).print_png(str(path))
        written[name] = path
    return written


def throughput_figure(run: RunData) -> Figure | None:
    if not run.series:
        return None
    fig, axes = _panels(len(run.series), "Throughput: acknowledged operations per second")
    for ax, (driver, table) in zip(axes, run.series.items()):
        ax.step(*_steps(table, "ok"), where="post", color="#1f77b4", lw=1.2, label="acknowledged")
        if table["fail"].any():
            t, fail = _steps(table, "fail")
            ax.step(t, np.where(fail > 0, fail, np.nan), where="post", color=FAULT_COLOUR, lw=0.9, label="refused")
        top = max(table["ok"].max(), table["fail"].max())
        if driver == "probe":
            top = max(top, _draw_lost(ax, run))
        _headroom(ax, top)
        _panel_labels(ax, driver, "ops/s")
        ax.yaxis.set_major_formatter(EngFormatter(sep=""))
    return _finish(fig, axes, run)


def latency_figure(run: RunData) -> Figure | None:
    tables = {d: t for d, t in run.series.items() if t["p50_ms"].notna().any()}
    if not tables:
        return None
    fig, axes = _panels(len(tables), "Latency per second (log scale): p50, p99 and max")
    for ax, (driver, table) in zip(axes, tables.items()):
        for column, colour, label in (("max_ms", "#bbbbbb", "max"), ("p99_ms", UNKNOWN_COLOUR, "p99"),
                                      ("p50_ms", "#1f77b4", "p50")):
            t, values = _steps(table, column)
            ax.step(t, np.where(values > 0, values, np.nan), where="post", color=colour, lw=1.1, label=label)
        ax.set_yscale("log")
        _headroom(ax, table[["p50_ms", "p99_ms", "max_ms"]].max().max(), log=True)
        ax.yaxis.set_major_formatter(EngFormatter(unit="", sep=""))
        _panel_labels(ax, driver, "ms")
    return _finish(fig, axes, run)


def availability_figure(run: RunData) -> Figure | None:
    """The probe's outcomes per second: the operations that define unavailability."""
    table, source = _availability_source(run)
    if table is None:
        return None
    fig, axes = _panels(1, f"Availability: {source} operations per second by outcome", panel_in=2.8)
    ax = axes[0]
    top = _stack_outcomes(ax, table)
    if source == "probe":
        top = max(top, _draw_lost(ax, run))
    _headroom(ax, top)
    for failover in _failovers(run):
        ax.axvspan(failover["unavailable_start_s"], failover["unavailable_end_s"], **UNAVAILABLE)
        ax.annotate(f"unavailable {failover['unavailable_s']:.2f} s", xy=(failover["unavailable_end_s"], 0.5),
                    xycoords=("data", "axes fraction"), xytext=(4, 0), textcoords="offset points", fontsize=8,
                    va="center", color="#333333")
    _panel_labels(ax, source, "ops/s")
    return _finish(fig, axes, run, [Patch(label="unavailable", **UNAVAILABLE)])


def failover_figure(run: RunData) -> Figure | None:
    """One close-up per fault: the probe's outcomes from just before the fault to after recovery."""
    table, source = _availability_source(run)
    if table is None or not run.faults:
        return None
    faults = run.faults[:MAX_CLOSEUPS]
    columns = min(len(faults), CLOSEUP_COLUMNS)
    rows = math.ceil(len(faults) / columns)
    height = TOP_IN + BOTTOM_IN + 2.2 * rows + 0.35 * (rows - 1)
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    fig.subplots_adjust(left=LEFT_IN / WIDTH_IN, right=1 - RIGHT_IN / WIDTH_IN, top=1 - TOP_IN / height,
                        bottom=BOTTOM_IN / height, hspace=0.55, wspace=0.18)
    shown = "" if len(run.faults) <= MAX_CLOSEUPS else f" (first {MAX_CLOSEUPS} of {len(run.faults)})"
    fig.suptitle(f"Failover close-ups: {source} ops/s around each fault{shown}", fontsize=13,
                 fontweight="bold", x=0.01, ha="left")
    failovers = {str(f.get("fault_id")): f for f in _failovers(run)}
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, fault in zip(axes, faults):
        _closeup(ax, run, table, fault, failovers.get(fault.fault_id))
    for ax in axes[len(faults):]:
        ax.set_visible(False)
    for ax in axes[(rows - 1) * columns:]:
        ax.set_xlabel("time since load start (s)", fontsize=9)
    handles: list[Artist] = [Patch(color=c, alpha=0.85, label=column) for column, c, _ in OUTCOMES]
    handles += [Patch(label="unavailable", **UNAVAILABLE), Patch(color=FAULT_COLOUR, alpha=0.25, label="fault"),
                Line2D([], [], color="#1f77b4", ls="-.", label="detected"),
                Line2D([], [], color=PRIMARY_COLOUR, ls="--", label="promoted")]
    fig.legend(handles=handles, loc="upper right", ncol=len(handles), fontsize=8.5, frameon=False,
               bbox_to_anchor=(1 - RIGHT_IN / WIDTH_IN, 1 - 0.08 / height), handlelength=1.6, columnspacing=1.1)
    return fig


def _closeup(ax: Axes, run: RunData, table: pd.DataFrame, fault: FaultWindow,
             failover: dict[str, Any] | None) -> None:
    _style(ax)
    recovered = failover["unavailable_end_s"] if failover else fault.start_s
    stop = fault.end_s if fault.end_s is not None else run.end_s
    left = max(fault.start_s - CLOSEUP_BEFORE_S, 0.0)
    right = min(max(recovered, fault.start_s) + CLOSEUP_AFTER_S, run.end_s)
    window = table[(table["t_s"] >= math.floor(left)) & (table["t_s"] < right)]
    if len(window):
        _headroom(ax, _stack_outcomes(ax, window), factor=1.15)
    ax.axvspan(fault.start_s, stop, color=FAULT_COLOUR, alpha=0.12, lw=0, zorder=0)
    title = fault.label
    if failover:
        ax.axvspan(failover["unavailable_start_s"], failover["unavailable_end_s"], **UNAVAILABLE)
        title += f": unavailable {failover['unavailable_s']:.2f} s"
        for key, style in (("detected_s", "-."), ("promoted_s", "--")):
            if isinstance(failover.get(key), (int, float)):
                colour = PRIMARY_COLOUR if key == "promoted_s" else "#1f77b4"
                ax.axvline(fault.start_s + failover[key], color=colour, lw=1.2, ls=style)
    ax.set_title(title, loc="left", fontsize=9.5, color=FAULT_COLOUR if failover else "#333333")
    ax.set_xlim(left, right)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.set_ylabel("ops/s", fontsize=9)


def _failovers(run: RunData) -> list[dict[str, Any]]:
    """The summary's failover entries with an unavailability window; one that never recovered ends
    where the checker stopped counting (start + unavailable_s)."""
    found = []
    for f in (run.summary or {}).get("failover") or []:
        if not isinstance(f, dict) or not all(isinstance(f.get(k), (int, float))
                                              for k in ("unavailable_start_s", "unavailable_s")):
            continue
        end = f.get("unavailable_end_s")
        found.append({**f, "unavailable_end_s": end if isinstance(end, (int, float))
                      else f["unavailable_start_s"] + f["unavailable_s"]})
    return found


def _availability_source(run: RunData) -> tuple[pd.DataFrame | None, str]:
    if "probe" in run.series and len(run.series["probe"]):
        return run.series["probe"], "probe"
    if not run.series:
        return None, ""
    combined = pd.concat(run.series.values()).groupby("t_s")[["ok", "fail", "info"]].sum().reset_index()
    return combined, "all drivers'"


def _draw_lost(ax: Axes, run: RunData) -> float:
    """Acknowledged-then-lost writes per second, one series per pod that acknowledged them, so a split
    brain shows where it happened (not only as a count); returns the highest value drawn."""
    if run.lost is None:
        return 0.0
    top = 0.0
    for i, (pod, rows) in enumerate(run.lost.groupby("pod", sort=True)):
        per_second = rows.groupby("t_s")["lost"].sum()
        seconds = np.arange(int(per_second.index.min()) - 1, int(per_second.index.max()) + 2)
        values = per_second.reindex(seconds, fill_value=0).to_numpy(dtype=float)
        ax.step(np.append(seconds, seconds[-1] + 1), np.append(values, values[-1]), where="post",
                color=LOST_COLOURS[i % len(LOST_COLOURS)], lw=1.6, label=f"acknowledged, later lost ({pod})")
        top = max(top, float(values.max()))
    return top


def _stack_outcomes(ax: Axes, table: pd.DataFrame) -> float:
    """ok, fail and info stacked per second; returns the top of the stack."""
    bottom = np.zeros(len(table) + 1)
    for column, colour, label in OUTCOMES:
        t, values = _steps(table, column)
        ax.fill_between(t, bottom, bottom + values, step="post", color=colour, alpha=0.85, lw=0, label=label)
        bottom = bottom + values
    return float(bottom.max())


# --------------------------------------------------------------------------- shared layout


def _steps(table: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """x and y for a post-step line whose last second is drawn to its end, t_s + 1."""
    t = table["t_s"].to_numpy(dtype=float)
    values = table[column].to_numpy(dtype=float)
    return np.append(t, t[-1] + 1), np.append(values, values[-1])


def _panels(n: int, title: str, panel_in: float = PANEL_IN) -> tuple[Figure, list[Axes]]:
    height = TOP_IN + BOTTOM_IN + panel_in * n
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    # A fixed layout, in inches: constrained layout costs a fifth of the drawing time.
    axes_in = (height - TOP_IN - BOTTOM_IN - GAP_IN * (n - 1)) / n
    fig.subplots_adjust(left=LEFT_IN / WIDTH_IN, right=1 - RIGHT_IN / WIDTH_IN, top=1 - TOP_IN / height,
                        bottom=BOTTOM_IN / height, hspace=GAP_IN / axes_in)
    axes = list(fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0])
    fig.suptitle(title, fontsize=13, fontweight="bold", x=0.01, ha="left")
    for ax in axes:
        _style(ax)
    return fig, axes


def _style(ax: Axes) -> None:
    ax.grid(True, axis="both", color="#e5e5e5", lw=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _panel_labels(ax: Axes, driver: str, unit: str) -> None:
    ax.set_title(DRIVER_TITLES.get(driver, driver), loc="left", fontsize=10)
    ax.set_ylabel(unit, fontsize=9)


def _headroom(ax: Axes, top: float, log: bool = False, factor: float = 1.35) -> None:
    """Room above the data for the fault and primary-change labels."""
    if not np.isfinite(top) or top <= 0:
        return
    if log:
        ax.set_ylim(top=top * 12)
    else:
        ax.set_ylim(0, top * factor)


def _finish(fig: Figure, axes: list[Axes], run: RunData, extra: list | None = None) -> Figure:
    end = run.end_s
    for i, ax in enumerate(axes):
        labels = _Labels(ax, end) if i == 0 else None
        _shade_faults(ax, run, end, labels)
        _mark_changes(ax, run, labels)
    axes[-1].set_xlim(0, end)
    axes[-1].set_xlabel("time since load start (s)", fontsize=9)
    lines: dict[str, Any] = {}
    for ax in axes:  # one legend for the figure: every panel draws the same kinds of line
        for handle, label in zip(*ax.get_legend_handles_labels()):
            lines.setdefault(label, handle)
    _figure_legend(fig, list(lines.values()) + (extra or []) + _marker_handles(run), axes[0])
    return fig


def _figure_legend(fig: Figure, handles: list, first: Axes) -> None:
    """Right-aligned, on the row of the first panel's title (which is left-aligned), below the figure title."""
    top = first.get_position().y1
    fig.legend(handles=handles, loc="lower right", ncol=len(handles), fontsize=8.5, frameon=False,
               bbox_to_anchor=(1 - RIGHT_IN / WIDTH_IN, top), borderaxespad=0.1, handlelength=1.6,
               columnspacing=1.1)


def _shade_faults(ax: Axes, run: RunData, end: float, labels: _Labels | None) -> None:
    for fault in run.faults:
        stop = fault.end_s if fault.end_s is not None else end
        ax.axvspan(fault.start_s, stop, color=FAULT_COLOUR, alpha=0.12, lw=0, zorder=0)
        ax.axvline(fault.start_s, color=FAULT_COLOUR, lw=0.8, alpha=0.6)
        if labels is not None and len(run.faults) <= MAX_LABELLED_FAULTS:
            text = fault.label + ("" if fault.end_s is not None else " (not ended)")
            labels.add(fault.start_s, text, color=FAULT_COLOUR, fontweight="bold")


def _mark_changes(ax: Axes, run: RunData, labels: _Labels | None) -> None:
    primary = [m for m in run.markers if m.kind == "primary-change"]
    for marker in run.markers:
        if marker.kind == "role-change":
            ax.axvline(marker.t, color=ROLE_COLOUR, lw=0.7, ls=":")
    for marker in primary:
        ax.axvline(marker.t, color=PRIMARY_COLOUR, lw=1.2, ls="--")
        if labels is not None and len(primary) <= MAX_LABELLED_MARKERS:
            labels.add(marker.t, marker.label, color=PRIMARY_COLOUR)


class _Labels:
    """Labels beside vertical lines, stacked in rows from the top so that none overlaps another.

    A label goes right of its line, or left of it where it would run off the plot, in the first
    row where its (estimated) extent is free.
    """

    ROW = 0.1  # axes fraction
    CHAR_PX = 5.4  # width of one character at 8 pt, about

    def __init__(self, ax: Axes, end: float):
        self.ax, self.end = ax, end
        self.per_px = end / ((WIDTH_IN - LEFT_IN - RIGHT_IN) * DPI)
        self.rows: list[list[tuple[float, float]]] = []

    def add(self, t: float, text: str, **style: Any) -> None:
        width = (len(text) * self.CHAR_PX + 8) * self.per_px
        left_side = t + width > self.end
        span = (t - width, t) if left_side else (t, t + width)
        row = next((i for i, taken in enumerate(self.rows) if all(span[1] <= a or span[0] >= b for a, b in taken)),
                   len(self.rows))
        if row == len(self.rows):
            self.rows.append([])
        self.rows[row].append(span)
        self.ax.annotate(text, xy=(t, 1.0 - row * self.ROW), xycoords=("data", "axes fraction"),
                         xytext=(-3 if left_side else 3, -3), textcoords="offset points", fontsize=8, va="top",
                         ha="right" if left_side else "left", bbox=LABEL_BOX, **style)


def _marker_handles(run: RunData) -> list[Artist]:
    handles: list[Artist] = []
    if run.faults:
        handles.append(Patch(color=FAULT_COLOUR, alpha=0.25, label="fault window"))
    if any(m.kind == "primary-change" for m in run.markers):
        handles.append(Line2D([], [], color=PRIMARY_COLOUR, ls="--", label="primary change"))
    if any(m.kind == "role-change" for m in run.markers):
        handles.append(Line2D([], [], color=ROLE_COLOUR, ls=":", label="role change"))
    return handles

"""The capacity report: report.txt and report.html lead with the answers (summary.json's headline),
then the plots and the step table.

Plots (matplotlib object API on the Agg canvas, as harness/report/plots.py):
- hockey stick: p50 / p99 / p99.9 / max against achieved throughput, the knee and the SLO line marked
  (one panel per variant);
- offered vs achieved, with the y = x line (every variant on one chart);
- variants: p99 against achieved for every variant on one chart, the SLO line across.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter

from harness.rundir import RunDir
from harness.rundir.capacity import CapacityFiles

PERCENTILES = (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9"), ("max_ms", "max"))


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=100)
    return path


def hockey_stick(summary: dict[str, Any]) -> Figure | None:
    variants = [v for v in summary["variants"] if v.get("steps")]
    if not variants:
        return None
    figure = Figure(figsize=(6.5 * min(len(variants), 3), 4.6 * ((len(variants) + 2) // 3)), layout="constrained")
    slo = summary["slo_p99_ms"]
    for i, v in enumerate(variants):
        ax = figure.add_subplot((len(variants) + 2) // 3, min(len(variants), 3), i + 1)
        steps = [s for s in v["steps"] if s.get("p99_ms") is not None]
        x = [s["achieved_rate"] for s in steps]
        for key, label in PERCENTILES:
            ax.plot(x, [s[key] for s in steps], marker="o", ms=3, label=label)
        sat = [s for s in steps if s.get("generator_saturated")]
        if sat:
            ax.scatter([s["achieved_rate"] for s in sat], [s["p99_ms"] for s in sat], marker="x", s=60, c="k",
                       zorder=5, label="generator saturated")
        ax.axhline(slo, color="#d62728", ls="--", lw=1, label=f"SLO p99 {slo:g} ms")
        knee = (v.get("answers") or {}).get("knee")
        if knee:
            ax.axvline(knee["achieved_rate"], color="#6a3d9a", ls=":", lw=1.2,
                       label=f"knee {knee['achieved_rate']:,.0f}/s" + ("" if knee["found"] else " (not reached)"))
        ax.set_yscale("log")
        ax.set_xlabel("achieved ops/s")
        ax.set_ylabel("latency from intended send (ms)")
        ax.xaxis.set_major_formatter(EngFormatter())
        ax.set_title(f"{v['name']} {v.get('version') or ''}".strip())
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    return figure


def offered_achieved(summary: dict[str, Any]) -> Figure | None:
    variants = [v for v in summary["variants"] if v.get("steps")]
    if not variants:
        return None
    figure = Figure(figsize=(6.5, 4.6), layout="constrained")
    ax = figure.add_subplot()
    top = 0.0
    for v in variants:
        x = [s["offered_rate"] for s in v["steps"]]
        ax.plot(x, [s["achieved_rate"] for s in v["steps"]], marker="o", ms=3, label=v["name"])
        top = max(top, *x)
    ax.plot([0, top], [0, top], color="#7f7f7f", ls="--", lw=1, label="achieved = offered")
    ax.set_xlabel("offered ops/s")
    ax.set_ylabel("achieved ops/s")
    ax.xaxis.set_major_formatter(EngFormatter())
    ax.yaxis.set_major_formatter(EngFormatter())
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("offered vs achieved")
    return figure


def variants_chart(summary: dict[str, Any]) -> Figure | None:
    variants = [v for v in summary["variants"] if v.get("steps")]
    if len(variants) < 2:
        return None
    figure = Figure(figsize=(6.5, 4.6), layout="constrained")
    ax = figure.add_subplot()
    for v in variants:
        steps = [s for s in v["steps"] if s.get("p99_ms") is not None]
        ax.plot([s["achieved_rate"] for s in steps], [s["p99_ms"] for s in steps], marker="o", ms=3,
                label=f"{v['name']} {v.get('version') or ''}".strip())
    ax.axhline(summary["slo_p99_ms"], color="#d62728", ls="--", lw=1, label="SLO")
    ax.set_yscale("log")
    ax.set_xlabel("achieved ops/s")
    ax.set_ylabel("p99 from intended send (ms)")
    ax.xaxis.set_major_formatter(EngFormatter())
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("p99 vs throughput, variants compared")
    return figure


def write_capacity_plots(summary: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, build in (("hockey-stick", hockey_stick), ("offered-achieved", offered_achieved),
                        ("variants", variants_chart)):
        figure = build(summary)
        path = out_dir / f"{name}.png"
        if figure is None:
            path.unlink(missing_ok=True)
            continue
        written[name] = _save(figure, path)
    return written


STEP_FIELDS = ("offered_rate", "achieved_rate", "p50_ms", "p99_ms", "p999_ms", "max_ms", "late", "dropped",
               "generator_cpu", "generator_busy", "server_cpu_s_per_s", "server_info_cpu_s_per_s", "server_wait_s_per_s",
               "server_ops_per_s", "used_memory")


def report_text(summary: dict[str, Any]) -> str:
    lines = [*summary["headline"], "",
             f"verdict: {summary['verdict']}; scenario {summary['scenario']}; SLO p99 <= {summary['slo_p99_ms']:g} ms"
             f"{'; PARTIAL: ' + str(summary.get('error')) if summary.get('partial') else ''}",
             "latency is measured from each request's intended send time (open loop); rules: "
             + "; ".join(f"{k}: {v}" for k, v in summary["rules"].items()), ""]
    for v in summary["variants"]:
        lines.append(f"variant {v['name']} ({v.get('server')}, {v.get('version')})")
        lines.append("  " + "  ".join(f"{f:>12}" for f in STEP_FIELDS))
        for s in v.get("steps", []):
            lines.append("  " + "  ".join(f"{_cell(s.get(f)):>12}" for f in STEP_FIELDS))
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None or value != value:  # NaN
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def report_html(summary: dict[str, Any], plots: dict[str, Path]) -> str:
    esc = html.escape
    head = "".join(f"<li>{esc(line)}</li>" for line in summary["headline"])
    images = "".join(f'<h2>{esc(name)}</h2><img alt="{esc(name)}" src="data:image/png;base64,'
                     f'{base64.b64encode(path.read_bytes()).decode()}">' for name, path in plots.items())
    tables = []
    for v in summary["variants"]:
        rows = "".join("<tr>" + "".join(f"<td>{esc(_cell(s.get(f)))}</td>" for f in STEP_FIELDS) + "</tr>"
                       for s in v.get("steps", []))
        tables.append(f"<h2>steps: {esc(v['name'])} ({esc(str(v.get('version')))})</h2><table><tr>"
                      + "".join(f"<th>{esc(f)}</th>" for f in STEP_FIELDS) + f"</tr>{rows}</table>")
    rules = "".join(f"<li><b>{esc(k)}</b>: {esc(v)}</li>" for k, v in summary["rules"].items())
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(str(summary['scenario']))} capacity"
            "</title><style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:right}"
            "table{border-collapse:collapse}tr:nth-child(even){background:#f3f3f3}</style></head><body>"
            f"<h1>{esc(str(summary['scenario']))}: capacity ({esc(summary['verdict'])})</h1><ul>{head}</ul>"
            f"<p>Latency from each request's intended send time (open loop). Rules:</p><ul>{rules}</ul>"
            f"{images}{''.join(tables)}</body></html>")


def build_capacity_report(run_path: str | Path) -> Path:
    run = RunDir(run_path)
    summary = json.loads(run.summary.read_text())
    plots = write_capacity_plots(summary, run.plots_dir)
    CapacityFiles(run.path).report_txt.write_text(report_text(summary))
    run.html.write_text(report_html(summary, plots))
    return run.html

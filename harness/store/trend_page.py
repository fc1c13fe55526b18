"""trend.html: the nights of each scenario on one self-contained page, for a CI artifact or Pages site.

Per key: the latest night's verdict (headline, flags, the table a pull-request comment gets),
then one chart per metric with every point linked to its run's report (an image map over the
inlined PNG), then the runs. Like report.html it has no external reference, so it reads the
same from a laptop, an artifact or a static site. Links to reports are relative to the page
when the run directories are kept beside it, absolute file paths otherwise.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from harness.report.compare import REGRESSED
from harness.report.html import PAGES
from harness.report.metrics import format_number, sort_key
from harness.store import verdict_report
from harness.store.trend_plots import Chart, metric_chart
from harness.store.trends import Trend

MAX_RUN_ROWS = 200  # the runs table shows the latest; the charts show all


def write_trend_page(trends: list[Trend], out_dir: Path) -> Path:
    """Write out_dir/trend.html (and nothing else: the charts are inside); return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "trend.html"
    sections = [_section(trend, out_dir) for trend in trends]
    regressed = any(t.latest.regressed for t in trends)
    path.write_text(_TEMPLATE.render(sections=sections, regressed=regressed), encoding="utf-8")
    return path


def _section(trend: Trend, out_dir: Path) -> dict:
    links = {row.run_id: _link(row.report, out_dir) for row in trend.runs.itertuples()}
    charts = [c for c in (metric_chart(trend, name) for name in sorted(trend.values.columns, key=sort_key)) if c]
    latest = trend.latest
    rows = trend.runs.tail(MAX_RUN_ROWS).iloc[::-1]
    verdict_by_batch = {v.batch: v for v in trend.verdicts}
    return {
        "key": trend.key, "scenario": trend.scenario, "headline": verdict_report.headline(latest),
        "regressed": latest.regressed, "flags": verdict_report.flags(latest),
        "method": verdict_report.method_note(latest),
        "columns": verdict_report.COLUMNS,
        "table": [(m.verdict == REGRESSED, verdict_report.cells(m)) for m in latest.metrics],
        "charts": [_chart(c, links) for c in charts],
        "changes": [(when.strftime("%Y-%m-%d %H:%M"), "; ".join(what)) for when, what in trend.environment_changes()],
        "runs": [{"id": r.run_id, "link": links[r.run_id], "started": r.started.strftime("%Y-%m-%d %H:%M"),
                  "batch": r.batch, "verdict": r.verdict or "?", "servers": r.server_versions,
                  "night": "REGRESSED" if verdict_by_batch.get(r.batch) and verdict_by_batch[r.batch].regressed
                  else "", "flag": r.saturated or ("partial" if r.partial else ""),
                  "throughput": _value(trend, r.id, "throughput.baseline")}
                 for r in rows.itertuples()],
        "shown_runs": len(rows), "all_runs": len(trend.runs),
    }


def _value(trend: Trend, run: int, name: str) -> str:
    if name not in trend.values or run not in trend.values.index:
        return "-"
    value = trend.values.at[run, name]
    return "-" if value != value else format_number(float(value))  # NaN: the run lacks it


def _chart(chart: Chart, links: dict[str, str | None]) -> dict:
    return {"name": chart.name, "uri": "data:image/png;base64," + base64.b64encode(chart.png).decode("ascii"),
            "width": chart.width, "height": chart.height,
            "areas": [{"x": a.x, "y": a.y, "title": a.title, "href": links.get(a.run_id)} for a in chart.areas]}


def _link(report: str | None, out_dir: Path) -> str | None:
    if not isinstance(report, str) or not Path(report).is_file():
        return None
    try:
        return os.path.relpath(report, out_dir.resolve())
    except ValueError:  # another drive (Windows): an absolute link
        return Path(report).as_uri()


_TEMPLATE = PAGES.from_string("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ "REGRESSION" if regressed else "No regression" }} · trends · redis-harness</title>
<style>
  :root { --pass: #1a7f37; --fail: #cf222e; --warn: #9a6700; --muted: #57606a; --line: #d0d7de; }
  body { font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; color: #1f2328;
         margin: 0; background: #f6f8fa; }
  main { max-width: 1240px; margin: 0 auto; padding: 20px 24px 40px; background: #fff; }
  h1 { font-size: 24px; margin: 0 0 6px; }
  h2 { font-size: 19px; margin: 34px 0 6px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
  .sub { color: var(--muted); font-size: 13px; }
  .verdict { display: inline-block; color: #fff; font-weight: 700; padding: 4px 12px; border-radius: 5px; }
  .verdict.ok { background: var(--pass); } .verdict.bad { background: var(--fail); }
  .flag { background: #fff8c5; border: 1px solid #d4a72c; padding: 6px 10px; border-radius: 5px; margin: 6px 0; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eaeef2; }
  th { background: #f6f8fa; font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  tr.regressed td { background: #ffebe9; font-weight: 600; }
  figure { margin: 14px 0; } img { max-width: 100%; height: auto; }
</style>
</head>
<body>
<main>
<h1>Nightly trends</h1>
<p class="sub">One section per scenario key (scenario | topology hash | platform). Each night is judged against the
median of the nights before it; points link to their run's report where the run directory was kept.</p>
{% for s in sections %}
<section id="{{ s.key }}">
<h2>{{ s.scenario }} <span class="sub">{{ s.key }}</span></h2>
<p><span class="verdict {{ 'bad' if s.regressed else 'ok' }}">{{ s.headline }}</span></p>
{% for f in s.flags %}<div class="flag">{{ f }}</div>{% endfor %}
<p class="sub">{{ s.method }}</p>
<table>
<tr>{% for c in s.columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for regressed, cells in s.table %}
<tr{% if regressed %} class="regressed"{% endif %}>{% for c in cells %}<td{% if loop.index in (2, 3, 4, 5, 6, 7) %} class="num"{% endif %}>{{ c }}</td>{% endfor %}</tr>
{% endfor %}
</table>
{% if s.changes %}
<p><strong>Environment changes:</strong></p>
<ul>{% for when, what in s.changes %}<li>{{ when }}: {{ what }}</li>{% endfor %}</ul>
{% endif %}
{% for c in s.charts %}
<figure>
<img src="{{ c.uri }}" width="{{ c.width }}" height="{{ c.height }}" alt="{{ c.name }} over time" usemap="#map-{{ loop.index }}-{{ s.key }}">
<map name="map-{{ loop.index }}-{{ s.key }}">
{% for a in c.areas %}<area shape="circle" coords="{{ a.x }},{{ a.y }},5"{% if a.href %} href="{{ a.href }}"{% endif %} title="{{ a.title }}" alt="{{ a.title }}">
{% endfor %}
</map>
</figure>
{% endfor %}
<h3>Runs{% if s.shown_runs < s.all_runs %} (latest {{ s.shown_runs }} of {{ s.all_runs }}){% endif %}</h3>
<table>
<tr><th>started (UTC)</th><th>run</th><th>batch</th><th>run verdict</th><th>night</th><th>throughput ops/s</th><th>servers</th><th>flag</th></tr>
{% for r in s.runs %}
<tr><td>{{ r.started }}</td><td>{% if r.link %}<a href="{{ r.link }}">{{ r.id }}</a>{% else %}{{ r.id }}{% endif %}</td>
<td>{{ r.batch }}</td><td>{{ r.verdict }}</td><td>{{ r.night }}</td><td class="num">{{ r.throughput }}</td>
<td>{{ r.servers }}</td><td>{{ r.flag }}</td></tr>
{% endfor %}
</table>
</section>
{% endfor %}
</main>
</body>
</html>
""")

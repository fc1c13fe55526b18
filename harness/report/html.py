"""report.html: the page people open from a CI artifact, one self-contained file.

Headline first (verdict and the three numbers that matter: throughput, failover time, lost
writes), then the plots, then the tables behind them. Plots are inlined as data URIs and the
page has no external reference, so it reads the same from a laptop, a CI artifact or an email.
"""

from __future__ import annotations

import base64
import csv
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2

from harness.report.drill_section import COLUMNS as DRILL_COLUMNS
from harness.report.drill_section import drill_view
from harness.report.metrics import format_number
from harness.report.rundata import FaultWindow, RunData
from harness.rundir import TIMELINE_EVENT_TYPES, RunDir, headline_lines
from harness.rundir.summary import FAIL, NOT_EVALUATED, slo_status

LOST_SAMPLE_SHOWN = 20
CARD_LINES = 6
MAX_EVENTS = 2000  # rows of the events table; a long run with repeated faults has many more
PLOT_CAPTIONS = {
    "throughput": "Throughput per driver. Shaded: fault windows; dashed: primary changes; dotted: role changes.",
    "latency": "Latency per second on a log axis: p50, p99 and the slowest operation.",
    "availability": "The probe's operations per second by outcome; hatched: client-observed unavailability.",
    "failover": "Each fault up close: hatched is the unavailability window; the dash-dotted and dashed lines are "
                "when the servers detected the failure and promoted a new primary.",
}
VERDICTS = {
    "pass": ("PASS", "pass"), "fail": ("FAIL", "fail"), "incomplete": ("INCOMPLETE", "incomplete"),
}


@dataclass(frozen=True)
class Card:
    title: str
    value: str
    detail: list[str]
    tone: str = ""  # "", "good", "bad"


def write_html(run: RunData, plots: dict[str, Path], path: Path) -> None:
    path.write_text(render_html(run, plots), encoding="utf-8")


def render_html(run: RunData, plots: dict[str, Path]) -> str:
    summary = run.summary or {}
    verdict_text, verdict_class = VERDICTS.get(str(summary.get("verdict")), ("UNKNOWN", "unknown"))
    return _TEMPLATE.render(
        run=run, summary=summary, scenario=str(summary.get("scenario") or run.meta.get("scenario") or "run"),
        verdict_text=verdict_text, verdict_class=verdict_class,
        started=_started(run), partial_detail=_partial_detail(run),
        throughput=_throughput_rows(summary), cards=_cards(run, summary), setup=_setup(run, summary),
        plots=[(name, PLOT_CAPTIONS.get(name, ""), _data_uri(p)) for name, p in plots.items()],
        failover=_failover_rows(run, summary), writes=summary.get("writes") or {}, reads=summary.get("reads") or {},
        lost=_lost_rows(run, summary), slos=_slo_rows(summary),
        events=_shown_events(_event_rows(run), run.events_count), notes=run.notes, degraded=_degraded(run, summary), fmt=format_number,
        benchmark=_benchmark_rows(run), failed_checks=headline_lines(summary, run.path),
        drill=drill_view(summary), drill_columns=DRILL_COLUMNS,
        replication_lag=summary.get("replication_lag") or {},
    )


def _benchmark_rows(run: RunData) -> list[list[str]]:
    """redis-benchmark's own per-test summary (raw/redis-benchmark.csv), as it printed it."""
    path = RunDir(run.path).raw_dir / "redis-benchmark.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = ("rps", "avg_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms")
    return [[r["test"], *[format_number(float(r[c])) if r.get(c) else "" for c in columns],
             "aborted: " + (r.get("detail") or "") if r.get("aborted") == "True" else "complete"] for r in rows]


# --------------------------------------------------------------------------- headline


def _started(run: RunData) -> str:
    """When the run began (before its deploy), and how long deploy and readiness took when known."""
    wall = run.meta.get("run_start_wall", run.meta.get("start_wall"))
    if not isinstance(wall, (int, float)):
        return ""
    text = datetime.fromtimestamp(wall, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    deploy = run.meta.get("deploy_s")
    return text + (f" · deployed and ready in {deploy:.1f} s; time 0 is the load's start"
                   if isinstance(deploy, (int, float)) else "")


def _partial_detail(run: RunData) -> str:
    if not run.partial:
        return ""
    planned = run.meta.get("duration_s") or run.planned_duration_s
    got = f"data ends at {run.end_s:.1f} s" + (f" of a planned {float(planned):g} s" if planned else "")
    return (f"The run did not finish (status: {run.meta.get('status', 'unknown')}); {got}. "
            "Every number below covers only what was recorded before it stopped.")


def _throughput_rows(summary: dict[str, Any]) -> list[list[str]]:
    throughput = summary.get("throughput") or {}
    keys = ("baseline_ops_per_s", "during_fault_ops_per_s", "recovered_ops_per_s")
    by_driver = {d: n for d, n in (throughput.get("by_driver") or {}).items() if isinstance(n, dict)}
    headline = throughput.get("driver")  # the checker's headline driver
    rows = [[driver + (" (headline)" if driver == headline else "")] + [format_number(numbers.get(k)) for k in keys]
            for driver, numbers in sorted(by_driver.items(), key=lambda kv: kv[0] != headline)]
    if throughput and not by_driver:
        rows.append(["headline"] + [format_number(throughput.get(k)) for k in keys])
    return rows


def _cards(run: RunData, summary: dict[str, Any]) -> list[Card]:
    if not summary:
        return []
    return [_failover_card(run, summary), _lost_card(summary), _latency_card(summary), _slo_card(summary)]


def _failover_card(run: RunData, summary: dict[str, Any]) -> Card:
    failovers = [f for f in summary.get("failover") or [] if isinstance(f, dict)]
    if not failovers:
        return Card("Failover time", "-", ["no fault ended within the run" if run.faults else "no faults"])
    faults = {f.fault_id: f for f in run.faults}
    worst = max(float(f.get("unavailable_s") or 0) for f in failovers)
    lines = [f"{_fault_name(faults.get(str(f.get('fault_id'))), f.get('fault_id'))}: "
             f"{_seconds(f.get('unavailable_s'))}{_not_recovered(f)}" for f in failovers[:CARD_LINES]]
    if len(failovers) > CARD_LINES:
        lines.append(f"... and {len(failovers) - CARD_LINES} more in the failover table")
    title = "Failover time (writes unavailable)" + (", worst" if len(failovers) > 1 else "")
    return Card(title, _seconds(worst), lines)


def _not_recovered(failover: dict[str, Any]) -> str:
    stuck = failover.get("unavailable_start_s") is not None and failover.get("unavailable_end_s") is None
    return " (not recovered by the end)" if stuck else ""


def _lost_card(summary: dict[str, Any]) -> Card:
    writes = summary.get("writes") or {}
    lost, unchecked = writes.get("lost"), writes.get("unchecked") or 0
    detail = [f"of {format_number(writes.get('acknowledged'))} acknowledged writes",
              f"{format_number(writes.get('unknown'))} with unknown outcome (never counted lost)"]
    missed = (summary.get("reads") or {}).get("missed_acknowledged_write")
    if missed:
        detail.append(f"{format_number(missed)} reads missed an acknowledged write")
    if unchecked:
        detail.insert(1, f"{format_number(unchecked)} not checked: no final read of them")
    tone = "bad" if lost else ("good" if lost == 0 and not unchecked else "")
    return Card("Lost writes", format_number(lost), detail, tone)


def _latency_card(summary: dict[str, Any]) -> Card:
    latency = summary.get("latency_ms") or {}
    detail = [f"p50 {format_number(latency.get('p50'))} · p99.9 {format_number(latency.get('p999'))} · "
              f"max {format_number(latency.get('max'))} ms"]
    return Card("Latency p99", f"{format_number(latency.get('p99'))} ms", detail)


def _slo_card(summary: dict[str, Any]) -> Card:
    slos = [s for s in summary.get("slo") or [] if isinstance(s, dict)]
    if not slos:
        return Card("SLOs", "none", ["the scenario sets no SLOs"])
    failed = [str(s.get("name")) for s in slos if slo_status(s) == FAIL]
    unknown = [str(s.get("name")) for s in slos if slo_status(s) == NOT_EVALUATED]
    passed = len(slos) - len(failed) - len(unknown)
    detail = [f"failed: {', '.join(failed)}"] if failed else ([] if unknown else ["all met"])
    detail += [f"not evaluated: {', '.join(unknown)}"] if unknown else []
    return Card("SLOs met", f"{passed} of {len(slos)}", detail, "bad" if failed else ("" if unknown else "good"))


def _setup(run: RunData, summary: dict[str, Any]) -> list[tuple[str, str]]:
    topology = summary.get("topology") or run.meta.get("topology") or {}
    versions = summary.get("versions") or {p.get("name"): p.get("version") for p in run.meta.get("pods") or []
                                           if isinstance(p, dict)}
    counts: dict[str, int] = {}
    for version in versions.values():
        counts[str(version)] = counts.get(str(version), 0) + 1
    platform = summary.get("platform") or run.meta.get("platform") or "?"
    network = run.meta.get("network")
    return [
        ("topology", _topology_text(topology)),
        ("versions", ", ".join(f"{v} ({n} pod{'s' if n > 1 else ''})" for v, n in counts.items()) or "unknown"),
        ("platform", f"{platform}" + (f" (network: {network})" if network else "")),
        ("duration", _duration(summary.get("duration_s") or run.meta.get("ended_t") or run.end_s)),
        ("harness", str(run.meta.get("harness_version", "?"))),
    ]


def _topology_text(topology: dict[str, Any]) -> str:
    kind = topology.get("kind")
    persistence = (topology.get("persistence") or {}).get("mode")
    suffix = f"; persistence {persistence}" if persistence else ""
    if kind == "sentinel":
        return (f"sentinel: 1 primary + {topology.get('replicas')} replicas, {topology.get('sentinels')} sentinels "
                f"(quorum {topology.get('quorum')}, down-after {topology.get('down_after_ms')} ms){suffix}")
    if kind == "cluster":
        return (f"cluster: {topology.get('shards')} shards x (1 primary + {topology.get('replicas')} replicas), "
                f"node timeout {topology.get('cluster_node_timeout_ms')} ms{suffix}")
    if kind == "standalone":
        return f"standalone: 1 pod{suffix}"
    if kind == "naive":
        return f"naive: {topology.get('instances')} independent primaries behind one Service{suffix}"
    return "unknown"


# --------------------------------------------------------------------------- tables


def _failover_rows(run: RunData, summary: dict[str, Any]) -> list[list[str]]:
    by_id = {str(f.get("fault_id")): f for f in summary.get("failover") or [] if isinstance(f, dict)}
    rows = []
    for fault in run.faults:
        f = by_id.get(fault.fault_id, {})
        end = f.get("unavailable_end_s")
        recovered = _seconds(end) if end is not None else "not recovered"
        start = f.get("unavailable_start_s")
        window = f"{_seconds(start)} – {recovered}" if start is not None else "-"
        rows.append([fault.fault_id, fault.kind, fault.target or "-", _seconds(fault.start_s),
                     _seconds(fault.end_s) if fault.end_s is not None else "not ended",
                     _after(f.get("detected_s")), _after(f.get("promoted_s")), _seconds(f.get("unavailable_s")),
                     window, str(f.get("new_primary") or "-")])
    return rows


def _lost_rows(run: RunData, summary: dict[str, Any]) -> list[list[str]]:
    sample = [s for s in (summary.get("writes") or {}).get("lost_sample") or [] if isinstance(s, dict)]
    rows = []
    for item in sample[:LOST_SAMPLE_SHOWN]:
        acked = item.get("acked_s")
        rows.append([str(item.get("key")), _seconds(acked), _relative_to_fault(acked, run.faults)])
    return rows


def _relative_to_fault(t: Any, faults: list[FaultWindow]) -> str:
    if not isinstance(t, (int, float)) or not faults:
        return "-"
    nearest = min(faults, key=lambda f: abs(t - f.start_s))
    delta = t - nearest.start_s
    side = "before" if delta < 0 else "after"
    return f"{abs(delta):.3f} s {side} fault {nearest.fault_id} started"


def _slo_rows(summary: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for slo in summary.get("slo") or []:
        if not isinstance(slo, dict):
            continue
        name = str(slo.get("name"))
        bound = "≥" if name.startswith("min_") else "≤"
        status = slo_status(slo).replace("-", " ")  # an SLO that could not be evaluated did not fail
        rows.append({"name": name, "limit": f"{bound} {format_number(slo.get('limit'))}",
                     "value": format_number(slo.get("value")), "status": status})
    return rows


def _event_rows(run: RunData) -> list[list[str]]:
    shown = set(TIMELINE_EVENT_TYPES)
    skip = {"t", "wall", "source", "type"}
    return [[f"{e['t']:.3f}", str(e.get("source", "")), str(e.get("type", "")),
             " ".join(f"{k}={v}" for k, v in e.items() if k not in skip and v not in ("", None, {}))]
            for e in run.events if e.get("type") in shown]


def _shown_events(rows: list[list[str]], count: int) -> tuple[list[list[str]], str]:
    """`count`: how many there were when the checker's timeline kept only the first of them."""
    total = max(len(rows), count)
    if total <= MAX_EVENTS and len(rows) == total:
        return rows, f"{total} events"
    return rows[:MAX_EVENTS], f"first {min(len(rows), MAX_EVENTS)} of {total} events"


def _degraded(run: RunData, summary: dict[str, Any]) -> list[str]:
    items = list(summary.get("degraded") or []) + list(run.meta.get("degraded") or [])
    return list(dict.fromkeys(str(i) for i in items))


# --------------------------------------------------------------------------- small formats


def _seconds(value: Any) -> str:
    return f"{float(value):.2f} s" if isinstance(value, (int, float)) else "-"


def _duration(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    minutes = f" ({value / 60:.1f} min)" if value >= 120 else ""
    return f"{value:,.1f} s{minutes}"


def _after(value: Any) -> str:
    return f"+{float(value):.2f} s" if isinstance(value, (int, float)) else "-"


def _fault_name(fault: FaultWindow | None, fault_id: Any) -> str:
    return fault.label if fault else f"fault {fault_id}"


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


# The Jinja settings of every self-contained page (report.html, the store's trend.html).
PAGES = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
_TEMPLATE = PAGES.from_string("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ verdict_text }} · {{ scenario }} · redis-harness</title>
<style>
  :root { --pass: #1a7f37; --fail: #cf222e; --warn: #9a6700; --muted: #57606a; --line: #d0d7de; }
  * { box-sizing: border-box; }
  body { font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; color: #1f2328;
         margin: 0; background: #f6f8fa; }
  main { max-width: 1240px; margin: 0 auto; padding: 20px 24px 40px; background: #fff; }
  h1 { font-size: 24px; margin: 0; }
  h2 { font-size: 19px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
  .sub { color: var(--muted); font-size: 14px; }
  .partial { background: var(--warn); color: #fff; padding: 14px 18px; border-radius: 6px; margin-bottom: 16px;
             font-size: 16px; }
  .failed-checks { background: var(--fail); color: #fff; padding: 10px 18px; border-radius: 6px; margin: 12px 0;
                   font-weight: 600; }
  .partial strong { font-size: 22px; letter-spacing: 1px; margin-right: 10px; }
  header { display: flex; align-items: center; gap: 18px; margin-bottom: 16px; }
  .verdict { font-size: 26px; font-weight: 800; color: #fff; padding: 8px 20px; border-radius: 6px;
             letter-spacing: 1px; }
  .verdict.pass { background: var(--pass); } .verdict.fail { background: var(--fail); }
  .verdict.incomplete { background: var(--warn); } .verdict.unknown { background: #6e7781; }
  .headline { display: grid; grid-template-columns: 1.35fr 1fr 1fr; gap: 12px; }
  .card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
  .card h3 { margin: 0 0 4px; font-size: 13px; font-weight: 600; color: var(--muted); text-transform: uppercase;
             letter-spacing: .4px; }
  .card .value { font-size: 28px; font-weight: 700; }
  .card.good .value { color: var(--pass); } .card.bad .value { color: var(--fail); }
  .card .detail { color: var(--muted); font-size: 13px; }
  .throughput { grid-row: span 2; }
  table { border-collapse: collapse; width: 100%; font-size: 14px; }
  th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid #eaeef2; }
  th { background: #f6f8fa; font-weight: 600; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .card table td, .card table th { padding: 3px 6px; }
  .setup { margin-top: 12px; font-size: 14px; }
  .setup span { margin-right: 18px; } .setup b { color: var(--muted); font-weight: 600; }
  figure { margin: 0 0 18px; } figure img { width: 100%; height: auto; border: 1px solid #eaeef2; }
  figcaption { color: var(--muted); font-size: 13px; }
  .status-pass { color: var(--pass); font-weight: 700; } .status-fail { color: var(--fail); font-weight: 700; }
  .note { background: #fff8c5; border-left: 4px solid var(--warn); padding: 6px 10px; margin: 6px 0;
          font-size: 14px; }
  code { font: 13px ui-monospace, "DejaVu Sans Mono", monospace; }
  details summary { cursor: pointer; color: var(--muted); }
</style>
</head>
<body>
<main>
{% if run.partial %}
<div class="partial" id="partial"><strong>PARTIAL</strong>{{ partial_detail }}</div>
{% endif %}
<header>
  <div class="verdict {{ verdict_class }}">{{ verdict_text }}</div>
  <div>
    <h1>{{ scenario }}</h1>
    <div class="sub">run <code>{{ run.run_id }}</code>{% if started %} · started {{ started }}{% endif %}</div>
  </div>
</header>

{% if failed_checks %}<div class="failed-checks" id="failed-checks">
{% for line in failed_checks %}<div>{{ line }}</div>{% endfor %}
</div>{% endif %}
{% for note in notes.get("summary", []) %}<div class="note">{{ note }}</div>{% endfor %}
{% if drill %}
<section class="drill" id="drill">
  <h2>Upgrade drill: {{ drill.verdict | upper }}</h2>
  <p>{{ drill.line }}</p>
  {% for reason in drill.reasons %}<div class="failed-checks">{{ reason }}</div>{% endfor %}
  <table>
    <tr>{% for c in drill_columns %}<th>{{ c }}</th>{% endfor %}</tr>
    {% for row in drill.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>{% endfor %}
  </table>
  <p class="sub">Each step is shaded and labelled on the plots below (fault id <code>drill/step</code>).
  Unavailable: writes refused as the probe saw them during the step; lost: acknowledged writes missing at the
  end that were acknowledged before the step ended (and after the previous one); link down: how long each
  replica's link was not up; resync: what each replica's own log says it did.</p>
</section>
{% endif %}
{% if summary %}
<section class="headline">
  <div class="card throughput">
    <h3>Throughput (acknowledged ops/s)</h3>
    <table>
      <tr><th>driver</th><th class="num">baseline</th><th class="num">during faults</th>
          <th class="num">recovered</th></tr>
      {% for row in throughput %}
      <tr{% if loop.first %} style="font-weight:700"{% endif %}><td>{{ row[0] }}</td>
        <td class="num">{{ row[1] }}</td><td class="num">{{ row[2] }}</td><td class="num">{{ row[3] }}</td></tr>
      {% endfor %}
    </table>
  </div>
  {% for card in cards %}
  <div class="card {{ card.tone }}">
    <h3>{{ card.title }}</h3>
    <div class="value">{{ card.value }}</div>
    {% for line in card.detail %}<div class="detail">{{ line }}</div>{% endfor %}
  </div>
  {% endfor %}
</section>
{% endif %}
<div class="setup">{% for key, value in setup %}<span><b>{{ key }}</b> {{ value }}</span>{% endfor %}</div>

<h2>Over time</h2>
{% for note in notes.get("plots", []) + notes.get("events", []) %}<div class="note">{{ note }}</div>{% endfor %}
{% for name, caption, uri in plots %}
<figure><img alt="{{ name }} plot" src="{{ uri }}"><figcaption>{{ caption }}</figcaption></figure>
{% else %}
<p class="sub">No plots: there is no per-second data in this run directory.</p>
{% endfor %}

<h2>Failover</h2>
{% if failover %}
<table>
  <tr><th>fault</th><th>kind</th><th>target</th><th class="num">start</th><th class="num">end</th>
      <th class="num">detected</th><th class="num">promoted</th><th class="num">unavailable</th>
      <th class="num">unavailable window</th><th>new primary</th></tr>
  {% for row in failover %}
  <tr>{% for cell in row %}<td{% if loop.index in (4, 5, 6, 7, 8, 9) %} class="num"{% endif %}>{{ cell }}</td>
  {% endfor %}</tr>
  {% endfor %}
</table>
<p class="sub">Detected and promoted are measured from the fault's start (Sentinel <code>+odown</code> /
<code>+switch-master</code>, or Cluster flags); unavailable is what the probe saw: from the first failed or
timed-out write to the first acknowledged write after the last failure.</p>
{% else %}
<p class="sub">No faults in this run{% if not summary %} (or no summary to tell){% endif %}.</p>
{% endif %}

<h2>Lost writes</h2>
{% if writes %}
<p><b class="{{ 'status-fail' if writes.get('lost') else 'status-pass' }}">{{ fmt(writes.get("lost")) }} lost</b>
of {{ fmt(writes.get("acknowledged")) }} acknowledged writes ({{ fmt(writes.get("attempted")) }} attempted,
{{ fmt(writes.get("failed")) }} refused, {{ fmt(writes.get("unknown")) }} unknown outcome).
{% if writes.get("unchecked") %}<b>{{ fmt(writes.get("unchecked")) }} acknowledged writes were not checked</b>: they have
no row in final.csv (the run died before the final read, or their primary did not answer it), so they are
neither lost nor known present.{% endif %}
{% if writes.get("acknowledged_by_demoted_primary") %}{{ fmt(writes.get("acknowledged_by_demoted_primary")) }}
acknowledged by a primary that had already been demoted.{% endif %}
{% if writes.get("lost") and writes.get("lost_by_pod") %}Lost by the pod that acknowledged them:
{% for pod, n in writes.get("lost_by_pod").items() %}{{ pod or "?" }} {{ fmt(n) }}{{ ", " if not loop.last }}{% endfor %}.{% endif %}</p>
{% if reads and reads.get("missed_acknowledged_write") %}
<p><b class="status-fail">{{ fmt(reads.get("missed_acknowledged_write")) }} reads missed an acknowledged write</b>
of {{ fmt(reads.get("acknowledged")) }} acknowledged reads: the read found no value although the write of its key
had been acknowledged before it (answered by {% for pod, n in reads.get("missed_by_pod").items() %}{{ pod or "?" }}
{{ fmt(n) }}{{ ", " if not loop.last }}{% endfor %}).</p>
{% endif %}
{% if lost %}
<table>
  <tr><th>key</th><th class="num">acknowledged at</th><th>relative to the fault</th></tr>
  {% for row in lost %}<tr><td><code>{{ row[0] }}</code></td><td class="num">{{ row[1] }}</td><td>{{ row[2] }}</td></tr>
  {% endfor %}
</table>
{% if (writes.get("lost") or 0) > lost|length %}<p class="sub">First {{ lost|length }} of
{{ fmt(writes.get("lost")) }} lost keys shown.</p>{% endif %}
{% endif %}
{% else %}
<p class="sub">Unknown: no summary.json.</p>
{% endif %}

{% if benchmark %}
<h2>redis-benchmark</h2>
<table>
  <tr><th>test</th><th class="num">requests/s</th><th class="num">avg ms</th><th class="num">p50 ms</th>
      <th class="num">p95 ms</th><th class="num">p99 ms</th><th class="num">max ms</th><th>outcome</th></tr>
  {% for row in benchmark %}
  <tr>{% for cell in row %}<td{% if 1 <= loop.index0 <= 6 %} class="num"{% endif %}>{{ cell }}</td>{% endfor %}</tr>
  {% endfor %}
</table>
{% endif %}

{% if replication_lag %}
<h2>Replication lag</h2>
<table>
  <tr><th>replica</th><th class="num">max lag s</th><th class="num">max lag bytes</th><th class="num">samples</th>
      <th>reported by</th></tr>
  {% for replica, lag in replication_lag.items() %}
  <tr><td>{{ replica }}</td><td class="num">{{ fmt(lag.get("max_lag_s")) }}</td>
      <td class="num">{{ fmt(lag.get("max_lag_bytes")) }}</td><td class="num">{{ fmt(lag.get("samples")) }}</td>
      <td>{{ (lag.get("primaries") or [])|join(", ") }}</td></tr>
  {% endfor %}
</table>
<p class="sub">From each primary's redis_exporter sidecar, scraped every second during the run: lag s is
<code>redis_connected_slave_lag_seconds</code> (since the replica last acknowledged), lag bytes is
<code>redis_master_repl_offset</code> minus <code>redis_connected_slave_offset_bytes</code>.</p>
{% endif %}

<h2>SLOs</h2>
{% if slos %}
<table>
  <tr><th>SLO</th><th class="num">limit</th><th class="num">value</th><th>result</th></tr>
  {% for s in slos %}
  <tr><td>{{ s.name }}</td><td class="num">{{ s.limit }}</td><td class="num">{{ s.value }}</td>
      <td class="status-{{ s.status }}">{{ s.status }}</td></tr>
  {% endfor %}
</table>
{% else %}
<p class="sub">{% if summary %}The scenario sets no SLOs.{% else %}Not evaluated: no summary.json.{% endif %}</p>
{% endif %}

{% if degraded or notes.get("run") %}
<h2>What this run could not do</h2>
{% for item in degraded %}<div class="note">{{ item }}</div>{% endfor %}
{% for item in notes.get("run", []) %}<div class="note">{{ item }}</div>{% endfor %}
{% endif %}

<h2>Events</h2>
{% if events[0] %}
<details><summary>{{ events[1] }} (faults, Sentinel, role changes, run phases)</summary>
<table>
  <tr><th class="num">t (s)</th><th>source</th><th>type</th><th>detail</th></tr>
  {% for row in events[0] %}<tr><td class="num">{{ row[0] }}</td><td>{{ row[1] }}</td><td>{{ row[2] }}</td>
    <td><code>{{ row[3] }}</code></td></tr>{% endfor %}
</table>
</details>
{% else %}
<p class="sub">No events recorded.</p>
{% endif %}
<p class="sub">Generated by redis-harness from <code>{{ run.path.name }}</code>; all times are seconds since
the load started (deploy and readiness come before 0).</p>
</main>
</body>
</html>
""")

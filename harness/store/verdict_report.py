"""The latest nights' verdicts as people and CI read them: terminal text, a Markdown table for a
pull-request comment, JUnit XML, JSON, and the exit code (0 no regression, 1 a regression).

Every row says which method judged it and the noise it was judged against, so a reader can
tell "the change is real" from "this metric is too noisy to say".
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.report.compare import REGRESSED, format_change
from harness.report.metrics import format_number
from harness.store.verdicts import BOOTSTRAP, MANN_WHITNEY, NO_BASELINE, SATURATED, UNSTABLE, BatchVerdict, MetricVerdict

COLUMNS = ["metric", "baseline", "noise (CV)", "current", "change", "threshold", "MDE", "method", "evidence", "verdict"]
SKIPPED = {UNSTABLE, NO_BASELINE, SATURATED, "missing"}


def exit_code(verdicts: list[BatchVerdict]) -> int:
    return 1 if any(v.regressed for v in verdicts) else 0


def headline(v: BatchVerdict) -> str:
    if v.regressed:
        names = ", ".join(m.name for m in v.regressions)
        text = f"REGRESSION in {v.scenario} ({len(v.regressions)}): {names}"
    else:
        text = f"No regression in {v.scenario}"
    return text + f" (batch {v.batch}, {len(v.run_ids)} run{'s' if len(v.run_ids) != 1 else ''})"


def flags(v: BatchVerdict) -> list[str]:
    lines = []
    if v.environment_changes:
        lines.append("environment differs from the baseline's latest run: " + "; ".join(v.environment_changes))
    lines += [f"load generator saturated (throughput not judged): {s}" for s in v.saturated]
    lines += [f"machine busy during the run (numbers may be noisier): {b}" for b in v.busy]
    return lines


def method_note(v: BatchVerdict) -> str:
    methods = sorted({m.method for m in v.metrics if m.method})
    return ("Baseline: median of the previous nights' runs (window). Method per metric: "
            + (", ".join(methods) if methods else "none (not enough runs)")
            + f". {MANN_WHITNEY}: one-sided p <= 0.05 with >= 3 runs a side; {BOOTSTRAP}: 90% interval of the "
              "difference of medians entirely on one side. A change must also pass its threshold and the minimum "
              "detectable effect (MDE); noise above the threshold makes a metric unstable.")


def to_text(verdicts: list[BatchVerdict]) -> str:
    out = []
    for v in verdicts:
        rows = [COLUMNS] + [cells(m) for m in v.metrics]
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
        out += [headline(v), *("  ! " + f for f in flags(v))]
        for i, row in enumerate(rows):
            out.append("  ".join(c.ljust(w) if j in (0, 7, 8, 9) else c.rjust(w)
                                 for j, (c, w) in enumerate(zip(row, widths))).rstrip())
            if i == 0:
                out.append("  ".join("-" * w for w in widths))
        out.append("")
    return "\n".join(out)


def to_markdown(verdicts: list[BatchVerdict]) -> str:
    out = []
    for v in verdicts:
        out += [f"### {headline(v)}", ""]
        out += [f"> **{f}**" for f in flags(v)] + ([""] if flags(v) else [])
        out += [method_note(v), "", "| " + " | ".join(COLUMNS) + " |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"]
        for m in v.metrics:
            row = [c.replace("|", "\\|") for c in cells(m)]
            if m.verdict == REGRESSED:
                row[-1] = f"**{row[-1]}**"
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    return "\n".join(out)


def to_json(verdicts: list[BatchVerdict]) -> str:
    return json.dumps({"regressed": exit_code(verdicts) == 1, "series": [_as_dict(v) for v in verdicts]},
                      indent=2, default=str)


def write_junit(verdicts: list[BatchVerdict], path: Path) -> None:
    """One test suite per key, one test case per metric: regressed fails; unstable, no baseline,
    saturated and missing are skipped with the reason, so CI shows them as not judged."""
    suites = ET.Element("testsuites", name="redis-harness.trend")
    for v in verdicts:
        suite = ET.SubElement(suites, "testsuite", name=f"redis-harness.trend.{v.scenario}", tests=str(len(v.metrics)),
                              failures=str(len(v.regressions)), errors="0",
                              skipped=str(sum(m.verdict in SKIPPED for m in v.metrics)))
        props = ET.SubElement(suite, "properties")
        for name, value in (("key", v.key), ("batch", v.batch), ("runs", ", ".join(v.run_ids)),
                            *(("flag", f) for f in flags(v))):
            ET.SubElement(props, "property", name=name, value=str(value))
        for m in v.metrics:
            case = ET.SubElement(suite, "testcase", classname=f"redis-harness.trend.{v.scenario}", name=m.name,
                                 time="0")
            text = " ".join(f"{h}={c}" for h, c in zip(COLUMNS[1:], cells(m)[1:]))
            if m.verdict == REGRESSED:
                ET.SubElement(case, "failure", type="Regression",
                              message=f"{m.name}: {format_change(m.change)} vs baseline median").text = text
            elif m.verdict in SKIPPED:
                ET.SubElement(case, "skipped", message=f"{m.verdict}: {text}")
            ET.SubElement(case, "system-out").text = text
    for attr in ("tests", "failures", "skipped"):
        suites.set(attr, str(sum(int(s.get(attr, "0")) for s in suites)))
    tree = ET.ElementTree(suites)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _as_dict(v: BatchVerdict) -> dict[str, Any]:
    return {"key": v.key, "scenario": v.scenario, "batch": v.batch, "started": v.started.isoformat(),
            "runs": v.run_ids, "regressed": v.regressed, "flags": flags(v),
            "metrics": [asdict(m) for m in v.metrics]}


def cells(m: MetricVerdict) -> list[str]:
    unit = f" {m.unit}" if m.unit else ""
    base = "-" if m.baseline is None else f"{format_number(m.baseline)}{unit} (n={m.n_baseline})"
    current = "-" if m.current is None else f"{format_number(m.current)}{unit}" + (
        f" (n={m.n_current})" if m.n_current > 1 else "")
    allowed = f"{'-' if m.higher_is_better else '+'}{m.threshold:.0%}"
    return [m.name, base, _percent(m.noise), current, format_change(m.change), allowed, _percent(m.mde), m.method or "-",
            _evidence(m), m.verdict]


def _evidence(m: MetricVerdict) -> str:
    if m.p_value is not None:
        return f"p={m.p_value:.3f}"
    if m.interval is not None:
        lo, hi = m.interval
        if m.baseline:
            return f"[{lo:+.1%}, {hi:+.1%}]"
        return f"[{format_number(lo)}, {format_number(hi)}]"
    return ""


def _percent(value: float | None) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{value:.1%}"

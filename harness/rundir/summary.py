"""Reading summary.json for people: the lines the CLI and report.html lead with.

The checker writes summary.json (harness/checker/); whoever shows it (the CLI after a run, the
report) reads it through here, so they say the same thing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PASS, FAIL, NOT_EVALUATED = "pass", "fail", "not-evaluated"  # a check's status in summary.json


def slo_status(slo: dict[str, Any]) -> str:
    """An SLO's status; summaries written before SLOs had one carry only `pass` (None: not evaluated)."""
    passed = slo.get("pass")
    return str(slo.get("status") or (PASS if passed is True else FAIL if passed is False else NOT_EVALUATED))


def headline_lines(summary: dict[str, Any], run_dir: str | Path) -> list[str]:
    """One line per failed or unevaluated check, naming it and the log to read (an absolute path, so it
    can be opened from wherever the headline is read): the CLI and report.html lead with these."""
    lines = []
    for c in summary.get("checks") or []:
        if not isinstance(c, dict) or c.get("status") == PASS or c.get("name") == "run completed":
            continue
        where = f" (log: {Path(run_dir) / c['log']})" if c.get("log") else ""
        word = "FAILED" if c.get("status") == FAIL else "ALLOWED" if c.get("allowed") else "NOT EVALUATED"
        lines.append(f"{word} {c.get('name')}: {c.get('detail')}{where}")
    return lines

"""Was the load generator itself the bottleneck? A run whose generator saturated measured the
generator, not Redis, so its throughput is flagged and never judged as the server's.

Signals, from the run directory's own files (no new measurement):
- Locust's warning in raw/locust.log when its process passed 90% CPU ("CPU usage above 90%!",
  and at the end "CPU usage was too high");
- a summary field `saturated` (true, or a list of drivers) should the checker gain one;
- a `degraded` note in summary.json or meta.json that mentions saturation.
"""

from __future__ import annotations

from typing import Any

from harness.rundir import RunDir

LOCUST_WARNINGS = ("CPU usage above", "CPU usage was too high")


def saturation(run_dir: RunDir | None, summary: dict[str, Any], meta: dict[str, Any]) -> str | None:
    """Why the generator is deemed saturated, or None when nothing says so."""
    flagged = summary.get("saturated")
    if flagged:
        return f"summary: saturated {flagged}" if flagged is not True else "summary: saturated"
    for note in [*(summary.get("degraded") or []), *(meta.get("degraded") or [])]:
        if "saturat" in str(note).lower():
            return str(note)
    if run_dir is not None:
        log = run_dir.locust_log
        if log.is_file():
            with open(log, errors="replace") as f:
                for line in f:
                    for warning in LOCUST_WARNINGS:
                        if warning in line:
                            return "Locust: " + line[line.index(warning):].split("!", 1)[0].strip()
    return None

"""Recount a run's headline figures from its raw files with plain csv/json/re: no harness.checker code.

The known-outcome tests compare these with summary.json, so a checker bug cannot be confirmed by
the same code that made it. Definitions are docs/run-directory.md's and DESIGN.md's:
- an operation is an `invoke` row followed, for the same process, by its `ok` / `fail` / `info` row;
  an invoke never completed is a failure seen at its invoke time;
- unavailability window: from the invoke of the first failed or unknown write seen at or after
  the fault's start to the first acknowledged write completed after the last such failure;
- detection / promotion: the first sentinel log line `+sdown`/`+odown master ...` /
  `+switch-master` at or after the fault's start, in run seconds after it.
"""

from __future__ import annotations

import calendar
import csv
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

LOG_LINE = re.compile(r"^\d+:X (\d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2}\.\d{3}) [#*.-] ([+-][\w-]+) ?(.*)$")


@dataclass(frozen=True)
class Op:
    process: str
    f: str
    key: str
    pod: str
    outcome: str  # ok | fail | info | never (no completion row)
    invoke_ns: int
    complete_ns: int | None

    @property
    def seen_ns(self) -> int:
        return self.complete_ns if self.complete_ns is not None else self.invoke_ns


def operations(run_dir: Path) -> list[Op]:
    pending: dict[str, dict] = {}
    ops: list[Op] = []
    with open(run_dir / "history.csv") as f:
        for row in csv.DictReader(f):
            if row["type"] == "invoke":
                if row["process"] in pending:  # the previous one never completed
                    ops.append(_op(pending.pop(row["process"]), None))
                pending[row["process"]] = row
            elif row["process"] in pending:
                ops.append(_op(pending.pop(row["process"]), row))
    ops += [_op(row, None) for row in pending.values()]
    return ops


def _op(invoke: dict, done: dict | None) -> Op:
    return Op(invoke["process"], invoke["f"], invoke["key"], (done or invoke)["pod"],
              done["type"] if done else "never", int(invoke["t_ns"]), int(done["t_ns"]) if done else None)


def events(run_dir: Path, type_: str) -> list[dict]:
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e.get("type") == type_]


def unavailable_s(run_dir: Path, fault_start_s: float) -> float | None:
    """The window's length in seconds (None: no failed write after the fault, or never recovered)."""
    start_ns = int(round(fault_start_s * 1e9))
    writes = [op for op in operations(run_dir) if op.f == "write"]
    failed = sorted((op for op in writes if op.outcome != "ok" and op.seen_ns >= start_ns), key=lambda op: op.seen_ns)
    if not failed:
        return None
    after = [op.complete_ns for op in writes if op.outcome == "ok" and op.complete_ns > failed[-1].seen_ns]
    if not after:
        return None
    return round(min(after) / 1e9 - failed[0].invoke_ns / 1e9, 6)


def sentinel_log_lines(run_dir: Path) -> list[tuple[float, str, str]]:
    """(run seconds, event, detail) of every sentinel log line, earliest first."""
    meta = json.loads((run_dir / "meta.json").read_text())
    found = []
    for log in sorted((run_dir / "logs").glob("sentinel-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            match = LOG_LINE.match(line)
            if match:
                stamp = datetime.strptime(match.group(1), "%d %b %Y %H:%M:%S.%f")
                wall = calendar.timegm(stamp.timetuple()) + stamp.microsecond / 1e6 - meta["utc_offset_s"]
                found.append((wall - meta["start_wall"], match.group(2), match.group(3)))
    return sorted(found)


def logged_after(run_dir: Path, fault_start_s: float, wanted: tuple[str, ...], first_word: str = "") -> float | None:
    """Seconds from the fault's start to the first logged `wanted` event at or after it."""
    for t, event, detail in sentinel_log_lines(run_dir):
        if t >= fault_start_s and event in wanted and (not first_word or detail.split()[:1] == [first_word]):
            return round(t - fault_start_s, 6)
    return None


def acked_by_old_primary_after(run_dir: Path, old_primary: str, since_s: float) -> set[str]:
    """Keys whose write the old primary acknowledged after another pod was made primary."""
    since_ns = int(round(since_s * 1e9))
    return {op.key for op in operations(run_dir)
            if op.f == "write" and op.outcome == "ok" and op.pod == old_primary and op.complete_ns > since_ns}

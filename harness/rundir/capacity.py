"""A capacity run's files (meta.json `kind: capacity`), written as each step ends; the rest of its
directory (meta.json, scenario.yaml, summary.json, report.html, plots/) is RunDir's.

    capacity/steps.csv       one row per step and variant (generator and server figures)
    capacity/seconds.csv     per-second due / sent / ok / fail / late / dropped of every step
    capacity/hist/<variant>-<step>.hdr   each step's latency histogram (base64 HdrHistogram, us)
    capacity/memory.json     per variant: preload size, used_memory delta, MEMORY USAGE samples
    report.txt               the report as text, answers first
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

STEP_COLUMNS = ["variant", "step", "offered_rate", "achieved_rate", "offered", "sent", "ok", "errors", "unknown",
                "late", "dropped", "measured_s", "p50_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms",
                "generator_cpu", "generator_busy", "loop_lag_p99_ms", "generator_saturated", "generator_why", "reconnects",
                "server_cpu_s_per_s", "server_cpu_source", "server_info_cpu_s_per_s", "server_wait_s_per_s", "server_ops_per_s",
                "used_memory", "error_kinds"]
SECOND_COLUMNS = ["variant", "step", "t", "due", "sent", "ok", "fail", "late", "dropped"]


class CapacityFiles:
    def __init__(self, run_path: Path):
        self.dir = Path(run_path) / "capacity"
        self.steps = self.dir / "steps.csv"
        self.seconds = self.dir / "seconds.csv"
        self.memory = self.dir / "memory.json"
        self.hist_dir = self.dir / "hist"
        self.report_txt = Path(run_path) / "report.txt"

    def exists(self) -> bool:
        return self.dir.is_dir()

    def create(self) -> "CapacityFiles":
        self.hist_dir.mkdir(parents=True, exist_ok=True)
        for path, columns in ((self.steps, STEP_COLUMNS), (self.seconds, SECOND_COLUMNS)):
            if not path.exists():
                with open(path, "w", newline="") as f:
                    csv.writer(f).writerow(columns)
        return self

    def append_step(self, row: dict[str, Any], seconds: list[dict[str, Any]], hist: str) -> None:
        with open(self.steps, "a", newline="") as f:
            csv.DictWriter(f, STEP_COLUMNS).writerow({k: _cell(row.get(k)) for k in STEP_COLUMNS})
        with open(self.seconds, "a", newline="") as f:
            writer = csv.DictWriter(f, SECOND_COLUMNS)
            for s in seconds:
                writer.writerow({"variant": row["variant"], "step": row["step"], **s})
        if hist:
            (self.hist_dir / f"{row['variant']}-{row['step']}.hdr").write_text(hist)

    def write_memory(self, variant: str, figures: dict[str, Any]) -> None:
        data = self.read_memory()
        data[variant] = figures
        tmp = self.memory.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.memory)

    def read_memory(self) -> dict[str, Any]:
        return json.loads(self.memory.read_text()) if self.memory.exists() else {}


def _cell(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else value

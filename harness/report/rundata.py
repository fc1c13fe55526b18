"""What a report reads from a run directory, loaded once and tolerantly: the checker's output.

A report is a function of what the checker wrote: summary.json (numbers, fault windows, the
markers the plots draw, the timeline, the run's own facts), tables/series.parquet and lost.csv,
read through harness/rundir. `redis-harness report` runs the checker first when summary.json is
missing. Called on a directory the checker never judged (a run killed before it; a summary of an
older format), this falls back to the run's own records, read through harness/rundir as well:
meta.json, events.jsonl, series/*.csv, and the probe's seconds from history.csv, made the way the
checker makes them. Loading never raises for a torn or missing file: it becomes a note that the
report prints where the section would have been. Nothing here talks to Redis or a platform, and
nothing imports the checker or the scenario model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness.rundir import (SERIES_COLUMNS, RunDir, complete_seconds, in_driver_order, read_event_records,
                            read_json_object, read_lost, read_scenario_facts, read_series_dir, read_table)

PARTIAL_STATUSES = {"running", "interrupted"}


@dataclass(frozen=True)
class FaultWindow:
    fault_id: str
    kind: str
    target: str
    start_s: float
    end_s: float | None  # None: still active when the data stops

    @property
    def label(self) -> str:
        return f"{self.fault_id} {self.kind} {self.target}".strip()


@dataclass(frozen=True)
class Marker:
    """A role change or primary change, drawn as a vertical line on every time plot."""

    t: float
    kind: str  # "primary-change" | "role-change"
    label: str


@dataclass
class RunData:
    path: Path
    meta: dict[str, Any]
    summary: dict[str, Any] | None
    slo_limits: list[tuple[str, float]] | None  # the scenario's SLOs, known only when there is no summary
    events: list[dict[str, Any]]
    series: dict[str, pd.DataFrame]  # driver -> per-second table (SERIES_COLUMNS)
    faults: list[FaultWindow]
    markers: list[Marker]
    notes: dict[str, list[str]] = field(default_factory=dict)  # section -> what is missing or derived
    lost: pd.DataFrame | None = None  # lost.csv: t_s, pod, lost (acknowledged then lost, by acknowledging pod)
    events_count: int = 0  # the checker's count of timeline events, when `events` holds only the first of them
    planned_duration_s: float | None = None

    @property
    def run_id(self) -> str:
        return str((self.summary or {}).get("run_id") or self.meta.get("run_id") or self.path.name)

    @property
    def partial(self) -> bool:
        if self.summary is not None and "partial" in self.summary:
            return bool(self.summary["partial"]) or self.meta.get("status") in PARTIAL_STATUSES
        return not self.meta or self.meta.get("status") in PARTIAL_STATUSES

    @property
    def end_s(self) -> float:
        """Right edge of every time plot: the last second anything was recorded, at least 1."""
        candidates = [float(t["t_s"].max()) + 1 for t in self.series.values() if len(t)]
        candidates += [float(e["t"]) for e in self.events if isinstance(e.get("t"), (int, float))]
        candidates += [f.end_s for f in self.faults if f.end_s is not None]
        return max(candidates, default=1.0)

    def note(self, section: str, text: str) -> None:
        self.notes.setdefault(section, []).append(text)


def load_run(path: str | Path) -> RunData:
    rundir = RunDir(path)
    run = RunData(path=rundir.path, meta={}, summary=None, slo_limits=None, events=[], series={}, faults=[],
                  markers=[])
    run.summary = _read_json(rundir.summary, run, "summary") or None
    summary = run.summary or {}
    if isinstance(summary.get("run"), dict):
        run.meta = summary["run"]
    else:
        run.meta = _read_json(rundir.meta, run, "run")
    if run.summary is None:
        run.note("summary", "no summary.json: the checker did not run (or the run died before it); "
                            "headline numbers, failover, lost writes and SLOs are unknown")
        facts = read_scenario_facts(rundir.scenario)  # its SLOs, to list them as not evaluated
        for note in facts.notes:
            run.note("run", note)
        run.slo_limits, run.planned_duration_s = facts.value.get("slos"), facts.value.get("duration_s")
    timeline = summary.get("timeline")
    if isinstance(timeline, dict) and isinstance(timeline.get("events"), list):
        run.events = [e for e in timeline["events"] if isinstance(e, dict) and isinstance(e.get("t"), (int, float))]
        run.events_count = int(timeline.get("count") or len(run.events))
    else:
        run.events = _read_events(rundir.events, run)
    run.series = _checker_series(rundir, run) or _read_series(rundir, run)
    run.lost = read_lost(rundir.lost)
    run.faults = _faults(run)
    logged = summary.get("markers")
    run.markers = _markers(logged if isinstance(logged, list) else run.events,
                           cluster=(run.meta.get("topology") or summary.get("topology") or {}).get("kind") == "cluster")
    return run


def _checker_series(rundir: RunDir, run: RunData) -> dict[str, pd.DataFrame]:
    """The checker's tables/series.parquet, one table a driver, when the checker wrote one with rows."""
    if run.summary is None:
        return {}
    table = read_table(rundir.table("series"))
    if table is None or not len(table) or not {"t_s", "driver", "ok"} <= set(table.columns):
        return {}
    series = {}
    for driver, rows in table.groupby("driver", sort=False):
        rows = rows.assign(**{c: float("nan") for c in SERIES_COLUMNS if c not in rows})[SERIES_COLUMNS]
        rows = rows.astype({c: float for c in SERIES_COLUMNS if c != "driver"})
        series[str(driver)] = complete_seconds(rows.dropna(subset=["t_s", "ok"]))
    return in_driver_order(series)


def _read_json(path: Path, run: RunData, section: str) -> dict[str, Any]:
    read = read_json_object(path)
    for note in read.notes:
        if note.startswith("no "):
            if section == "run":
                run.note(section, f"{note}: run metadata (versions, status) unknown")
        else:
            run.note(section, note)
    return read.value


def _read_events(path: Path, run: RunData) -> list[dict[str, Any]]:
    """One JSON object a line; a line cut by a crash is skipped, and said so."""
    if not path.exists():
        run.note("events", "no events.jsonl: fault windows and role changes are unknown")
        return []
    events, bad = read_event_records(path)
    if bad:
        run.note("events", f"{bad} unreadable line(s) in events.jsonl skipped")
    return events


def _read_series(rundir: RunDir, run: RunData) -> dict[str, pd.DataFrame]:
    read = read_series_dir(rundir.series_dir)
    for note in read.notes:
        run.note("plots", note)
    series = read.value
    if "probe" not in series and rundir.history.exists():
        table = complete_seconds(_probe_series_from_history(rundir.history, run))
        if len(table):
            series["probe"] = table
            run.note("plots", "the probe's per-second table was derived from history.csv "
                              "(series/probe.csv is missing)")
    if not series:
        run.note("plots", "no per-second tables (series/*.csv) and no history.csv: nothing to plot")
    return in_driver_order(series)


def _probe_series_from_history(history: Path, run: RunData) -> pd.DataFrame:
    # Imported here: pyarrow's CSV reader is needed only on this path.
    from harness.rundir.history import load_history
    from harness.rundir.series import probe_series

    try:
        return probe_series(load_history(history))
    except (OSError, ValueError) as exc:  # pyarrow's parse errors are ValueErrors
        run.note("plots", f"history.csv is unreadable ({exc}); the probe is not plotted")
        return pd.DataFrame(columns=SERIES_COLUMNS)


def _faults(run: RunData) -> list[FaultWindow]:
    """Fault windows as the checker saw them, else as the nemesis logged them."""
    if run.summary and isinstance(run.summary.get("faults"), list):
        return [FaultWindow(str(f.get("fault_id", "?")), str(f.get("kind", "")), _pod_text(f.get("target")),
                            float(f["start_s"]), _float_or_none(f.get("end_s")))
                for f in run.summary["faults"] if isinstance(f, dict) and f.get("start_s") is not None]
    starts: dict[str, dict[str, Any]] = {}
    ends: dict[str, float] = {}
    for e in run.events:
        if e.get("type") == "fault-start":
            starts.setdefault(str(e.get("fault_id")), e)
        elif e.get("type") == "fault-end":
            ends[str(e.get("fault_id"))] = float(e["t"])
    return [FaultWindow(fid, str(e.get("kind", "")), _pod_text(e.get("pod")), float(e["t"]), ends.get(fid))
            for fid, e in starts.items()]


def _markers(events: list[dict[str, Any]], cluster: bool) -> list[Marker]:
    markers = []
    for e in events:
        if e.get("type") == "primary-change":
            shard = f" (shard {e['shard']})" if cluster and e.get("shard") is not None else ""
            markers.append(Marker(float(e["t"]), "primary-change", f"primary → {e.get('new')}{shard}"))
        elif e.get("type") == "role-change":
            markers.append(Marker(float(e["t"]), "role-change", f"{e.get('pod')} {e.get('role')}"))
    return markers


def _pod_text(pod: Any) -> str:
    if isinstance(pod, list):
        return "+".join(_pod_text(p) for p in pod)
    if isinstance(pod, dict):
        return ",".join(f"{k}={v}" for k, v in pod.items())
    return "" if pod is None else str(pod)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)

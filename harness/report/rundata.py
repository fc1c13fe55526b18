"""What a report reads from a run directory, loaded once and tolerantly.

A run killed halfway leaves files cut mid-line, or not written at all. Loading never raises for
that: whatever is missing or unreadable becomes a note that the report prints where the section
would have been. Nothing here talks to Redis or a platform (docs/run-directory.md). When the
checker never wrote series/probe.csv, the probe's seconds are rebuilt from history.csv with the
checker's own functions, so the plot shows what the checker would have counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.errors import ScenarioError
from harness.rundir import RunDir

if TYPE_CHECKING:
    from harness.scenario import Scenario

SERIES_COLUMNS = ["t_s", "driver", "ok", "fail", "info", "p50_ms", "p90_ms", "p99_ms", "max_ms"]
DRIVER_ORDER = ["probe", "locust", "redis-benchmark"]
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
    scenario: Scenario | None
    events: list[dict[str, Any]]
    series: dict[str, pd.DataFrame]  # driver -> per-second table (SERIES_COLUMNS)
    faults: list[FaultWindow]
    markers: list[Marker]
    notes: dict[str, list[str]] = field(default_factory=dict)  # section -> what is missing or derived
    lost: pd.DataFrame | None = None  # lost.csv: t_s, pod, lost (acknowledged then lost, by acknowledging pod)

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
    run = RunData(path=rundir.path, meta={}, summary=None, scenario=None, events=[], series={}, faults=[],
                  markers=[])
    run.meta = _read_json(rundir.meta, run, "run")
    run.summary = _read_json(rundir.summary, run, "summary") or None
    if run.summary is None:
        run.note("summary", "no summary.json: the checker did not run (or the run died before it); "
                            "headline numbers, failover, lost writes and SLOs are unknown")
        run.scenario = _read_scenario(rundir.scenario, run)  # to list its SLOs as not evaluated
    run.events = _read_events(rundir.events, run)
    run.series = _read_series(rundir, run)
    run.lost = _read_lost(rundir.lost)
    run.faults = _faults(run)
    run.markers = _markers(_with_logged_primary_changes(run.events, rundir, run.meta),
                           cluster=(run.meta.get("topology") or {}).get("kind") == "cluster")
    return run


def _with_logged_primary_changes(events: list[dict[str, Any]], rundir: RunDir, meta: dict) -> list[dict[str, Any]]:
    """Primary changes as the sentinels or cluster nodes logged them, when they did: the checker's rule
    (its server_logs and cluster_logs)."""
    import pandas as pd

    from harness.checker.cluster_logs import cluster_log_events
    from harness.checker.server_logs import sentinel_log_events

    frames = [f for f in (sentinel_log_events(rundir.logs_dir, meta), cluster_log_events(rundir.logs_dir, meta))
              if len(f)]
    if not frames:
        return events
    logged = pd.concat(frames, ignore_index=True)
    changes = logged[logged["type"] == "primary-change"].to_dict("records")
    return [e for e in events if e.get("type") != "primary-change"] + changes


def _read_lost(path: Path) -> pd.DataFrame | None:
    """lost.csv when the checker wrote one with any row; a torn or foreign file is treated as absent."""
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError):
        return None
    if not {"t_s", "pod", "lost"} <= set(table.columns) or not len(table):
        return None
    return table


def _read_json(path: Path, run: RunData, section: str) -> dict[str, Any]:
    if not path.exists():
        if section == "run":
            run.note(section, f"no {path.name}: run metadata (versions, status) unknown")
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        run.note(section, f"{path.name} is unreadable ({exc}); ignored")
        return {}
    if not isinstance(data, dict):
        run.note(section, f"{path.name} is not a JSON object; ignored")
        return {}
    return data


def _read_scenario(path: Path, run: RunData) -> Scenario | None:
    from harness.scenario import load_scenario  # pydantic models: imported only when a summary is missing

    if not path.exists():
        return None
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        run.note("run", f"scenario.yaml does not validate: {exc}")
        return None


def _read_events(path: Path, run: RunData) -> list[dict[str, Any]]:
    """One JSON object a line; a line cut by a crash is skipped, and said so."""
    if not path.exists():
        run.note("events", "no events.jsonl: fault windows and role changes are unknown")
        return []
    events, bad = [], 0
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(event, dict) and isinstance(event.get("t"), (int, float)):
            events.append(event)
        else:
            bad += 1
    if bad:
        run.note("events", f"{bad} unreadable line(s) in events.jsonl skipped")
    return sorted(events, key=lambda e: e["t"])


def _read_series(rundir: RunDir, run: RunData) -> dict[str, pd.DataFrame]:
    found = sorted(rundir.series_dir.glob("*.csv")) if rundir.series_dir.exists() else []
    series = {}
    for path in found:
        table = _read_series_csv(path, run)
        if table is not None:
            series[path.stem] = table
    if "probe" not in series and rundir.history.exists():
        table = _complete_seconds(_probe_series_from_history(rundir.history, run))
        if len(table):
            series["probe"] = table
            run.note("plots", "the probe's per-second table was derived from history.csv "
                              "(series/probe.csv is missing)")
    if not series:
        run.note("plots", "no per-second tables (series/*.csv) and no history.csv: nothing to plot")
    order = {d: i for i, d in enumerate(DRIVER_ORDER)}
    return dict(sorted(series.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def _probe_series_from_history(history: Path, run: RunData) -> pd.DataFrame:
    # Imported here: the checker's modules (pyarrow, parquet) are needed only on this path.
    from harness.checker.history import load_history
    from harness.checker.throughput import probe_series

    try:
        return probe_series(load_history(history))
    except (OSError, ValueError) as exc:  # pyarrow's parse errors are ValueErrors
        run.note("plots", f"history.csv is unreadable ({exc}); the probe is not plotted")
        return pd.DataFrame(columns=SERIES_COLUMNS)


def _read_series_csv(path: Path, run: RunData) -> pd.DataFrame | None:
    try:
        table = pd.read_csv(path, on_bad_lines="skip")
    except (OSError, ValueError) as exc:  # empty file, or cut before the header ended
        run.note("plots", f"{path.name} is unreadable ({exc}); ignored")
        return None
    missing = [c for c in ("t_s", "ok") if c not in table.columns]
    if missing:
        run.note("plots", f"{path.name} lacks columns {missing}; ignored")
        return None
    for column in SERIES_COLUMNS:
        if column == "driver":
            continue
        table[column] = pd.to_numeric(table[column], errors="coerce") if column in table else float("nan")
    table = table.dropna(subset=["t_s", "ok"])  # a row cut by a crash
    if table.empty:
        run.note("plots", f"{path.name} has no rows yet; ignored")
        return None
    return _complete_seconds(table.assign(driver=path.stem)[SERIES_COLUMNS])


def _complete_seconds(table: pd.DataFrame) -> pd.DataFrame:
    """One row per second from the first to the last: a second with no row had no operations."""
    if table.empty:
        return table
    table = table.groupby("t_s", as_index=True).first()  # a duplicated second keeps its first row
    seconds = pd.RangeIndex(int(table.index.min()), int(table.index.max()) + 1, name="t_s")
    table = table.reindex(seconds)
    table[["ok", "fail", "info"]] = table[["ok", "fail", "info"]].fillna(0)
    table["driver"] = table["driver"].ffill().bfill()
    return table.reset_index()[SERIES_COLUMNS]


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

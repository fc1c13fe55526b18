"""Assemble summary.json (docs/run-directory.md, schema docs/summary.schema.json) and the raw tables.

Reads only the run directory's files. What the checker could not measure is said in `degraded`
next to what the run itself could not do (meta.json), never silently dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from harness.checker import checks, convergence, intended, latency, slo, throughput, timeline
from harness.checker.availability import failovers
from harness.checker.events import NS, Firing, events_frame, fault_firings
from harness.checker.cluster_logs import cluster_log_events, with_cluster_logs
from harness.checker.server_logs import sentinel_log_events, with_server_logs
from harness.rundir.history import NO_COMPLETION, History, arrow_text, load_final, load_history
from harness.checker.drill import drill_verdict
from harness.checker.lost_writes import WriteCounts, count_writes, lost_first_acks, lost_per_second
from harness.checker.read_misses import count_read_misses
from harness.checker.replication_lag import replication_lag
from harness.errors import ScenarioError
from harness.rundir import (FORMAT_VERSION, SERIES_COLUMNS, RunDir, load_series, read_event_records,
                            read_replication_lag, write_summary, write_tables)
from harness.rundir.series import probe_series
from harness.scenario import Scenario, load_scenario

SCHEMA = "redis-harness/summary/v1"
_OK = 0  # code of "ok" in History.ops["type"]


@dataclass
class Analysis:
    summary: dict[str, Any]
    tables: dict[str, pa.Table] = field(default_factory=dict)  # tables/<name>.parquet
    probe_series: pd.DataFrame | None = None  # series/probe.csv
    lost_series: pd.DataFrame | None = None  # lost.csv


def build(run: RunDir) -> Analysis:
    meta = run.read_meta()
    scenario, scenario_notes = _load_scenario(run)
    history, final = load_history(run.history), load_final(run.final)
    event_records, bad_events = read_event_records(run.events)
    events = events_frame(event_records)
    firings = fault_firings(events)
    run_end_s = _run_end(meta, events, history)
    sentinel_logged, cluster_logged = sentinel_log_events(run.logs_dir, meta), cluster_log_events(run.logs_dir, meta)
    server_events = with_cluster_logs(with_server_logs(events, sentinel_logged), cluster_logged)
    failover, failover_notes = failovers(history, server_events, firings, meta.get("pods") or [], run_end_s)
    writes = count_writes(history, final, server_events)
    lost = lost_first_acks(history, final)
    lost_series = lost_per_second(lost)
    due = intended.due_ns(history, events)
    series = _driver_series(run, history, due, probe_enabled=scenario is None or scenario.workload.probe.enabled)

    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "format_version": FORMAT_VERSION,
        "run_id": meta.get("run_id") or run.path.name,
        "scenario": meta.get("scenario") or (scenario.name if scenario else ""),
        "platform": meta.get("platform") or (scenario.platform if scenario else ""),
        "partial": meta.get("status") != "complete",
        "topology": meta.get("topology") or (scenario.topology.model_dump() if scenario else {}),
        "versions": {p["name"]: p.get("version", "") for p in meta.get("pods") or []},
        "duration_s": run_end_s,
        "faults": [f.as_dict() for f in firings],
        "throughput": _throughput(series, history, firings, run_end_s),
        "latency_ms": latency.summarize(_acknowledged_latency_us(history, due)),
        "probe": {**intended.rates(history, events),
                  "service_latency_ms": latency.summarize(_acknowledged_latency_us(history, None))},
        "failover": [f.as_dict() for f in failover],
        "writes": {**writes.as_dict(), "lost_by_pod": _lost_by_pod(lost_series)},
        "reads": count_read_misses(run.history).as_dict(),
        "run": timeline.run_facts(meta),
        "markers": timeline.markers(event_records, [sentinel_logged, cluster_logged]),
        "timeline": timeline.timeline(event_records),
    }
    drill = drill_verdict(server_events, firings, failover, lost)
    if drill is not None:
        summary["drill"] = drill
    lag = read_replication_lag(run.replication_lag)
    if lag.value is not None:
        summary["replication_lag"] = replication_lag(lag.value)
    data = {"load": bool(len(history.ops)) or any(len(s) for s in series.values()), "final_read": bool(len(final)),
            "faults_scheduled": bool(scenario and scenario.faults), "faults_fired": bool(firings)}
    summary["slo"], slo_notes = slo.evaluate(scenario.slos.items() if scenario else [], summary, data)
    facts = checks.RunFacts(meta, scenario, events, series, convergence=_convergence(run, meta), drill=drill,
                            sentinel_log=sentinel_logged)
    summary["checks"] = checks.evaluate(facts)
    summary["verdict"] = checks.verdict(summary["checks"], summary["slo"])
    summary["headline"] = checks.headline(summary["verdict"], summary["checks"], summary["slo"])
    summary["timing"] = {k: meta.get(k) for k in ("deploy_s", "setup_s", "deploy_phases") if k in meta}
    summary["degraded"] = [*(meta.get("degraded") or []), *_input_notes(run, history, final, bad_events, writes),
                           *failover_notes, *scenario_notes, *slo_notes, *lag.notes,
                           *(f"check {c['name']} failed: {c['detail']}" for c in checks.failed(summary["checks"]))]
    return Analysis(summary, _tables(history, events, series), series.get("probe"), lost_series)


def write(run: RunDir, analysis: Analysis) -> None:
    write_tables(run.tables_dir, analysis.tables)
    if analysis.probe_series is not None:
        run.series_dir.mkdir(parents=True, exist_ok=True)
        analysis.probe_series.to_csv(run.series("probe"), index=False)
    if analysis.lost_series is not None:
        analysis.lost_series.to_csv(run.lost, index=False)
    write_summary(run.summary, analysis.summary)


def _lost_by_pod(lost_series: pd.DataFrame) -> dict[str, int]:
    """Lost writes by the pod that first acknowledged them: where a pod came back empty, its writes."""
    if not len(lost_series):
        return {}
    return {str(pod): int(n) for pod, n in lost_series.groupby("pod")["lost"].sum().items()}


# --------------------------------------------------------------------------- inputs


def _input_notes(run: RunDir, history: History, final: pd.DataFrame, bad_events: int,
                 writes: WriteCounts) -> list[str]:
    notes = []
    if history.bad_rows:
        notes.append(f"history.csv: {history.bad_rows} unreadable rows or rows of unknown type were ignored")
    if history.orphan_completions:
        notes.append(f"history.csv: {history.orphan_completions} completions without an invoke were ignored")
    if bad_events:
        notes.append(f"events.jsonl: {bad_events} lines that are not events were ignored")
    if run.history.exists() and not len(final) and len(history.ops):
        notes.append("final.csv is missing or empty: lost writes were not checked")
    elif writes.unchecked:
        notes.append(f"{writes.unchecked} acknowledged writes have no row in final.csv: not checked for loss")
    return notes


def _run_end(meta: dict, events: pd.DataFrame, history: History) -> float:
    """meta.json's ended_t; for a run that died, the last thing it recorded."""
    if isinstance(meta.get("ended_t"), (int, float)):
        return round(float(meta["ended_t"]), 6)
    last = [float(events["t"].max())] if len(events) else []
    ops = history.ops
    if len(ops):
        last.append(max(int(ops["invoke_ns"].max()), int(ops["complete_ns"].max())) / NS)
    return round(max(last), 6) if last else float(meta.get("duration_s") or 0.0)


def _driver_series(run: RunDir, history: History, due: np.ndarray, probe_enabled: bool) -> dict[str, pd.DataFrame]:
    """Every driver's 1 s series: the probe's from its history, the others from series/<driver>.csv.
    A probe the scenario turned off is no driver (its empty history would score 0 ops/s); one that
    ran and recorded nothing is, and scores 0."""
    series = {}
    if run.series_dir.exists():
        for path in sorted(run.series_dir.glob("*.csv")):
            if path.stem != "probe":
                series[path.stem] = load_series(path)
    if run.history.exists() and (probe_enabled or len(history.ops)):
        series["probe"] = probe_series(history, due)
    return series


def _throughput(series: dict[str, pd.DataFrame], history: History, firings: list[Firing],
                run_end_s: float) -> dict[str, Any]:
    by_driver = {driver: throughput.phase_rates(s, firings, run_end_s, _recovery_start(driver, history, firings))
                 for driver, s in series.items()}
    headline = next((d for d in throughput.HEADLINE_DRIVERS if d in by_driver), None)
    nothing = throughput.phase_rates(pd.DataFrame(columns=SERIES_COLUMNS), firings, run_end_s)
    return {"driver": headline, **(by_driver[headline] if headline else nothing), "by_driver": by_driver}


def _acknowledged_latency_us(history: History, due: np.ndarray | None) -> np.ndarray:
    """Latency of each acknowledged operation from when it was due (open loop, intended.py), or from its
    invoke when `due` is None (service time, what a closed-loop recording would show)."""
    ops = history.ops
    ok = ops["type"].cat.codes.to_numpy() == _OK
    start = ops["invoke_ns"].to_numpy() if due is None else due
    return (ops["complete_ns"].to_numpy()[ok] - start[ok]) // 1000


def _recovery_start(driver: str, history: History, firings: list[Firing]) -> float | None:
    ends = [f.end_s for f in firings if f.end_s is not None]
    if driver != "probe" or not firings or len(ends) < len(firings):
        return None
    return throughput.first_success_after(history, max(ends))


def _convergence(run: RunDir, meta: dict) -> list[dict] | None:
    """Problems of the topology after heal and settle; None when the run wrote no final-state.json."""
    if not run.final_state.exists():
        return None
    try:
        state = json.loads(run.final_state.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return convergence.judge(state, meta, run.logs_dir)


def _load_scenario(run: RunDir) -> tuple[Scenario | None, list[str]]:
    try:
        return load_scenario(run.scenario), []
    except ScenarioError as exc:
        return None, [f"scenario.yaml could not be read, so no SLO was judged: {exc}"]


# --------------------------------------------------------------------------- tables


def _tables(history: History, events: pd.DataFrame, series: dict[str, pd.DataFrame]) -> dict[str, pa.Table]:
    frames = [s for s in series.values() if len(s)]
    all_series = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SERIES_COLUMNS)
    return {
        "history": _history_table(history),
        "events": pa.Table.from_pandas(_scalar_columns(events), preserve_index=False),
        "series": pa.Table.from_pandas(all_series, preserve_index=False),
    }


def _history_table(history: History) -> pa.Table:
    """One row per operation; complete_ns is null for an invoke that never completed."""
    ops = history.ops

    def text(column: str) -> pa.DictionaryArray:
        codes = ops[column].cat.codes.to_numpy()
        categories = ops[column].cat.categories
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0),
                                              arrow_text(categories))

    complete = ops["complete_ns"].to_numpy()
    return pa.table({
        "process": ops["process"].to_numpy(),
        "f": text("f"),
        "key": history.keys.text(ops["key_id"].to_numpy()),
        "type": text("type"),
        "invoke_ns": ops["invoke_ns"].to_numpy(),
        "complete_ns": pa.array(complete, mask=complete == NO_COMPLETION),
        "pod": text("pod"),
        "error": text("error"),
    })


def _scalar_columns(events: pd.DataFrame) -> pd.DataFrame:
    """Events as Parquet can hold them: a column whose values are not all one scalar type becomes JSON text."""
    out = events.copy()
    for column in out.columns:
        values = out[column].dropna()
        kinds = {type(v) for v in values}
        if len(kinds) > 1 or not kinds <= {str, int, float, bool, np.int64, np.float64, np.bool_}:
            out[column] = [None if _missing(v) else json.dumps(v, default=str) for v in out[column]]
    return out


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))

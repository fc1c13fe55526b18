"""Synthetic run directories, shaped like a real sentinel primary-kill run, for report tests and benchmarks.

The report reads only files, so it can be developed and benchmarked without deploying anything.
Every number in the generated summary.json is computed from the generated history and series,
so the report's sections agree with each other the way a real run's would. Layout and columns
follow docs/run-directory.md; file names come from harness.rundir.RunDir.

    python tests/synthetic_run.py /tmp/run --duration 120 --lost 3
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from harness.checker.checks import DRIVER_LOGS
from harness.rundir import HISTORY_COLUMNS, SERIES_COLUMNS, RunDir
from harness.scenario import Scenario

PROBE_CLIENTS = 3
PROBE_TIMEOUT_S = 0.5
LOAD_START_S = 2.0
REDIS_PODS = ["redis-0", "redis-1", "redis-2"]
SENTINEL_PODS = ["sentinel-0", "sentinel-1", "sentinel-2"]
START_WALL = 1_795_640_000.0

# Per driver: throughput relative to the `throughput` argument, and median latency in ms.
HEADLINE_DRIVERS = ("locust", "redis-benchmark", "openloop", "probe")  # the summary's top-level throughput: the first present
DRIVER_SHAPE = {"locust": (1.0, 1.2), "redis-benchmark": (10.0, 0.3)}
PROBE_P50_MS = 0.4


@dataclass
class SyntheticFault:
    at_s: float
    duration_s: float
    kind: str = "pod-kill"
    unavailable_s: float = 3.0  # client-observed: writes refused or timed out for this long
    detect_s: float = 1.0  # +sdown / +odown after the fault starts
    promote_s: float = 2.5  # +switch-master after the fault starts


@dataclass
class _Plan:
    """Everything decided before files are written: faults with their resolved pods and windows."""

    duration_s: float
    cut_s: float  # where the data stops (== duration unless partial)
    faults: list[SyntheticFault]
    old_primary: list[str] = field(default_factory=list)
    new_primary: list[str] = field(default_factory=list)
    windows: list[tuple[float, float]] = field(default_factory=list)  # unavailability, run seconds

    def primary_at(self, t: np.ndarray) -> np.ndarray:
        pods = np.full(t.shape, self.old_primary[0] if self.faults else REDIS_PODS[0], dtype=object)
        for fault, new in zip(self.faults, self.new_primary):
            pods[t >= fault.at_s + fault.promote_s] = new
        return pods

    def in_windows(self, t: np.ndarray) -> np.ndarray:
        inside = np.zeros(t.shape, dtype=bool)
        for start, end in self.windows:
            inside |= (t >= start) & (t < end)
        return inside


def default_faults(duration_s: float) -> list[SyntheticFault]:
    return [SyntheticFault(at_s=round(duration_s * 0.4, 1), duration_s=round(duration_s * 0.2, 1))]


def make_run(
    path: str | Path,
    *,
    duration_s: float = 60.0,
    drivers: tuple[str, ...] = ("probe", "locust", "redis-benchmark"),
    throughput: float = 2000.0,
    probe_ops_per_s: float = 100.0,
    noise: float = 0.05,
    faults: list[SyntheticFault] | None = None,
    lost_writes: int = 0,
    partial: bool = False,
    cut_at_s: float | None = None,
    write_summary: bool = True,
    write_probe_series: bool = True,
    slos: dict[str, float] | None = None,
    seed: int = 0,
    scenario_name: str = "synthetic-primary-kill",
) -> Path:
    """Write a run directory at `path` and return its path.

    `throughput` is Locust's baseline ops/s (redis-benchmark runs at 10x); `noise` is the relative
    spread of every per-second figure; `partial` cuts the data at `cut_at_s` (default 60 % of the
    run), leaves meta.json `running` and, with `write_summary`, writes a partial summary.
    """
    rng = np.random.default_rng(seed)
    faults = default_faults(duration_s) if faults is None else faults
    cut = (cut_at_s if cut_at_s is not None else duration_s * 0.6) if partial else duration_s
    plan = _plan(duration_s, cut, faults)
    run = RunDir(path).create()
    scenario = _scenario(scenario_name, duration_s, drivers, faults, slos, throughput)

    run.scenario.write_text(yaml.safe_dump(scenario.model_dump(mode="json", exclude_defaults=True), sort_keys=False))
    _write_meta(run, scenario, plan, partial)
    _write_events(run, plan, drivers)
    series = {d: _driver_series(d, plan, throughput, noise, rng) for d in drivers if d != "probe"}
    probe = _probe_history(plan, probe_ops_per_s, noise, rng) if "probe" in drivers else None
    if probe is not None:
        lost = _choose_lost(probe, plan, lost_writes)
        _write_history(run, probe, plan)
        _write_final(run, probe, lost, plan, rng, partial)
        series["probe"] = _probe_series(probe, plan)
    else:
        lost = np.zeros(0, dtype=bool)
    for driver, table in series.items():
        if driver != "probe" or write_probe_series:
            table.to_csv(run.series(driver), index=False, float_format="%.3f")
    if not partial:
        _write_final_state(run, plan)
    if write_summary:
        summary = _summary(run.path.name, scenario, plan, series, probe, lost, partial)
        run.summary.write_text(json.dumps(summary, indent=2))
    return run.path


def _write_final_state(run: RunDir, plan: "_Plan") -> None:
    """final-state.json of a converged topology: the last promoted pod primary, the others its replicas."""
    primary = plan.new_primary[-1] if plan.new_primary else REDIS_PODS[0]
    pods = [{"name": p, "kind": "redis", "role": "primary" if p == primary else "replica", "shard": None,
             "primary": None if p == primary else primary, "link_up": None if p == primary else True,
             "offset": 5000, "primary_offset": None if p == primary else 5000} for p in REDIS_PODS]
    pods += [{"name": s, "kind": "sentinel", "role": "sentinel", "sentinel_primary": primary} for s in SENTINEL_PODS]
    run.final_state.write_text(json.dumps({"kind": "sentinel", "pods": pods}, indent=2))


# --------------------------------------------------------------------------- plan and scenario


def _plan(duration_s: float, cut_s: float, faults: list[SyntheticFault]) -> _Plan:
    plan = _Plan(duration_s, cut_s, faults)
    primary = REDIS_PODS[0]
    for fault in faults:
        new = REDIS_PODS[(REDIS_PODS.index(primary) + 1) % len(REDIS_PODS)]
        plan.old_primary.append(primary)
        plan.new_primary.append(new)
        plan.windows.append((fault.at_s + 0.005, fault.at_s + fault.unavailable_s))
        primary = new
    return plan


def _scenario(name: str, duration_s: float, drivers: tuple[str, ...], faults: list[SyntheticFault],
              slos: dict[str, float] | None, throughput: float) -> Scenario:
    return Scenario.model_validate({
        "name": name,
        "description": "synthetic run written by tests/synthetic_run.py",
        "duration_s": duration_s,
        "topology": {"kind": "sentinel", "replicas": 2, "sentinels": 3, "down_after_ms": 1000},
        "workload": {
            "probe": {"enabled": "probe" in drivers, "clients": PROBE_CLIENTS},
            "locust": {"enabled": "locust" in drivers, "users": 10},
            "redis_benchmark": {"enabled": "redis-benchmark" in drivers, "loop": True},
        },
        "faults": [{"kind": f.kind, "target": {"role": "primary"}, "at_s": f.at_s, "duration_s": f.duration_s}
                   for f in faults],
        "slos": slos if slos is not None else {
            "max_unavailable_s": 10, "max_lost_writes": 0, "min_baseline_ops_per_s": throughput * 0.5,
            "max_p99_ms": 50,
        },
    })


def _write_meta(run: RunDir, scenario: Scenario, plan: _Plan, partial: bool) -> None:
    pods = [{"name": p, "kind": "redis", "host": f"10.213.7.{10 + i}", "port": 6379, "version": "redis 7.0.15"}
            for i, p in enumerate(REDIS_PODS)]
    pods += [{"name": p, "kind": "sentinel", "host": f"10.213.7.{20 + i}", "port": 26379, "version": "redis 7.0.15"}
             for i, p in enumerate(SENTINEL_PODS)]
    run.update_meta(
        run_id=run.path.name, scenario=scenario.name, platform="local", network="netns",
        topology=scenario.topology.model_dump(mode="json"), pods=pods, harness_version="0.1.0",
        start_mono_ns=1_000_000_000, start_wall=START_WALL, duration_s=scenario.duration_s,
        status="running" if partial else "complete", ended_t=None if partial else plan.duration_s + 6.5,
        error=None, degraded=[],
    )


# --------------------------------------------------------------------------- events


def _write_events(run: RunDir, plan: _Plan, drivers: tuple[str, ...]) -> None:
    events: list[dict[str, Any]] = [
        _event(0.0, "runner", "run-start", detail=""),
        _event(1.6, "runner", "deploy-done", detail="6 pods"),
        _event(LOAD_START_S, "runner", "load-start", detail=""),
    ]
    events += [_event(LOAD_START_S + 0.01 * i, "driver", "driver-start", driver=d, detail="")
               for i, d in enumerate(drivers)]
    for i, (fault, old, new) in enumerate(zip(plan.faults, plan.old_primary, plan.new_primary)):
        events += _fault_events(f"{i}.0", fault, old, new)
    end = plan.duration_s
    events += [_event(end - 0.01 * i, "driver", "driver-end", driver=d, detail="") for i, d in enumerate(drivers)]
    events += [_event(end, "runner", "load-end", detail=""), _event(end + 0.1, "runner", "heal-all", detail=""),
               _event(end + 5.2, "runner", "settled", detail=""), _event(end + 6.0, "runner", "final-read", detail=""),
               _event(end + 6.5, "runner", "run-end", detail="complete")]
    last = plan.cut_s if plan.cut_s < plan.duration_s else float("inf")
    kept = sorted((e for e in events if e["t"] <= last), key=lambda e: e["t"])
    run.events.write_text("".join(json.dumps(e) + "\n" for e in kept))


def _fault_events(fault_id: str, fault: SyntheticFault, old: str, new: str) -> list[dict[str, Any]]:
    t0 = fault.at_s
    old_addr, new_addr = _address(old), _address(new)
    return [
        _event(t0, "nemesis", "fault-start", fault_id=fault_id, kind=fault.kind, target={"role": "primary"},
               pod=old, params={}),
        _event(t0 + 0.05, "nemesis", "fault-verified", fault_id=fault_id, ok=True, detail="process gone"),
        _event(t0 + 0.3, "watcher", "role-change", pod=old, role="down", shard=0),
        *[_event(t0 + fault.detect_s + 0.01 * i, "sentinel", "sentinel", event="+sdown",
                 detail=f"master mymaster {old_addr} 6379", sentinel=s) for i, s in enumerate(SENTINEL_PODS)],
        _event(t0 + fault.detect_s + 0.1, "sentinel", "sentinel", event="+odown",
               detail=f"master mymaster {old_addr} 6379 #quorum 2/2", sentinel=SENTINEL_PODS[0]),
        _event(t0 + fault.promote_s, "sentinel", "sentinel", event="+switch-master",
               detail=f"mymaster {old_addr} 6379 {new_addr} 6379", sentinel=SENTINEL_PODS[0]),
        _event(t0 + fault.promote_s + 0.2, "watcher", "role-change", pod=new, role="primary", shard=0),
        _event(t0 + fault.promote_s + 0.2, "watcher", "primary-change", shard=0, old=old, new=new),
        _event(t0 + fault.promote_s + 0.4, "sentinel", "sentinel", event="+failover-end",
               detail=f"master mymaster {old_addr} 6379", sentinel=SENTINEL_PODS[0]),
        _event(t0 + fault.duration_s, "nemesis", "fault-end", fault_id=fault_id, kind=fault.kind, pod=old),
        _event(t0 + fault.duration_s + 1.2, "watcher", "role-change", pod=old, role="replica", shard=0),
    ]


def _event(t: float, source: str, type: str, **fields: Any) -> dict[str, Any]:
    return {"t": round(t, 6), "wall": START_WALL + t, "source": source, "type": type, **fields}


def _address(pod: str) -> str:
    return f"10.213.7.{10 + REDIS_PODS.index(pod)}"


# --------------------------------------------------------------------------- load drivers


def _driver_series(driver: str, plan: _Plan, throughput: float, noise: float,
                   rng: np.random.Generator) -> pd.DataFrame:
    scale, p50 = DRIVER_SHAPE[driver]
    t = np.arange(int(LOAD_START_S), int(np.floor(min(plan.cut_s, plan.duration_s))))
    level = np.full(t.shape, throughput * scale)
    down = np.zeros(t.shape, dtype=bool)
    for fault, (ws, we) in zip(plan.faults, plan.windows):
        down |= (t + 1 > ws) & (t < we)
        level[(t >= we) & (t < fault.at_s + fault.duration_s)] *= 0.9  # one replica fewer
    ok = np.maximum(level * (1 + noise * rng.standard_normal(t.shape)), 0)
    ok[down] *= 0.02
    fail = np.where(down, throughput * scale * 0.1 * rng.uniform(0.5, 1.5, t.shape), 0)
    p50s = p50 * rng.lognormal(0, noise, t.shape)
    max_ms = p50s * 15 * rng.lognormal(0, 0.3, t.shape)
    max_ms[down] = 1000.0
    return pd.DataFrame({
        "t_s": t, "driver": driver, "ok": ok.round().astype(int), "fail": fail.round().astype(int), "info": 0,
        "p50_ms": p50s, "p90_ms": p50s * 2, "p99_ms": np.where(down, 400.0, p50s * 5), "max_ms": max_ms,
    })[SERIES_COLUMNS]


# --------------------------------------------------------------------------- probe history


def _probe_history(plan: _Plan, ops_per_s: float, noise: float, rng: np.random.Generator) -> pd.DataFrame:
    """One row per operation (invoke and completion times, outcome), processes paced at a fixed rate."""
    per_client = ops_per_s / PROBE_CLIENTS
    n = int(per_client * (plan.duration_s - LOAD_START_S))
    parts = []
    for process in range(PROBE_CLIENTS):
        sched = LOAD_START_S + (np.arange(n) + rng.uniform(0, 1)) / per_client
        outcome = np.full(n, "ok", dtype=object)
        latency = PROBE_P50_MS / 1000 * rng.lognormal(0, 0.4 + noise, n)
        down = plan.in_windows(sched)
        timed_out = down & ~np.concatenate([[False], down[:-1]])  # in flight when the primary died
        outcome[down] = "fail"
        outcome[timed_out] = "info"
        latency[down] = rng.uniform(0.001, 0.005, int(down.sum()))
        latency[timed_out] = PROBE_TIMEOUT_S
        invoke = _paced(sched, latency)
        seq = np.arange(n)
        is_read = seq % 2 == 1
        write_seq = seq - is_read  # a read reads back the process's previous write
        parts.append(pd.DataFrame({
            "process": process, "invoke_s": invoke, "complete_s": invoke + latency, "type": outcome,
            "f": np.where(is_read, "read", "write"), "seq": write_seq,
        }))
    ops = pd.concat(parts, ignore_index=True)
    ops["key"] = "probe:" + ops["process"].astype(str) + ":" + ops["seq"].astype(str)
    ops["pod"] = plan.primary_at(ops["invoke_s"].to_numpy())
    return ops


def _paced(sched: np.ndarray, latency: np.ndarray) -> np.ndarray:
    """Start times of a client with one operation outstanding: start_i = max(sched_i, end_{i-1})."""
    before = np.concatenate([[0.0], np.cumsum(latency)[:-1]])
    return np.maximum.accumulate(sched - before) + before


def _choose_lost(ops: pd.DataFrame, plan: _Plan, count: int) -> np.ndarray:
    """The last `count` writes acknowledged by the old primary in the second before the first fault."""
    lost = np.zeros(len(ops), dtype=bool)
    if not count or not plan.faults:
        return lost
    t0 = plan.faults[0].at_s
    candidates = ops.index[(ops["f"] == "write") & (ops["type"] == "ok") & (ops["complete_s"] < t0)
                           & (ops["complete_s"] >= t0 - 1.0)]
    chosen = ops.loc[candidates].sort_values("complete_s").index[-count:]
    lost[chosen] = True
    return lost


def _write_history(run: RunDir, ops: pd.DataFrame, plan: _Plan) -> None:
    invokes = ops.assign(t_ns=(ops["invoke_s"] * 1e9).astype(np.int64), type="invoke", error="")
    done = ops.assign(t_ns=(ops["complete_s"] * 1e9).astype(np.int64),
                      error=ops["type"].map({"ok": "", "fail": "ConnectionError: Connection refused",
                                             "info": "TimeoutError: Timeout reading from socket"}))
    rows = pd.concat([invokes, done], ignore_index=True)
    rows["value"] = np.where((rows["f"] == "write") | (rows["type"] == "ok"), rows["seq"], "")
    rows["is_invoke"] = rows["type"] == "invoke"  # a completion precedes an invoke stamped the same ns
    rows = rows[rows["t_ns"] <= int(plan.cut_s * 1e9)].sort_values(["t_ns", "is_invoke"], kind="stable")
    rows[HISTORY_COLUMNS].to_csv(run.history, index=False)


def _write_final(run: RunDir, ops: pd.DataFrame, lost: np.ndarray, plan: _Plan, rng: np.random.Generator,
                 partial: bool) -> None:
    if partial:
        return  # the run died before heal and settle: no final read
    writes = ops["f"] == "write"
    present = ((ops["type"] == "ok") & ~lost) | ((ops["type"] == "info") & (rng.random(len(ops)) < 0.5))
    final = pd.DataFrame({"key": ops["key"], "present": present.astype(int), "value": np.where(present, ops["seq"], ""),
                          "pod": plan.primary_at(np.array([plan.duration_s]))[0]})[writes]
    final.to_csv(run.final, index=False)


def _probe_series(ops: pd.DataFrame, plan: _Plan) -> pd.DataFrame:
    done = ops[ops["complete_s"] < np.floor(plan.cut_s)]
    second = np.floor(done["complete_s"]).astype(int)
    counts = pd.crosstab(second, done["type"]).reindex(columns=["ok", "fail", "info"], fill_value=0)
    acked = done["type"] == "ok"  # latency of acknowledged operations only, as the checker measures it
    lat = ((done["complete_s"] - done["invoke_s"]) * 1000)[acked]
    quantiles = lat.groupby(second[acked]).quantile([0.5, 0.9, 0.99]).unstack()
    quantiles.columns = ["p50_ms", "p90_ms", "p99_ms"]
    table = counts.join(quantiles).join(lat.groupby(second[acked]).max().rename("max_ms"))
    seconds = np.arange(int(LOAD_START_S), int(np.floor(min(plan.cut_s, plan.duration_s))))
    table = table.reindex(seconds)
    table[["ok", "fail", "info"]] = table[["ok", "fail", "info"]].fillna(0).astype(int)
    return table.rename_axis("t_s").reset_index().assign(driver="probe")[SERIES_COLUMNS]


# --------------------------------------------------------------------------- summary


def _summary(run_id: str, scenario: Scenario, plan: _Plan, series: dict[str, pd.DataFrame], ops: pd.DataFrame | None,
             lost: np.ndarray, partial: bool) -> dict[str, Any]:
    """summary.json as docs/summary.schema.json has it; a null number means not measured."""
    degraded: list[str] = []
    if ops is not None and partial:  # what the history holds when the run died
        ops = ops[ops["invoke_s"] <= plan.cut_s].copy()
        ops.loc[ops["complete_s"] > plan.cut_s, "type"] = "info"
        lost = np.zeros(len(ops), dtype=bool)
        degraded.append("final.csv is missing or empty: lost writes were not checked")
    by_driver = {driver: _throughput(table, plan) for driver, table in series.items()}
    headline = by_driver[next(d for d in HEADLINE_DRIVERS if d in by_driver)] if by_driver else {
        "baseline_ops_per_s": None, "during_fault_ops_per_s": None, "recovered_ops_per_s": None}
    started = [i for i, f in enumerate(plan.faults) if f.at_s <= plan.cut_s]
    summary = {
        "schema": "redis-harness/summary/v1",
        "run_id": run_id, "scenario": scenario.name, "platform": "local", "partial": partial,
        "topology": scenario.topology.model_dump(mode="json"),
        "versions": {p: "redis 7.0.15" for p in REDIS_PODS + SENTINEL_PODS},
        "duration_s": round(plan.cut_s if partial else plan.duration_s + 6.5, 3),
        "faults": [{"fault_id": f"{i}.0", "kind": plan.faults[i].kind, "target": plan.old_primary[i],
                    "start_s": plan.faults[i].at_s, "end_s": _fault_end(plan, i)} for i in started],
        "throughput": {"driver": next((d for d in HEADLINE_DRIVERS if d in by_driver), None), **headline,
                       "by_driver": by_driver},
        "latency_ms": _latency(ops),
        "failover": [_failover(i, plan, ops) for i in started],
        "writes": _writes(ops, lost, plan, partial),
        "slo": [],
        "verdict": "pass",
        "degraded": degraded,
    }
    summary["slo"] = _slos(scenario, summary)
    degraded += [f"SLO {s['name']}: could not be measured; counted as failed" for s in summary["slo"]
                 if s["value"] is None]
    summary["checks"] = _checks(series, partial)
    failed = not all(s["pass"] for s in summary["slo"])
    summary["verdict"] = "fail" if failed else ("incomplete" if partial else "pass")
    return summary


def _checks(series: dict[str, pd.DataFrame], partial: bool) -> list[dict[str, Any]]:
    """Every synthetic driver ran and served requests; only a partial run fails a check."""
    logs = DRIVER_LOGS
    completed = {"name": "run completed", "status": "fail" if partial else "pass",
                 "detail": "status running" if partial else "complete", "log": "meta.json" if partial else None}
    return [completed] + [{"name": "probe" if d == "probe" else f"driver {d}", "status": "pass",
                           "detail": f"{int(t['ok'].sum())} ok", "log": logs[d]} for d, t in sorted(series.items())]


def _fault_end(plan: _Plan, i: int) -> float | None:
    end = plan.faults[i].at_s + plan.faults[i].duration_s
    return end if end <= plan.cut_s else None  # the run died before the fault was healed


def _throughput(table: pd.DataFrame, plan: _Plan) -> dict[str, float | None]:
    t, ok = table["t_s"].to_numpy(), table["ok"].to_numpy()
    during = np.zeros(t.shape, dtype=bool)
    for f in plan.faults:
        during |= (t >= f.at_s) & (t + 1 <= f.at_s + f.duration_s)
    first = min((f.at_s for f in plan.faults), default=plan.duration_s)
    last = max((f.at_s + f.duration_s for f in plan.faults), default=0.0)
    baseline = (t >= LOAD_START_S + 1) & (t + 1 <= first)
    recovered = (t >= last + 5) & ~during

    def mean(mask: np.ndarray) -> float | None:
        return round(float(ok[mask].mean()), 1) if mask.any() else None  # unknown, not zero

    return {"baseline_ops_per_s": mean(baseline), "during_fault_ops_per_s": mean(during),
            "recovered_ops_per_s": mean(recovered)}


def _latency(ops: pd.DataFrame | None) -> dict[str, float]:
    """The probe's acknowledged operations; all 0 without samples (the schema's convention)."""
    ms = np.zeros(0) if ops is None else ((ops["complete_s"] - ops["invoke_s"]) * 1000)[ops["type"] == "ok"].to_numpy()
    if not len(ms):
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0}
    q = np.percentile(ms, [50, 90, 99, 99.9])
    return {"p50": round(q[0], 3), "p90": round(q[1], 3), "p99": round(q[2], 3), "p999": round(q[3], 3),
            "max": round(float(ms.max()), 3)}


def _failover(i: int, plan: _Plan, ops: pd.DataFrame | None) -> dict[str, Any]:
    """The window as DESIGN.md defines it: from the first failed or unknown write seen after the fault
    started (from its invoke: the client was already waiting) to the first write acknowledged after
    the last such failure seen before the next fault; counted to the data's end if none was."""
    fault = plan.faults[i]
    result: dict[str, Any] = {"fault_id": f"{i}.0", "unavailable_s": 0.0, "unavailable_start_s": None,
                              "unavailable_end_s": None, "detected_s": None, "promoted_s": None, "new_primary": None}
    if fault.at_s + fault.detect_s <= plan.cut_s:
        result["detected_s"] = fault.detect_s
    if fault.at_s + fault.promote_s + 0.2 <= plan.cut_s:
        result["promoted_s"], result["new_primary"] = fault.promote_s, plan.new_primary[i]
    if ops is None:
        return result
    writes = ops[ops["f"] == "write"]
    next_start = plan.faults[i + 1].at_s if i + 1 < len(plan.faults) else np.inf
    seen = writes["complete_s"].where(writes["complete_s"] <= plan.cut_s, writes["invoke_s"])
    bad = writes[(writes["type"] != "ok") & (seen >= fault.at_s) & (seen < next_start)]
    if not len(bad):
        return result
    bad_seen = seen[bad.index].sort_values()
    start = float(bad.loc[bad_seen.index[0], "invoke_s"])
    acked = writes[(writes["type"] == "ok") & (writes["complete_s"] > bad_seen.iloc[-1])]
    end = float(acked["complete_s"].min()) if len(acked) else None
    result.update(unavailable_start_s=round(start, 6), unavailable_end_s=None if end is None else round(end, 6),
                  unavailable_s=round((end if end is not None else plan.cut_s) - start, 6))
    return result


def _writes(ops: pd.DataFrame | None, lost: np.ndarray, plan: _Plan, partial: bool) -> dict[str, Any]:
    """Per key. Without a final read (the run died first) nothing is checked: lost 0, all unchecked."""
    counts = {"attempted": 0, "acknowledged": 0, "failed": 0, "unknown": 0, "lost": 0, "lost_sample": [],
              "acknowledged_by_demoted_primary": 0, "acknowledged_by_demoted_primary_lost": 0, "unchecked": 0}
    if ops is None:
        return counts
    writes = ops["f"] == "write"
    acked = writes & (ops["type"] == "ok")
    demoted = acked & _in_demoted_term(ops, plan)
    lost_rows = ops[lost].sort_values("complete_s")
    counts.update(
        attempted=int(writes.sum()), acknowledged=int(acked.sum()),
        failed=int((writes & (ops["type"] == "fail")).sum()), unknown=int((writes & (ops["type"] == "info")).sum()),
        lost=int(lost.sum()),
        lost_sample=[{"key": k, "acked_s": round(t, 6)}
                     for k, t in zip(lost_rows["key"][:20], lost_rows["complete_s"][:20])],
        acknowledged_by_demoted_primary=int(demoted.sum()),
        acknowledged_by_demoted_primary_lost=int((demoted & lost).sum()),
        unchecked=int(acked.sum()) if partial else 0,
    )
    return counts


def _in_demoted_term(ops: pd.DataFrame, plan: _Plan) -> np.ndarray:
    """Operations served by a primary whose term ended with it rejoining as a replica (the watcher saw it)."""
    inside = np.zeros(len(ops), dtype=bool)
    term_start = 0.0
    for fault, old in zip(plan.faults, plan.old_primary):
        rejoined = fault.at_s + fault.duration_s + 1.2  # the role-change event of _fault_events
        if rejoined <= plan.cut_s:
            term = (ops["invoke_s"] >= term_start) & (ops["invoke_s"] < fault.at_s)
            inside |= ((ops["pod"] == old) & term).to_numpy()
        term_start = fault.at_s + fault.promote_s
    return inside


def _slos(scenario: Scenario, summary: dict[str, Any]) -> list[dict[str, Any]]:
    def worst(field: str) -> float | None:
        values = [f[field] for f in summary["failover"]]
        return None if None in values else max(values, default=0.0)

    values = {
        "max_unavailable_s": worst("unavailable_s"), "max_lost_writes": summary["writes"]["lost"],
        "min_baseline_ops_per_s": summary["throughput"]["baseline_ops_per_s"],
        "min_recovered_ops_per_s": summary["throughput"]["recovered_ops_per_s"],
        "max_p99_ms": summary["latency_ms"]["p99"], "max_detection_s": worst("detected_s"),
    }
    return [{"name": name, "limit": limit, "value": values[name], "pass": _meets(name, values[name], limit)}
            for name, limit in scenario.slos.items()]


def _meets(name: str, value: float | None, limit: float) -> bool:
    if value is None:
        return False  # a gate that cannot be checked must not let a run through
    return bool(value >= limit if name.startswith("min_") else value <= limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--throughput", type=float, default=2000.0)
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--lost", type=int, default=0)
    parser.add_argument("--partial", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(make_run(args.path, duration_s=args.duration, throughput=args.throughput, noise=args.noise,
                   lost_writes=args.lost, partial=args.partial, seed=args.seed))


if __name__ == "__main__":
    main()

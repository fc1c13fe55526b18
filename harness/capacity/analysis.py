"""The capacity study's answers, from the run directory's files alone (capacity/, meta.json, scenario.yaml).

Per variant (rules stated here and in summary.json, so a reader can check them):

- **sustained step**: achieved >= 95% of offered and nothing dropped.
- **max sustainable throughput at the SLO**: the highest achieved rate of a sustained step whose
  p99 (from intended send time) is at or under `slo_p99_ms`.
- **saturation throughput**: the highest achieved rate of any step, when some step was not
  sustained (the server could not take more); else not reached (a lower bound is given).
- **knee**: walking up the sustained steps, the first step where p99 grows faster than throughput
  (d ln p99 / d ln achieved > 1) while p99 is at least twice the sweep's lowest p99; the knee is the
  step before it. With no such step the knee is the last sustained step (it lies at or beyond it).
- **memory per key**: used_memory delta / preloaded keys, next to MEMORY USAGE's sampled mean.
- **server CPU per 1k ops**: CPU-milliseconds of the server process per 1,000 acknowledged ops,
  median over sustained steps; from /proc/<pid>/schedstat where the harness knows the pid (local),
  else from INFO cpu (Kubernetes). The INFO figure is given next to it on every platform.
- **headroom**: max sustainable / target - 1, for the scenario's `target_ops_per_s`.

A step where the generator reported itself saturated cannot set the server's limit: an answer
that rests on one is marked `generator_limited`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from harness.rundir.capacity import CapacityFiles
from harness.capacity.run import SUSTAINED, unsustained
from harness.rundir import FORMAT_VERSION, RunDir, write_summary

SCHEMA = "redis-harness/capacity-summary/v1"
KNEE_RULE = ("the step before the first sustained step where p99 grows faster than throughput "
             "(d ln p99 / d ln achieved > 1) with p99 at least 2x the sweep's lowest; else the last sustained step")
RULES = {"sustained": f"achieved >= {SUSTAINED:.0%} of offered and no request dropped",
         "max_sustainable": "highest achieved rate of a sustained step with p99 <= the SLO",
         "saturation": "highest achieved rate of any step, when some step was not sustained",
         "knee": KNEE_RULE,
         "cpu_per_1k_ops": "server process CPU-ms per 1,000 acknowledged ops, median over sustained steps "
                           "(/proc/<pid>/schedstat where the pid is known, else INFO cpu)",
         "memory_per_key": "used_memory delta after the preload / keys preloaded"}


def load_steps(run_path: Path) -> pd.DataFrame:
    files = CapacityFiles(run_path)
    if not files.steps.exists():
        return pd.DataFrame()
    return pd.read_csv(files.steps)


def knee(steps: pd.DataFrame) -> dict[str, Any] | None:
    """The knee among sustained steps (rows sorted by offered rate); see KNEE_RULE."""
    ok = steps[steps["sustained"] & steps["p99_ms"].notna() & (steps["achieved_rate"] > 0)]
    if ok.empty:
        return None
    floor = ok["p99_ms"].min()
    rows = ok.to_dict("records")
    for before, after in zip(rows, rows[1:]):
        d_rate = math.log(after["achieved_rate"] / before["achieved_rate"]) if after["achieved_rate"] > before["achieved_rate"] else 0.0
        d_p99 = math.log(max(after["p99_ms"], 1e-6) / max(before["p99_ms"], 1e-6))
        if after["p99_ms"] >= 2 * floor and d_p99 > 0 and (d_rate <= 0 or d_p99 / d_rate > 1):
            return {"achieved_rate": before["achieved_rate"], "p99_ms": before["p99_ms"],
                    "offered_rate": before["offered_rate"], "found": True}
    last = rows[-1]
    return {"achieved_rate": last["achieved_rate"], "p99_ms": last["p99_ms"], "offered_rate": last["offered_rate"],
            "found": False}


def cpu_ms_per_1k(steps: pd.DataFrame, column: str) -> float | None:
    """Server CPU-ms per 1,000 acknowledged ops from one CPU column, median over sustained steps."""
    cpu = steps[steps["sustained"] & steps[column].notna() & (steps["achieved_rate"] > 0)]
    if cpu.empty:
        return None
    return round(float((cpu[column] / cpu["achieved_rate"] * 1e6).median()), 4)


def variant_answers(steps: pd.DataFrame, memory: dict[str, Any], slo_p99_ms: float,
                    target: float | None) -> dict[str, Any]:
    steps = steps.sort_values("offered_rate").copy()
    for column in ("server_cpu_s_per_s", "server_info_cpu_s_per_s", "p99_ms"):  # older tables lack some
        if column not in steps:
            steps[column] = float("nan")
    steps["sustained"] = [not unsustained(o, a, d) for o, a, d in
                          zip(steps["offered_rate"], steps["achieved_rate"], steps["dropped"])]
    steps["generator_saturated"] = steps["generator_saturated"].astype(str).str.lower() == "true"
    within = steps[steps["sustained"] & (steps["p99_ms"] <= slo_p99_ms)]
    best = within.loc[within["achieved_rate"].idxmax()] if len(within) else None
    saturated = steps[~steps["sustained"]]
    saturation = float(steps["achieved_rate"].max()) if len(saturated) else None
    sat_row = steps.loc[steps["achieved_rate"].idxmax()] if len(steps) else None
    cpu_per_1k = cpu_ms_per_1k(steps, "server_cpu_s_per_s")
    info_per_1k = cpu_ms_per_1k(steps, "server_info_cpu_s_per_s")
    max_sus = float(best["achieved_rate"]) if best is not None else None
    answers: dict[str, Any] = {
        "max_sustainable_ops_per_s": max_sus,
        "max_sustainable_p99_ms": float(best["p99_ms"]) if best is not None else None,
        "max_sustainable_generator_limited": bool(best["generator_saturated"]) if best is not None else None,
        "knee": knee(steps),
        "saturation_ops_per_s": saturation,
        "saturation_generator_limited": bool(sat_row["generator_saturated"]) if saturation is not None and sat_row is not None else None,
        "highest_sustained_ops_per_s": float(steps[steps["sustained"]]["achieved_rate"].max())
        if steps["sustained"].any() else None,
        "bytes_per_key": memory.get("bytes_per_key"),
        "memory_usage_mean": memory.get("memory_usage_mean"),
        "memory_ratio": memory.get("ratio"),
        "server_cpu_ms_per_1k_ops": cpu_per_1k,
        "server_cpu_source": memory.get("server_cpu_source"),
        "server_info_cpu_ms_per_1k_ops": info_per_1k,
        "generator_saturated_steps": int(steps["generator_saturated"].sum()),
    }
    if target:
        answers["target_ops_per_s"] = target
        answers["headroom"] = round(max_sus / target - 1, 4) if max_sus else None
    return {"answers": answers, "memory": memory,
            "steps": json.loads(steps.drop(columns=["variant"]).to_json(orient="records"))}


def analyze_capacity(run_path: str | Path) -> dict[str, Any]:
    """Write summary.json for a capacity run; return it."""
    run = RunDir(run_path)
    meta = run.read_meta()
    scenario = yaml.safe_load(run.scenario.read_text()) if run.scenario.exists() else {}
    sweep = scenario.get("sweep") or {}
    slo = float(sweep.get("slo_p99_ms") or 1.0)
    target = sweep.get("target_ops_per_s")
    steps = load_steps(run.path)
    memory = CapacityFiles(run.path).read_memory()
    variants = []
    names = list(dict.fromkeys(list(memory) + (steps["variant"].astype(str).tolist() if len(steps) else [])))
    for name in names:
        own = steps[steps["variant"].astype(str) == name] if len(steps) else steps
        entry = {"name": name, "server": memory.get(name, {}).get("server"), "version": memory.get(name, {}).get("version")}
        if len(own):
            entry |= variant_answers(own, memory.get(name, {}), slo, target)
        else:
            entry |= {"answers": {}, "memory": memory.get(name, {}), "steps": []}
        variants.append(entry)
    complete = meta.get("status") == "complete"
    found = any(v["answers"].get("max_sustainable_ops_per_s") for v in variants)
    verdict = "pass" if complete and found else "fail"
    summary = {"schema": SCHEMA, "format_version": FORMAT_VERSION, "kind": "capacity", "run_id": meta.get("run_id") or run.path.name,
               "scenario": meta.get("scenario"), "platform": meta.get("platform"), "partial": not complete,
               "topology": meta.get("topology"), "slo_p99_ms": slo, "target_ops_per_s": target,
               "generator": _one({v["memory"].get("generator") for v in variants} - {None}),
               "rules": RULES, "variants": variants, "verdict": verdict,
               "error": meta.get("error"), "degraded": meta.get("degraded") or []}
    summary["headline"] = headline(summary)
    summary = json.loads(json.dumps(summary, default=_plain), parse_constant=lambda _: None)  # numpy, NaN: plain
    write_summary(run.summary, summary)
    return summary


def _one(values: set) -> Any:
    """The variants' common value; joined when they differ, None when none has one."""
    return None if not values else values.pop() if len(values) == 1 else "; ".join(sorted(values))


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (json's `default`)."""
    return value.item() if hasattr(value, "item") else str(value)


def headline(summary: dict[str, Any]) -> list[str]:
    """The report's first lines: the answers, one variant after another."""
    slo = summary["slo_p99_ms"]
    lines = []
    for v in summary["variants"]:
        a = v.get("answers") or {}
        label = f"[{v['name']}{' ' + v['version'] if v.get('version') else ''}] "
        if not a:
            lines.append(label + "no step completed")
            continue
        mx = a.get("max_sustainable_ops_per_s")
        limited = " (generator-limited: a lower bound)" if a.get("max_sustainable_generator_limited") else ""
        lowest = min((s for s in v.get("steps", []) if s.get("p99_ms") is not None), key=lambda s: s["p99_ms"],
                     default=None)
        lines.append(label + (f"max sustainable throughput at p99 <= {slo:g} ms: {mx:,.0f} ops/s "
                              f"(p99 {a['max_sustainable_p99_ms']:.3g} ms){limited}" if mx else
                              f"max sustainable throughput at p99 <= {slo:g} ms: none, no step met it (lowest p99 "
                              f"{lowest['p99_ms']:.3g} ms at {lowest['achieved_rate']:,.0f} ops/s)" if lowest else
                              f"max sustainable throughput at p99 <= {slo:g} ms: none, no step measured"))
        k = a.get("knee")
        if k:
            where = "" if k["found"] else " (no knee inside the sweep: at or beyond the last sustained step)"
            lines.append(label + f"knee: {k['achieved_rate']:,.0f} ops/s at p99 {k['p99_ms']:.3g} ms{where}")
        sat = a.get("saturation_ops_per_s")
        if sat:
            gen = " (the generator was saturated: not the server's limit)" if a.get("saturation_generator_limited") else ""
            lines.append(label + f"saturation: {sat:,.0f} ops/s{gen}")
        else:
            hs = a.get("highest_sustained_ops_per_s")
            lines.append(label + f"saturation: not reached (every step sustained, up to {hs or 0:,.0f} ops/s)")
        if a.get("bytes_per_key"):
            mu = a.get("memory_usage_mean")
            lines.append(label + f"memory per key: {a['bytes_per_key']:,.1f} B (used_memory delta / keys); "
                                 f"MEMORY USAGE mean {mu:,.1f} B" if mu else f"memory per key: {a['bytes_per_key']:,.1f} B")
        if a.get("server_cpu_ms_per_1k_ops") is not None:
            lines.append(label + f"server CPU: {a['server_cpu_ms_per_1k_ops']:.3g} CPU-ms per 1k ops" + _cpu_source(a))
        if a.get("target_ops_per_s"):
            h = a.get("headroom")
            lines.append(label + (f"headroom for {a['target_ops_per_s']:,.0f} ops/s: {h:+.0%}" if h is not None else
                                  f"headroom for {a['target_ops_per_s']:,.0f} ops/s: none (no step met the SLO)"))
        if a.get("generator_saturated_steps"):
            lines.append(label + f"generator saturated in {a['generator_saturated_steps']} step(s): "
                                 "their limits are the generator's, not the server's")
    if summary.get("generator"):
        lines.append(f"generator: {summary['generator']}")
    return lines


def _cpu_source(answers: dict[str, Any]) -> str:
    """Where the CPU figure came from; INFO's own figure beside it when the source was another."""
    source, info = answers.get("server_cpu_source"), answers.get("server_info_cpu_ms_per_1k_ops")
    if not source:
        return ""
    other = f"; INFO cpu says {info:.3g}" if info is not None and not source.startswith("INFO") else ""
    return f" (from {source}{other})"

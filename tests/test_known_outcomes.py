"""Whole runs with outcomes known before they start: the checker must count exactly what happened.

Each test runs a short real scenario through `run_scenario` (deploy, probe, nemesis, heal, final
read, teardown, checker) and recomputes the expected figure from the raw files on its own, with
plain csv/json, not with the checker's code.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from harness.runner import run_scenario
from harness.scenario import Scenario
from tests import recount
from tests.conftest import needs_redis, needs_root

pytestmark = [needs_redis, needs_root, pytest.mark.slow]


def run(tmp_path: Path, out: str = "run", **fields) -> tuple[dict, Path]:
    scenario = Scenario.model_validate({"name": "known", "settle_s": 1, "seed": 5, **fields})
    result = run_scenario(scenario, out_dir=tmp_path / out, progress=lambda m: None)
    assert result.status == "complete", (tmp_path / out / "meta.json").read_text()
    return result.summary, result.run_dir


def assert_window_recounted(summary: dict, run_dir: Path) -> None:
    """summary.json's unavailability window equals the one recounted from history.csv, to the millisecond."""
    (failover,) = summary["failover"]
    mine = recount.unavailable_s(run_dir, events(run_dir, "fault-start")[0]["t"])
    assert mine is not None and round(mine, 3) == round(failover["unavailable_s"], 3), (mine, failover)


def history(run_dir: Path) -> list[dict]:
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


def acked_writes(run_dir: Path) -> dict[str, dict]:
    """key -> the ok row of its write; an invoke's time is carried into the ok row as `invoke_ns`."""
    pending, acked = {}, {}
    for row in history(run_dir):
        if row["f"] != "write":
            continue
        if row["type"] == "invoke":
            pending[row["process"]] = int(row["t_ns"])
        elif row["type"] == "ok":
            acked.setdefault(row["key"], {**row, "invoke_ns": pending[row["process"]]})
    return acked


def absent_keys(run_dir: Path) -> set[str]:
    with open(run_dir / "final.csv") as f:
        return {row["key"] for row in csv.DictReader(f) if row["present"] in ("0", "False", "false")}


def events(run_dir: Path, type_: str) -> list[dict]:
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["type"] == type_]


SENTINEL = {"kind": "sentinel", "replicas": 2, "sentinels": 3, "quorum": 2, "down_after_ms": 1000,
            "failover_timeout_ms": 3000}
PROBE = {"clients": 3, "rate_per_client": 50, "timeout_ms": 300}


def test_split_brain_loses_exactly_the_writes_the_old_primary_acknowledged(tmp_path):
    summary, run_dir = run(
        tmp_path, duration_s=18, topology={**SENTINEL, "min_replicas_to_write": 0},
        workload={"probe": PROBE},
        faults=[{"kind": "partition", "mode": "isolate", "target": {"role": "primary"}, "client_side": "target",
                 "at_s": 4, "duration_s": 8}],
        slos={"max_lost_writes": 0},
    )
    acked = acked_writes(run_dir)
    lost = set(acked) & absent_keys(run_dir)
    assert len(lost) > 0, "asynchronous replication with a cut-off primary must lose acknowledged writes"
    assert summary["writes"]["lost"] == len(lost)
    old_primary = events(run_dir, "fault-start")[0]["pod"]
    old_primary = old_primary[0] if isinstance(old_primary, list) else old_primary
    assert {acked[k]["pod"] for k in lost} == {old_primary}
    assert summary["verdict"] == "fail"  # its max_lost_writes 0 SLO failed

    # Split brain: what the old primary acknowledged after another pod was made primary (the first
    # sign of it: a sentinel's logged +switch-master, or the watcher seeing the roles change).
    fault_start = events(run_dir, "fault-start")[0]["t"]
    switched = recount.logged_after(run_dir, fault_start, ("+switch-master",))
    seen = [e["t"] for e in events(run_dir, "primary-change") if e.get("old") == old_primary]
    promoted_t = min(seen + ([fault_start + switched] if switched is not None else []))
    demoted = recount.acked_by_old_primary_after(run_dir, old_primary, promoted_t)
    assert demoted, "the cut-off primary acknowledged nothing after the promotion: no split brain happened"
    assert summary["writes"]["acknowledged_by_demoted_primary"] == len(demoted)
    assert summary["writes"]["acknowledged_by_demoted_primary_lost"] == len(demoted & lost)


def test_min_replicas_to_write_bounds_the_loss_to_the_lag_window(tmp_path):
    """With min-replicas-to-write 1 the cut-off primary refuses writes (NOREPLICAS) once its replicas'
    lag passes min-replicas-max-lag. Redis promises no more than that: writes acknowledged inside
    the lag window (max-lag, plus the 1 s period of the replicas' REPLCONF ACK) can still be lost,
    and none after it. Without the setting, the same partition loses writes for its whole length."""
    max_lag = 1
    partition = [{"kind": "partition", "mode": "isolate", "target": {"role": "primary"}, "client_side": "target",
                  "at_s": 4, "duration_s": 8}]
    summary, run_dir = run(
        tmp_path, duration_s=18,
        topology={**SENTINEL, "min_replicas_to_write": 1, "min_replicas_max_lag_s": max_lag},
        workload={"probe": PROBE}, faults=partition,
    )
    without, without_dir = run(tmp_path, "without", duration_s=18, topology={**SENTINEL, "min_replicas_to_write": 0},
                               workload={"probe": PROBE}, faults=partition)
    lost_without = set(acked_writes(without_dir)) & absent_keys(without_dir)
    assert without["writes"]["lost"] == len(lost_without)
    assert summary["writes"]["lost"] < len(lost_without), "min-replicas-to-write 1 did not reduce the loss"
    start = events(run_dir, "fault-start")[0]
    old_primary = start["pod"][0] if isinstance(start["pod"], list) else start["pod"]
    window_end_ns = int((start["t"] + max_lag + 2.25) * 1e9)
    acked = acked_writes(run_dir)
    lost = set(acked) & absent_keys(run_dir)
    assert summary["writes"]["lost"] == len(lost)
    assert all(int(acked[k]["t_ns"]) <= window_end_ns for k in lost), "a write acknowledged after the lag window was lost"
    refused = [r for r in history(run_dir) if r["type"] == "fail" and "NOREPLICAS" in r["error"]]
    assert refused and all(r["pod"] == old_primary for r in refused), "the cut-off primary must refuse writes"
    late_acks = [k for k, row in acked.items() if row["pod"] == old_primary
                 and window_end_ns < int(row["t_ns"]) < int((start["t"] + 8) * 1e9)]
    assert late_acks == [], "the cut-off primary acknowledged writes after the lag window"


def test_standalone_without_persistence_loses_every_write_before_the_kill(tmp_path):
    summary, run_dir = run(
        tmp_path, duration_s=12, topology={"kind": "standalone", "persistence": {"mode": "none"}},
        workload={"probe": PROBE},
        faults=[{"kind": "pod-kill", "target": {"role": "primary"}, "at_s": 4, "duration_s": 2}],
    )
    kill_ns = int(events(run_dir, "fault-start")[0]["t"] * 1e9)
    acked = acked_writes(run_dir)
    before = {k for k, row in acked.items() if int(row["t_ns"]) < kill_ns}
    assert len(before) > 50
    assert absent_keys(run_dir) & set(acked) == before
    assert summary["writes"]["lost"] == len(before)
    assert_window_recounted(summary, run_dir)


def test_standalone_with_aof_always_loses_nothing(tmp_path):
    summary, run_dir = run(
        tmp_path, duration_s=12,
        topology={"kind": "standalone", "persistence": {"mode": "aof", "appendfsync": "always"}},
        workload={"probe": PROBE},
        faults=[{"kind": "pod-kill", "target": {"role": "primary"}, "at_s": 4, "duration_s": 2}],
    )
    assert len(acked_writes(run_dir)) > 100
    assert summary["writes"]["lost"] == 0 == len(set(acked_writes(run_dir)) & absent_keys(run_dir))


def assert_complete_run_directory(run_dir: Path, slos: int) -> None:
    """Every file a run promises, summary.json valid against its published schema, JUnit with one case
    per SLO, and an HTML page whose only images are inlined."""
    import jsonschema
    from junitparser import JUnitXml

    for name in ("scenario.yaml", "meta.json", "events.jsonl", "history.csv", "final.csv", "summary.json",
                 "junit.xml", "report.html", "series/probe.csv", "tables/history.parquet"):
        assert (run_dir / name).is_file(), f"{name} missing"
    assert sorted(p.name for p in (run_dir / "plots").glob("*.png"))
    assert {p.name for p in (run_dir / "logs").glob("*.log")} >= {"redis-0.log", "sentinel-0.log"}
    schema = json.loads((Path(__file__).resolve().parent.parent / "docs" / "summary.schema.json").read_text())
    jsonschema.validate(json.loads((run_dir / "summary.json").read_text()), schema)
    cases = [case for suite in JUnitXml.fromfile(str(run_dir / "junit.xml")) for case in suite]
    assert len([c for c in cases if c.classname.endswith(".slo")]) == slos, [c.name for c in cases]
    page = (run_dir / "report.html").read_text()
    sources = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page)
    assert sources and all(s.startswith("data:image/png;base64,") or s.startswith("#") for s in sources), sources


def test_sentinel_primary_kill_window_and_promotion_time(tmp_path):
    summary, run_dir = run(
        tmp_path, duration_s=16, topology=SENTINEL, workload={"probe": PROBE},
        faults=[{"kind": "pod-kill", "target": {"role": "primary"}, "at_s": 4, "duration_s": 8}],
        slos={"max_unavailable_s": 15, "max_lost_writes": 10, "max_p99_ms": 1000},
    )
    assert_complete_run_directory(run_dir, slos=3)
    (failover,) = summary["failover"]
    down_after = SENTINEL["down_after_ms"] / 1000
    assert down_after <= failover["unavailable_s"] <= down_after + 10
    assert_window_recounted(summary, run_dir)
    fault_start = events(run_dir, "fault-start")[0]["t"]
    detected = recount.logged_after(run_dir, fault_start, ("+sdown", "+odown"), first_word="master")
    promoted = recount.logged_after(run_dir, fault_start, ("+switch-master",))
    assert detected is not None and promoted is not None, "the sentinels logged no +sdown/+switch-master"
    assert abs(failover["detected_s"] - detected) < 0.001, (failover, detected)
    assert abs(failover["promoted_s"] - promoted) < 0.001, (failover, promoted)
    assert failover["new_primary"] in ("redis-1", "redis-2")

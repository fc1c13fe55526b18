"""The checker on hand-written run directories: every expected number is worked out by hand here.

No Redis is involved: the checker reads files only (DESIGN.md), so these histories are the
known outcomes. Real-server tests of the same definitions live with the probe.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml

from harness.checker import analyze
from harness.rundir import FINAL_COLUMNS, HISTORY_COLUMNS

SCHEMA = json.loads((Path(__file__).parents[1] / "docs" / "summary.schema.json").read_text())
PODS = ["redis-0", "redis-1", "redis-2"]


def ns(seconds: float) -> int:
    return round(seconds * 1e9)


def address(pod: str) -> str:
    return f"10.213.0.{10 + PODS.index(pod)} 6379"


@dataclass
class RunBuilder:
    """A run directory written the way the runner, probe and watchers would write it."""

    path: Path
    rows: list[tuple] = field(default_factory=list)
    final: list[tuple] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    slos: dict = field(default_factory=dict)
    status: str = "complete"
    ended_t: float | None = 30.0
    converged: bool | None = True  # final-state.json: converged, not converged (redis-2's link down), or absent

    def op(self, process: int, f: str, key: str, start: float, outcome: str | None, end: float | None = None,
           pod: str = "redis-0", value: str = "", error: str = "") -> str:
        """An invoke, then its completion (outcome None: the run died before it completed)."""
        self.rows.append((ns(start), process, "invoke", f, key, value, "", ""))
        if outcome is not None:
            served = "" if outcome == "fail" else pod
            self.rows.append((ns(end if end is not None else start + 0.001), process, outcome, f, key, value, served, error))
        return key

    def write(self, process: int, seq: int, start: float, outcome: str | None, end: float | None = None,
              pod: str = "redis-0", present: bool | None = True, key: str | None = None) -> str:
        key = key or f"probe:{process}:{seq}"
        self.op(process, "write", key, start, outcome, end, pod, value=str(seq))
        if present is not None:
            self.final.append((key, int(present), str(seq) if present else "", "redis-1"))
        return key

    def event(self, t: float, source: str, type: str, **fields) -> None:
        self.events.append({"t": t, "wall": 1_800_000_000 + t, "source": source, "type": type, **fields})

    def fault(self, fault_id: str, start: float, end: float | None, pod: str = "redis-0", kind: str = "pod-kill",
              verified: bool | None = True) -> None:
        self.event(start, "nemesis", "fault-start", fault_id=fault_id, kind=kind, target={"role": "primary"}, pod=pod,
                   params={})
        if verified is not None:
            self.event(start + 0.05, "nemesis", "fault-verified", fault_id=fault_id, ok=verified,
                       detail=f"{pod}: down" if verified else f"{pod}: still answers PING")
        if end is not None:
            self.event(end, "nemesis", "fault-end", fault_id=fault_id, kind=kind, pod=pod)

    def sentinel(self, t: float, event: str, detail: str) -> None:
        self.event(t, "sentinel", "sentinel", event=event, detail=detail, sentinel="sentinel-0")

    def role(self, t: float, pod: str, role: str) -> None:
        self.event(t, "watcher", "role-change", pod=pod, role=role, shard=0)

    def build(self) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        rows = sorted(self.rows, key=lambda r: r[0])  # the probe appends as things happen
        pd.DataFrame(rows, columns=HISTORY_COLUMNS).to_csv(self.path / "history.csv", index=False)
        pd.DataFrame(self.final, columns=FINAL_COLUMNS).to_csv(self.path / "final.csv", index=False)
        events = sorted(self.events, key=lambda e: e["t"])
        (self.path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
        meta = {"run_id": "test-run", "scenario": "checker-test", "platform": "local", "network": "netns",
                "topology": {"kind": "sentinel", "replicas": 2},
                "pods": [{"name": p, "kind": "redis", "host": address(p).split()[0], "port": 6379,
                          "version": "redis 7.0.15"} for p in PODS],
                "start_mono_ns": 1, "start_wall": 1_800_000_000.0, "duration_s": 30, "status": self.status,
                "ended_t": self.ended_t, "degraded": []}
        (self.path / "meta.json").write_text(json.dumps(meta))
        if self.converged is not None:
            pods = [{"name": p, "kind": "redis", "role": "primary" if i == 0 else "replica", "shard": None,
                     "primary": None if i == 0 else PODS[0], "link_up": None if i == 0 else True,
                     "offset": 1000, "primary_offset": None if i == 0 else 1000} for i, p in enumerate(PODS)]
            if not self.converged:
                pods[-1]["link_up"] = False
            (self.path / "final-state.json").write_text(json.dumps({"kind": "sentinel", "pods": pods}))
        scenario = {"name": "checker-test", "duration_s": 30, "topology": {"kind": "sentinel", "replicas": 2},
                    "slos": self.slos}
        (self.path / "scenario.yaml").write_text(yaml.safe_dump(scenario))
        return self.path


def check(run_dir: Path) -> dict:
    """analyze, and hold its output to the published schema and to what it wrote."""
    summary = analyze(run_dir)
    jsonschema.Draft202012Validator(SCHEMA).validate(summary)
    assert json.loads((run_dir / "summary.json").read_text()) == summary
    return summary


@pytest.fixture
def run(tmp_path) -> RunBuilder:
    return RunBuilder(tmp_path / "run")


def test_the_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


# --------------------------------------------------------------------------- a failover, by hand


def sentinel_failover(run: RunBuilder) -> RunBuilder:
    """Primary redis-0 killed at 10.0 s; sentinels promote redis-1 at 11.9 s.

    writes (key: outcome, final) and why they matter:
      probe:0:1  ok    present   before the fault
      probe:1:1  ok    absent    acknowledged, then gone: the one lost write
      probe:0:2  fail  absent    first failure after the start (completes 10.201): window starts at its invoke 10.2
      probe:1:2  info  present   unknown outcome, present: not lost, not acknowledged
      probe:0:3  fail  absent
      probe:1:3  info  absent    unknown outcome, absent: never counted lost
      probe:0:4  ok    present   acknowledged at 11.203, but a failure completes later (11.601)
      probe:0:5  fail  absent    the last failure, completes 11.601
      probe:1:4  ok    present   first acknowledged write after it: window ends at 12.004
      probe:0:6  ok    present
    A read acknowledged at 10.501 inside the window does not end it (only writes do).
    """
    run.write(0, 1, 9.0, "ok", 9.001)
    run.write(1, 1, 9.5, "ok", 9.502, present=False)
    run.fault("0.0", 10.0, 20.0)
    run.write(0, 2, 10.2, "fail", 10.201, present=False)
    run.write(1, 2, 10.3, "info", 10.8, present=True)
    run.write(0, 3, 10.4, "fail", 10.401, present=False)
    run.op(0, "read", "probe:0:1", 10.5, "ok", 10.501, pod="redis-2", value="1")
    run.write(1, 3, 11.0, "info", 11.5, present=False)
    run.write(0, 4, 11.2, "ok", 11.203, pod="redis-1")
    run.write(0, 5, 11.6, "fail", 11.601, present=False)
    run.write(1, 4, 12.0, "ok", 12.004, pod="redis-1")
    run.write(0, 6, 12.1, "ok", 12.102, pod="redis-1")
    run.sentinel(10.5, "+sdown", f"slave {address('redis-2').replace(' ', ':')} {address('redis-2')} @ mymaster {address('redis-0')}")
    run.sentinel(11.0, "+sdown", f"+sdown master mymaster {address('redis-0')}")
    run.sentinel(11.1, "+odown", f"master mymaster {address('redis-0')} #quorum 2/2")
    run.sentinel(11.9, "+switch-master", f"mymaster {address('redis-0')} {address('redis-1')}")
    run.sentinel(11.95, "+switch-master", f"mymaster {address('redis-0')} {address('redis-1')}")  # another sentinel
    return run


def test_ok_fail_info_interleavings_give_the_hand_counted_window_and_losses(run):
    summary = check(sentinel_failover(run).build())

    assert summary["faults"] == [{"fault_id": "0.0", "kind": "pod-kill", "target": "redis-0", "start_s": 10.0,
                                  "end_s": 20.0}]
    assert summary["failover"] == [{
        "fault_id": "0.0", "unavailable_s": 1.804, "unavailable_start_s": 10.2, "unavailable_end_s": 12.004,
        "detected_s": 1.0, "promoted_s": 1.9, "new_primary": "redis-1", "detected_by": "harness",
        "promoted_by": "harness",
    }]
    writes = summary["writes"]
    assert (writes["attempted"], writes["acknowledged"], writes["failed"], writes["unknown"], writes["lost"]) == \
        (10, 5, 3, 2, 1)
    assert writes["lost_sample"] == [{"key": "probe:1:1", "acked_s": 9.502}]
    assert writes["unchecked"] == 0
    assert summary["verdict"] == "pass" and summary["partial"] is False and summary["slo"] == []
    assert summary["versions"] == {p: "redis 7.0.15" for p in PODS}


def test_analyze_writes_the_probe_series_and_tables(run):
    run_dir = sentinel_failover(run).build()
    check(run_dir)

    series = pd.read_csv(run_dir / "series" / "probe.csv")
    assert list(series.columns) == ["t_s", "driver", "ok", "fail", "info", "p50_ms", "p90_ms", "p99_ms", "max_ms"]
    by_second = {int(r.t_s): (r.ok, r.fail, r.info) for r in series.itertuples()}
    # completions: 9.001 9.502 | 10.201 10.401 10.501(read) 10.8 | 11.203 11.5 11.601 | 12.004 12.102
    assert by_second == {9: (2, 0, 0), 10: (1, 2, 1), 11: (1, 1, 1), 12: (2, 0, 0)}
    assert series.loc[series.t_s == 9, ["p50_ms", "max_ms"]].values.tolist() == [[1.0, 2.0]]  # 1 ms and 2 ms

    history = pd.read_parquet(run_dir / "tables" / "history.parquet")
    assert len(history) == 11
    assert history["key"].isna().tolist() == (history["f"] == "read").tolist()  # keys are write identities
    assert history["complete_ns"].notna().all()
    assert set(pd.read_parquet(run_dir / "tables" / "events.parquet")["type"]) == {"fault-start", "fault-verified", "fault-end",
                                                                                "sentinel"}
    assert set(pd.read_parquet(run_dir / "tables" / "series.parquet")["driver"]) == {"probe"}


# --------------------------------------------------------------------------- identities of writes


@pytest.mark.parametrize("key_format", ["probe:{p}:{s}", "probe:{{{p}}}:{s}", "app:{p}/{s:03d}"])
def test_a_key_acknowledged_twice_counts_once(run, key_format):
    """probe:0:1 is acknowledged twice and absent: one lost write. probe:0:2 times out, then its retry is
    acknowledged, and it is present. probe:0:3 is refused twice: one failed write. Keys in another shape
    than probe:<p>:<s> take the dictionary path and must count the same."""
    key = lambda s: key_format.format(p=0, s=s)  # noqa: E731
    run.write(0, 1, 1.0, "ok", 1.001, present=None, key=key(1))
    run.write(0, 1, 2.0, "ok", 2.002, present=False, key=key(1))
    run.write(0, 2, 3.0, "info", 3.5, present=None, key=key(2))
    run.write(0, 2, 4.0, "ok", 4.001, present=True, key=key(2))
    run.write(0, 3, 5.0, "fail", present=None, key=key(3))
    run.write(0, 3, 6.0, "fail", present=False, key=key(3))
    writes = check(run.build())["writes"]

    assert (writes["attempted"], writes["acknowledged"], writes["failed"], writes["unknown"], writes["lost"]) == \
        (3, 2, 1, 0, 1)
    assert writes["lost_sample"] == [{"key": key(1), "acked_s": 1.001}]  # the first acknowledgement


def test_an_acknowledged_key_missing_from_final_is_unchecked_not_lost(run):
    run.write(0, 1, 1.0, "ok", present=None)
    run.write(0, 2, 2.0, "ok", present=False)
    summary = check(run.build())

    assert (summary["writes"]["lost"], summary["writes"]["unchecked"]) == (1, 1)
    assert any("1 acknowledged writes have no row in final.csv" in d for d in summary["degraded"])


# --------------------------------------------------------------------------- fault attribution


def test_overlapping_faults_split_failures_at_the_later_start(run):
    """Fault A 10-20 s (redis-0), fault B 12-14 s (redis-1) overlaps it. A failure belongs to the most
    recent fault that started before it: 10.5 and 11.5 are A's (A recovers at 11.8); 12.5 and 13.0 are
    B's although A is still on (B recovers at 13.5). Server events split the same way."""
    run.write(0, 1, 9.0, "ok")
    run.fault("0.0", 10.0, 20.0, pod="redis-0")
    run.fault("1.0", 12.0, 14.0, pod="redis-1", kind="pause")
    run.write(0, 2, 10.49, "fail", 10.5)
    run.write(0, 3, 11.0, "ok", 11.001)
    run.write(0, 4, 11.4, "info", 11.5)
    run.write(0, 5, 11.79, "ok", 11.8)
    run.write(0, 6, 12.49, "fail", 12.5)
    run.write(0, 7, 12.99, "fail", 13.0)
    run.write(0, 8, 13.49, "ok", 13.5)
    run.sentinel(10.8, "+sdown", f"master mymaster {address('redis-0')}")
    run.sentinel(12.3, "+sdown", f"master mymaster {address('redis-1')}")
    run.sentinel(13.2, "+switch-master", f"mymaster {address('redis-1')} {address('redis-2')}")
    summary = check(run.build())

    assert [f["fault_id"] for f in summary["faults"]] == ["0.0", "1.0"]
    assert summary["failover"] == [
        {"fault_id": "0.0", "unavailable_s": 1.31, "unavailable_start_s": 10.49, "unavailable_end_s": 11.8,
         "detected_s": 0.8, "promoted_s": None, "new_primary": None, "detected_by": "harness", "promoted_by": None},
        {"fault_id": "1.0", "unavailable_s": 1.01, "unavailable_start_s": 12.49, "unavailable_end_s": 13.5,
         "detected_s": 0.3, "promoted_s": 1.2, "new_primary": "redis-2", "detected_by": "harness",
         "promoted_by": "harness"},
    ]


def test_cluster_detection_and_promotion_come_from_watcher_events(run):
    run.fault("0.0", 10.0, 15.0, pod="redis-0")
    run.event(10.5, "watcher", "cluster-state", pod="redis-4", state="ok")
    run.event(11.0, "watcher", "cluster-state", pod="redis-4", state="fail")
    run.event(12.5, "watcher", "primary-change", shard=0, old="redis-0", new="redis-3")
    failover = check(run.build())["failover"][0]

    assert (failover["detected_s"], failover["promoted_s"], failover["new_primary"]) == (1.0, 2.5, "redis-3")


def test_a_fault_whose_failures_all_come_after_the_next_start_reports_no_window(run):
    run.fault("0.0", 10.0, 20.0)
    run.fault("1.0", 11.0, 12.0)
    run.write(0, 1, 11.5, "fail", 11.6)
    run.write(0, 2, 11.7, "ok", 11.8)
    failover = check(run.build())["failover"]

    assert (failover[0]["unavailable_s"], failover[0]["unavailable_start_s"]) == (0.0, None)
    assert (failover[1]["unavailable_s"], failover[1]["unavailable_start_s"], failover[1]["unavailable_end_s"]) == \
        (0.3, 11.5, 11.8)


def test_no_faults_no_failover_and_the_whole_run_is_baseline(run):
    """Process 0 writes at 0.5, 1.5 ... 5.5, process 1 at 1.2, 2.2, 3.2, all acknowledged after 1 ms.
    Per second: 0:1 1:2 2:2 3:2 4:1 5:1; the first and last active seconds are partial, so the
    baseline is (2 + 2 + 2 + 1) / 4 = 1.75 ops/s."""
    for i in range(6):
        run.write(0, i, i + 0.5, "ok")
    for i in range(3):
        run.write(1, i, i + 1.2, "ok")
    run.event(0.1, "runner", "run-start", detail="")
    run.slos = {"max_unavailable_s": 0, "min_baseline_ops_per_s": 1.75}
    summary = check(run.build())

    assert summary["faults"] == [] and summary["failover"] == []
    assert summary["throughput"] == {
        "driver": "probe", "baseline_ops_per_s": 1.75, "during_fault_ops_per_s": None, "recovered_ops_per_s": None,
        "by_driver": {"probe": {"baseline_ops_per_s": 1.75, "during_fault_ops_per_s": None,
                                "recovered_ops_per_s": None}},
    }
    assert summary["slo"] == [{"name": "max_unavailable_s", "limit": 0.0, "value": 0.0, "pass": True, "status": "pass"},
                              {"name": "min_baseline_ops_per_s", "limit": 1.75, "value": 1.75, "pass": True,
                               "status": "pass"}]
    assert summary["verdict"] == "pass"


@pytest.mark.parametrize("history_text", ["", ",".join(HISTORY_COLUMNS) + "\n"], ids=["zero-bytes", "header-only"])
def test_an_empty_history_gives_zeros(run, history_text):
    run.fault("0.0", 5.0, 8.0)
    run_dir = run.build()
    (run_dir / "history.csv").write_text(history_text)
    summary = check(run_dir)

    assert summary["writes"] == {"attempted": 0, "acknowledged": 0, "failed": 0, "unknown": 0, "lost": 0,
                                 "lost_sample": [], "acknowledged_by_demoted_primary": 0,
                                 "acknowledged_by_demoted_primary_lost": 0, "unchecked": 0, "lost_by_pod": {}}
    assert summary["latency_ms"] == {"p50": 0.0, "p90": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0}
    assert summary["throughput"]["by_driver"] == {
        "probe": {"baseline_ops_per_s": 0.0, "during_fault_ops_per_s": 0.0, "recovered_ops_per_s": 0.0}}
    assert summary["failover"] == [{"fault_id": "0.0", "unavailable_s": 0.0, "unavailable_start_s": None,
                                    "unavailable_end_s": None, "detected_s": None, "promoted_s": None,
                                    "new_primary": None, "detected_by": None, "promoted_by": None}]


def test_an_invoke_without_completion_is_unknown_and_a_partial_run_is_incomplete(run):
    """The run died (status running, no ended_t) while probe:1:2 was outstanding. It counts as unknown,
    never lost although absent; as a failure it opens the window at its invoke (12.0), and with no
    acknowledged write after it the window runs to the last thing the run recorded (events: 14.0)."""
    run.status, run.ended_t = "running", None
    run.write(0, 1, 9.0, "ok")
    run.fault("0.0", 10.0, None)
    run.write(1, 2, 12.0, None, present=False)
    run.write(0, 2, 11.0, "ok", 11.001)
    run.event(14.0, "watcher", "role-change", pod="redis-0", role="down", shard=0)
    summary = check(run.build())

    assert (summary["writes"]["attempted"], summary["writes"]["acknowledged"], summary["writes"]["unknown"],
            summary["writes"]["lost"]) == (3, 2, 1, 0)
    assert summary["faults"][0]["end_s"] is None
    assert summary["failover"][0]["unavailable_start_s"] == 12.0
    assert summary["failover"][0]["unavailable_end_s"] is None
    assert summary["failover"][0]["unavailable_s"] == 2.0
    assert summary["duration_s"] == 14.0
    assert summary["partial"] is True and summary["verdict"] == "incomplete"


# --------------------------------------------------------------------------- split brain


def test_writes_acknowledged_by_a_primary_after_another_was_promoted(run):
    """The split-brain window: redis-1 is made primary at 3.5 s (primary-change) while redis-0 still
    acknowledges a write at 4.0 (lost). redis-0's writes before 3.5 are not in the window, nor is
    redis-1's at 4.5, nor redis-2's at 8.0 (no change names it); redis-0 is primary again from 10.0,
    so its write at 11.0 is not either."""
    run.write(0, 1, 0.999, "ok", 1.0)
    run.write(0, 2, 1.999, "ok", 2.0)
    run.write(0, 3, 2.999, "ok", 3.0, present=False)
    run.event(3.5, "watcher", "primary-change", shard=None, old="redis-0", new="redis-1")
    run.write(0, 4, 3.999, "ok", 4.0, present=False)
    run.write(1, 1, 4.499, "ok", 4.5, pod="redis-1")
    run.write(1, 2, 7.999, "ok", 8.0, pod="redis-2")
    run.event(10.0, "watcher", "primary-change", shard=None, old="redis-1", new="redis-0")
    run.write(0, 5, 10.999, "ok", 11.0)
    writes = check(run.build())["writes"]

    assert (writes["acknowledged"], writes["lost"]) == (7, 2)
    assert (writes["acknowledged_by_demoted_primary"], writes["acknowledged_by_demoted_primary_lost"]) == (1, 1)


def test_split_brain_window_is_per_shard(run):
    """In a cluster, shard 1's failover does not make shard 0's primary a demoted one."""
    run.write(0, 1, 0.999, "ok", 1.0, pod="redis-0")
    run.event(2.0, "watcher", "primary-change", shard=1, old="redis-2", new="redis-3")
    run.write(0, 2, 2.999, "ok", 3.0, pod="redis-0")
    run.write(1, 1, 3.499, "ok", 3.5, pod="redis-2", present=False)
    writes = check(run.build())["writes"]

    assert (writes["acknowledged_by_demoted_primary"], writes["acknowledged_by_demoted_primary_lost"]) == (1, 1)


# --------------------------------------------------------------------------- throughput, latency, SLOs


def test_throughput_phases_per_driver_and_the_headline_is_the_load_driver(run):
    """locust: 100 ok/s in 0..9, 40 in 10..14 (fault 10.0-15.0), 0 in 15 and 16, 90 in 17..24.
    Whole seconds: 0 and 24 are the driver's edges. baseline 1..9 = 100; during 10..14 = 40;
    recovered: the first success after 15.0 is in second 17, so 17..23 = 90."""
    run.fault("0.0", 10.0, 15.0)
    run_dir = run.build()
    ok = [100] * 10 + [40] * 5 + [0, 0] + [90] * 8
    fail = [0] * 15 + [30, 30] + [0] * 8
    (run_dir / "series").mkdir()
    pd.DataFrame({"t_s": range(25), "driver": "locust", "ok": ok, "fail": fail, "info": 0, "p50_ms": 1.0,
                  "p90_ms": 2.0, "p99_ms": 3.0, "max_ms": 4.0}).to_csv(run_dir / "series" / "locust.csv", index=False)
    summary = check(run_dir)

    expected = {"baseline_ops_per_s": 100.0, "during_fault_ops_per_s": 40.0, "recovered_ops_per_s": 90.0}
    assert {k: summary["throughput"][k] for k in expected} == expected
    assert summary["throughput"]["by_driver"]["locust"] == expected
    assert set(summary["throughput"]["by_driver"]) == {"locust", "probe"}


def test_probe_throughput_recovery_starts_at_its_first_success(run):
    """Probe ops every 0.25 s from 0.1 to 19.85, acknowledged after 1 ms, except those invoked in
    [10.0, 13.6): refused. Fault 10.0-12.0. Whole seconds 1..18; baseline 1..9 = 4/s; during 10..11 =
    0/s; the first success after 12.0 completes at 13.601 (invoked 13.6), so recovered is 14..18 = 4/s."""
    run.fault("0.0", 10.0, 12.0)
    for i in range(80):
        start = round(0.1 + i * 0.25, 3)
        run.write(0, i, start, "fail" if 10.0 <= start < 13.6 else "ok", present=None)
    summary = check(run.build())

    assert summary["throughput"]["by_driver"]["probe"] == {
        "baseline_ops_per_s": 4.0, "during_fault_ops_per_s": 0.0, "recovered_ops_per_s": 4.0}
    assert summary["failover"][0]["unavailable_start_s"] == 10.1
    assert summary["failover"][0]["unavailable_end_s"] == 13.601


def test_latency_percentiles(run):
    """Ten acknowledged reads of 0.1 .. 1.0 ms (exact in the HdrHistogram below 2048 µs) and a refused
    write, whose latency does not count. Nearest rank: p50 = 5th = 0.5, p90 = 9th = 0.9, p99 = 10th."""
    for i in range(1, 11):
        run.op(0, "read", "probe:0:0", i, "ok", i + i / 10_000)
    run.write(0, 1, 20.0, "fail", 25.0, present=False)
    summary = check(run.build())

    assert summary["latency_ms"] == {"p50": 0.5, "p90": 0.9, "p99": 1.0, "p999": 1.0, "max": 1.0}


def test_slos_judge_the_summary(run):
    """On the sentinel failover above: unavailable 1.804 s, 1 lost, detection 1.0 s; the 6 acknowledged
    operations took 1, 1, 2, 2, 3 and 4 ms, so p99 is the 6th: 4 ms, which the HdrHistogram (3 significant
    figures) reports as its bucket's highest equivalent value: 4000 µs lies in the 2 µs bucket [4000, 4001]."""
    run.slos = {"max_unavailable_s": 2, "max_lost_writes": 0, "max_detection_s": 0.5, "max_p99_ms": 5}
    summary = check(sentinel_failover(run).build())

    assert summary["slo"] == [
        {"name": "max_unavailable_s", "limit": 2.0, "value": 1.804, "pass": True, "status": "pass"},
        {"name": "max_lost_writes", "limit": 0, "value": 1, "pass": False, "status": "fail"},
        {"name": "max_p99_ms", "limit": 5.0, "value": 4.001, "pass": True, "status": "pass"},
        {"name": "max_detection_s", "limit": 0.5, "value": 1.0, "pass": False, "status": "fail"},
    ]
    assert summary["verdict"] == "fail"


def test_an_slo_that_cannot_be_measured_is_not_evaluated_and_never_passes(run):
    run.fault("0.0", 5.0, 6.0)
    run.write(0, 1, 1.0, "ok")
    run.slos = {"max_detection_s": 10}
    summary = check(run.build())

    assert summary["slo"] == [{"name": "max_detection_s", "limit": 10.0, "value": None, "pass": False,
                               "status": "not-evaluated", "reason": "could not be measured"}]
    assert summary["verdict"] == "incomplete"
    assert "SLO max_detection_s: not-evaluated" in summary["headline"]
    assert any("max_detection_s" in d for d in summary["degraded"])


def test_a_run_that_stopped_before_deploying_passes_no_slo(run):
    """The shape a run leaves when it fails before the deploy: meta and scenario, no history, no final read.
    An empty failover list would give max_unavailable_s 0.0 and no lost writes 0: neither is a pass."""
    run.status, run.ended_t, run.converged = "failed", 0.01, None
    run.slos = {"max_unavailable_s": 10, "max_lost_writes": 0, "min_baseline_ops_per_s": 1}
    run_dir = run.build()
    (run_dir / "history.csv").unlink()
    (run_dir / "final.csv").unlink()
    summary = check(run_dir)

    assert [s["status"] for s in summary["slo"]] == ["not-evaluated"] * 3
    assert not any(s["pass"] for s in summary["slo"])
    assert {s["reason"] for s in summary["slo"]} == {"no load ran"}
    assert summary["verdict"] == "incomplete"


def test_a_fault_whose_verification_failed_fails_the_run_and_is_named(run):
    run.fault("0.0", 5.0, 6.0, pod="redis-0", kind="pause", verified=False)
    run.write(0, 1, 1.0, "ok")
    run.write(0, 2, 8.0, "ok")
    summary = check(run.build())

    (fault,) = [c for c in summary["checks"] if c["name"].startswith("fault")]
    assert fault == {"name": "fault 0.0 verified", "status": "fail",
                     "detail": "pause redis-0: not applied: redis-0: still answers PING", "log": None}
    assert summary["verdict"] == "fail"
    assert summary["headline"].startswith("fail: fault 0.0 verified: fail - pause redis-0: not applied")


def test_a_fault_the_scenario_allows_not_to_apply_is_reported_not_failed(run):
    run.fault("0.0", 5.0, 6.0, pod="redis-0", kind="pause", verified=False)
    run.write(0, 1, 1.0, "ok")
    run_dir = run.build()
    scenario = yaml.safe_load((run_dir / "scenario.yaml").read_text())
    scenario["faults"] = [{"kind": "pause", "target": {"pod": "redis-0"}, "at_s": 5, "duration_s": 1,
                           "allow_not_applied": True}]
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump(scenario))
    summary = check(run_dir)

    (fault,) = [c for c in summary["checks"] if c["name"].startswith("fault")]
    assert fault["status"] == "not-evaluated" and fault["allowed"] is True
    assert summary["verdict"] == "pass"
    assert "not applied" in summary["headline"] and "allowed by the scenario" in summary["headline"]


def test_a_topology_that_did_not_converge_fails_the_run_naming_pod_and_log_line(run):
    run.write(0, 1, 1.0, "ok")
    run.converged = False
    run_dir = run.build()
    (run_dir / "logs").mkdir()
    (run_dir / "logs" / "redis-2.log").write_text(
        "1:S 01 Dec 2026 10:00:00.000 * Connecting to MASTER 10.213.0.11:6379\n"
        "1:S 01 Dec 2026 10:00:00.100 # Can't handle RDB format version 11\n"
        "1:S 01 Dec 2026 10:00:00.101 # Failed trying to load the MASTER synchronization DB from socket\n")
    summary = check(run_dir)

    converged = next(c for c in summary["checks"] if c["name"] == "topology converged")
    assert converged["status"] == "fail"
    assert converged["detail"].startswith("redis-2: replica link to redis-0 is down (log: ")
    assert "Can't handle RDB format version 11" in converged["detail"]
    assert summary["verdict"] == "fail"
    assert "redis-2" in summary["headline"] and "Can't handle RDB format version 11" in summary["headline"]
    from harness.report import build_report

    page = build_report(run_dir).read_text()
    assert "FAILED topology converged" in page and "Can&#39;t handle RDB format version 11" in page


def test_without_a_readable_scenario_no_slo_is_judged_and_the_verdict_is_incomplete(run):
    run.write(0, 1, 1.0, "ok")
    run_dir = run.build()
    (run_dir / "scenario.yaml").write_text("name: [unclosed\n")
    summary = check(run_dir)

    assert summary["slo"] == [] and summary["verdict"] == "incomplete" and summary["partial"] is False
    assert any(d.startswith("scenario.yaml could not be read") for d in summary["degraded"])


def test_a_torn_last_line_and_a_missing_final_read_are_reported(run):
    run.write(0, 1, 1.0, "ok")
    run_dir = run.build()
    (run_dir / "final.csv").unlink()
    with open(run_dir / "history.csv", "a") as history:
        history.write("2000000000,0,inv")
    with open(run_dir / "events.jsonl", "a") as events:
        events.write('{"t": 3.0, "sou')
    summary = check(run_dir)

    assert (summary["writes"]["acknowledged"], summary["writes"]["lost"], summary["writes"]["unchecked"]) == (1, 0, 1)
    assert any("history.csv: 1 unreadable" in d for d in summary["degraded"])
    assert any("events.jsonl: 1 lines" in d for d in summary["degraded"])
    assert any("final.csv is missing" in d for d in summary["degraded"])


def test_sentinel_logs_time_detection_and_promotion_when_pubsub_arrives_late(run):
    """A partition held the watcher's pub/sub messages until the heal (they arrive at 14.0 s); the
    sentinel's own log says +sdown at 11.2 s and +switch-master at 12.5 s. The log wins, and the
    +switch-master also opens the split-brain window for redis-0 from 12.5 s."""
    run.fault("0.0", 10.0, 13.5, kind="partition")
    old, new = address("redis-0"), address("redis-1")
    run.sentinel(14.0, "+sdown", f"master mymaster {old}")
    run.sentinel(14.0, "+switch-master", f"mymaster {old} {new}")
    run.write(0, 1, 12.9, "ok", 13.0, pod="redis-0", present=False)  # acknowledged by the superseded primary
    run.write(0, 2, 11.9, "ok", 12.0, pod="redis-0", present=False)  # before the promotion
    path = run.build()
    (path / "logs").mkdir()
    wall = lambda t: time.strftime("%d %b %Y %H:%M:%S", time.gmtime(1_800_000_000 + t)) + f".{round(t * 1000) % 1000:03d}"
    (path / "logs" / "sentinel-0.log").write_text(
        f"77:X {wall(11.2)} # +sdown master mymaster {old}\n"
        f"77:X {wall(11.25)} # +odown master mymaster {old} #quorum 2/2\n"
        f"77:X {wall(12.5)} # +switch-master mymaster {old} {new}\n")
    meta = json.loads((path / "meta.json").read_text())
    (path / "meta.json").write_text(json.dumps({**meta, "utc_offset_s": 0}))
    summary = check(path)

    (failover,) = summary["failover"]
    assert (failover["detected_s"], failover["promoted_s"], failover["new_primary"]) == (1.2, 2.5, "redis-1")
    assert (summary["writes"]["lost"], summary["writes"]["acknowledged_by_demoted_primary"]) == (2, 1)


def cluster_partition(run: RunBuilder) -> RunBuilder:
    """redis-0 (shard primary) isolated with the harness at 10.0 s, healed at 18.0 s; the watcher, cut off,
    sees redis-1 as the new primary only at 18.2 s."""
    run.fault("0.0", 10.0, 18.0, kind="partition")
    run.event(18.2, "watcher", "primary-change", shard=0, old="redis-0", new="redis-1")
    run.write(0, 1, 9.0, "ok")
    return run


def cluster_meta(path: Path) -> None:
    meta = json.loads((path / "meta.json").read_text())
    meta["topology"] = {"kind": "cluster", "shards": 3, "replicas": 1}
    meta["pods"] = [{**p, "shard": 0} for p in meta["pods"]]
    (path / "meta.json").write_text(json.dumps({**meta, "utc_offset_s": 0}))


def test_a_cluster_failover_is_timed_from_the_nodes_logs(run):
    path = cluster_partition(run).build()
    cluster_meta(path)
    (path / "logs").mkdir()
    wall = lambda t: time.strftime("%d %b %Y %H:%M:%S", time.gmtime(1_800_000_000 + t)) + f".{round(t * 1000) % 1000:03d}"
    (path / "logs" / "redis-2.log").write_text(
        f"12:M {wall(13.07)} * Marking node a9db6cc64dc603f73a8841bf4f50a3ce3243695f as failing (quorum reached).\n")
    (path / "logs" / "redis-1.log").write_text(
        f"11:S {wall(13.08)} * FAIL message received from 6c05 about a9db\n"
        f"11:S {wall(13.9)} # Start of election delayed for 520 milliseconds (rank #0, offset 4242).\n"
        f"11:S {wall(14.16)} # Failover election won: I'm the new master.\n"
        f"11:M {wall(14.16)} # configEpoch set to 7 after successful failover\n")
    summary = check(path)

    (failover,) = summary["failover"]
    assert (failover["detected_s"], failover["promoted_s"], failover["new_primary"]) == (3.07, 4.16, "redis-1")
    assert (failover["detected_by"], failover["promoted_by"]) == ("server-log", "server-log")


def test_a_promotion_the_harness_saw_only_after_the_heal_has_no_time(run):
    """Without the nodes' logs, the watcher's 8.2 s is when the harness could see again, not when it happened."""
    path = cluster_partition(run).build()
    cluster_meta(path)
    summary = check(path)

    (failover,) = summary["failover"]
    assert (failover["promoted_s"], failover["promoted_by"], failover["new_primary"]) == (None, "harness-late", "redis-1")
    assert any("only after the partition healed" in note and "not 8.2 s" in note for note in summary["degraded"])


def test_new_primary_is_the_pod_name_when_sentinel_announces_a_dns_name(run):
    """On Kubernetes Sentinel names pods by their DNS names; meta.json's per-pod `aliases` map them back."""
    run.fault("0.0", 10.0, 20.0)
    run.write(0, 1, 9.0, "ok")
    dns = "redis-{}.redis-headless.rh-x.svc.cluster.local"
    run.sentinel(11.0, "+sdown", f"master mymaster {dns.format(0)} 6379")
    run.sentinel(12.0, "+switch-master", f"mymaster {dns.format(0)} 6379 {dns.format(1)} 6379")
    path = run.build()
    meta = json.loads((path / "meta.json").read_text())
    for pod in meta["pods"]:
        pod["aliases"] = [f"{dns.format(pod['name'].split('-')[1])}:6379", f"{pod['name']}.redis-headless:6379"]
    (path / "meta.json").write_text(json.dumps(meta))
    summary = check(path)

    (failover,) = summary["failover"]
    assert (failover["promoted_s"], failover["new_primary"]) == (2.0, "redis-1")
    assert not any("no pod of meta.json" in note for note in summary["degraded"])


def test_the_runner_writes_each_pods_aliases_into_meta():
    from harness.deployment import Deployment, Pod
    from harness.runner import _meta_pods

    pods = [Pod("redis-0", "redis", "127.0.0.1", 40001), Pod("redis-1", "redis", "127.0.0.1", 40002)]
    d = Deployment(id="x", platform="kubernetes", topology={"kind": "sentinel"}, pods=pods, client_address="127.0.0.1",
                   network="kubernetes", state_dir="/nonexistent",
                   extra={"aliases": {"redis-1.redis-headless:6379": "redis-1", "10.244.0.6:6379": "redis-1"}})
    meta_pods = {p["name"]: p for p in _meta_pods(d)}
    assert "aliases" not in meta_pods["redis-0"]
    assert meta_pods["redis-1"]["aliases"] == ["10.244.0.6:6379", "redis-1.redis-headless:6379"]


@pytest.mark.parametrize("probe_enabled", [False, True])
def test_a_probe_turned_off_is_no_driver_one_that_recorded_nothing_scores_0(tmp_path, probe_enabled):
    """A benchmark-only run (probe off) leaves an empty history.csv: the probe must not appear with
    0 ops/s beside redis-benchmark. A probe that was on and recorded nothing is a driver that did nothing."""
    from tests.synthetic_run import make_run

    run_dir = make_run(tmp_path / "run", drivers=("redis-benchmark",), faults=[], write_summary=False)
    (run_dir / "history.csv").write_text(",".join(HISTORY_COLUMNS) + "\n")
    if probe_enabled:
        scenario = yaml.safe_load((run_dir / "scenario.yaml").read_text())
        scenario["workload"]["probe"]["enabled"] = True
        (run_dir / "scenario.yaml").write_text(yaml.safe_dump(scenario))
    by_driver = check(run_dir)["throughput"]["by_driver"]
    assert by_driver["redis-benchmark"]["baseline_ops_per_s"] > 0
    if probe_enabled:
        assert by_driver["probe"]["baseline_ops_per_s"] == 0.0
    else:
        assert "probe" not in by_driver

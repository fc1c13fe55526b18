"""The results store and nightly verdicts on synthetic-but-realistic nights (tests/synthetic_nights.py).

The nights are seeded, so what each night's verdict must be is known before the test runs: a
steady series passes, a planted 10% throughput drop and a planted doubling of the failover time
are flagged on the night they appear, the noisy p99 is reported unstable, and a server version
change is marked.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from harness.report.compare import REGRESSED
from harness.store.db import Store, StoreError, parse_since
from harness.store.fingerprint import topology_hash
from harness.store.trends import load_trends
from harness.store.verdicts import MANN_WHITNEY, BOOTSTRAP, NO_BASELINE, SATURATED, UNSTABLE
from synthetic_nights import TOPOLOGY, Night, write_nights

STEADY, DROP_AT, FAILOVER_AT, VERSION_AT, NIGHTS = 14, 14, 24, 34, 38


def planted_nights() -> list[Night]:
    nights = []
    for i in range(NIGHTS):
        nights.append(Night(throughput_factor=0.9 if i >= DROP_AT else 1.0,
                            unavailable_factor=2.0 if i >= FAILOVER_AT else 1.0,
                            version="redis 7.2.4" if i >= VERSION_AT else "redis 7.0.15"))
    return nights


@pytest.fixture(params=[1, 3], ids=["1-run-nights", "3-repeat-nights"])
def nights_store(request, tmp_path: Path):
    dirs = write_nights(tmp_path / "runs", planted_nights(), repeats=request.param)
    store = Store(tmp_path / "store.sqlite")
    for night in dirs:
        store.record(night)  # each night's repeats are one batch
    yield store, request.param
    store.close()


def test_planted_changes_are_flagged_on_their_night_and_steady_nights_pass(nights_store):
    store, repeats = nights_store
    (trend,) = load_trends(store)
    verdicts = trend.verdicts
    assert len(verdicts) == NIGHTS
    # the first nights have no baseline yet; after that every steady night passes
    assert all(m.verdict == NO_BASELINE for m in verdicts[0].metrics)
    steady = verdicts[3:STEADY]
    assert [v.batch for v in steady if v.regressed] == []
    # planted 10% throughput drop: flagged the night it appears, on the headline throughput
    drop = verdicts[DROP_AT]
    assert drop.verdict_of("throughput.baseline") == REGRESSED
    assert "unavailable_s[0.0]" not in {m.name for m in drop.regressions}
    # planted failover-time increase: flagged the night it appears
    failover = verdicts[FAILOVER_AT]
    assert failover.verdict_of("unavailable_s[0.0]") == REGRESSED
    assert not any(m.name.startswith("throughput") for m in failover.regressions)  # the drop is old news by then
    # the method is said: a single night against the window is bootstrapped, repeats use Mann-Whitney U
    method = {m.name: m.method for m in drop.metrics}["throughput.baseline"]
    assert method == (MANN_WHITNEY if repeats >= 3 else BOOTSTRAP)
    # the noisy p99 (CV ~45% against a 30% threshold) is reported unstable, never pass/fail, on steady nights
    p99 = [v.verdict_of("latency.p99") for v in verdicts[7:]]
    assert REGRESSED not in p99 and "improved" not in p99
    assert p99.count(UNSTABLE) >= 0.8 * len(p99)
    # the server version change is marked: on the verdict, and on the trend's time axis
    assert any("redis 7.0.15 -> redis 7.2.4" in c for c in verdicts[VERSION_AT].environment_changes)
    assert not any(v.environment_changes for i, v in enumerate(verdicts) if i != VERSION_AT)
    ((when, what),) = trend.environment_changes()
    assert when == trend.runs.loc[trend.runs["batch"] == verdicts[VERSION_AT].batch, "started"].iloc[0]
    assert what == ["server_versions: redis 7.0.15 -> redis 7.2.4"]


def test_store_is_sqlite_that_pandas_reads_and_recording_twice_adds_nothing(tmp_path: Path):
    dirs = write_nights(tmp_path / "runs", [Night()] * 3)
    store = Store(tmp_path / "ci-cache")  # a directory (made): the store is a file in it
    first = store.record(dirs[0])
    again = store.record(dirs[0])
    assert [r.added for r in first] == [True] and [r.added for r in again] == [False]
    for night in dirs[1:]:
        store.record(night)
    store.close()
    db = sqlite3.connect(tmp_path / "ci-cache" / "results.sqlite")
    runs = pd.read_sql("SELECT run_id, scenario, topology_hash, platform, server_versions, kernel, cpu_count "
                       "FROM runs", db)
    assert len(runs) == 3
    assert set(runs["topology_hash"]) == {topology_hash(TOPOLOGY)}
    assert set(runs["kernel"]) == {"6.1.0-28-amd64"} and set(runs["cpu_count"]) == {2}
    metrics = pd.read_sql("SELECT name, value FROM metrics", db)
    assert {"throughput.baseline", "latency.p99", "unavailable_s[0.0]", "lost_writes"} <= set(metrics["name"])
    assert pd.read_sql("SELECT status FROM slos", db)["status"].tolist() == ["pass"] * 3


def test_topology_hash_ignores_the_server_binary_but_not_the_shape():
    assert topology_hash({**TOPOLOGY, "server": "redis-6.2"}) == topology_hash(TOPOLOGY)
    assert topology_hash({**TOPOLOGY, "replicas": 3}) != topology_hash(TOPOLOGY)


def test_a_renamed_scenario_keeps_its_history_through_an_alias(tmp_path: Path):
    store = Store(tmp_path / "s.sqlite")
    old = write_nights(tmp_path / "old", [Night()] * 4)
    for night in old:
        store.record(night)
    from synthetic_nights import write_night
    import numpy as np
    new = write_night(tmp_path / "new", 10, 0, Night(), np.random.default_rng(1), scenario="sentinel-failover")
    store.record([new])
    assert len(load_trends(store)) == 2  # two names, two trends
    store.alias("sentinel-primary-kill", "sentinel-failover")
    (trend,) = load_trends(store, scenario="sentinel-failover")
    assert len(trend.runs) == 5 and trend.latest.verdict_of("throughput.baseline") != NO_BASELINE
    assert set(trend.runs["recorded_as"]) == {"sentinel-primary-kill", "sentinel-failover"}
    with pytest.raises(StoreError):
        store.alias("sentinel-failover", "sentinel-primary-kill")  # would make a loop


def test_a_saturated_generator_is_flagged_and_its_throughput_not_judged(tmp_path: Path):
    nights = [Night()] * 8 + [Night(throughput_factor=0.8, saturated=True)]
    store = Store(tmp_path / "s.sqlite")
    for night in write_nights(tmp_path / "runs", nights):
        store.record(night)
    latest = load_trends(store)[0].latest
    assert latest.saturated and "saturated" in latest.saturated[0]
    assert latest.verdict_of("throughput.baseline") == SATURATED and not latest.regressed
    assert latest.verdict_of("latency.p50") not in (SATURATED, NO_BASELINE)  # the rest is still judged


def test_since_and_metric_filters(tmp_path: Path):
    store = Store(tmp_path / "s.sqlite")
    for night in write_nights(tmp_path / "runs", [Night()] * 10):
        store.record(night)
    runs = store.runs()
    cut = float(runs["started_at"].iloc[6])
    (trend,) = load_trends(store, metrics=["throughput"], since=cut)
    assert len(trend.runs) == 4 and len(trend.verdicts) == 4
    assert trend.verdicts[0].verdict_of("throughput.baseline") != NO_BASELINE  # its window predates --since
    assert set(trend.values.columns) == {"throughput.baseline", "throughput.during_fault", "throughput.recovered"}
    assert parse_since("2d", now=1_000_000.0) == 1_000_000.0 - 2 * 86_400
    with pytest.raises(StoreError):
        parse_since("last tuesday")
    with pytest.raises(StoreError):
        load_trends(store, metrics=["throughput.maximum"])


def test_fingerprint_differences_name_what_changed_and_treat_unknown_as_unchanged():
    from harness.store.fingerprint import differences

    before = {"server_versions": "redis 7.0.15", "harness_version": "0.1.0", "kernel": None, "cpu_model": "A",
              "cpu_count": float("nan")}
    assert differences(before, {**before, "cpu_count": None}) == []  # unknown both times (pandas NaN vs None)
    assert differences(before, {**before, "cpu_model": "B", "server_versions": "valkey 9.1.0"}) == [
        "server_versions: redis 7.0.15 -> valkey 9.1.0", "cpu_model: A -> B"]


def test_locust_cpu_warning_marks_the_generator_saturated(tmp_path: Path):
    from harness.rundir import RunDir
    from harness.store.saturation import saturation

    run = RunDir(tmp_path / "run").create()
    assert saturation(run, {}, {}) is None
    (run.raw_dir / "locust.log").write_text(
        "[2026-11-30 12:00:01,000] host/INFO/locust.main: Starting Locust 2.32.4\n"
        "[2026-11-30 12:00:09,000] host/WARNING/root: CPU usage above 90%! This may constrain your throughput and "
        "may even give inconsistent response time measurements! See https://docs.locust.io/...\n")
    assert saturation(run, {}, {}) == "Locust: CPU usage above 90%"


def test_summaries_with_fields_from_later_versions_are_recorded(tmp_path: Path):
    """summary.json may gain `checks`, an SLO `status` and `deploy_s`: recorded, kept, not tripped over."""
    import json

    (night,) = write_nights(tmp_path / "runs", [Night()])
    path = night[0] / "summary.json"
    summary = json.loads(path.read_text())
    summary.update(checks=[{"name": "faults-verified", "status": "pass"}], deploy_s=2.3)
    summary["slo"] = [{"name": "max_p99_ms", "limit": 5, "value": None, "pass": None, "status": "not-evaluated"}]
    path.write_text(json.dumps(summary))
    with Store(tmp_path / "s.sqlite") as store:
        (recorded,) = store.record(night)
        assert recorded.added
        assert store.summary(recorded.run_id)["checks"][0]["name"] == "faults-verified"
        slos = pd.read_sql("SELECT name, value, status FROM slos", store.db)
    assert slos.to_dict("records") == [{"name": "max_p99_ms", "value": None, "status": "not-evaluated"}]

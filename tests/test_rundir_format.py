"""The run directory has one owner, harness/rundir/: its names, columns and readers are defined there
and nowhere else, its files carry the format's version, and its readers survive what a crash leaves."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from harness.rundir import (EVENTS_FILE, FINAL_COLUMNS, FORMAT_VERSION, HISTORY_COLUMNS, LOST_COLUMNS, META_FILE,
                            REPLICATION_LAG_COLUMNS, SERIES_COLUMNS, SUMMARY_FILE, ReplicationLagWriter, RunDir,
                            read_event_records, read_replication_lag, read_series_dir, write_series)
from harness.rundir import layout

HARNESS = Path(__file__).resolve().parent.parent / "harness"
OWNER = HARNESS / "rundir"
FILE_NAMES = {v for k, v in vars(layout).items() if k.isupper() and isinstance(v, str) and "." in v}  # files, not dirs

NOT_RUN_DIR = {("cli.py", "junit.xml")}  # `trend --out`'s junit.xml: a trend directory, not a run's


def _outside_owner() -> list[Path]:
    return [p for p in HARNESS.rglob("*.py") if OWNER not in p.parents]


def test_columns_and_file_names_are_defined_only_in_the_rundir_package():
    columns = {tuple(c) for c in (HISTORY_COLUMNS, FINAL_COLUMNS, SERIES_COLUMNS, LOST_COLUMNS, REPLICATION_LAG_COLUMNS)}
    found = []
    for path in _outside_owner():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.List) and all(isinstance(e, ast.Constant) for e in node.elts):
                if tuple(e.value for e in node.elts) in columns:
                    found.append(f"{path.relative_to(HARNESS)}:{node.lineno} a column list")
            if isinstance(node, ast.Constant) and node.value in FILE_NAMES and (path.name, node.value) not in NOT_RUN_DIR:
                found.append(f"{path.relative_to(HARNESS)}:{node.lineno} {node.value!r}")
    assert not found, found
    assert {EVENTS_FILE, META_FILE, SUMMARY_FILE} == {"events.jsonl", "meta.json", "summary.json"}


def test_meta_json_carries_the_format_version_and_is_written_not_read_back(tmp_path: Path):
    run = RunDir(tmp_path / "run").create()
    run.update_meta(status="running", degraded=[])
    run.meta.write_text(json.dumps({"status": "tampered"}))  # the file is the run's copy, not its state
    run.add_degraded("no root")
    run.update_meta(status="complete")
    meta = json.loads(run.meta.read_text())
    assert meta == {"format_version": FORMAT_VERSION, "status": "complete", "degraded": ["no root"]}


def test_readers_skip_what_a_crash_leaves(tmp_path: Path):
    run = RunDir(tmp_path / "run").create()
    run.events.write_text('{"t": 2.0, "type": "b"}\n{"t": 1.0, "type": "a"}\n[1]\n{"t": 3, "ty')
    events, bad = read_event_records(run.events)
    assert [e["type"] for e in events] == ["a", "b"] and bad == 2
    write_series(run.series("locust"), [{"t_s": 0, "driver": "locust", "ok": 5}, {"t_s": 2, "ok": 7}])
    run.series("redis-benchmark").write_text("t_s,ok\n")
    read = read_series_dir(run.series_dir)
    assert list(read.value) == ["locust"]
    assert read.value["locust"]["ok"].tolist() == [5, 0, 7]  # a second with no row had no operations
    assert read.notes == ["redis-benchmark.csv has no rows yet; ignored"]
    assert read_replication_lag(run.replication_lag).value is None  # no metrics sidecar: no file, no note
    writer = ReplicationLagWriter(run.replication_lag)
    writer.record_rows([(0.5, "redis-0", "redis-1", 0, 272, "online"), (1.5, "redis-0", "redis-1", 1, 6384, "online")])
    writer.close()
    with open(run.replication_lag, "a") as f:
        f.write("2.5,redis-0,redi")  # the run died mid-row
    lag = read_replication_lag(run.replication_lag)
    assert lag.value["lag_bytes"].tolist() == [272, 6384] and lag.notes == ["replication-lag.csv: 1 unreadable rows ignored"]


def test_an_event_with_nan_does_not_stop_the_checker(tmp_path: Path):
    """Python's json writes NaN into events.jsonl; summary.json is strict JSON, so its timeline says null."""
    from harness.checker import analyze
    from tests.synthetic_run import make_run

    run = RunDir(make_run(tmp_path / "run", duration_s=20, write_summary=False))
    with open(run.events, "a") as events:
        events.write(json.dumps({"t": 19.5, "wall": 0.0, "source": "runner", "type": "settled", "lag": float("nan")}) + "\n")
    summary = analyze(run.path)
    assert {"t": 19.5, "wall": 0.0, "source": "runner", "type": "settled", "lag": None} in summary["timeline"]["events"]

"""The metrics sidecar during a harness run, on a real cluster (marked `kubernetes`).

A short sentinel run (a primary, two replicas, one sentinel; a password, so the exporter reads it from
the Secret) with REDIS_HARNESS_K8S_METRICS=1: the harness scrapes each Redis pod's redis_exporter
every second, and replication-lag.csv has rows for both replicas, reported by the primary, all through
the run's window; summary.json's `replication_lag` names both with their largest lag. Known in
advance: nothing fails over, so every row comes from redis-0 and names redis-1 and redis-2.

The fixture (tests/k8s/cluster) imports Debian's prometheus-redis-exporter as the image below.
"""

from __future__ import annotations

import csv
import os

import pytest

from harness.runner import run_scenario
from harness.scenario import Scenario

pytestmark = pytest.mark.kubernetes

FIXTURE_EXPORTER_IMAGE = os.environ.get("REDIS_HARNESS_K8S_METRICS_IMAGE", "redis-harness/redis-exporter:1")
DURATION_S = 6


def test_a_run_records_each_replicas_lag_from_the_exporters(tmp_path, monkeypatch):
    monkeypatch.setenv("REDIS_HARNESS_K8S_METRICS", "1")
    monkeypatch.setenv("REDIS_HARNESS_K8S_METRICS_IMAGE", FIXTURE_EXPORTER_IMAGE)
    monkeypatch.setenv("REDIS_HARNESS_K8S_FAULT_SIDECAR", "0")  # no fault here: two containers a pod, not three
    scenario = Scenario.model_validate({
        "name": "metrics", "platform": "kubernetes", "duration_s": DURATION_S, "settle_s": 1,
        "topology": {"kind": "sentinel", "replicas": 2, "sentinels": 1, "quorum": 1, "password": "metrics-pw"}})
    result = run_scenario(scenario, out_dir=tmp_path / "run", progress=lambda m: None)
    assert result.status == "complete", result.summary and result.summary.get("degraded")

    with open(result.run_dir / "replication-lag.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["pod"] for r in rows} == {"redis-0"}
    window = [r for r in rows if 0 <= float(r["t_s"]) <= DURATION_S]
    for replica in ("redis-1", "redis-2"):
        mine = [r for r in window if r["replica"] == replica]
        assert len(mine) >= DURATION_S - 2, (replica, rows)  # a scrape a second, give or take the edges
        assert all(r["state"] == "online" and float(r["lag_bytes"]) >= 0 and float(r["lag_s"]) >= 0 for r in mine)
    lag = result.summary["replication_lag"]
    assert set(lag) == {"redis-1", "redis-2"} and all(v["primaries"] == ["redis-0"] for v in lag.values())
    assert "replication lag" in (result.run_dir / "report.html").read_text().lower()

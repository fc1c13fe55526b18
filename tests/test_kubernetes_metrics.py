"""The metrics sidecar during a harness run, on a real cluster (marked `kubernetes`).

A short sentinel run (a primary, replicas, one sentinel; a password, so the exporter reads it from
the Secret) with REDIS_HARNESS_K8S_METRICS=1: the harness scrapes each Redis pod's redis_exporter
every second, and replication-lag.csv has rows for every replica, reported by the primary, all through
the run's window; summary.json's `replication_lag` names each with its largest lag. Known in advance:
nothing fails over, so every row comes from redis-0 and names the other pods. Every page the harness
scraped says `redis_up 1`: each exporter reached its own server.

With `topology.tls` (one replica: a pod fewer to start) the exporters mount the deployment's Secret and
dial rediss:// to their own pod's headless name, checking the server's certificate and name and
presenting the pods' client certificate (components.exporter_container); the same figures come through.

The fixture (tests/k8s/cluster) imports Debian's prometheus-redis-exporter as the image below.
"""

from __future__ import annotations

import csv
import os
import re

import pytest

from harness import exporter_scrape
from harness.runner import run_scenario
from harness.scenario import Scenario

pytestmark = pytest.mark.kubernetes

FIXTURE_EXPORTER_IMAGE = os.environ.get("REDIS_HARNESS_K8S_METRICS_IMAGE", "redis-harness/redis-exporter:1")
DURATION_S = 6


@pytest.mark.parametrize("tls, replicas", [(False, 2), (True, 1)], ids=["plaintext", "tls"])
def test_a_run_records_each_replicas_lag_from_the_exporters(tmp_path, monkeypatch, tls, replicas):
    monkeypatch.setenv("REDIS_HARNESS_K8S_METRICS", "1")
    monkeypatch.setenv("REDIS_HARNESS_K8S_METRICS_IMAGE", FIXTURE_EXPORTER_IMAGE)
    monkeypatch.setenv("REDIS_HARNESS_K8S_FAULT_SIDECAR", "0")  # no fault here: two containers a pod, not three
    pages: dict[str, list[str]] = {}  # what each exporter served the harness (the real fetch, its text kept)
    real_fetch = exporter_scrape.fetch

    def fetch_and_keep(url: str, timeout: float = exporter_scrape.SCRAPE_TIMEOUT_S) -> str:
        text = real_fetch(url, timeout)
        pages.setdefault(url, []).append(text)
        return text

    monkeypatch.setattr(exporter_scrape, "fetch", fetch_and_keep)
    scenario = Scenario.model_validate({
        "name": "metrics", "platform": "kubernetes", "duration_s": DURATION_S, "settle_s": 1,
        "topology": {"kind": "sentinel", "replicas": replicas, "sentinels": 1, "quorum": 1, "password": "metrics-pw",
                     "tls": tls}})
    result = run_scenario(scenario, out_dir=tmp_path / "run", progress=lambda m: None)
    assert result.status == "complete", result.summary and result.summary.get("degraded")

    assert len(pages) == 1 + replicas  # one exporter a Redis pod, each scraped
    for url, texts in pages.items():
        assert all(re.search(r"^redis_up 1$", t, re.M) for t in texts), (url, [t[:300] for t in texts])
    with open(result.run_dir / "replication-lag.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["pod"] for r in rows} == {"redis-0"}
    window = [r for r in rows if 0 <= float(r["t_s"]) <= DURATION_S]
    replica_pods = {f"redis-{i}" for i in range(1, 1 + replicas)}
    for replica in replica_pods:
        mine = [r for r in window if r["replica"] == replica]
        assert len(mine) >= DURATION_S - 2, (replica, rows)  # a scrape a second, give or take the edges
        assert all(r["state"] == "online" and float(r["lag_bytes"]) >= 0 and float(r["lag_s"]) >= 0 for r in mine)
    lag = result.summary["replication_lag"]
    assert set(lag) == replica_pods and all(v["primaries"] == ["redis-0"] for v in lag.values())
    assert "replication lag" in (result.run_dir / "report.html").read_text().lower()
    print(f"tls={tls}: {sum(map(len, pages.values()))} pages, all redis_up 1; {len(rows)} lag rows; "
          f"replication_lag {lag}")

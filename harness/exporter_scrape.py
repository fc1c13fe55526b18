"""The replication-lag recorder: each Redis pod's redis_exporter (the Kubernetes metrics sidecar),
scraped every second during a run, its replication figures written to replication-lag.csv as they come.

Only a primary's exporter names its replicas (redis_connected_slave_lag_seconds and
redis_connected_slave_offset_bytes, labelled slave_ip / slave_port / slave_state, beside the primary's
redis_master_repl_offset), so each scrape of a primary gives one row per replica; a replica's scrape
gives none. The pod scraped is whichever is primary at the time, so the series follows a failover.
The exporter's text is parsed by prometheus_client's parser, not by hand.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from harness.deployment import Deployment
from harness.poll import join_all
from harness.rundir import ReplicationLagWriter, RunClock

SCRAPE_TIMEOUT_S = 0.8  # below the interval: a scrape that hangs does not delay the next second's
LAG_S, OFFSET, MASTER_OFFSET = ("redis_connected_slave_lag_seconds", "redis_connected_slave_offset_bytes",
                                "redis_master_repl_offset")


@dataclass(frozen=True)
class ReplicaFigures:
    """What one primary's exporter said of one replica in one scrape."""

    replica: str  # the replica's pod name when its address is known, else ip:port
    lag_s: float | None  # seconds since the replica last acknowledged (Redis's `lag`)
    lag_bytes: float | None  # the primary's replication offset minus the replica's acknowledged one
    state: str  # slave_state: online, wait_bgsave, send_bulk...


def replica_figures(text: str, aliases: dict[str, str]) -> list[ReplicaFigures]:
    """The replicas a /metrics page (the Prometheus text format) names, with their lag; [] for a replica's page."""
    lag: dict[tuple[str, str], float] = {}
    offset: dict[tuple[str, str], float] = {}
    states: dict[tuple[str, str], str] = {}
    master_offset: float | None = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == MASTER_OFFSET:
                master_offset = sample.value
            elif sample.name in (LAG_S, OFFSET):
                key = (sample.labels.get("slave_ip", ""), sample.labels.get("slave_port", ""))
                (lag if sample.name == LAG_S else offset)[key] = sample.value
                states[key] = sample.labels.get("slave_state", "")
    rows = []
    for key in sorted(states):
        address = f"{key[0]}:{key[1]}"
        lag_bytes = master_offset - offset[key] if master_offset is not None and key in offset else None
        rows.append(ReplicaFigures(aliases.get(address, address), lag.get(key), lag_bytes, states[key]))
    return rows


def fetch(url: str, timeout: float = SCRAPE_TIMEOUT_S) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - a pod's own http:// URL
        return response.read().decode("utf-8", errors="replace")


class ExporterScraper:
    """One thread per Redis pod, scraping every `interval_s` until stopped or `max_duration_s` passed.

    The URLs are read from the deployment at each scrape (deployment.extra["metrics_urls"], kept by the
    platform): a recreated pod's new IP is followed once the platform has refreshed it.
    """

    def __init__(self, deployment: Deployment, writer: ReplicationLagWriter, clock: RunClock, *,
                 interval_s: float = 1.0, max_duration_s: float):
        self.deployment, self.writer, self.clock = deployment, writer, clock
        self.interval_s, self.max_duration_s = interval_s, max_duration_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.answered: dict[str, int] = {}  # pod -> scrapes that answered
        self.last_error: dict[str, str] = {}  # pod -> the last scrape's error, for `degraded`

    def start(self) -> None:
        deadline = time.monotonic() + self.max_duration_s
        self._threads = [threading.Thread(target=self._loop, args=(pod, deadline), name=f"scrape-{pod}", daemon=True)
                         for pod in self.deployment.extra.get("metrics_urls") or {}]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 3.0) -> bool:
        """Stop scraping (idempotent); True when every thread has stopped."""
        self._stop.set()
        return not join_all(self._threads, timeout)

    def silent_pods(self) -> dict[str, str]:
        """Pods whose exporter never answered, with the last error seen."""
        return {pod: self.last_error.get(pod, "no scrape") for pod in self.deployment.extra.get("metrics_urls") or {}
                if not self.answered.get(pod)}

    def _loop(self, pod: str, deadline: float) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.scrape(pod)
            next_at += self.interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def scrape(self, pod: str) -> list[ReplicaFigures]:
        url = (self.deployment.extra.get("metrics_urls") or {}).get(pod)
        if not url:
            return []
        t_s = round(self.clock.t(), 3)
        try:
            figures = replica_figures(fetch(url), self.deployment.extra.get("aliases") or {})
        except Exception as exc:  # noqa: BLE001 - a pod being deleted or paused does not answer: next second
            self.last_error[pod] = f"{type(exc).__name__}: {exc}"
            return []
        self.answered[pod] = self.answered.get(pod, 0) + 1
        self.writer.record_rows([(t_s, pod, f.replica, f.lag_s, f.lag_bytes, f.state) for f in figures])
        return figures

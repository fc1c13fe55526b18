"""Each recorded run's headline metrics in the Prometheus text format or OpenMetrics, so the nightly
figures show up where teams already look (Prometheus, Grafana).

Written with the maintained `prometheus-client` library, not by hand: the text formats have
escaping and type rules a hand-written writer gets wrong. Labels are the store's key (scenario,
topology hash, platform), so a series survives across nights; run ids are not labels (one new
series a night would grow Prometheus without bound) but the run's start time is a gauge of its
own. Base units, as Prometheus asks: seconds, not milliseconds.

The Prometheus text file is what node-exporter's textfile collector reads (`*.prom`, written
atomically) and what a Pushgateway accepts as a body:
`curl --data-binary @nightly.prom http://pushgateway:9091/metrics/job/redis-harness`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from harness.report.metrics import family, metrics_of

PREFIX = "redis_harness"
KEY_LABELS = ("scenario", "topology", "platform")


def registry_for(runs: list[tuple[dict[str, str], dict[str, Any], float]]) -> CollectorRegistry:
    """A registry holding, per key, the latest run's headline metrics.

    `runs`: (key labels, summary, start time) for each run; a later run of a key replaces an earlier.
    """
    latest: dict[tuple[str, ...], tuple[dict[str, str], dict[str, Any], float]] = {}
    for labels, summary, started in runs:
        key = tuple(labels[k] for k in KEY_LABELS)
        if key not in latest or started >= latest[key][2]:
            latest[key] = (labels, summary, started)
    registry = CollectorRegistry(auto_describe=True)
    gauges = {
        "throughput": Gauge(f"{PREFIX}_throughput_ops_per_second", "Acknowledged operations per second, by phase",
                            [*KEY_LABELS, "phase"], registry=registry),
        "latency": Gauge(f"{PREFIX}_latency_seconds", "Probe latency percentile of acknowledged operations",
                         [*KEY_LABELS, "percentile"], registry=registry),
        "unavailable_s": Gauge(f"{PREFIX}_unavailable_seconds", "Client-observed unavailability per fault",
                               [*KEY_LABELS, "fault_id"], registry=registry),
        "lost_writes": Gauge(f"{PREFIX}_lost_writes", "Acknowledged writes missing from the final state",
                             list(KEY_LABELS), registry=registry),
        "passed": Gauge(f"{PREFIX}_run_passed", "1 when the run's verdict was pass, else 0",
                        list(KEY_LABELS), registry=registry),
        "started": Gauge(f"{PREFIX}_run_start_timestamp_seconds", "When the reported run started (Unix time)",
                         list(KEY_LABELS), registry=registry),
    }
    for labels, summary, started in latest.values():
        key = tuple(labels[k] for k in KEY_LABELS)
        for name, value in metrics_of(summary).items():
            group, _, detail = family(name).partition(".")
            if group == "throughput":
                gauges[group].labels(*key, detail).set(value)
            elif group == "latency":
                gauges[group].labels(*key, _percentile(detail)).set(round(value / 1000.0, 9))
            elif group == "unavailable_s":
                gauges[group].labels(*key, name[len(group) + 1:-1]).set(value)
            elif group == "lost_writes":
                gauges[group].labels(*key).set(value)
        gauges["passed"].labels(*key).set(1.0 if summary.get("verdict") == "pass" else 0.0)
        gauges["started"].labels(*key).set(started)
    return registry


def write_prometheus(registry: CollectorRegistry, path: Path) -> None:
    """Prometheus text format, written atomically (the textfile collector may read at any moment)."""
    write_to_textfile(str(path), registry)


def write_openmetrics(registry: CollectorRegistry, path: Path) -> None:
    path.write_bytes(generate_openmetrics(registry))


def _percentile(detail: str) -> str:
    """'p99' -> '99', 'p999' -> '99.9', 'p50' -> '50'."""
    digits = detail.removeprefix("p")
    return digits if len(digits) <= 2 else f"{digits[:2]}.{digits[2:]}"

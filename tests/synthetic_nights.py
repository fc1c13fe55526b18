"""Synthetic nights: run directories holding only summary.json and meta.json, shaped like a nightly
sentinel primary-kill scenario's, for the store's tests and the trend benchmark.

Each night's numbers are drawn around a steady level with realistic noise (seeded, so a test's
expected verdicts hold on every machine); a `Night` can plant a change: a throughput drop, a
longer failover, another server version, a saturated load generator.

    python tests/synthetic_nights.py /tmp/nights --nights 60
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from harness.rundir import RunDir

START_WALL = 1_790_000_000.0  # a Unix time in 2026
DAY_S = 86_400.0
TOPOLOGY = {"kind": "sentinel", "server": "system", "pod_servers": {}, "replicas": 2, "sentinels": 3, "quorum": 2,
            "persistence": {"mode": "none"}, "down_after_ms": 1000, "failover_timeout_ms": 5000}
MACHINE = {"kernel": "6.1.0-28-amd64", "cpu_model": "Synthetic CPU @ 2.0GHz", "cpu_count": 2,
           "harness_commit": "0123456789ab", "load_per_cpu_end": 0.6}

# Steady levels and noise (coefficient of variation) per metric.
THROUGHPUT, THROUGHPUT_CV = 4_700.0, 0.015
UNAVAILABLE_S, UNAVAILABLE_CV = 1.5, 0.05
P50_MS, P50_CV = 0.40, 0.03
P99_MS, P99_SIGMA = 2.0, 0.45  # a noisy metric: log-normal, CV ~47%, above its 30% threshold


@dataclass
class Night:
    throughput_factor: float = 1.0
    unavailable_factor: float = 1.0
    version: str = "redis 7.0.15"
    saturated: bool = False


def write_night(root: Path, index: int, repeat: int, night: Night, rng: np.random.Generator,
                scenario: str = "sentinel-primary-kill") -> Path:
    """One run directory of night `index` (repeat `repeat`), started index days after START_WALL."""
    start = START_WALL + index * DAY_S + repeat * 90.0
    run_id = datetime.fromtimestamp(start, timezone.utc).strftime("%Y%m%dT%H%M%SZ") + f"-{scenario}"
    run = RunDir(root / f"night-{index:04d}-{repeat}").create()

    def noisy(level: float, cv: float) -> float:
        return float(max(level * (1 + cv * rng.standard_normal()), 0.0))

    def skewed(level: float, sigma: float) -> float:
        """Tail latency: log-normal (multiplicative) noise, the shape p99 has on a shared machine."""
        return float(level * np.exp(sigma * rng.standard_normal() - sigma**2 / 2))

    throughput = noisy(THROUGHPUT * night.throughput_factor, THROUGHPUT_CV)
    unavailable = round(noisy(UNAVAILABLE_S * night.unavailable_factor, UNAVAILABLE_CV), 3)
    summary = {
        "schema": "redis-harness/summary/v1", "run_id": run_id, "scenario": scenario, "platform": "local",
        "partial": False, "topology": TOPOLOGY, "versions": {f"redis-{i}": night.version for i in range(3)},
        "duration_s": 60.0,
        "faults": [{"fault_id": "0.0", "kind": "pod-kill", "target": "redis-0", "start_s": 20.0, "end_s": 30.0}],
        "throughput": {"baseline_ops_per_s": round(throughput, 1),
                       "during_fault_ops_per_s": round(throughput * 0.7, 1),
                       "recovered_ops_per_s": round(throughput * 0.99, 1), "by_driver": {}, "driver": "locust"},
        "latency_ms": {"p50": round(noisy(P50_MS, P50_CV), 3), "p90": 0.9, "p99": round(skewed(P99_MS, P99_SIGMA), 3),
                       "p999": round(noisy(6.0, 0.1), 3), "max": 40.0},
        "failover": [{"fault_id": "0.0", "unavailable_s": unavailable, "unavailable_start_s": 20.0,
                      "unavailable_end_s": 20.0 + unavailable, "detected_s": 1.0, "promoted_s": 1.4,
                      "new_primary": "redis-1"}],
        "writes": {"attempted": 18000, "acknowledged": 17990, "failed": 8, "unknown": 2, "lost": 0,
                   "lost_sample": [], "acknowledged_by_demoted_primary": 0, "acknowledged_by_demoted_primary_lost": 0,
                   "unchecked": 0},
        "slo": [{"name": "max_unavailable_s", "limit": 10, "value": unavailable, "pass": True}],
        "verdict": "pass", "degraded": [],
    }
    if night.saturated:
        summary["degraded"].append("load generator saturated: Locust above 90% CPU")
    run.summary.write_text(json.dumps(summary))
    run.update_meta(run_id=run_id, scenario=scenario, platform="local", topology=TOPOLOGY, harness_version="0.1.0",
                    start_wall=start, status="complete", machine=MACHINE)
    return run.path


def write_nights(root: Path, nights: list[Night], repeats: int = 1, seed: int = 0) -> list[list[Path]]:
    """Every night's run directories, in order: [[night 0's repeats], [night 1's], ...]."""
    rng = np.random.default_rng(seed)
    return [[write_night(root, i, r, night, rng) for r in range(repeats)] for i, night in enumerate(nights)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    write_nights(args.out, [Night() for _ in range(args.nights)], args.repeats)
    print(f"wrote {args.nights} nights x {args.repeats} runs under {args.out}")


if __name__ == "__main__":
    main()

"""Preload N keys of the configured value size and measure what each costs in server memory.

Two figures, because they answer differently: `used_memory` delta / N is what a planner pays per
key (value, key, the dict entry, hash-table buckets, allocator rounding), and `MEMORY USAGE` is
Redis's own estimate for one key (the key's object and value with allocator size classes, no
share of the main dict's bucket array). The report gives both and their ratio.
"""

from __future__ import annotations

import random
from typing import Any

import redis
from redis.cluster import RedisCluster

from harness.deployment import Deployment, Pod
from harness.redisconn import client_kwargs, cluster_client, pod_client
from harness.workload.openloop import resp

BATCH = 1000


def _used_memory(deployment: Deployment, primaries: list[Pod]) -> int:
    return sum(int(pod_client(deployment, p, timeout=5).info("memory")["used_memory"]) for p in primaries)


def _client(deployment: Deployment, primaries: list[Pod]) -> redis.Redis | RedisCluster:
    if deployment.topology["kind"] == "cluster":
        return cluster_client(deployment, primaries, socket_timeout=10)
    pod = primaries[0]
    return redis.Redis(host=pod.host, port=pod.port, **client_kwargs(deployment), socket_timeout=10)


def preload(deployment: Deployment, primaries: list[Pod], keys: int, value_size: int, samples: int,
            seed: int = 0) -> dict[str, Any]:
    """Write keys ol:s:0..keys-1 (the generator's GET/SET keys), then measure; returns memory.json's entry."""
    client = _client(deployment, primaries)
    value = random.Random(seed).randbytes(value_size)
    before = _used_memory(deployment, primaries)
    for start in range(0, keys, BATCH):
        pipe = client.pipeline(transaction=False)
        for n in range(start, min(keys, start + BATCH)):
            pipe.set(resp.key_of("set", n), value)
        pipe.execute()
    after = _used_memory(deployment, primaries)
    rng = random.Random(seed + 1)
    picked = [rng.randrange(keys) for _ in range(min(samples, keys))]
    usage = [int(client.memory_usage(resp.key_of("get", n), samples=0) or 0) for n in picked]
    client.close()
    per_key = (after - before) / keys if keys else None
    mean_usage = sum(usage) / len(usage) if usage else None
    return {"keys": keys, "value_size": value_size, "used_memory_before": before, "used_memory_after": after,
            "bytes_per_key": round(per_key, 1) if per_key is not None else None,
            "memory_usage_samples": len(usage), "memory_usage_mean": round(mean_usage, 1) if mean_usage else None,
            "ratio": round(per_key / mean_usage, 3) if per_key and mean_usage else None}

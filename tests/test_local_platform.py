"""The local platform on real servers: each topology deploys, serves through the right endpoint, and leaves nothing."""

from __future__ import annotations

import os
import secrets

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel

from harness.platforms.local import netns, registry
from harness.platforms.local.platform import LocalPlatform, process_alive
from harness.redisconn import pod_client
from harness.roles import current_roles, primaries, sentinel_primary
from harness.pod_config import MASTER_NAME
from tests.conftest import assert_gone, needs_redis, needs_root, unique_id

pytestmark = needs_redis


def roundtrip(client, n: int = 50) -> None:
    for i in range(n):
        client.set(f"k{i}", i)
    assert [int(client.get(f"k{i}")) for i in range(n)] == list(range(n))


@needs_root
def test_standalone(deploy):
    d = deploy({"kind": "standalone"}, "standalone")
    (pod,) = d.pods
    assert pod.netns and pod.host.startswith("10.213.")
    roundtrip(redis.Redis(host=pod.host, port=pod.port))
    assert [r.role for r in current_roles(d)] == ["primary"]


@needs_root
def test_sentinel_2_replicas_3_sentinels(deploy):
    d = deploy({"kind": "sentinel", "replicas": 2, "sentinels": 3, "quorum": 2}, "sentinel")
    sentinel = Sentinel([(s.host, s.port) for s in d.sentinel_pods()], socket_timeout=2)
    master = sentinel.master_for(MASTER_NAME, socket_timeout=2)
    roundtrip(master)
    assert sentinel.discover_master(MASTER_NAME) == (d.pod("redis-0").host, 6379)
    replicas = [r for r in current_roles(d) if r.role == "replica"]
    assert sorted(r.pod for r in replicas) == ["redis-1", "redis-2"] and all(r.link_up for r in replicas)
    # A replica has the data too: replication works through the bridge.
    assert master.execute_command("WAIT", 2, 5000) == 2
    for name in ("redis-1", "redis-2"):
        assert redis.Redis(host=d.pod(name).host, port=6379).get("k49") == b"49"


@needs_root
def test_cluster_3x1_through_cluster_client(deploy):
    d = deploy({"kind": "cluster", "shards": 3, "replicas": 1, "cluster_node_timeout_ms": 2000}, "cluster")
    client = RedisCluster(startup_nodes=[ClusterNode(p.host, p.port) for p in d.redis_pods()], socket_timeout=2)
    roundtrip(client, 200)
    # keys land on all three shards, and each shard's primary is the pod the layout promised
    assert {s: p.name for s, p in primaries(d).items()} == {0: "redis-0", 1: "redis-2", 2: "redis-4"}
    sizes = [redis.Redis(host=d.pod(n).host, port=6379).dbsize() for n in ("redis-0", "redis-2", "redis-4")]
    assert all(size > 0 for size in sizes) and sum(sizes) == 200


def test_loopback_mode_without_namespaces():
    """The non-root fallback: distinct 127.x addresses, no namespaces, network faults refused."""
    platform = LocalPlatform(network="loopback")
    d = platform.deploy(platform_topology(), unique_id("loopback"), owner_pid=os.getpid())
    try:
        assert all(p.host.startswith("127.") and p.netns is None for p in d.pods)
        assert len({p.host for p in d.pods}) == len(d.pods)
        roundtrip(redis.Redis(host=d.pod("redis-0").host, port=6379))
        caps = platform.capabilities()
        assert caps["pod-kill"] is None and "root" in caps["partition"]
    finally:
        platform.teardown(d)
    assert_gone(platform, d)


def platform_topology():
    from harness.scenario import Topology

    return Topology(kind="sentinel", replicas=1, sentinels=1, quorum=1)


@needs_root
def test_kill_and_restart_keeps_address_and_config(deploy, local_platform):
    d = deploy({"kind": "standalone", "persistence": {"mode": "aof", "appendfsync": "always"}}, "restart")
    pod = d.pod("redis-0")
    redis.Redis(host=pod.host, port=6379).set("durable", "yes")
    old_pid = pod.pid
    local_platform.kill_pod(d, pod)
    assert not process_alive(old_pid)
    local_platform.start_pod(d, pod)
    local_platform.wait_pod_answers(d, pod)
    assert pod.pid != old_pid
    assert redis.Redis(host=pod.host, port=6379).get("durable") == b"yes"


@needs_root
def test_an_emptied_primary_restarted_before_the_failover_waits_for_it(deploy, local_platform):
    """The pods' start script decides a restarted server's role on this platform too (start_role.py):
    the primary killed and started again at once, without persistence, is still the sentinels' primary
    but has lost its data. Started with its first config it came back as an empty primary before
    down-after ran out, and its replicas copied the empty data set (the key below was lost); it must
    wait for the failover and follow the new primary instead, as it does on Kubernetes."""
    d = deploy({"kind": "sentinel", "replicas": 2, "sentinels": 3, "quorum": 2, "down_after_ms": 1000,
                "failover_timeout_ms": 3000, "persistence": {"mode": "none"}}, "restart-empty")
    old = d.pod("redis-0")
    client = pod_client(d, old)
    client.set("acknowledged", "by two replicas")
    assert client.wait(2, 5000) == 2
    local_platform.kill_pod(d, old)
    local_platform.start_pod(d, old)  # returns once the sentinels have failed over
    local_platform.wait_pod_answers(d, old)
    new = sentinel_primary(d)
    assert new is not None and new.name != old.name
    assert pod_client(d, new).get("acknowledged") == "by two replicas"
    replication = pod_client(d, old).info("replication")
    assert replication["role"] == "slave" and replication["master_host"] == new.host, replication


@needs_root
def test_failed_start_reports_log_and_cleans_up(local_platform):
    from harness.errors import PlatformError
    from harness.scenario import Topology

    topo = Topology(kind="standalone", extra_config={"no-such-directive": "1"})
    deployment_id = unique_id("badconf")
    made: list[str] = []
    real_register = registry.register

    def noting(prefix, state_file):  # the deployment's prefix is random: learn it as it is registered
        made.append(prefix)
        real_register(prefix, state_file)

    registry.register = noting
    try:
        with pytest.raises(PlatformError, match="(?s)exited during start-up.*no-such-directive"):
            local_platform.deploy(topo, deployment_id, owner_pid=os.getpid())
    finally:
        registry.register = real_register
    (prefix,) = made
    assert not [n for n in netns.list_netns() + netns.list_links() if n.startswith(prefix)]
    assert not (local_platform.root / prefix).exists()
    assert prefix not in registry.registered()


@needs_root
def test_sentinel_deploys_never_wait_for_sentinels_10s_info_refresh(local_platform):
    """Sentinels start after the replicas have linked, so their first INFO of the primary lists them: a
    deploy is ready in seconds every time (it used to take ~10.3 s in a third of the deploys, when a
    sentinel read INFO before the replicas connected and learnt of them only at the next 10 s refresh).
    Ready means every sentinel could pick every replica: INFO read, link to the primary ok."""
    from harness.scenario import Topology

    topology = Topology(kind="sentinel", replicas=2, sentinels=3, quorum=2)
    for i in range(4):
        d = local_platform.deploy(topology, unique_id(f"ready{i}"), owner_pid=os.getpid())
        try:
            phases = d.extra["phases"]
            assert phases["redis_ready_s"] + phases["sentinels_ready_s"] < 8.0, phases
            for s in d.sentinel_pods():
                client = redis.Redis(host=s.host, port=26379, decode_responses=True)
                replicas = client.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)
                entries = [r if isinstance(r, dict) else dict(zip(r[0::2], r[1::2])) for r in replicas]
                assert len(entries) == 2
                assert all(int(e["info-refresh"]) > 0 and e["master-link-status"] == "ok" for e in entries), entries
        finally:
            local_platform.teardown(d)
        assert_gone(local_platform, d)


@needs_root
def test_concurrent_deployments_take_different_subnets():
    """Eight deployments whose keys all start at the same /24 pick it at once: each gets its own."""
    from concurrent.futures import ThreadPoolExecutor

    first = secrets.randbelow(0xFF0000)
    names = [netns.Names(f"{first + 250 * i:06x}") for i in range(8)]
    assert len({int(n.key, 16) % 250 for n in names}) == 1
    try:
        with ThreadPoolExecutor(len(names)) as pool:
            subnets = [subnet for subnet, _ in pool.map(netns.create_bridge_in_free_subnet, names)]
        assert len(set(subnets)) == len(names), subnets
    finally:
        for n in names:
            netns.ip("link", "delete", n.bridge, check=False)


@needs_root
def test_cleanup_with_another_state_root_spares_a_live_run(deploy, tmp_path):
    """`cleanup` judged liveness only by the state files under its own root, and swept the namespaces
    and links of a run started with another REDIS_HARNESS_STATE (a second checkout's tests, another user)."""
    import subprocess
    import sys

    d = deploy({"kind": "standalone"}, "elsewhere")
    env = {**os.environ, "REDIS_HARNESS_STATE": str(tmp_path / "other-root")}
    done = subprocess.run([sys.executable, "-m", "harness.cli", "cleanup"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    prefix = d.extra["prefix"]
    assert prefix not in done.stdout, done.stdout
    assert d.pods[0].netns in netns.list_netns()
    assert process_alive(d.pods[0].pid)
    roundtrip(redis.Redis(host=d.pods[0].host, port=d.pods[0].port))


@needs_root
def test_a_primary_the_sentinels_see_down_is_nobodys_primary_as_for_redis_py(deploy, local_platform):
    """roles.sentinel_primary (the open-loop generator's and the faults' view) follows redis-py's rule, which
    the probe and Locust use: a sentinel that sees the master down is not asked for it. Every replica at
    priority 0, a killed primary cannot be replaced, so once the sentinels flag it down there is no primary:
    redis-py's discover_master says so (MasterNotFoundError), and the harness must say None, not the dead pod."""
    from redis.sentinel import MasterNotFoundError, Sentinel

    from harness.poll import wait_until

    d = deploy({"kind": "sentinel", "replicas": 2, "sentinels": 3, "quorum": 2, "down_after_ms": 1000,
                "failover_timeout_ms": 3000}, "down-primary")
    old = sentinel_primary(d)
    assert old is not None and old.name == "redis-0"
    for replica in d.redis_pods()[1:]:
        pod_client(d, replica).config_set("replica-priority", 0)  # never promoted
    local_platform.kill_pod(d, old)
    flags = lambda s: pod_client(d, s, timeout=1).sentinel_master(MASTER_NAME)["flags"]  # noqa: E731
    wait_until(lambda: all("s_down" in flags(s) for s in d.sentinel_pods()), timeout=15, interval=0.1,
               what="every sentinel to flag the killed primary down")
    named = [pod_client(d, s).sentinel_get_master_addr_by_name(MASTER_NAME) for s in d.sentinel_pods()]
    assert all(addr is not None and (addr[0], int(addr[1])) == (old.host, old.port) for addr in named), named
    assert sentinel_primary(d) is None  # each sentinel still names the dead pod, flagged down
    with pytest.raises(MasterNotFoundError):
        Sentinel([(s.host, s.port) for s in d.sentinel_pods()], socket_timeout=1).discover_master(MASTER_NAME)

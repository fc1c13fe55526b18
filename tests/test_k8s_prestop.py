"""The Redis pods' preStop hand-over (harness/platforms/kubernetes/prestop.py), run here against real local pods.

The sentinels are given a down-after far longer than the test, so a failover can only come from the
hook; a writer keeps writing to the old primary while the hook runs, and every write it saw
acknowledged must be on the new primary (the outcome known in advance: 0 lost).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import redis

from harness.platforms.kubernetes.objects import RenderOptions, prestop_budget_s, topology_objects
from harness.platforms.local.platform import LocalPlatform
from harness.poll import wait_until
from harness.redisconn import pod_client
from harness.roles import cluster_shards, sentinel_primary
from harness.scenario import Topology
from tests.conftest import assert_gone, needs_redis, needs_root, unique_id
from tests.test_kubernetes_platform import run_script, scripts  # noqa: F401 (a fixture)


def prestop(scripts: Path, **env: str) -> subprocess.CompletedProcess:
    return run_script(scripts, "redis-prestop.sh", timeout=60, **env)


class Writer(threading.Thread):
    """Writes k0, k1, ... to one server until stopped; keeps the keys it saw acknowledged."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__(daemon=True)
        self.client, self.acked, self.failed, self.stop = client, [], 0, threading.Event()

    def run(self) -> None:
        i = 0
        deadline = time.monotonic() + 60
        while not self.stop.is_set() and time.monotonic() < deadline:
            key = f"k{i}"
            i += 1
            try:
                if self.client.set(key, "v"):
                    self.acked.append(key)
            except redis.RedisError:
                self.failed += 1
                self.stop.wait(0.01)


@pytest.fixture(scope="module")
def sentinel_deployment():
    if os.geteuid() != 0 or shutil.which("redis-server") is None:
        pytest.skip("needs root and redis-server for a local sentinel deployment")
    platform = LocalPlatform()
    topology = Topology(kind="sentinel", replicas=2, sentinels=3, down_after_ms=60000, failover_timeout_ms=5000)
    deployment = platform.deploy(topology, unique_id("prestop"), owner_pid=os.getpid())
    try:
        yield deployment
    finally:
        platform.teardown(deployment)
        assert_gone(platform, deployment)


def sentinel_env(d, pod: str) -> dict[str, str]:
    host = d.pod(pod).host
    return {"TOPOLOGY": "sentinel", "SENTINEL_HOSTS": " ".join(p.host for p in d.sentinel_pods()), "POD_NAME": pod,
            "MY_HOST": host, "POD_IP": host, "LOCAL_HOST": host, "PRESTOP_BUDGET_S": "15"}


@needs_root
@needs_redis
def test_prestop_on_a_replica_does_nothing(sentinel_deployment, scripts):
    d = sentinel_deployment
    done = prestop(scripts, **sentinel_env(d, "redis-1"))
    assert done.returncode == 0 and "not a primary" in done.stderr
    assert sentinel_primary(d).name == "redis-0"


@needs_root
@needs_redis
def test_prestop_hands_the_primary_over_without_losing_writes(sentinel_deployment, scripts):
    d = sentinel_deployment
    old = d.pod("redis-0")
    assert sentinel_primary(d).name == "redis-0"
    wait_until(lambda: all(pod_client(d, s).execute_command("SENTINEL", "replicas", "mymaster") and
                           len(pod_client(d, s).execute_command("SENTINEL", "replicas", "mymaster")) == 2
                           for s in d.sentinel_pods()), timeout=30, what="every sentinel to know both replicas")
    writer = Writer(pod_client(d, old, timeout=1))
    writer.start()
    wait_until(lambda: len(writer.acked) >= 200, timeout=20, what="200 acknowledged writes before the hook")
    started = time.monotonic()
    done = prestop(scripts, **sentinel_env(d, "redis-0"))
    took = time.monotonic() - started
    writer.stop.set()
    writer.join(10)
    print(f"preStop hand-over took {took:.2f} s; {len(writer.acked)} writes acknowledged, {writer.failed} refused")
    assert done.returncode == 0, done.stderr
    new = sentinel_primary(d)
    assert new is not None and new.name != "redis-0", done.stderr
    assert pod_client(d, old).info("replication")["role"] == "slave"  # the old primary follows the new one
    present = pod_client(d, new, timeout=10).exists(*writer.acked) if writer.acked else 0
    assert present == len(writer.acked), f"{len(writer.acked) - present} acknowledged writes lost"
    assert took < 10, done.stderr  # far inside the 60 s down-after: the hook made the failover, not detection


@needs_root
@needs_redis
def test_prestop_hands_a_cluster_shard_to_its_replica(deploy, scripts):
    d = deploy(Topology(kind="cluster", shards=3, replicas=1, cluster_node_timeout_ms=1000), "prestop-cluster")
    primary = d.pod("redis-0")
    assert cluster_shards(d)["redis-0"] == (0, "primary")
    wait_until(lambda: pod_client(d, d.pod("redis-1")).info("replication").get("master_link_status") == "up",
               timeout=30, what="redis-1's link to redis-0")
    done = prestop(scripts, TOPOLOGY="cluster", LOCAL_HOST=primary.host, MY_HOST=primary.host, POD_IP=primary.host)
    assert done.returncode == 0, done.stderr
    assert pod_client(d, primary).info("replication")["role"] == "slave"
    wait_until(lambda: cluster_shards(d).get("redis-1") == (0, "primary"), timeout=20, what="redis-1 to lead shard 0")


@pytest.mark.parametrize("kind", ["sentinel", "cluster"])
def test_prestop_renders_only_behind_its_switch(kind):
    """On: the hook, its budget, and a grace period that holds both the hand-over and SIGTERM's shutdown.
    Off (the default): no hook and the usual 30 s, so chaos scenarios measure the unassisted failover."""
    shape = {"sentinel": {"replicas": 2, "failover_timeout_ms": 30000}, "cluster": {"shards": 3, "replicas": 1}}[kind]

    def redis_pod(**switch: bool) -> dict:
        objects = topology_objects(Topology(kind=kind, **shape, **switch), RenderOptions())
        sts = next(o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "redis")
        return sts["spec"]["template"]["spec"]

    off = redis_pod()
    assert "lifecycle" not in off["containers"][0] and off["terminationGracePeriodSeconds"] == 30
    on = redis_pod(prestop_failover=True)
    container = on["containers"][0]
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sh", "/scripts/redis-prestop.sh"]
    budget = int(next(e["value"] for e in container["env"] if e["name"] == "PRESTOP_BUDGET_S"))
    topology = Topology(kind=kind, **shape, prestop_failover=True)
    assert budget == prestop_budget_s(topology)
    assert on["terminationGracePeriodSeconds"] >= budget + 15
    if kind == "sentinel":
        assert budget > 30  # failover-timeout bounds a sentinel failover


# --------------------------------------------------------------------------- on a real cluster


@pytest.mark.kubernetes
@pytest.mark.parametrize("kind", ["sentinel", "cluster"])
def test_deleting_a_primary_pod_hands_its_role_over_on_kubernetes(kind):
    """The detection timeouts are a minute, so only the preStop hook can make the failover that the test
    waits 30 s for; the deleted pod comes back as a replica of its successor."""
    from harness.platforms.kubernetes.platform import KubernetesPlatform, options_from_env
    from harness.roles import current_roles

    topology = {"sentinel": Topology(kind="sentinel", replicas=1, sentinels=3, down_after_ms=60000,
                                     failover_timeout_ms=5000, prestop_failover=True),
                "cluster": Topology(kind="cluster", shards=3, replicas=1, cluster_node_timeout_ms=60000,
                                    prestop_failover=True)}[kind]
    platform = KubernetesPlatform(**{**options_from_env(), "fault_sidecar": False})
    deployment = platform.deploy(topology, unique_id(f"k8s-prestop-{kind}"), owner_pid=os.getpid())

    def primary_of_shard_0() -> str | None:
        if kind == "sentinel":
            found = sentinel_primary(deployment)
            return found.name if found else None
        return next((pod for pod, (shard, role) in cluster_shards(deployment).items()
                     if shard == 0 and role == "primary"), None)

    try:
        old = primary_of_shard_0()
        assert old == "redis-0"
        started = time.monotonic()
        platform.delete_pod(deployment, deployment.pod(old))
        new = wait_until(lambda: (p := primary_of_shard_0()) not in (None, old) and p, timeout=30,
                         what="another primary, named before any detection timeout",
                         describe_failure=lambda: hook_lines(platform, deployment))
        print(f"{kind}: {new} primary {time.monotonic() - started:.2f} s after the delete call")
        platform.start_pod(deployment, deployment.pod(old))
        wait_until(lambda: next(r for r in current_roles(deployment) if r.pod == old).role == "replica",
                   timeout=120, what=f"{old} to come back as a replica")
    finally:
        platform.teardown(deployment)


def hook_lines(platform, deployment) -> str:
    """Why no hand-over: the kubelet's FailedPreStopHook events hold a failed hook's output."""
    events = platform.api.core.list_namespaced_event(deployment.extra["namespace"]).items
    said = [f"{e.involved_object.name}: {e.reason}: {e.message}" for e in events
            if e.reason in ("FailedPreStopHook", "Killing", "FailedKillPod")]
    return "events:\n" + "\n".join(said or ["(none)"])

"""A Cluster primary pod deleted and recreated before the cluster notices (marked `kubernetes`).

The StatefulSet recreates a deleted pod in seconds, with an empty data directory and a new IP; with a
cluster-node-timeout longer than that, the recreated pod joins while its dead incarnation is still listed
as the shard's primary, not yet flagged as failing. The pod's start script must wait for the failover and
replicate the promoted replica: it used to replicate the dead node (or another shard's primary) and stay
a replica of a dead address for good (a cold CI run's "topology converged" failure).
Known in advance: the one replica of the shard is the one promoted, and the recreated pod replicates it.
"""

from __future__ import annotations

import os

import pytest
import redis

from harness.platforms.kubernetes.platform import KubernetesPlatform, options_from_env
from harness.poll import wait_until
from harness.redisconn import pod_client
from harness.scenario import Topology
from tests.conftest import unique_id

pytestmark = pytest.mark.kubernetes

NODE_TIMEOUT_MS = 12000  # longer than a pod's recreation here (about 1-10 s), short enough for CI


def replication(deployment, name: str) -> dict:
    try:
        return pod_client(deployment, deployment.pod(name), timeout=1).info("replication")
    except (redis.RedisError, OSError):
        return {}


def test_a_recreated_primary_pod_replicates_the_promoted_replica_not_its_dead_self():
    k8s = KubernetesPlatform(**options_from_env())
    topology = Topology(kind="cluster", shards=3, replicas=1, cluster_node_timeout_ms=NODE_TIMEOUT_MS)
    deployment = k8s.deploy(topology, unique_id("k8s-rejoin"), owner_pid=os.getpid())
    try:
        shard = [p for p in deployment.redis_pods() if p.shard == 1]
        primary = next(p for p in shard if p.initial_role == "primary")
        replica = next(p for p in shard if p.initial_role != "primary")
        promoted_id = pod_client(deployment, replica, timeout=2).execute_command("CLUSTER", "MYID")
        promoted_id = promoted_id.decode() if isinstance(promoted_id, bytes) else promoted_id
        wait_until(lambda: replication(deployment, replica.name).get("master_link_status") == "up",
                   timeout=60, interval=0.2, what=f"{replica.name} in sync")

        k8s.kill_pod(deployment, primary)
        k8s.start_pod(deployment, primary)  # recreated and Ready: long before the node timeout has passed

        def rejoined() -> bool:
            info = replication(deployment, primary.name)
            return info.get("role") == "slave" and info.get("master_link_status") == "up"

        # the failover takes the node timeout plus an election; then the recreated pod syncs
        wait_until(rejoined, timeout=NODE_TIMEOUT_MS / 1000 + 60, interval=0.5,
                   what=f"the recreated {primary.name} replicating with its link up")
        ns = deployment.extra["namespace"]
        log = k8s.api.core.read_namespaced_pod_log(k8s.k8s_name(deployment, primary.name), ns, container="redis")
        said = [line for line in log.splitlines() if "[redis-start.sh] replicating" in line]
        assert said and said[-1].endswith(f"replicating {promoted_id}"), (promoted_id, log[-3000:])
        assert replication(deployment, replica.name).get("role") == "master"
    finally:
        k8s.teardown(deployment)

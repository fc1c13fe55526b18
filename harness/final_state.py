"""What every pod looks like after heal and settle, asked of the servers and written to final-state.json.

The checker judges convergence from this file alone (harness/checker/convergence.py): the runner
only observes. The same rule also tells the runner when to stop waiting, so the file is what the
run saw when the topology converged or when it gave up.
"""

from __future__ import annotations

from typing import Any

from harness.deployment import Deployment, Pod
from harness.redisconn import pod_client
from harness.roles import redis_role
from harness.pod_config import MASTER_NAME


def observe(deployment: Deployment) -> dict[str, Any]:
    """{"kind", "pods": [{name, kind, role, shard, primary, link_up, offset, primary_offset, cluster_state,
    sentinel_primary}]}; a pod that does not answer has role "down"."""
    redis_pods = deployment.redis_pods()
    roles = {p.name: redis_role(deployment, p) for p in redis_pods}
    offsets = {name: r.offset for name, r in roles.items() if r.role == "primary"}
    pods = []
    for pod in redis_pods:
        r = roles[pod.name]
        entry: dict[str, Any] = {"name": pod.name, "kind": "redis", "role": r.role, "shard": pod.shard,
                                 "primary": r.primary, "link_up": r.link_up, "offset": r.offset,
                                 "primary_offset": offsets.get(r.primary) if r.primary else None}
        if deployment.topology.get("kind") == "cluster" and r.role != "down":
            entry["cluster_state"] = _cluster_state(deployment, pod)
        pods.append(entry)
    for pod in deployment.sentinel_pods():
        pods.append({"name": pod.name, "kind": "sentinel", **_sentinel_view(deployment, pod)})
    return {"kind": deployment.topology.get("kind"), "pods": pods}


def _cluster_state(deployment: Deployment, pod: Pod) -> str | None:
    try:
        return str(pod_client(deployment, pod, timeout=0.5).cluster("info").get("cluster_state"))
    except Exception:  # noqa: BLE001 - a node that cannot say is judged as not ok
        return None


def _sentinel_view(deployment: Deployment, pod: Pod) -> dict[str, Any]:
    try:
        addr = pod_client(deployment, pod, timeout=0.5).execute_command("SENTINEL", "get-master-addr-by-name",
                                                                       MASTER_NAME)
    except Exception:  # noqa: BLE001
        return {"role": "down", "sentinel_primary": None}
    named = deployment.pod_by_address(addr[0], int(addr[1])) if addr else None
    return {"role": "sentinel", "sentinel_primary": named.name if named else None}

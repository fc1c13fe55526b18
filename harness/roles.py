"""Who is primary right now: asked of Redis, Sentinel and CLUSTER NODES, never read from labels.

Faults resolve their targets through here at the moment they fire, so "the primary" is
whoever is primary then.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.sentinel import Sentinel

from harness.deployment import Deployment, Pod
from harness.redisconn import pod_client
from harness.pod_config import MASTER_NAME


@dataclass(frozen=True)
class PodRole:
    pod: str
    role: str  # "primary" | "replica" | "sentinel" | "down"
    shard: int | None = None
    primary: str | None = None  # a replica's primary (pod name), when known
    link_up: bool | None = None
    offset: int | None = None


def redis_role(deployment: Deployment, pod: Pod, timeout: float = 0.5, client: redis.Redis | None = None) -> PodRole:
    """INFO replication of one Redis pod; `down` when it does not answer. Pollers pass their own `client`."""
    try:
        info = (client if client is not None else pod_client(deployment, pod, timeout=timeout)).info("replication")
    except Exception:  # noqa: BLE001 - any failure to answer means the pod is not serving
        return PodRole(pod.name, "down", pod.shard)
    if info.get("role") == "master":
        return PodRole(pod.name, "primary", pod.shard, offset=info.get("master_repl_offset"))
    primary = deployment.pod_by_address(str(info.get("master_host")), int(info.get("master_port", 0)))
    return PodRole(
        pod.name,
        "replica",
        pod.shard,
        primary=primary.name if primary else None,
        link_up=info.get("master_link_status") == "up",
        offset=info.get("slave_repl_offset"),
    )


def cluster_shards(deployment: Deployment, timeout: float = 0.5) -> dict[str, tuple[int | None, str]]:
    """pod -> (shard, role) from the first node that answers CLUSTER NODES.

    A shard is numbered by the lowest slot its primary serves, so shard numbers stay stable
    across failovers (the replica that takes over serves the same slots).
    """
    for pod in deployment.redis_pods():
        try:
            nodes = pod_client(deployment, pod, timeout=timeout).execute_command("CLUSTER", "NODES")
        except Exception:  # noqa: BLE001
            continue
        return parse_cluster_nodes(deployment, nodes)
    return {}


def parse_cluster_nodes(deployment: Deployment, text: str) -> dict[str, tuple[int | None, str]]:
    by_id: dict[str, dict] = {}
    for line in text.strip().splitlines():
        parts = line.split()
        node_id, addr, flags, master_id = parts[0], parts[1], parts[2].split(","), parts[3]
        host, port = addr.split("@")[0].rsplit(":", 1)
        slots = [int(s.split("-")[0]) for s in parts[8:] if s[0].isdigit()]
        by_id[node_id] = {"host": host, "port": int(port or 0), "flags": flags, "master": master_id, "slots": slots}
    # Number shards by their first slot over every node that claims slots (failed ones too), so that
    # numbers do not shift while a primary is down; with even slot spreading that is the pod layout.
    slot_starts = sorted({min(n["slots"]) for n in by_id.values() if "master" in n["flags"] and n["slots"]})
    first_slot_shard = {start: i for i, start in enumerate(slot_starts)}

    def shard_of(node: dict) -> int | None:
        if node["slots"]:
            return first_slot_shard.get(min(node["slots"]))
        master = by_id.get(node["master"])
        return shard_of(master) if master and master is not node else None

    out: dict[str, tuple[int | None, str]] = {}
    for node in by_id.values():
        pod = deployment.pod_by_address(node["host"], node["port"])
        if pod is None:
            continue
        failed = "fail" in node["flags"] or "fail?" in node["flags"]
        role = "down" if failed else ("primary" if "master" in node["flags"] else "replica")
        out[pod.name] = (shard_of(node), role)
    return out


_SENTINEL_RULE = Sentinel([])  # redis-py's, for its check_master_state only: it connects to nothing


def sentinel_primary(deployment: Deployment, timeout: float = 0.5) -> Pod | None:
    """The primary as the first answering sentinel that does not see it down names it: redis-py's
    Sentinel.discover_master rule, which the probe and Locust follow. After a failover a sentinel that
    was not its leader names the old primary, flagged down, until the leader's hello reaches it (up
    to 2 s); it is skipped, as redis-py skips it, so every client follows the failover alike."""
    for sentinel in deployment.sentinel_pods():
        try:
            state = pod_client(deployment, sentinel, timeout=timeout).sentinel_master(MASTER_NAME)
        except Exception:  # noqa: BLE001 - down, partitioned, or it does not know the master (yet)
            continue
        if isinstance(state, dict) and _SENTINEL_RULE.check_master_state(state, MASTER_NAME):
            return deployment.pod_by_address(state["ip"], int(state["port"]))
    return None


def current_roles(deployment: Deployment) -> list[PodRole]:
    """Every pod's role as the servers see it now."""
    roles = [redis_role(deployment, pod) for pod in deployment.redis_pods()]
    if deployment.topology["kind"] == "cluster":
        shards = cluster_shards(deployment)
        roles = [PodRole(r.pod, r.role, shards.get(r.pod, (r.shard, r.role))[0], r.primary, r.link_up, r.offset)
                 for r in roles]
    roles += [PodRole(p.name, "sentinel") for p in deployment.sentinel_pods()]
    return roles


def primaries(deployment: Deployment) -> dict[int | None, Pod]:
    """shard -> current primary pod (shard None outside clusters). Sentinel's view wins where it exists."""
    if deployment.topology["kind"] == "sentinel":
        pod = sentinel_primary(deployment)
        if pod is not None:
            return {None: pod}
    result: dict[int | None, Pod] = {}
    for role in current_roles(deployment):
        if role.role == "primary":
            result.setdefault(role.shard, deployment.pod(role.pod))
    return result


def sentinel_can_fail_over(deployment: Deployment, sentinel: Pod, replicas: int, sentinels: int) -> bool:
    """The sentinel knows every replica with a fresh INFO and a link up, and the other sentinels.

    A replica a sentinel has listed but not yet INFO'd (`info-refresh` unset) or sees as
    disconnected cannot be chosen for promotion, so a fault fired right after deploy would end in
    `-failover-abort-no-good-slave` (or, if the sentinels never learnt the replicas before the
    primary died, in no failover at all). Both platforms wait for this before calling a sentinel
    topology ready.
    """
    c = pod_client(deployment, sentinel)
    entries = [_pairs(r) for r in c.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)]
    others = c.execute_command("SENTINEL", "SENTINELS", MASTER_NAME)
    return sum(_usable_replica(e) for e in entries) == replicas and len(others) == sentinels - 1


def _pairs(reply) -> dict[str, str]:
    """A SENTINEL REPLICAS entry (flat name/value list, or a dict under RESP3) as a dict of text."""
    items = list(reply.items()) if isinstance(reply, dict) else list(zip(reply[0::2], reply[1::2]))
    text = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # noqa: E731
    return {text(k): text(v) for k, v in items}


def _usable_replica(entry: dict[str, str]) -> bool:
    """What Sentinel's replica selection needs: connected, INFO read, link to the primary up."""
    flags = entry.get("flags", "").split(",")
    return ("disconnected" not in flags and "s_down" not in flags
            and int(entry.get("info-refresh", "0") or 0) > 0 and entry.get("master-link-status") == "ok")

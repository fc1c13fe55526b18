"""Where a request goes: the standalone pod, the primary the sentinels name now, or the primary
owning the key's slot (CLUSTER SLOTS). Asked again after a lost connection, READONLY or MOVED,
so the generator follows a failover the way the probe does.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.deployment import Deployment
from harness.redisconn import pod_client
from harness.roles import sentinel_primary

SLOTS = 16384


@dataclass(frozen=True)
class Routes:
    """The nodes to connect to, and for a cluster which node (index into `nodes`) owns each slot."""

    nodes: list[tuple[str, int]]
    slot_node: list[int] | None = None  # None: every request goes to nodes[0]


def discover(deployment: Deployment, timeout: float = 0.5) -> Routes | None:
    """The current routes, or None when no primary can be found right now (mid-failover)."""
    kind = deployment.topology["kind"]
    if kind == "standalone":
        pod = deployment.redis_pods()[0]
        return Routes([(pod.host, pod.port)])
    if kind == "sentinel":
        primary = sentinel_primary(deployment, timeout=timeout)
        return Routes([(primary.host, primary.port)]) if primary is not None else None
    return _cluster_routes(deployment, timeout)


def _cluster_routes(deployment: Deployment, timeout: float) -> Routes | None:
    for pod in deployment.redis_pods():
        try:
            slots = pod_client(deployment, pod, timeout=timeout).execute_command("CLUSTER", "SLOTS")
        except Exception:  # noqa: BLE001 - a down or partitioned pod: ask the next one
            continue
        nodes: list[tuple[str, int]] = []
        slot_node = [-1] * SLOTS
        for entry in slots:
            start, end, primary = int(entry[0]), int(entry[1]), entry[2]
            host, port = primary[0], int(primary[1])
            host = host.decode() if isinstance(host, bytes) else host
            address = deployment.dial_address(host, port)
            if address not in nodes:
                nodes.append(address)
            index = nodes.index(address)
            slot_node[start:end + 1] = [index] * (end - start + 1)
        if nodes and -1 not in slot_node:
            return Routes(nodes, slot_node)
    return None

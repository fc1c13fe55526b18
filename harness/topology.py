"""What a topology deploys: the pod plan, and each pod's redis.conf / sentinel.conf.

Both platforms render configuration here, so a directive that one server version rejects is
caught once (the tests load every rendered file into a real server).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.binaries import ServerBinary
from harness.scenario import Topology

REDIS_PORT = 6379
SENTINEL_PORT = 26379
MASTER_NAME = "mymaster"


@dataclass(frozen=True)
class PodSpec:
    name: str
    kind: str  # "redis" | "sentinel"
    initial_role: str  # "primary" | "replica" | "sentinel"
    shard: int | None
    server: str  # a binaries spec: system | redis-6.2 | valkey-9.1 | path

    @property
    def port(self) -> int:
        return SENTINEL_PORT if self.kind == "sentinel" else REDIS_PORT


def plan_pods(topology: Topology) -> list[PodSpec]:
    """Redis pods first (initial primaries before their replicas), then sentinels."""
    pods = []
    for name in topology.redis_pod_names():
        index = int(name.split("-")[1])
        if topology.kind == "cluster":
            role = "primary" if index % (1 + topology.replicas) == 0 else "replica"
        else:
            role = "primary" if index == 0 else "replica"
        pods.append(PodSpec(name, "redis", role, topology.shard_of(name), topology.server_for(name)))
    for name in topology.sentinel_pod_names():
        pods.append(PodSpec(name, "sentinel", "sentinel", None, topology.server_for(name)))
    return pods


def initial_primary(topology: Topology, pod: PodSpec) -> str | None:
    """The pod a replica starts replicating from (sentinel topologies; cluster replicas are assigned later)."""
    if topology.kind == "sentinel" and pod.initial_role == "replica":
        return "redis-0"
    return None


def _conf(lines: list[tuple[str, ...]]) -> str:
    return "\n".join(" ".join(_quote(part) for part in line) for line in lines) + "\n"


def _quote(part: str) -> str:
    return f'"{part}"' if part == "" or " " in part else part


def render_redis_conf(
    topology: Topology,
    binary: ServerBinary,
    *,
    bind: str,
    data_dir: str,
    logfile: str,
    replicaof: str | None = None,
    announce_ip: str | None = None,
) -> str:
    lines: list[tuple[str, ...]] = [
        ("bind", bind),
        ("port", str(REDIS_PORT)),
        ("protected-mode", "no"),
        ("daemonize", "no"),
        ("dir", data_dir),
        ("logfile", logfile),
        ("repl-diskless-sync", "yes"),
        ("repl-diskless-sync-delay", "0"),
        ("min-replicas-to-write", str(topology.min_replicas_to_write)),
        ("min-replicas-max-lag", str(topology.min_replicas_max_lag_s)),
        ("maxmemory-policy", topology.maxmemory_policy),
    ]
    if binary.version >= (7, 0, 0):
        lines.append(("enable-debug-command", "yes"))  # DEBUG SLEEP is the portable pause fault
    persistence = topology.persistence
    lines.append(("save", persistence.save if persistence.mode == "rdb" else ""))
    lines.append(("appendonly", "yes" if persistence.mode == "aof" else "no"))
    lines.append(("appendfsync", persistence.appendfsync))
    if topology.maxmemory:
        lines.append(("maxmemory", topology.maxmemory))
    if topology.password:
        lines += [("requirepass", topology.password), ("masterauth", topology.password)]
    if announce_ip:
        lines.append(("replica-announce-ip", announce_ip))
    if topology.kind == "cluster":
        lines += [
            ("cluster-enabled", "yes"),
            ("cluster-config-file", "nodes.conf"),
            ("cluster-node-timeout", str(topology.cluster_node_timeout_ms)),
        ]
        if announce_ip:
            lines.append(("cluster-announce-ip", announce_ip))
    if replicaof:
        lines.append(("replicaof", replicaof, str(REDIS_PORT)))
    lines += [(key, value) for key, value in topology.extra_config.items()]
    return _conf(lines)


def render_sentinel_conf(
    topology: Topology,
    *,
    bind: str,
    data_dir: str,
    logfile: str,
    primary_host: str,
    announce_ip: str | None = None,
    resolve_hostnames: bool = False,
) -> str:
    lines: list[tuple[str, ...]] = [
        ("bind", bind),
        ("port", str(SENTINEL_PORT)),
        ("protected-mode", "no"),
        ("daemonize", "no"),
        ("dir", data_dir),
        ("logfile", logfile),
    ]
    if resolve_hostnames:
        lines += [("sentinel", "resolve-hostnames", "yes"), ("sentinel", "announce-hostnames", "yes")]
    if announce_ip:
        lines.append(("sentinel", "announce-ip", announce_ip))
    lines += [
        ("sentinel", "monitor", MASTER_NAME, primary_host, str(REDIS_PORT), str(topology.quorum)),
        ("sentinel", "down-after-milliseconds", MASTER_NAME, str(topology.down_after_ms)),
        ("sentinel", "failover-timeout", MASTER_NAME, str(topology.failover_timeout_ms)),
        ("sentinel", "parallel-syncs", MASTER_NAME, "1"),
    ]
    if topology.password:
        lines.append(("sentinel", "auth-pass", MASTER_NAME, topology.password))
    return _conf(lines)

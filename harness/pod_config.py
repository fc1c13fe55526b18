"""What a topology deploys: the pod plan, and each pod's redis.conf / sentinel.conf.

Both platforms render configuration here, so a directive that one server version rejects is
caught once (the tests load every rendered file into a real server).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.binaries import ServerBinary
from harness.deployment import TlsFiles
from harness.scenario import Persistence, Topology

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
        elif topology.kind == "naive":
            role = "primary"  # nothing replicates: every pod of the Deployment is a primary of its own
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


def effective_persistence(topology: Topology) -> Persistence:
    """What the server writes to disk. A persistent volume exists to keep data across a pod's loss, so
    with one a topology that says `mode: none` gets AOF (its `appendfsync`); `rdb` and `aof` stand as
    written. Without a volume nothing changes: an emptyDir dies with the pod anyway."""
    if topology.persistent_volumes and topology.persistence.mode == "none":
        return topology.persistence.model_copy(update={"mode": "aof"})
    return topology.persistence


def _conf(lines: list[tuple[str, ...]]) -> str:
    return "\n".join(" ".join(_quote(part) for part in line) for line in lines) + "\n"


def _process_lines(bind: str, port: int, data_dir: str, logfile: str,
                   tls: TlsFiles | None = None) -> list[tuple[str, ...]]:
    """Where a server listens and keeps its files: the same for redis-server and redis-sentinel. With TLS
    the pod's port is its TLS port and the plaintext port is closed (`port 0`); the server asks every
    client for a certificate signed by the deployment's CA, and is a TLS client itself (replication, and
    a sentinel's links to the servers and to the other sentinels).

    TLS 1.2 only: redis-py 8's hiredis parser checks a pooled connection right after connecting with a
    non-destructive poll of the socket, and a TLS 1.3 NewSessionTicket, which the server sends after the
    handshake, makes it readable: the client then refuses the new connection ("Connection not ready";
    1 connect in 3 here). TLS 1.2 sends its ticket inside the handshake."""
    listen: list[tuple[str, ...]] = [("port", str(port))]
    if tls is not None:
        listen = [("port", "0"), ("tls-port", str(port)), ("tls-cert-file", tls.cert), ("tls-key-file", tls.key),
                  ("tls-ca-cert-file", tls.ca), ("tls-auth-clients", "yes"), ("tls-replication", "yes"),
                  ("tls-protocols", "TLSv1.2")]
    return [("bind", bind), *listen, ("protected-mode", "no"), ("daemonize", "no"), ("dir", data_dir),
            ("logfile", logfile)]


def _tls_for(topology: Topology, tls: TlsFiles | None) -> TlsFiles | None:
    if topology.tls and tls is None:
        raise ValueError("topology.tls: a TLS topology's configs need the pod's certificate files (tls=...)")
    return tls if topology.tls else None


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
    tls: TlsFiles | None = None,
) -> str:
    lines: list[tuple[str, ...]] = [
        *_process_lines(bind, REDIS_PORT, data_dir, logfile, _tls_for(topology, tls)),
        ("repl-diskless-sync", "yes"),
        ("repl-diskless-sync-delay", "0"),
        ("min-replicas-to-write", str(topology.min_replicas_to_write)),
        ("min-replicas-max-lag", str(topology.min_replicas_max_lag_s)),
        ("maxmemory-policy", topology.maxmemory_policy),
    ]
    if binary.version >= (7, 0, 0):
        lines.append(("enable-debug-command", "yes"))  # DEBUG SLEEP is the portable pause fault
    persistence = effective_persistence(topology)
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
        if topology.tls:
            lines.append(("tls-cluster", "yes"))
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
    tls: TlsFiles | None = None,
) -> str:
    lines: list[tuple[str, ...]] = _process_lines(bind, SENTINEL_PORT, data_dir, logfile, _tls_for(topology, tls))
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
    if topology.password:  # the sentinels ask for the password too, and give it to each other
        lines += [("sentinel", "auth-pass", MASTER_NAME, topology.password), ("requirepass", topology.password),
                  ("sentinel", "sentinel-pass", topology.password)]
    return _conf(lines)

"""Kubernetes objects for a topology, as plain dicts: what the platform applies and `manifests/` holds.

One renderer serves both: `manifests/` is this module's output for default topologies (the tests
fail when the two drift), and a run renders the same objects with the scenario's parameters.
redis.conf and sentinel.conf come from harness.pod_config, like on the local platform; the
password never enters a ConfigMap: the start scripts add it from the `redis-auth` Secret.
"""

from __future__ import annotations

import hashlib
import re

import yaml
from dataclasses import dataclass, field
from typing import Any

from harness.binaries import ServerBinary
from harness.deployment import TlsFiles
from harness.errors import ScenarioError
from harness.platforms.kubernetes.components import EXPORTER_IMAGE, exporter_container
from harness.platforms.kubernetes.scripts import SCRIPTS
from harness.scenario import LocustLoad, RedisBenchmarkLoad, Topology
from harness.pod_config import MASTER_NAME, REDIS_PORT, SENTINEL_PORT, render_redis_conf, render_sentinel_conf
from harness.redisconn import tls_cli_args

Obj = dict[str, Any]

DEFAULT_IMAGE = "redis:7.0.15"
SERVER_IMAGES = {"system": DEFAULT_IMAGE, "redis-6.2": "redis:6.2.14", "valkey-9.1": "valkey/valkey:9.1"}
# the project's sidecar image (manifests/components/fault-sidecar/image): iptables, tc and the latency delayer
DEFAULT_SIDECAR_IMAGE = "redis-harness-netfault:0.1.0"
DEFAULT_LOCUST_IMAGE = "redis-harness-locust:0.1.0"
CLUSTER_BUS_PORT = REDIS_PORT + 10000
LOCUST_MASTER_PORT = 5557
LOCUST_WEB_PORT = 8089  # an in-cluster run's master takes its start and stop from the harness here
LOCUST_OUT = "/out"  # the Locust pods' emptyDir: the master's CSVs, each worker's per-second file
MANAGED_BY = "redis-harness"
RUN_LABEL = "redis-harness/run-id"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
REDIS_UID = 999  # the `redis` user of the official image
LOCUST_UID = 1000
TLS_MOUNT = "/tls"  # where every pod of a TLS deployment mounts its Secret (the pod scripts' TLS_DIR)
TLS_VOLUME_MOUNT: Obj = {"name": "tls", "mountPath": TLS_MOUNT, "readOnly": True}
# redis-cli / redis-benchmark in a pod that mounts it: the CA, and the pods' certificate as the client's
POD_TLS_ARGS = " ".join(tls_cli_args(TlsFiles.mounted(TLS_MOUNT)))


@dataclass(frozen=True)
class RenderOptions:
    """How the objects are shaped beyond the topology: cluster facts and operator choices."""

    namespace: str | None = None  # None: no metadata.namespace (kustomize / kubectl -n decide)
    server_version: str = "1.30"  # the API server's version; picks API versions (PDB before 1.21)
    image: str | None = None  # None: from topology.server (SERVER_IMAGES, server_images)
    # server spec -> image, over SERVER_IMAGES: the upgrade drill's image per version (a test cluster's own tags)
    server_images: dict[str, str] = field(default_factory=dict)
    image_pull_policy: str = "IfNotPresent"
    fault_sidecar: bool = False  # a NET_ADMIN container sharing the pod's network, for iptables/tc faults
    sidecar_image: str = DEFAULT_SIDECAR_IMAGE
    locust_image: str = DEFAULT_LOCUST_IMAGE  # the load image: the project on Locust (manifests/load/image)
    locust_cpu: str = "1"  # each Locust pod's CPU limit (its request: 200m, or the limit if lower)
    storage_class: str | None = None  # PVC templates use it when topology.persistent_volumes
    storage_size: str = "1Gi"
    tls_secret: str | None = None  # a kubernetes.io/tls Secret with tls.crt, tls.key, ca.crt
    cluster_domain: str = "cluster.local"
    run_id: str | None = None  # labels every object so a run's objects can be found and deleted
    instance: str = "redis-harness"
    requests: dict[str, str] = field(default_factory=lambda: {"cpu": "100m", "memory": "128Mi"})
    limits: dict[str, str] = field(default_factory=lambda: {"cpu": "1", "memory": "512Mi"})
    require_auth: bool = False  # the shipped manifests: no pod starts without the redis-auth Secret
    metrics: bool = False  # the metrics component's redis_exporter beside each Redis container (a run scrapes it)
    metrics_image: str = EXPORTER_IMAGE


# --------------------------------------------------------------------------- versions


def parse_version(version: str) -> tuple[int, int]:
    """'1.20', 'v1.30.2', '1.27+' -> (major, minor)."""
    match = re.match(r"v?(\d+)\.(\d+)", version.strip())
    if not match:
        raise ScenarioError(f"not a Kubernetes version: {version!r} (expected e.g. 1.30)")
    return int(match.group(1)), int(match.group(2))


def pdb_api_version(server_version: str) -> str:
    return "policy/v1" if parse_version(server_version) >= (1, 21) else "policy/v1beta1"


def image_for(topology: Topology, options: RenderOptions) -> str:
    if options.image:
        return options.image
    servers = {topology.server_for(pod) for pod in topology.pod_names()}
    if len(servers) > 1:
        raise ScenarioError(
            f"pods use different servers {sorted(servers)}: on Kubernetes one StatefulSet runs one image; "
            "mixed-version upgrades are a rolling image change there, not per-pod servers"
        )
    return server_image(servers.pop(), options)


def server_image(server: str, options: RenderOptions) -> str:
    """The image that runs server spec `server`: the platform's server_images first, then SERVER_IMAGES."""
    images = {**SERVER_IMAGES, **options.server_images}
    if server not in images:
        raise ScenarioError(f"server {server!r} has no Kubernetes image: set the platform's image option, or "
                            f"server_images (REDIS_HARNESS_K8S_SERVER_IMAGES={server}=IMAGE)")
    return images[server]


def image_binary(image: str) -> ServerBinary:
    """The server version an image tag promises (render_redis_conf needs it); 7.0 when the tag says nothing."""
    match = re.search(r":v?(\d+)\.(\d+)(?:\.(\d+))?", image.rsplit("/", 1)[-1])
    version = (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)) if match else (7, 0, 0)
    product = "valkey" if "valkey" in image else "redis"
    return ServerBinary(spec=image, path="redis-server", product=product, version=version)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- building blocks


def _meta(name: str, options: RenderOptions, component: str, app: str = "redis", **extra: Any) -> Obj:
    meta: Obj = {"name": name, "labels": object_labels(options, component, app)}
    if options.namespace:
        meta["namespace"] = options.namespace
    meta.update(extra)
    return meta


def object_labels(options: RenderOptions, component: str, app: str = "redis") -> dict[str, str]:
    labels = {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/instance": options.instance,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    if options.run_id:
        labels[RUN_LABEL] = label_value(options.run_id)
    return labels


def _selector(options: RenderOptions, app: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": app, "app.kubernetes.io/instance": options.instance}


def label_value(text: str) -> str:
    """A valid label value: at most 63 of [A-Za-z0-9._-], alphanumeric at both ends."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:63].strip("-_.")
    return cleaned or "run"


def _port(name: str, port: int) -> Obj:
    return {"name": name, "port": port, "targetPort": name, "protocol": "TCP"}


def _env(name: str, value: str | int) -> Obj:
    return {"name": name, "value": str(value)}


def _field_env(name: str, path: str) -> Obj:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _password_env(required: bool = False) -> Obj:
    """The password from the Secret redis-auth. Required, a missing Secret stops the pod before it starts
    (CreateContainerConfigError naming the Secret), and an empty one stops it in the start script."""
    return {"name": "REDIS_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "password", "optional": not required}}}


def _auth_required(topology: Topology, options: RenderOptions) -> bool:
    return options.require_auth or bool(topology.password)


def _exec_probe(argv: list[str], *, period: int, timeout: int, failures: int, delay: int = 0) -> Obj:
    probe: Obj = {"exec": {"command": argv}, "periodSeconds": period, "timeoutSeconds": timeout,
                  "failureThreshold": failures, "successThreshold": 1}
    if delay:
        probe["initialDelaySeconds"] = delay
    return probe


def _anti_affinity(options: RenderOptions, app: str) -> Obj:
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100,
        "podAffinityTerm": {"labelSelector": {"matchLabels": _selector(options, app)},
                            "topologyKey": "kubernetes.io/hostname"},
    }]}}


def _pod_security() -> Obj:
    return {"runAsNonRoot": True, "runAsUser": REDIS_UID, "runAsGroup": REDIS_UID, "fsGroup": REDIS_UID,
            "seccompProfile": {"type": "RuntimeDefault"}}


def _container_security() -> Obj:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}}


def fault_sidecar_container(image: str) -> Obj:
    """Root with NET_ADMIN/NET_RAW in the pod's network namespace: iptables and tc act on the pod's own
    packets, replication included. KILL lets it SIGSTOP the server (the pod shares its process namespace).
    Its limits leave room for the latency delayer (Python, every packet the pod sends passes through it):
    a throttled delayer would add delay of its own to what the scenario asked for."""
    return {
        "name": "fault",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sleep", "infinity"],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}},
        "securityContext": {"runAsUser": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW", "KILL"]}},
    }


def _resources(options: RenderOptions) -> Obj:
    return {"requests": dict(options.requests), "limits": dict(options.limits)}


def _checksum(*texts: str) -> str:
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()[:16]


def _headless(name: str, app: str, ports: list[Obj], options: RenderOptions) -> Obj:
    """DNS names for every pod, ready or not: replicas and sentinels must find a primary that is not ready."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, options, "headless", app),
            "spec": {"clusterIP": "None", "publishNotReadyAddresses": True,
                     "selector": _selector(options, app), "ports": ports}}


def _client_service(name: str, app: str, ports: list[Obj], options: RenderOptions) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, options, "client", app),
            "spec": {"type": "ClusterIP", "selector": _selector(options, app), "ports": ports}}


def _pdb(name: str, app: str, max_unavailable: int, options: RenderOptions) -> Obj:
    return {"apiVersion": pdb_api_version(options.server_version), "kind": "PodDisruptionBudget",
            "metadata": _meta(name, options, "disruption-budget", app),
            "spec": {"maxUnavailable": max_unavailable, "selector": {"matchLabels": _selector(options, app)}}}


# --------------------------------------------------------------------------- configuration


MAXMEMORY_SHARE = 0.75
"""maxmemory as a share of the container's memory limit: the rest holds replication and client buffers,
the fork of a save or AOF rewrite (copy-on-write) and fragmentation, so Redis refuses writes
(`noeviction`) or evicts by policy before the kernel OOM-kills it."""

_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_UNITS = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def memory_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity ('512Mi', '1G', '268435456') in bytes."""
    match = _QUANTITY.match(quantity.strip())
    if not match:
        raise ScenarioError(f"not a memory quantity: {quantity!r} (expected e.g. 512Mi or 1Gi)")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def cpu_millis(quantity: str) -> int:
    """A Kubernetes CPU quantity ('500m', '1', '0.5') in millicores."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m?)", quantity.strip())
    if not match:
        raise ScenarioError(f"not a CPU quantity: {quantity!r} (expected e.g. 500m or 1)")
    return int(float(match[1]) * (1 if match[2] else 1000))


def maxmemory_for(topology: Topology, options: RenderOptions) -> str | None:
    """The scenario's maxmemory when it sets one, else MAXMEMORY_SHARE of the Redis container's limit."""
    if topology.maxmemory or "memory" not in options.limits:
        return topology.maxmemory
    return f"{int(memory_bytes(options.limits['memory']) * MAXMEMORY_SHARE) // 2**20}mb"


def redis_conf(topology: Topology, image: str, options: RenderOptions | None = None) -> str:
    """redis.conf for every Redis pod; the start script appends password, role, announced name and, with
    REDIS_TLS, the TLS lines (later lines win: `port 0`, the TLS port, the files mounted at /tls)."""
    update = {"password": None, "tls": False, "maxmemory": maxmemory_for(topology, options or RenderOptions())}
    return render_redis_conf(topology.model_copy(update=update), image_binary(image),
                             bind="0.0.0.0", data_dir="/data", logfile="")


def sentinel_conf(topology: Topology) -> str:
    """sentinel.conf; sentinel-start.sh replaces the monitored host with the primary the sentinels know
    (and appends the TLS lines, as for redis.conf)."""
    return render_sentinel_conf(topology.model_copy(update={"password": None, "tls": False}), bind="0.0.0.0",
                                data_dir="/run/redis", logfile="", primary_host="redis-0.redis-headless",
                                resolve_hostnames=True)


def config_map(topology: Topology, image: str, options: RenderOptions) -> Obj:
    data = {"redis.conf": redis_conf(topology, image, options)}
    if topology.kind == "sentinel":
        data["sentinel.conf"] = sentinel_conf(topology)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("redis-config", options, "config"),
            "data": data}


def scripts_config_map(options: RenderOptions) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("redis-scripts", options, "scripts"),
            "data": dict(SCRIPTS)}


def auth_secret(password: str, options: RenderOptions) -> Obj:
    if any(c in password for c in '"\\\n\r'):
        raise ScenarioError("topology.password must not contain quotes, backslashes or newlines")
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta("redis-auth", options, "auth"),
            "type": "Opaque", "stringData": {"password": password}}


# --------------------------------------------------------------------------- workloads


def _cluster_hosts(topology: Topology) -> str:
    """Pod DNS names, shard by shard, primary first; $(POD_NAMESPACE) is expanded by the kubelet."""
    return " ".join(f"{pod}.redis-headless.$(POD_NAMESPACE).svc.$(CLUSTER_DOMAIN)"
                    for pod in topology.redis_pod_names())


def _common_env(topology: Topology, options: RenderOptions) -> list[Obj]:
    env = [
        _field_env("POD_NAME", "metadata.name"),
        _field_env("POD_NAMESPACE", "metadata.namespace"),
        _field_env("POD_IP", "status.podIP"),
        _env("CLUSTER_DOMAIN", options.cluster_domain),
        _env("TOPOLOGY", topology.kind),
        _env("HEADLESS_SERVICE", "redis-headless"),
        _env("REDIS_PORT", REDIS_PORT),
        # scripts and probes dial the pod IP, not 127.0.0.1: a fault that cuts port-forwarded
        # clients (which arrive from 127.0.0.1) leaves the probes alone
        _env("LOCAL_HOST", "$(POD_IP)"),
        _password_env(_auth_required(topology, options)),
    ]
    if _auth_required(topology, options):
        env.append(_env("REQUIRE_AUTH", "yes"))
    if topology.kind == "sentinel":
        env += [_env("SENTINEL_HEADLESS_SERVICE", "sentinel-headless"), _env("SENTINEL_COUNT", topology.sentinels),
                _env("SENTINEL_PORT", SENTINEL_PORT), _env("MASTER_NAME", MASTER_NAME),
                _env("INITIAL_PRIMARY", "redis-0")]
    if options.tls_secret:
        env.append(_env("REDIS_TLS", "yes"))
    return env


def _primary_wait_s(topology: Topology) -> int:
    """How long an emptied primary waits for the sentinels' failover before it gives up (and restarts)."""
    return max(60, int(3 * (topology.down_after_ms + topology.failover_timeout_ms) / 1000))


def prestop_budget_s(topology: Topology) -> int:
    """How long the preStop hand-over may take: a sentinel failover is bounded by failover-timeout, a
    Cluster manual failover by its 5 s timeout plus the catch-up wait (CATCH_UP_S), asked twice if the
    first one times out; plus slack."""
    if topology.kind == "sentinel":
        return -(-topology.failover_timeout_ms // 1000) + 5
    return 20


def termination_grace_s(topology: Topology) -> int:
    """The hand-over, then SIGTERM's own shutdown (an AOF fsync or a final save) inside the grace period."""
    if not _has_prestop(topology):
        return 30
    return max(30, prestop_budget_s(topology) + 15)


def _has_prestop(topology: Topology) -> bool:
    return topology.prestop_failover and topology.kind in ("sentinel", "cluster")


def _volumes(options: RenderOptions, *, data: bool) -> list[Obj]:
    volumes = []
    if data:
        volumes.append({"name": "data", "emptyDir": {}})
    volumes += [
        {"name": "config", "configMap": {"name": "redis-config"}},
        {"name": "scripts", "configMap": {"name": "redis-scripts", "defaultMode": 0o555}},
        {"name": "run", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
    ]
    return volumes + _tls_volumes(options)


def _tls_volumes(options: RenderOptions) -> list[Obj]:
    """The TLS Secret as a volume, readable by the pod's fsGroup only; none without TLS."""
    if not options.tls_secret:
        return []
    return [{"name": "tls", "secret": {"secretName": options.tls_secret, "defaultMode": 0o440}}]


def _tls_mounts(options: RenderOptions) -> list[Obj]:
    return [dict(TLS_VOLUME_MOUNT)] if options.tls_secret else []


def tls_shell_args(options: RenderOptions) -> str:
    """POD_TLS_ARGS and a space for a pod that mounts the TLS Secret; "" without TLS."""
    return f"{POD_TLS_ARGS} " if options.tls_secret else ""


def _mounts(options: RenderOptions, *, data: bool) -> list[Obj]:
    mounts: list[Obj] = [{"name": "data", "mountPath": "/data"}] if data else []
    mounts += [{"name": "config", "mountPath": "/etc/redis", "readOnly": True},
               {"name": "scripts", "mountPath": "/scripts", "readOnly": True},
               {"name": "run", "mountPath": "/run/redis"}]
    return mounts + _tls_mounts(options)


def _statefulset(name: str, app: str, replicas: int, service: str, containers: list[Obj], volumes: list[Obj],
                 options: RenderOptions, checksum: str, claims: list[Obj] | None = None, grace_s: int = 30) -> Obj:
    pod_spec: Obj = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": grace_s,
        "securityContext": _pod_security(),
        "affinity": _anti_affinity(options, app),
        "containers": containers,
        "volumes": volumes,
    }
    if options.fault_sidecar:
        pod_spec["shareProcessNamespace"] = True
        containers.append(fault_sidecar_container(options.sidecar_image))
    spec: Obj = {
        "serviceName": service,
        "replicas": replicas,
        "podManagementPolicy": "Parallel",
        "updateStrategy": {"type": "RollingUpdate"},
        "selector": {"matchLabels": _selector(options, app)},
        "template": {
            "metadata": {"labels": object_labels(options, "server" if app == "redis" else "sentinel", app),
                         "annotations": {"redis-harness/config-checksum": checksum}},
            "spec": pod_spec,
        },
    }
    if claims:
        spec["volumeClaimTemplates"] = claims
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": _meta(name, options, "server" if app == "redis" else "sentinel", app), "spec": spec}


def redis_statefulset(topology: Topology, image: str, options: RenderOptions, checksum: str) -> Obj:
    env = _common_env(topology, options) + [_env("PRIMARY_WAIT_S", _primary_wait_s(topology))]
    ports = [{"name": "redis", "containerPort": REDIS_PORT, "protocol": "TCP"}]
    if topology.kind == "cluster":
        env += [_env("CLUSTER_HOSTS", _cluster_hosts(topology)),
                _env("CLUSTER_ANNOUNCE_HOSTNAME", "yes" if image_binary(image).version >= (7, 0, 0) else "no")]
        ports.append({"name": "cluster-bus", "containerPort": CLUSTER_BUS_PORT, "protocol": "TCP"})
    start_budget = _primary_wait_s(topology) + 60
    container = {
        "name": "redis",
        "image": image,
        "imagePullPolicy": options.image_pull_policy,
        "command": ["sh", "/scripts/redis-start.sh"],
        "env": env,
        "ports": ports,
        "startupProbe": _exec_probe(["sh", "/scripts/redis-probe.sh", "live"], period=2, timeout=10,
                                    failures=start_budget // 2),
        "readinessProbe": _exec_probe(["sh", "/scripts/redis-probe.sh", "ready"], period=3, timeout=15, failures=2),
        "livenessProbe": _exec_probe(["sh", "/scripts/redis-probe.sh", "live"], period=10, timeout=5, failures=6),
        "resources": _resources(options),
        "securityContext": _container_security(),
        "volumeMounts": _mounts(options, data=True),
    }
    if _has_prestop(topology):
        env.append(_env("PRESTOP_BUDGET_S", prestop_budget_s(topology)))
        container["lifecycle"] = {"preStop": {"exec": {"command": ["sh", "/scripts/redis-prestop.sh"]}}}
    containers = [container]
    if options.metrics:  # on the Redis pods only: the run records replication figures, which Sentinel lacks
        # with TLS it mounts the Secret too and dials the pod's own headless name (exporter_container says why)
        containers.append(exporter_container(REDIS_PORT, options.metrics_image,
                                             password_required=_auth_required(topology, options),
                                             tls_mount=dict(TLS_VOLUME_MOUNT) if options.tls_secret else None))
    claims = None
    persistent = topology.persistent_volumes
    if persistent:
        claim_spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": options.storage_size}}}
        if options.storage_class:
            claim_spec["storageClassName"] = options.storage_class
        claims = [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "data", "labels": object_labels(options, "data")}, "spec": claim_spec}]
    return _statefulset("redis", "redis", len(topology.redis_pod_names()), "redis-headless", containers,
                        _volumes(options, data=not persistent), options, checksum, claims,
                        grace_s=termination_grace_s(topology))


def sentinel_statefulset(topology: Topology, image: str, options: RenderOptions, checksum: str) -> Obj:
    container = {
        "name": "sentinel",
        "image": image,
        "imagePullPolicy": options.image_pull_policy,
        "command": ["sh", "/scripts/sentinel-start.sh"],
        "env": _common_env(topology, options),
        "ports": [{"name": "sentinel", "containerPort": SENTINEL_PORT, "protocol": "TCP"}],
        "startupProbe": _exec_probe(["sh", "/scripts/sentinel-probe.sh", "live"], period=2, timeout=5, failures=90),
        "readinessProbe": _exec_probe(["sh", "/scripts/sentinel-probe.sh", "ready"], period=5, timeout=5, failures=2),
        "livenessProbe": _exec_probe(["sh", "/scripts/sentinel-probe.sh", "live"], period=10, timeout=5, failures=6),
        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
        "securityContext": _container_security(),
        "volumeMounts": _mounts(options, data=False),
    }
    return _statefulset("sentinel", "sentinel", topology.sentinels, "sentinel-headless", [container],
                        _volumes(options, data=False), options, checksum)


def cluster_create_job(topology: Topology, image: str, options: RenderOptions) -> Obj:
    env = _common_env(topology, options) + [
        _env("CLUSTER_HOSTS", _cluster_hosts(topology)),
        _env("REPLICAS_PER_SHARD", topology.replicas),
        _env("BOOTSTRAP_TIMEOUT_S", 600),
    ]
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": _meta("redis-cluster-create", options, "bootstrap"),
        "spec": {
            "backoffLimit": 6,
            "activeDeadlineSeconds": 900,
            "template": {
                "metadata": {"labels": object_labels(options, "bootstrap")},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": _pod_security(),
                    "containers": [{
                        "name": "create",
                        "image": image,
                        "imagePullPolicy": options.image_pull_policy,
                        "command": ["sh", "/scripts/cluster-create.sh"],
                        "env": env,
                        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"},
                                      "limits": {"cpu": "500m", "memory": "128Mi"}},
                        "securityContext": _container_security(),
                        "volumeMounts": [{"name": "scripts", "mountPath": "/scripts", "readOnly": True},
                                         *_tls_mounts(options)],
                    }],
                    "volumes": [v for v in _volumes(options, data=False) if v["name"] in ("scripts", "tls")],
                },
            },
        },
    }


# --------------------------------------------------------------------------- whole topologies


def topology_objects(topology: Topology, options: RenderOptions = RenderOptions()) -> list[Obj]:
    """Every object of a topology, in apply order (config before the pods that mount it)."""
    if topology.tls and not options.tls_secret:
        raise ScenarioError("topology.tls: the pods mount the deployment's certificates from a Secret; render with "
                            "tls_secret (the Kubernetes platform makes the Secret when it deploys)")
    image = image_for(topology, options)
    if topology.kind == "naive":
        from harness.platforms.kubernetes.naive import naive_objects  # it builds on this module

        return naive_objects(topology, image, options)
    objects: list[Obj] = []
    if topology.password:
        objects.append(auth_secret(topology.password, options))
    cm = config_map(topology, image, options)
    scripts = scripts_config_map(options)
    checksum = _checksum(*cm["data"].values(), *scripts["data"].values())
    objects += [cm, scripts]
    redis_ports = [_port("redis", REDIS_PORT)]
    headless_ports = list(redis_ports)
    if topology.kind == "cluster":
        headless_ports.append(_port("cluster-bus", CLUSTER_BUS_PORT))
    objects += [
        _headless("redis-headless", "redis", headless_ports, options),
        _client_service("redis", "redis", redis_ports, options),
        redis_statefulset(topology, image, options, checksum),
        _pdb("redis", "redis", 1, options),
    ]
    if topology.kind == "sentinel":
        sentinel_ports = [_port("sentinel", SENTINEL_PORT)]
        objects += [
            _headless("sentinel-headless", "sentinel", sentinel_ports, options),
            _client_service("sentinel", "sentinel", sentinel_ports, options),
            sentinel_statefulset(topology, image, options, checksum),
            # losing more than sentinels - quorum at once would leave no quorum to fail over
            _pdb("sentinel", "sentinel", max(1, topology.sentinels - topology.quorum), options),
        ]
    if topology.kind == "cluster":
        objects.append(cluster_create_job(topology, image, options))
    return objects


def namespace_object(name: str, run_id: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {RUN_LABEL: label_value(run_id),
                                                  "app.kubernetes.io/managed-by": MANAGED_BY}}}


def namespace_name(run_id: str) -> str:
    """`rh-` + the run id as a DNS label (at most 63 characters, lower case)."""
    cleaned = re.sub(r"[^a-z0-9-]", "-", run_id.lower()).strip("-")
    digest = hashlib.sha1(run_id.encode()).hexdigest()[:6]
    return f"rh-{cleaned[:50].strip('-')}-{digest}"


# --------------------------------------------------------------------------- load


def locust_objects(load: LocustLoad, topology: Topology, options: RenderOptions, *, image: str | None = None,
                   run_time_s: float = 60.0, seed: int = 0, controlled: bool = False) -> list[Obj]:
    """A Locust master and `workers` (else `processes`) workers running the project's locustfile,
    harness/workload/locustfile.py. The locustfile imports the harness, so the image is the project
    installed on Locust (manifests/load/image/Dockerfile; docs/kubernetes.md).

    Shipped (`controlled` False): a headless master that starts when its workers have connected and
    runs `run_time_s`; its CSVs stay on its own disk. A run's (`controlled`, harness.platforms.kubernetes.load):
    the master waits on its web port for the harness's POST /swarm at the run's t = 0 (a headless master
    starts whenever its last worker connects, which no one can place on the run's clock), and each
    worker writes its per-second figures to its /out (harness.workload.persecond).

    With TLS (options.tls_secret) each pod mounts the Secret and the locustfile connects with it
    (REDIS_HARNESS_TLS_DIR); fsGroup lets the Locust user read it."""
    env = [_env(k, v) for k, v in locust_env(load, topology, seed=seed).items()] + [
        {"name": "REDIS_HARNESS_PASSWORD",
         "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "password", "optional": True}}}]
    security: Obj = {"runAsNonRoot": True, "runAsUser": LOCUST_UID, "runAsGroup": LOCUST_UID,
                     "seccompProfile": {"type": "RuntimeDefault"}}
    if options.tls_secret:
        env.append(_env("REDIS_HARNESS_TLS_DIR", TLS_MOUNT))
        security["fsGroup"] = LOCUST_UID
    users = ["-u", str(load.users), "-r", f"{load.spawn_rate:g}"]
    cpu_request = "200m" if cpu_millis(options.locust_cpu) >= 200 else options.locust_cpu

    def deployment(name: str, replicas: int, args: list[str], ports: list[Obj], extra: Obj) -> Obj:
        return {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, options, name, "locust"),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {**_selector(options, "locust"), "app.kubernetes.io/component": name}},
                "template": {
                    "metadata": {"labels": {**object_labels(options, name, "locust"), "redis-harness/client": "true"}},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "enableServiceLinks": False,
                        "securityContext": security,
                        "containers": [{
                            "name": "locust", "image": image or options.locust_image,
                            "imagePullPolicy": options.image_pull_policy,
                            "command": ["locust"], "args": ["-f", LOCUSTFILE_IN_IMAGE, *args],
                            "env": env + extra.get("env", []), "ports": ports,
                            "volumeMounts": [{"name": "out", "mountPath": LOCUST_OUT}, *_tls_mounts(options)],
                            "resources": {"requests": {"cpu": cpu_request, "memory": "128Mi"},
                                          "limits": {"cpu": options.locust_cpu, "memory": "512Mi"}},
                            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                            **{k: v for k, v in extra.items() if k != "env"},
                        }],
                        "volumes": [{"name": "out", "emptyDir": {}}, *_tls_volumes(options)],
                    },
                },
            },
        }

    master_ports = [{"name": "master", "containerPort": LOCUST_MASTER_PORT, "protocol": "TCP"}]
    csv = ["--csv", f"{LOCUST_OUT}/locust", "--csv-full-history"]
    if controlled:
        master_args = ["--master", "--web-port", str(LOCUST_WEB_PORT), *csv]
        master_ports.append({"name": "web", "containerPort": LOCUST_WEB_PORT, "protocol": "TCP"})
        master_extra: Obj = {"readinessProbe": {"httpGet": {"path": "/", "port": "web"}, "periodSeconds": 1}}
        worker_extra: Obj = {"env": [_env("REDIS_HARNESS_SECONDS_DIR", LOCUST_OUT)]}
    else:
        master_args = ["--master", "--headless", *users, "--run-time", f"{int(run_time_s)}s",
                       "--expect-workers", str(load.workers or load.processes), *csv]
        master_extra = worker_extra = {}
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta("locust-master", options, "locust-master", "locust"),
         "spec": {"selector": {**_selector(options, "locust"), "app.kubernetes.io/component": "locust-master"},
                  "ports": [_port("master", LOCUST_MASTER_PORT)]}},
        deployment("locust-master", 1, master_args, master_ports, master_extra),
        deployment("locust-worker", load.workers or load.processes, ["--worker", "--master-host", "locust-master"], [],
                   worker_extra),
    ]


LOCUSTFILE_IN_IMAGE = "/src/harness/workload/locustfile.py"


def locust_env(load: LocustLoad, topology: Topology, *, seed: int = 0) -> dict[str, str]:
    """The locustfile's environment contract (see its docstring): mode, addresses (the sentinels in a
    sentinel topology, else the Redis pods), master name, the workload as JSON, the seed."""
    import json

    if topology.kind == "sentinel":
        addresses = [f"{pod}.sentinel-headless:{SENTINEL_PORT}" for pod in topology.sentinel_pod_names()]
    else:
        addresses = [f"{pod}.redis-headless:{REDIS_PORT}" for pod in topology.redis_pod_names()]
    return {"REDIS_HARNESS_MODE": topology.kind,
            "REDIS_HARNESS_ADDRESSES": ",".join(addresses),
            "REDIS_HARNESS_MASTER_NAME": MASTER_NAME,
            "REDIS_HARNESS_WORKLOAD": json.dumps(load.model_dump(mode="json"), sort_keys=True),
            "REDIS_HARNESS_SEED": str(seed)}


OPENLOOP_GATE = "/gate"  # a generator pod's emptyDir: the harness writes its steps there (harness.workload.openloop.pod)
OPENLOOP_MODULE = "harness.workload.openloop.pod"


def openloop_pods(count: int, view: dict[str, Any], spec_json: str, options: RenderOptions, *, wait_s: float,
                  deadline_s: float) -> list[Obj]:
    """`count` open-loop generator pods, openloop-0.., each one engine process in the load image (the
    project installed: manifests/load/image), driven through its gate directory and reporting on its
    log (harness.workload.openloop.pod). `view` is the deployment as a pod sees it (its pods' DNS
    names; the password comes from the Secret, as the servers read it). Bare pods, never restarted:
    a generator that died says so in its log, and a restarted one would replay nothing of its step.
    Bounded by `wait_s` for a step and by activeDeadlineSeconds."""
    import json

    env = [_env("REDIS_HARNESS_DEPLOYMENT_JSON", json.dumps(view, sort_keys=True)),
           _env("REDIS_HARNESS_OPENLOOP", spec_json), _env("REDIS_HARNESS_GATE", OPENLOOP_GATE),
           _env("REDIS_HARNESS_WAIT_S", f"{wait_s:g}"), _env("PYTHONUNBUFFERED", "1"),
           {"name": "REDIS_HARNESS_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "password", "optional": True}}}]
    security: Obj = {"runAsNonRoot": True, "runAsUser": LOCUST_UID, "runAsGroup": LOCUST_UID,
                     "fsGroup": LOCUST_UID, "seccompProfile": {"type": "RuntimeDefault"}}
    labels = {**object_labels(options, "openloop", "openloop"), "redis-harness/client": "true"}
    cpu_request = "200m" if cpu_millis(options.locust_cpu) >= 200 else options.locust_cpu
    return [{
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {**_meta(f"openloop-{i}", options, "openloop", "openloop"), "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": int(deadline_s),
            "terminationGracePeriodSeconds": 1,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": security,
            "containers": [{
                "name": "openloop", "image": options.locust_image, "imagePullPolicy": options.image_pull_policy,
                "command": ["python3", "-m", OPENLOOP_MODULE], "env": env,
                "volumeMounts": [{"name": "gate", "mountPath": OPENLOOP_GATE}, *_tls_mounts(options)],
                "resources": {"requests": {"cpu": cpu_request, "memory": "128Mi"},
                              "limits": {"cpu": options.locust_cpu, "memory": "512Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }],
            "volumes": [{"name": "gate", "emptyDir": {}}, *_tls_volumes(options)],
        },
    } for i in range(count)]


BENCHMARK_GATE = "/gate"  # the controlled Job's emptyDir: the harness writes `go` into it at the load's start
BENCHMARK_POLL_S = 0.02  # how often the gate looks for `go`: at most this late after the harness wrote it


@dataclass(frozen=True)
class BenchmarkControl:
    """A run's Job (harness.platforms.kubernetes.benchmark) rather than the shipped one: it waits at a gate
    for the harness's `go` (the seconds left until the run's end, its bound), prints its progress lines
    for the log stream, and is bounded in time as a whole (activeDeadlineSeconds)."""

    host: str  # the primary's address in the cluster (sentinel topologies ask the sentinels at the start)
    gate_wait_s: int  # how long it waits for `go` before giving up
    deadline_s: int

    @classmethod
    def for_run(cls, host: str, load: RedisBenchmarkLoad, *, ready_timeout_s: float, duration_s: float,
                grace_s: float) -> "BenchmarkControl":
        """The gate waits through the other pods' readiness and the spec's start_s; the deadline adds the run."""
        import math

        wait_s = math.ceil(ready_timeout_s + load.start_s)
        return cls(host=host, gate_wait_s=wait_s, deadline_s=math.ceil(wait_s + duration_s + 2 * grace_s))


def redis_benchmark_job(load: RedisBenchmarkLoad, topology: Topology, options: RenderOptions,
                        *, image: str | None = None, control: BenchmarkControl | None = None) -> Obj:
    """redis-benchmark against the primary: found through the sentinels in a sentinel topology
    (the `redis` Service also routes to replicas there), with --cluster in a cluster.

    Shipped (no `control`): it starts at once and prints its final table (--csv). A run's: see
    BenchmarkControl; its output is the same as a local run's (no --csv: the progress lines give the
    per-second series), with each `\r` turned into a newline as it is written, because the container
    runtime's log keeps a line only once it ends in `\n` (the progress line would wait for the test's end)."""
    from harness.workload.redis_benchmark import benchmark_options

    args = ["-p", str(REDIS_PORT), *benchmark_options(load)]
    if topology.kind == "cluster":
        args.append("--cluster")
    if control is None:
        args.append("--csv")
    tls = tls_shell_args(options)
    if topology.kind == "sentinel":
        host = (f'"$(redis-cli -h sentinel -p {SENTINEL_PORT} {tls}--raw SENTINEL get-master-addr-by-name '
                f'{MASTER_NAME} | head -n 1)"')
    else:
        host = control.host if control is not None and topology.kind != "cluster" else "redis"
    # redis-cli reads the password from REDISCLI_AUTH; redis-benchmark 7.0 reads no variable, so -a stays
    # for it alone (its command line is visible only inside this Job's own pod)
    auth = '[ -z "$REDIS_PASSWORD" ] || export REDISCLI_AUTH="$REDIS_PASSWORD"; '
    benchmark = f'redis-benchmark -h {host} ${{REDIS_PASSWORD:+-a "$REDIS_PASSWORD"}} {tls}' + " ".join(args)
    labels = object_labels(options, "benchmark", "redis-benchmark")
    spec: Obj = {"backoffLimit": 0}
    pod_extra: Obj = {}
    volumes: list[Obj] = []
    mounts: list[Obj] = []
    if control is None:
        script = auth + "exec " + benchmark
    else:
        gate = BENCHMARK_GATE
        polls = int(control.gate_wait_s / BENCHMARK_POLL_S)
        script = (f'i=0; while [ ! -s {gate}/go ]; do i=$((i+1)); [ "$i" -le {polls} ] || '
                  f'{{ echo "redis-harness: no start within {control.gate_wait_s}s" >&2; exit 3; }}; '
                  f'sleep {BENCHMARK_POLL_S:g}; done; ' + auth
                  + f'( timeout "$(cat {gate}/go)" {benchmark} 2>&1; echo $? > {gate}/rc ) '
                  f"| stdbuf -o0 tr '\\r' '\\n'; exit \"$(cat {gate}/rc)\"")
        spec["activeDeadlineSeconds"] = control.deadline_s
        labels = {**labels, "redis-harness/client": "true"}
        pod_extra = {"terminationGracePeriodSeconds": 1}
        volumes.append({"name": "gate", "emptyDir": {}})
        mounts.append({"name": "gate", "mountPath": gate})
    volumes += _tls_volumes(options)
    mounts += _tls_mounts(options)
    job_image = image or image_for(topology, options)
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": _meta("redis-benchmark", options, "benchmark", "redis-benchmark"),
        "spec": {
            **spec,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": _pod_security(),
                    **pod_extra,
                    **({"volumes": volumes} if volumes else {}),
                    "containers": [{
                        "name": "redis-benchmark", "image": job_image, "imagePullPolicy": options.image_pull_policy,
                        "command": ["sh", "-c", script], "env": [_password_env()],
                        "resources": {"requests": {"cpu": "200m", "memory": "64Mi"},
                                      "limits": {"cpu": "2", "memory": "256Mi"}},
                        "securityContext": _container_security(),
                        **({"volumeMounts": mounts} if mounts else {}),
                    }],
                },
            },
        },
    }


# --------------------------------------------------------------------------- RBAC


HARNESS_RULES: list[Obj] = [
    {"apiGroups": [""], "resources": ["pods", "services", "configmaps", "secrets", "persistentvolumeclaims",
                                      "serviceaccounts"],
     "verbs": ["get", "list", "watch", "create", "patch", "update", "delete"]},
    {"apiGroups": [""], "resources": ["pods/exec", "pods/portforward"], "verbs": ["create", "get"]},
    {"apiGroups": [""], "resources": ["pods/log", "events"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["statefulsets", "deployments"],
     "verbs": ["get", "list", "watch", "create", "patch", "update", "delete"]},
    {"apiGroups": ["batch"], "resources": ["jobs"],
     "verbs": ["get", "list", "watch", "create", "patch", "update", "delete"]},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"],
     "verbs": ["get", "list", "create", "patch", "update", "delete"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"],
     "verbs": ["get", "list", "create", "patch", "update", "delete"]},
    {"apiGroups": ["chaos-mesh.org"], "resources": ["networkchaos"],
     "verbs": ["get", "list", "create", "patch", "update", "delete"]},
]


def rbac_objects(namespace: str = "redis-harness") -> list[Obj]:
    """A ServiceAccount for the harness; a Role for one namespace it is given (`namespace` option), and a
    ClusterRole + binding for the default namespace-per-run mode (namespaces are cluster-scoped)."""
    labels = {"app.kubernetes.io/name": "redis-harness", "app.kubernetes.io/managed-by": MANAGED_BY}
    subject = [{"kind": "ServiceAccount", "name": "redis-harness", "namespace": namespace}]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "redis-harness", "namespace": namespace, "labels": labels}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "redis-harness", "namespace": namespace, "labels": labels}, "rules": HARNESS_RULES},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "redis-harness", "namespace": namespace, "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "redis-harness"},
         "subjects": subject},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "redis-harness", "labels": labels},
         "rules": [{"apiGroups": [""], "resources": ["namespaces"],
                    "verbs": ["get", "list", "watch", "create", "patch", "delete"]}] + HARNESS_RULES},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "redis-harness", "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "redis-harness"},
         "subjects": subject},
    ]


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    """Multi-line strings (configs, scripts) as literal blocks, readable in the files and in kubectl."""
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_NoAliases.add_representer(str, _str)


def dump_yaml(objects: list[Obj]) -> str:
    """Objects as a YAML stream, keys in the order written here, no anchors (kubectl users read it)."""
    return yaml.dump_all(objects, Dumper=_NoAliases, sort_keys=False, explicit_start=True, width=120)

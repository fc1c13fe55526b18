"""Kubernetes objects for a topology, as plain dicts: what the platform applies and `manifests/` holds.

One renderer serves both: `manifests/` is this module's output for default topologies (the tests
fail when the two drift), and a run renders the same objects with the scenario's parameters.
redis.conf and sentinel.conf come from harness.topology, like on the local platform; the
password never enters a ConfigMap: the start scripts add it from the `redis-auth` Secret.
"""

from __future__ import annotations

import hashlib
import re

import yaml
from dataclasses import dataclass, field
from typing import Any

from harness.binaries import ServerBinary
from harness.errors import ScenarioError
from harness.platforms.k8s_scripts import SCRIPTS
from harness.scenario import LocustLoad, RedisBenchmarkLoad, Topology
from harness.topology import MASTER_NAME, REDIS_PORT, SENTINEL_PORT, render_redis_conf, render_sentinel_conf

Obj = dict[str, Any]

DEFAULT_IMAGE = "redis:7.0.15"
SERVER_IMAGES = {"system": DEFAULT_IMAGE, "redis-6.2": "redis:6.2.14", "valkey-9.1": "valkey/valkey:9.1"}
DEFAULT_SIDECAR_IMAGE = "nicolaka/netshoot:v0.13"
DEFAULT_LOCUST_IMAGE = "redis-harness-locust:0.1.0"
CLUSTER_BUS_PORT = REDIS_PORT + 10000
LOCUST_MASTER_PORT = 5557
MANAGED_BY = "redis-harness"
RUN_LABEL = "redis-harness/run-id"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
REDIS_UID = 999  # the `redis` user of the official image


@dataclass(frozen=True)
class RenderOptions:
    """How the objects are shaped beyond the topology: cluster facts and operator choices."""

    namespace: str | None = None  # None: no metadata.namespace (kustomize / kubectl -n decide)
    server_version: str = "1.30"  # the API server's version; picks API versions (PDB before 1.21)
    image: str | None = None  # None: from topology.server (SERVER_IMAGES)
    image_pull_policy: str = "IfNotPresent"
    fault_sidecar: bool = False  # a NET_ADMIN container sharing the pod's network, for iptables/tc faults
    sidecar_image: str = DEFAULT_SIDECAR_IMAGE
    storage_class: str | None = None  # PVC templates use it when topology.persistent_volumes
    storage_size: str = "1Gi"
    tls_secret: str | None = None  # a kubernetes.io/tls Secret with tls.crt, tls.key, ca.crt
    cluster_domain: str = "cluster.local"
    run_id: str | None = None  # labels every object so a run's objects can be found and deleted
    instance: str = "redis-harness"
    requests: dict[str, str] = field(default_factory=lambda: {"cpu": "100m", "memory": "128Mi"})
    limits: dict[str, str] = field(default_factory=lambda: {"cpu": "1", "memory": "512Mi"})


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
    server = servers.pop()
    if server not in SERVER_IMAGES:
        raise ScenarioError(f"server {server!r} has no Kubernetes image: set the platform's image option")
    return SERVER_IMAGES[server]


def image_binary(image: str) -> ServerBinary:
    """The server version an image tag promises (render_redis_conf needs it); 7.0 when the tag says nothing."""
    match = re.search(r":v?(\d+)\.(\d+)(?:\.(\d+))?", image.rsplit("/", 1)[-1])
    version = (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)) if match else (7, 0, 0)
    product = "valkey" if "valkey" in image else "redis"
    return ServerBinary(spec=image, path="redis-server", product=product, version=version)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- building blocks


def _meta(name: str, options: RenderOptions, component: str, app: str = "redis", **extra: Any) -> Obj:
    meta: Obj = {"name": name, "labels": _labels(options, component, app)}
    if options.namespace:
        meta["namespace"] = options.namespace
    meta.update(extra)
    return meta


def _labels(options: RenderOptions, component: str, app: str = "redis") -> dict[str, str]:
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


def _password_env() -> Obj:
    return {"name": "REDIS_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "password", "optional": True}}}


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
    packets, replication included. KILL lets it SIGSTOP the server (the pod shares its process namespace)."""
    return {
        "name": "fault",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sleep", "infinity"],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "200m", "memory": "64Mi"}},
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


def redis_conf(topology: Topology, image: str) -> str:
    """redis.conf for every Redis pod; the start script appends password, role and announced name."""
    return render_redis_conf(topology.model_copy(update={"password": None}), image_binary(image),
                             bind="0.0.0.0", data_dir="/data", logfile="")


def sentinel_conf(topology: Topology) -> str:
    """sentinel.conf; sentinel-start.sh replaces the monitored host with the primary the sentinels know."""
    return render_sentinel_conf(topology.model_copy(update={"password": None}), bind="0.0.0.0",
                                data_dir="/run/redis", logfile="", primary_host="redis-0.redis-headless",
                                resolve_hostnames=True)


def config_map(topology: Topology, image: str, options: RenderOptions) -> Obj:
    data = {"redis.conf": redis_conf(topology, image)}
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
        _password_env(),
    ]
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


def _volumes(options: RenderOptions, *, data: bool) -> list[Obj]:
    volumes = []
    if data:
        volumes.append({"name": "data", "emptyDir": {}})
    volumes += [
        {"name": "config", "configMap": {"name": "redis-config"}},
        {"name": "scripts", "configMap": {"name": "redis-scripts", "defaultMode": 0o555}},
        {"name": "run", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
    ]
    if options.tls_secret:
        volumes.append({"name": "tls", "secret": {"secretName": options.tls_secret, "defaultMode": 0o440}})
    return volumes


def _mounts(options: RenderOptions, *, data: bool) -> list[Obj]:
    mounts = [{"name": "data", "mountPath": "/data"}] if data else []
    mounts += [{"name": "config", "mountPath": "/etc/redis", "readOnly": True},
               {"name": "scripts", "mountPath": "/scripts", "readOnly": True},
               {"name": "run", "mountPath": "/run/redis"}]
    if options.tls_secret:
        mounts.append({"name": "tls", "mountPath": "/tls", "readOnly": True})
    return mounts


def _statefulset(name: str, app: str, replicas: int, service: str, containers: list[Obj], volumes: list[Obj],
                 options: RenderOptions, checksum: str, claims: list[Obj] | None = None) -> Obj:
    pod_spec: Obj = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 30,
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
            "metadata": {"labels": _labels(options, "server" if app == "redis" else "sentinel", app),
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
    claims = None
    persistent = topology.persistent_volumes
    if persistent:
        claim_spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": options.storage_size}}}
        if options.storage_class:
            claim_spec["storageClassName"] = options.storage_class
        claims = [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "data", "labels": _labels(options, "data")}, "spec": claim_spec}]
    return _statefulset("redis", "redis", len(topology.redis_pod_names()), "redis-headless", [container],
                        _volumes(options, data=not persistent), options, checksum, claims)


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
                "metadata": {"labels": _labels(options, "bootstrap")},
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
                        "volumeMounts": [{"name": "scripts", "mountPath": "/scripts", "readOnly": True}]
                        + ([{"name": "tls", "mountPath": "/tls", "readOnly": True}] if options.tls_secret else []),
                    }],
                    "volumes": [v for v in _volumes(options, data=False) if v["name"] in ("scripts", "tls")],
                },
            },
        },
    }


# --------------------------------------------------------------------------- whole topologies


def topology_objects(topology: Topology, options: RenderOptions = RenderOptions()) -> list[Obj]:
    """Every object of a topology, in apply order (config before the pods that mount it)."""
    image = image_for(topology, options)
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


def locust_objects(load: LocustLoad, topology: Topology, options: RenderOptions, *,
                   image: str = DEFAULT_LOCUST_IMAGE, run_time_s: float = 60.0, seed: int = 0) -> list[Obj]:
    """A Locust master (headless; its CSVs stay on its own disk) and `processes` workers running the
    project's locustfile, harness/workload/locustfile.py. The locustfile imports the harness, so the
    image is the project installed on Locust (manifests/load/image/Dockerfile; docs/kubernetes.md)."""
    env = [_env(k, v) for k, v in locust_env(load, topology, seed=seed).items()] + [
        {"name": "REDIS_HARNESS_PASSWORD",
         "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "password", "optional": True}}}]
    users = ["-u", str(load.users), "-r", f"{load.spawn_rate:g}"]

    def deployment(name: str, replicas: int, args: list[str], ports: list[Obj]) -> Obj:
        return {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, options, name, "locust"),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {**_selector(options, "locust"), "app.kubernetes.io/component": name}},
                "template": {
                    "metadata": {"labels": {**_labels(options, name, "locust"), "redis-harness/client": "true"}},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "enableServiceLinks": False,
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000,
                                            "seccompProfile": {"type": "RuntimeDefault"}},
                        "containers": [{
                            "name": "locust", "image": image, "imagePullPolicy": options.image_pull_policy,
                            "command": ["locust"], "args": ["-f", LOCUSTFILE_IN_IMAGE, *args],
                            "env": env, "ports": ports,
                            "volumeMounts": [{"name": "out", "mountPath": "/out"}],
                            "resources": {"requests": {"cpu": "200m", "memory": "128Mi"},
                                          "limits": {"cpu": "1", "memory": "512Mi"}},
                            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                        }],
                        "volumes": [{"name": "out", "emptyDir": {}}],
                    },
                },
            },
        }

    master_args = ["--master", "--headless", *users, "--run-time", f"{int(run_time_s)}s",
                   "--expect-workers", str(load.processes), "--csv", "/out/locust", "--csv-full-history"]
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta("locust-master", options, "locust-master", "locust"),
         "spec": {"selector": {**_selector(options, "locust"), "app.kubernetes.io/component": "locust-master"},
                  "ports": [_port("master", LOCUST_MASTER_PORT)]}},
        deployment("locust-master", 1, master_args,
                   [{"name": "master", "containerPort": LOCUST_MASTER_PORT, "protocol": "TCP"}]),
        deployment("locust-worker", load.processes, ["--worker", "--master-host", "locust-master"], []),
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


def redis_benchmark_job(load: RedisBenchmarkLoad, topology: Topology, options: RenderOptions,
                        *, image: str | None = None) -> Obj:
    """redis-benchmark against the primary: found through the sentinels in a sentinel topology
    (the `redis` Service also routes to replicas there), with --cluster in a cluster."""
    args = ["-p", str(REDIS_PORT), "-c", str(load.clients), "-P", str(load.pipeline), "-d", str(load.data_size),
            "-t", ",".join(load.tests), "--csv"]
    if load.requests:
        args += ["-n", str(load.requests)]
    if load.keyspace:
        args += ["-r", str(load.keyspace)]
    if load.threads:
        args += ["--threads", str(load.threads)]
    if load.loop:
        args.append("-l")
    if topology.kind == "cluster":
        args.append("--cluster")
    if topology.kind == "sentinel":
        host = (f'"$(redis-cli -h sentinel -p {SENTINEL_PORT} --raw SENTINEL get-master-addr-by-name '
                f'{MASTER_NAME} | head -n 1)"')
    else:
        host = "redis"
    script = (f'exec redis-benchmark -h {host} ${{REDIS_PASSWORD:+-a "$REDIS_PASSWORD"}} '
              + " ".join(args))
    job_image = image or image_for(topology, options)
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": _meta("redis-benchmark", options, "benchmark", "redis-benchmark"),
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": _labels(options, "benchmark", "redis-benchmark")},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": _pod_security(),
                    "containers": [{
                        "name": "redis-benchmark", "image": job_image, "imagePullPolicy": options.image_pull_policy,
                        "command": ["sh", "-c", script], "env": [_password_env()],
                        "resources": {"requests": {"cpu": "200m", "memory": "64Mi"},
                                      "limits": {"cpu": "2", "memory": "256Mi"}},
                        "securityContext": _container_security(),
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

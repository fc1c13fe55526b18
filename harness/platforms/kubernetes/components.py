"""The kustomize components a platform team adds to the shipped topologies: a NetworkPolicy for the
Redis pods, the redis_exporter sidecar, and the Prometheus Operator objects that scrape and alert on it.

    manifests/components/network-policy       ingress 6379/26379/16379 from the instance and its clients;
                                              egress to DNS and to the instance's own pods
    manifests/components/metrics              redis_exporter beside every Redis and Sentinel container,
                                              the password from the Secret, a Service for the metrics port
    manifests/components/metrics-tls          the same, for use with the tls component (instead of metrics):
                                              rediss:// to the pod's own name, with the Secret's certificates
    manifests/components/prometheus-operator  a ServiceMonitor and PrometheusRules (failover, replication);
                                              needs the operator's CRDs, and the metrics component

manifests.py writes them; the objects are plain dicts like the rest of the renderer's output.
"""

from __future__ import annotations

from typing import Any

from harness.deployment import SECRET_FILES
from harness.pod_config import REDIS_PORT, SENTINEL_PORT

Obj = dict[str, Any]

INSTANCE = {"app.kubernetes.io/instance": "redis-harness"}
CLUSTER_BUS_PORT = REDIS_PORT + 10000
METRICS_PORT = 9121
EXPORTER_IMAGE = "oliver006/redis_exporter:v1.62.0"
METRICS_LABEL = "redis-harness/metrics"
CLIENT_LABEL = "redis-harness/client"  # the Locust pods carry it; label an application's pods with it too


def _tcp(*ports: int) -> list[Obj]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def network_policy() -> Obj:
    """Only the instance's own pods (Redis, Sentinel, the cluster bootstrap Job, the load) and pods labelled
    as clients reach Redis and Sentinel; Prometheus reaches the exporter port. Egress: DNS (the pods resolve
    each other's names) and the instance's own pods, nothing else."""
    same_instance = {"podSelector": {"matchLabels": dict(INSTANCE)}}
    clients = {"namespaceSelector": {}, "podSelector": {"matchLabels": {CLIENT_LABEL: "true"}}}
    prometheus = {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}
    dns = {"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "redis", "labels": {**INSTANCE, "app.kubernetes.io/managed-by": "redis-harness"}},
        "spec": {
            "podSelector": {"matchLabels": dict(INSTANCE), "matchExpressions": [
                {"key": "app.kubernetes.io/name", "operator": "In", "values": ["redis", "sentinel"]}]},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [same_instance, clients], "ports": _tcp(REDIS_PORT, SENTINEL_PORT, CLUSTER_BUS_PORT)},
                {"from": [prometheus], "ports": _tcp(METRICS_PORT)},
            ],
            "egress": [
                {"to": [dns], "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                {"to": [same_instance], "ports": _tcp(REDIS_PORT, SENTINEL_PORT, CLUSTER_BUS_PORT)},
            ],
        },
    }


def exporter_container(port: int, image: str = EXPORTER_IMAGE, *, password_required: bool = True,
                       tls_mount: Obj | None = None, headless: str = "redis-headless") -> Obj:
    """redis_exporter for the server on `port` in the same pod; REDIS_PASSWORD comes from the Secret as the
    server's own does (the exporter reads that variable), never from its command line. A harness run
    without a password has no Secret: there the reference is optional (`password_required=False`).

    With `tls_mount` (the pod mounts the deployment's TLS Secret there: ca.crt, tls.crt, tls.key) the
    exporter dials `rediss://` and presents the pods' shared certificate (it carries clientAuth; the
    servers require a client certificate), checking the server's chain against ca.crt *and its name*.
    The certificate names the pods' DNS names, not 127.0.0.1, and the exporter has no option for a TLS
    server name (not in the fixture's 1.45 nor the shipped 1.62; upstream added one later, PR #1135), and
    Go's client checks the host it dials, so it dials
    the pod's own short headless name, `$(POD_NAME).<headless>:<port>`, which the certificate holds
    (`*.redis-headless`, `*.sentinel-headless`: harness/platforms/kubernetes/tls.py) and the pod's DNS
    search path resolves in its own namespace, whatever the namespace or cluster domain; the headless
    Services publish not-ready pods too, so the name resolves while the server is not ready. Chosen over
    REDIS_EXPORTER_SKIP_TLS_VERIFICATION, which would accept any server; the traffic still stays in the
    pod (its own IP). `headless`: the Service that names this pod ("sentinel-headless" beside a sentinel)."""
    env: list[Obj] = []
    address = f"redis://127.0.0.1:{port}"
    if tls_mount is not None:
        tls_dir = tls_mount["mountPath"]
        # $(POD_NAME) in REDIS_ADDR is expanded by the kubelet from the variable defined before it
        env.append({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
        address = f"rediss://$(POD_NAME).{headless}:{port}"
    env += [
        {"name": "REDIS_ADDR", "value": address},
        {"name": "REDIS_PASSWORD",
         "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "password",
                                        "optional": not password_required}}},
        {"name": "REDIS_EXPORTER_WEB_LISTEN_ADDRESS", "value": f"0.0.0.0:{METRICS_PORT}"},
    ]
    if tls_mount is not None:
        env += [{"name": "REDIS_EXPORTER_TLS_CA_CERT_FILE", "value": f"{tls_dir}/{SECRET_FILES['ca']}"},
                {"name": "REDIS_EXPORTER_TLS_CLIENT_CERT_FILE", "value": f"{tls_dir}/{SECRET_FILES['cert']}"},
                {"name": "REDIS_EXPORTER_TLS_CLIENT_KEY_FILE", "value": f"{tls_dir}/{SECRET_FILES['key']}"}]
    container: Obj = {
        "name": "metrics",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": env,
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": "metrics"}, "periodSeconds": 10},
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]}},
    }
    if tls_mount is not None:
        container["volumeMounts"] = [dict(tls_mount)]
    return container


def metrics_patches(tls_mount: Obj | None = None) -> list[tuple[dict[str, str], list[Obj]]]:
    """(target, JSON patch ops): the sidecar and a label the metrics Service selects, per StatefulSet; with
    `tls_mount` the sidecar of the metrics-tls component (the tls component's Secret, mounted there)."""
    patches: list[tuple[dict[str, str], list[Obj]]] = []
    for name, port in (("redis", REDIS_PORT), ("sentinel", SENTINEL_PORT)):
        sidecar = exporter_container(port, tls_mount=tls_mount, headless=f"{name}-headless")
        patches.append(({"kind": "StatefulSet", "name": name}, [
            {"op": "add", "path": "/spec/template/spec/containers/-", "value": sidecar},
            {"op": "add", "path": f"/spec/template/metadata/labels/{METRICS_LABEL.replace('/', '~1')}",
             "value": "true"},
        ]))
    return patches


def metrics_service() -> Obj:
    labels = {**INSTANCE, "app.kubernetes.io/component": "metrics", "app.kubernetes.io/managed-by": "redis-harness"}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "redis-metrics", "labels": labels},
            "spec": {"clusterIP": "None", "selector": {**INSTANCE, METRICS_LABEL: "true"},
                     "ports": [{"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"}]}}


def service_monitor() -> Obj:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": "redis", "labels": dict(INSTANCE)},
            "spec": {"selector": {"matchLabels": {**INSTANCE, "app.kubernetes.io/component": "metrics"}},
                     "endpoints": [{"port": "metrics", "interval": "15s"}]}}


RULES: list[Obj] = [
    {"alert": "RedisDown", "expr": "redis_up == 0", "for": "1m",
     "labels": {"severity": "critical"},
     "annotations": {"summary": "{{ $labels.pod }}: the exporter cannot reach its Redis or Sentinel"}},
    {"alert": "RedisPrimaryChanged",
     "expr": 'redis_instance_info{role="master"} unless redis_instance_info{role="master"} offset 5m',
     "labels": {"severity": "info"},
     "annotations": {"summary": "{{ $labels.pod }} became a primary in the last 5 minutes (a failover)"}},
    {"alert": "RedisNotOnePrimary",
     "expr": 'count by (namespace) (redis_instance_info{role="master", redis_mode="standalone"}) != 1',
     "for": "1m", "labels": {"severity": "critical"},
     "annotations": {"summary": "{{ $labels.namespace }}: a sentinel topology has no primary, or two"}},
    {"alert": "RedisReplicaLinkDown", "expr": 'redis_master_link_up == 0', "for": "1m",
     "labels": {"severity": "warning"},
     "annotations": {"summary": "{{ $labels.pod }}: its replication link to the primary is down"}},
    {"alert": "RedisReplicationLag", "expr": "redis_connected_slave_lag_seconds > 10", "for": "2m",
     "labels": {"severity": "warning"},
     "annotations": {"summary": "{{ $labels.pod }}: replica {{ $labels.slave_ip }} is {{ $value }} s behind"}},
]


def prometheus_rule() -> Obj:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "redis", "labels": dict(INSTANCE)},
            "spec": {"groups": [{"name": "redis-harness.redis", "rules": RULES}]}}

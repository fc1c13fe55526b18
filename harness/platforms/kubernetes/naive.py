"""The naive deployment's objects: the Deployment of independent `redis` pods and the one Service in
front of them, as manifests/naive-deployment/ ships them and as a `naive` topology runs them.

One function for both, so the measured objects are the shipped lesson: a run only adds the
harness's labels (namespace, run id, managed-by, which the platform finds pods by), the pod count
(`instances`), the image, and `--requirepass` when the topology has a password.
"""

from __future__ import annotations

from harness.platforms.kubernetes.objects import DEFAULT_IMAGE, Obj, RenderOptions, object_labels
from harness.scenario import Topology
from harness.pod_config import REDIS_PORT

NAME = "naive-redis"
APP_LABELS = {"app.kubernetes.io/name": NAME}


def naive_objects(topology: Topology | None = None, image: str = DEFAULT_IMAGE,
                  options: RenderOptions | None = None) -> list[Obj]:
    """The anti-pattern, kept as a lesson: independent primaries behind one Service. Each connection
    lands on whichever pod the Service picks; a read on a new connection goes to any pod and misses
    writes made on the others; a deleted pod comes back empty. Without a topology: the shipped files."""
    labels = dict(APP_LABELS)
    if options is not None and options.run_id:
        labels = {**object_labels(options, "redis", NAME), **APP_LABELS}
    # redis-server named, not left to an image's entrypoint (the fixture's image has none), and protected
    # mode off as the official image builds it: with no config file and no password, Debian's build
    # refuses every client that is not on loopback
    args = ["--save", "", "--appendonly", "no", "--protected-mode", "no"]
    if topology is not None and topology.password:
        args += ["--requirepass", topology.password]
    meta = {"name": NAME, "labels": dict(labels)}
    if options is not None and options.namespace:
        meta["namespace"] = options.namespace
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {**meta, "labels": dict(labels)},
         "spec": {"replicas": topology.instances if topology is not None else 3, "selector": {"matchLabels": dict(APP_LABELS)},
                  "template": {"metadata": {"labels": dict(labels)},
                               "spec": {"containers": [{
                                   "name": "redis", "image": image,
                                   "command": ["redis-server"], "args": args,
                                   "ports": [{"name": "redis", "containerPort": REDIS_PORT, "protocol": "TCP"}],
                                   "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                                 "limits": {"memory": "256Mi"}}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {**meta, "labels": dict(labels)},
         "spec": {"selector": dict(APP_LABELS),
                  "ports": [{"name": "redis", "port": REDIS_PORT, "targetPort": "redis", "protocol": "TCP"}]}},
    ]


def _ready(pod) -> bool:
    return not pod.metadata.deletion_timestamp and any(
        c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def ready_pod_names(core, ns: str) -> list[str]:
    """The Deployment's Ready pods, by name (a Deployment's pods have generated names)."""
    pods = core.list_namespaced_pod(ns, label_selector=f"app.kubernetes.io/name={NAME}").items
    return sorted(p.metadata.name for p in pods if _ready(p))


def assign_names(logical: list[str], current: dict[str, str], ready: list[str]) -> dict[str, str]:
    """redis-i -> the Kubernetes pod name. A pod still there keeps its logical name; a replacement takes
    the name of the pod it replaced, so `redis-1` stays the second pod across a delete (its data not)."""
    kept = {name: k8s for name, k8s in current.items() if k8s in ready}
    fresh = iter(sorted(set(ready) - set(kept.values())))
    return {name: kept.get(name) or next(fresh, "") for name in logical}


def service_address(core, ns: str) -> dict:
    spec = core.read_namespaced_service(NAME, ns).spec
    return {"host": spec.cluster_ip, "port": REDIS_PORT, "name": NAME}


def with_pod_names(plan, names: dict[str, str]):
    """A fault plan in the Deployment's words: its pods' generated names, and a pod replaced by a new one
    (the planner speaks of StatefulSet pods, which come back under the same name)."""
    from dataclasses import replace

    def named(op):
        kind, _, name = op.target.partition("/")
        params = dict(op.params)
        if "until" in params:
            params["until"] = params["until"].replace("recreated by its StatefulSet (new uid)",
                                                      f"replaced by its Deployment {NAME} (a new pod)")
        target = f"{kind}/{names[name]}" if kind == "pods" and names.get(name) else op.target
        return replace(op, target=target, params=params)

    return replace(plan, inject=[named(o) for o in plan.inject], heal=[named(o) for o in plan.heal],
                   checks=[named(o) for o in plan.checks])

"""The Kubernetes platform: the same Platform protocol as `local`, on a real cluster.

A run gets its own namespace (labelled with the run id, deleted at teardown unless `keep`), the
objects of harness.platforms.kubernetes.objects applied with server-side apply, and waits with clear
errors (pod events and the last log lines of the pods that are not ready).

How the harness reaches pods (`access`):
- `port-forward` (default outside a cluster): a local port per pod, each connection a
  port-forward stream to the pod by name, so a recreated pod is reached again.
- `pod-ip`: the harness can route to pod IPs (a node, or a test cluster on this machine).
- `in-cluster` (default inside a pod): the pods' DNS names.
Whatever the access, Redis and Sentinel answer with pod DNS names and pod IPs; the Deployment's
`extra["aliases"]` maps those to pod names, so harness.roles works unchanged.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from harness.errors import CapabilityError, PlatformError, ScenarioError
from harness.platforms.kubernetes import faults
from harness.platforms.kubernetes import logs as k8s_logs
from harness.platforms.kubernetes import naive
from harness.platforms.kubernetes import tls as k8s_tls
from harness.platforms.kubernetes import upgrade as k8s_upgrade
from harness.deployment import TLS_DIR, Deployment, Pod, state_root
from harness.platforms.kubernetes.objects import (
    RUN_LABEL,
    RenderOptions,
    image_binary,
    image_for,
    label_value,
    cpu_millis,
    memory_bytes,
    namespace_name,
    namespace_object,
    server_image,
    topology_objects,
)
from harness.platforms.kubernetes.portforward import Relay, kubernetes_connect
from harness.platforms.kubernetes.components import METRICS_PORT
from harness.poll import PollTimeout, wait_until
from harness.roles import sentinel_can_fail_over
from harness.scenario import Topology
from harness.pod_config import REDIS_PORT, SENTINEL_PORT, plan_pods

FIELD_MANAGER = "redis-harness"
LOG_CACHE_S = 0.25
ACCESS_MODES = ("auto", "port-forward", "pod-ip", "in-cluster")


def in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.exists(
        "/var/run/secrets/kubernetes.io/serviceaccount/token")


def server_version_string(info: Any) -> str:
    """VersionApi's answer as 'major.minor' (minor may carry a '+': '27+'). Servers built outside the
    Kubernetes release tooling (a distribution's source package) may leave major/minor empty: then
    gitVersion ('v1.20.2') says it."""
    minor = "".join(c for c in (info.minor or "") if c.isdigit())
    if info.major and minor:
        return f"{info.major}.{minor}"
    match = re.match(r"v?(\d+)\.(\d+)", info.git_version or "")
    if not match:
        raise PlatformError(f"the API server reports no usable version (major {info.major!r}, minor {info.minor!r}, "
                            f"gitVersion {info.git_version!r})")
    return f"{match[1]}.{match[2]}"


def pod_fqdn(pod: str, namespace: str, cluster_domain: str = "cluster.local") -> str:
    service = "sentinel-headless" if pod.startswith("sentinel-") else "redis-headless"
    return f"{pod}.{service}.{namespace}.svc.{cluster_domain}"


def aliases_for(pods: Sequence[Pod], namespace: str, pod_ips: dict[str, str], cluster_domain: str) -> dict[str, str]:
    """Every address a server may report for a pod -> the pod name (see Deployment.pod_by_address)."""
    aliases = {}
    for pod in pods:
        port = SENTINEL_PORT if pod.kind == "sentinel" else REDIS_PORT
        fqdn = pod_fqdn(pod.name, namespace, cluster_domain)
        short = fqdn.split(".svc.")[0]
        for host in (fqdn, short, f"{pod.name}.{short.split('.')[1]}", pod_ips.get(pod.name)):
            if host:
                aliases[f"{host}:{port}"] = pod.name
    return aliases


ENV_PREFIX = "REDIS_HARNESS_K8S_"


def options_from_env(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Platform options for commands that take none (`redis-harness deploy/run --platform kubernetes`):
    REDIS_HARNESS_K8S_ACCESS, _IMAGE, _IMAGE_PULL_POLICY, _FAULT_SIDECAR (1/0), _SIDECAR_IMAGE, _LOCUST_IMAGE
    and _LOCUST_CPU (the in-cluster Locust's image and each of its pods' CPU limit, `workload.locust.workers`),
    _SIDECAR_DELAYER (1/0: the sidecar image ships the latency delayer; default: it is the project's image),
    _NETWORK_BACKEND, _STORAGE_CLASS, _CLUSTER_DOMAIN, _MEMORY_LIMIT, _TIMEOUT (readiness, seconds),
    _METRICS (1/0: the redis_exporter sidecar, scraped during a run), _METRICS_IMAGE and
    _SERVER_IMAGES (`redis-6.2=IMAGE,system=IMAGE`: the upgrade drill's image per server version)."""
    names = {"ACCESS": "access", "IMAGE": "image", "IMAGE_PULL_POLICY": "image_pull_policy",
             "SIDECAR_IMAGE": "sidecar_image", "METRICS_IMAGE": "metrics_image", "LOCUST_IMAGE": "locust_image",
             "LOCUST_CPU": "locust_cpu", "NETWORK_BACKEND": "network_backend",
             "STORAGE_CLASS": "storage_class", "CLUSTER_DOMAIN": "cluster_domain", "MEMORY_LIMIT": "memory_limit"}
    options: dict[str, Any] = {opt: environ[ENV_PREFIX + var] for var, opt in names.items() if environ.get(ENV_PREFIX + var)}
    for var, opt in (("FAULT_SIDECAR", "fault_sidecar"), ("SIDECAR_DELAYER", "sidecar_delayer"),
                     ("METRICS", "metrics")):
        if environ.get(ENV_PREFIX + var):
            options[opt] = environ[ENV_PREFIX + var].lower() in ("1", "true", "yes")
    if environ.get(ENV_PREFIX + "TIMEOUT"):
        options["ready_timeout_s"] = float(environ[ENV_PREFIX + "TIMEOUT"])
    if environ.get(ENV_PREFIX + "SERVER_IMAGES"):
        options["server_images"] = parse_server_images(environ[ENV_PREFIX + "SERVER_IMAGES"])
    return options


def parse_server_images(text: str) -> dict[str, str]:
    """`redis-6.2=redis-harness/redis:6.2.5-wheel,system=redis:7.0.15` -> {server spec: image}."""
    images = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        server, sep, image = item.partition("=")
        if not sep or not server.strip() or not image.strip():
            raise CapabilityError(f"{ENV_PREFIX}SERVER_IMAGES: {item!r} is not SERVER=IMAGE "
                                  "(e.g. redis-6.2=redis-harness/redis:6.2.5-wheel)")
        images[server.strip()] = image.strip()
    return images


def _metrics_urls(deployment: Deployment, ips: dict[str, str]) -> dict[str, str]:
    """Each Redis pod's exporter /metrics, when the metrics sidecar runs and the harness reaches pod IPs
    (pod-ip, in-cluster); through a port-forward there is none (the run says so in `degraded`)."""
    if not deployment.extra.get("metrics") or deployment.extra.get("access") == "port-forward":
        return {}
    return {pod.name: f"http://{ips[pod.name]}:{METRICS_PORT}/metrics"
            for pod in deployment.redis_pods() if pod.name in ips}


class KubernetesPlatform:
    name = "kubernetes"

    def __init__(self, *, kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None,
                 keep: bool = False, image: str | None = None, image_pull_policy: str = "IfNotPresent",
                 fault_sidecar: bool = False, sidecar_image: str | None = None, sidecar_delayer: bool | None = None,
                 locust_image: str | None = None, locust_cpu: str | None = None, storage_class: str | None = None,
                 access: str = "auto", network_backend: str = "auto", ready_timeout_s: float = 300.0,
                 cluster_domain: str = "cluster.local", tls_secret: str | None = None,
                 memory_limit: str | None = None, metrics: bool = False, metrics_image: str | None = None,
                 server_images: Mapping[str, str] | None = None):
        if access not in ACCESS_MODES:
            raise CapabilityError(f"unknown access {access!r}: use one of {', '.join(ACCESS_MODES)}")
        if network_backend not in ("auto", *faults.BACKENDS):
            raise CapabilityError(f"unknown network_backend {network_backend!r}: use auto, {', '.join(faults.BACKENDS)}")
        self.kubeconfig, self.context = kubeconfig, context
        self.namespace, self.keep = namespace, keep
        images = {k: v for k, v in (("sidecar_image", sidecar_image), ("metrics_image", metrics_image),
                                    ("locust_image", locust_image), ("locust_cpu", locust_cpu)) if v}
        self.options = RenderOptions(image=image, image_pull_policy=image_pull_policy, fault_sidecar=fault_sidecar,
                                     storage_class=storage_class, cluster_domain=cluster_domain, tls_secret=tls_secret,
                                     server_images=dict(server_images or {}),
                                     metrics=metrics, **images)  # type: ignore[arg-type]
        if locust_cpu:
            cpu_millis(locust_cpu)  # a bad quantity refused here, before anything is deployed
        if memory_limit:  # the Redis container's limit; maxmemory follows it (objects.maxmemory_for)
            memory_bytes(memory_limit)
            request = self.options.requests.get("memory")
            requests = dict(self.options.requests)
            if request and memory_bytes(request) > memory_bytes(memory_limit):
                requests["memory"] = memory_limit  # a request may not exceed its limit
            self.options = replace(self.options, limits={**self.options.limits, "memory": memory_limit},
                                   requests=requests)
        # latency through the sidecar needs the delayer, which the project's sidecar image ships (known
        # before deploying, so a latency fault another image cannot make is refused before anything exists)
        self.sidecar_delayer = faults.sidecar_ships_delayer(self.options.sidecar_image) if sidecar_delayer is None \
            else sidecar_delayer
        self.access = ("in-cluster" if in_cluster() else "port-forward") if access == "auto" else access
        self.network_backend = network_backend
        self.ready_timeout_s = ready_timeout_s
        self._client: Any = None
        self._relays: dict[str, dict[str, Relay]] = {}  # deployment id -> pod -> relay
        self._paused: dict[tuple[str, str], faults.FaultPlan] = {}
        self._killed_uid: dict[tuple[str, str], str] = {}
        # logs of pods deleted during a run, read just before the delete: deployment id -> pod -> container -> pieces
        self._saved_logs: dict[str, dict[str, dict[str, list[str]]]] = {}
        self._chaos_mesh: bool | None = None
        self._log_cache: dict[tuple[str, str], tuple[float, str]] = {}  # server_log: (read at, text)

    # ------------------------------------------------------------------ client
    @property
    def api(self) -> Any:
        """The official client's APIs, loaded on first use (kubeconfig, or the pod's service account)."""
        if self._client is None:
            from kubernetes import client, config, dynamic

            try:
                if self.kubeconfig is None and in_cluster():
                    config.load_incluster_config()
                else:
                    config.load_kube_config(config_file=self.kubeconfig, context=self.context)
            except Exception as exc:  # noqa: BLE001 - config errors come in many types
                raise PlatformError(f"cannot load a Kubernetes configuration: {exc} "
                                    "(set KUBECONFIG, pass kubeconfig=, or run inside a cluster)") from None
            api_client = client.ApiClient()
            self._client = type("Apis", (), {})()
            self._client.core = client.CoreV1Api(api_client)
            # stream() swaps the request function of the ApiClient it is given, and with
            # _preload_content=False it is not swapped back: exec gets an ApiClient of its own
            self._client.exec_core = client.CoreV1Api(client.ApiClient())
            self._client.apps = client.AppsV1Api(api_client)
            self._client.batch = client.BatchV1Api(api_client)
            self._client.version = client.VersionApi(api_client)
            self._client.apis = client.ApisApi(api_client)
            self._client.dynamic = dynamic.DynamicClient(api_client)
        return self._client

    def server_version(self) -> str:
        try:
            return server_version_string(self.api.version.get_code())
        except PlatformError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise PlatformError(f"cannot reach the Kubernetes API server: {exc}") from None

    def chaos_mesh_installed(self) -> bool:
        """Chaos Mesh is there when API discovery lists its group (readable by any authenticated user)."""
        if self._chaos_mesh is None:
            groups = self.api.apis.get_api_versions().groups or []
            self._chaos_mesh = any(g.name == "chaos-mesh.org" for g in groups)
        return self._chaos_mesh

    # ------------------------------------------------------------------ capabilities
    def capabilities(self) -> dict[str, str | None]:
        try:
            chaos = self.chaos_mesh_installed()
        except Exception as exc:  # noqa: BLE001 - no cluster: say so for every fault
            reason = f"no Kubernetes cluster reachable: {exc}"
            return {k: reason for k in ("pod-kill", "pod-delete", "pause", "upgrade", *faults.NETWORK_KINDS)}
        return capabilities_for(sidecar=self.options.fault_sidecar, chaos_mesh=chaos, preferred=self.network_backend,
                                delayer=self.sidecar_delayer)

    def refusals(self, scenario: Any) -> list[str]:
        """`faults.<i> (<kind>): <reason>` for each fault of `scenario` this cluster cannot make as configured
        (and a sweep this access cannot measure: sweep_refusal),
        found before anything is deployed by planning its first firing as the dry run does (pods as at
        deployment): pause by SIGSTOP without the fault sidecar, DEBUG SLEEP on a sentinel, a REJECT
        partition without the sidecar, latency without the delayer, ..."""
        from harness.platforms.kubernetes.plan import plan_initial

        found = self._sweep_refusals(scenario) if scenario.sweep is not None else []
        network = any(f.kind in faults.NETWORK_KINDS for f in scenario.faults)
        chaos = self.chaos_mesh_installed() if network else False
        for index, fault in enumerate(scenario.faults):
            if fault.kind == "upgrade":  # a drill, not a planned firing
                reason = k8s_upgrade.drill_refusal(fault, scenario.topology, self.options)
                if reason:
                    found.append(f"faults.{index} (upgrade): {reason}")
                continue
            try:
                plan_initial(f"{index}.0", fault, scenario.topology, "preflight", None, sidecar=self.options.fault_sidecar,
                             chaos_mesh=chaos, preferred=self.network_backend, access=self.access,
                             delayer=self.sidecar_delayer)
            except CapabilityError as exc:
                found.append(f"faults.{index} ({fault.kind}): {exc}")
        return found

    def _sweep_refusals(self, scenario: Any) -> list[str]:
        """A sweep this access cannot measure; a variant's server without an image (each variant deploys
        in turn: found here, not after the variants before it have run)."""
        here = [load for _, load in scenario.sweep.variant_loads() if not load.workers]  # not in generator pods
        found = [refusal] if here and (refusal := sweep_refusal(self.access)) else []
        for index, (variant, _) in enumerate(scenario.sweep.variant_loads()):
            try:
                image_for(scenario.variant_topology(variant), self.options)
            except ScenarioError as exc:
                found.append(f"sweep.variants.{index}: {exc}" if variant is not None else f"topology: {exc}")
        return found

    # ------------------------------------------------------------------ deploy
    def deploy(self, topology: Topology, deployment_id: str, *, owner_pid: int | None = None,
               progress: Callable[[str], None] = lambda msg: None) -> Deployment:
        version = self.server_version()
        namespace = self.namespace or namespace_name(deployment_id)
        options = k8s_tls.with_secret(replace(self.options, namespace=namespace, server_version=version,
                                              run_id=deployment_id), topology)
        objects = topology_objects(topology, options)  # rendering errors before anything is created
        if topology.kind == "naive" and self.access == "port-forward":
            raise CapabilityError("a naive topology is reached through its Service's ClusterIP, which a port-forward "
                                  "does not balance: use access pod-ip (or run the harness in the cluster)")
        deployment = Deployment(
            id=deployment_id, platform=self.name, topology=topology.model_dump(mode="json"), pods=[],
            client_address="", network="kubernetes", state_dir=str(state_root() / f"k8s-{namespace}"),
            owner_pid=owner_pid,
            extra={"namespace": namespace, "own_namespace": self.namespace is None, "server_version": version,
                   "access": self.access, "fault_sidecar": self.options.fault_sidecar,
                   "sidecar_delayer": self.sidecar_delayer, "metrics": self.options.metrics,
                   "cluster_domain": self.options.cluster_domain, "keep": self.keep},
        )
        try:
            if self.namespace is None:
                progress(f"creating namespace {namespace} (Kubernetes {version})")
                self.apply(namespace_object(namespace, deployment_id))
            deployment.save()
            if topology.tls:  # the Secret before the pods that mount it; the client's files in the state dir
                progress("making the deployment's TLS certificates")
                objects.insert(0, k8s_tls.make_secret(deployment.state_dir, options))
            progress(f"applying {len(objects)} objects")
            for obj in objects:
                self.apply(obj)
            progress("waiting for readiness")
            self._wait_ready(deployment, topology)
            self._describe_pods(deployment, topology)
            if topology.kind == "sentinel":
                self._wait_sentinels_can_fail_over(deployment, topology)
            deployment.save()
            return deployment
        except BaseException:
            if not self.keep:
                self.teardown(deployment)
            raise

    def run_options(self, deployment: Deployment) -> RenderOptions:
        """What the objects a run adds to a deployment's namespace later (its in-cluster load) render with: the
        deployment's namespace, run id, API version and, with `topology.tls`, its Secret to mount."""
        options = replace(self.options, namespace=deployment.extra["namespace"], run_id=deployment.id,
                          server_version=deployment.extra.get("server_version", "1.30"))
        return k8s_tls.with_secret(options, deployment.topo)

    def apply(self, obj: dict) -> Any:
        """Server-side apply: the harness owns the fields it sets, and re-applying is idempotent."""
        resource = self.api.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        try:
            return self.api.dynamic.server_side_apply(resource, body=obj, namespace=obj["metadata"].get("namespace"),
                                                      field_manager=FIELD_MANAGER, force_conflicts=True)
        except Exception as exc:  # noqa: BLE001
            raise PlatformError(f"applying {obj['kind']} {obj['metadata']['name']} failed: {_api_message(exc)}") from None

    def _wait_ready(self, deployment: Deployment, topology: Topology) -> None:
        ns = deployment.extra["namespace"]
        if topology.kind == "naive":
            self.wait_for(lambda: len(naive.ready_pod_names(self.api.core, ns)) >= topology.instances,
                       f"Deployment {naive.NAME}: {topology.instances} pods Ready", ns)
            return
        if topology.kind == "cluster":
            self.wait_for(lambda: self._job_done(ns, "redis-cluster-create"), "the cluster bootstrap Job to succeed", ns)
        for name, replicas in (("redis", len(topology.redis_pod_names())), ("sentinel", len(topology.sentinel_pod_names()))):
            if replicas:
                self.wait_for(lambda n=name, r=replicas: self._statefulset_ready(ns, n, r),  # type: ignore[misc]
                           f"StatefulSet {name}: {replicas} pods Ready", ns)

    def _wait_sentinels_can_fail_over(self, deployment: Deployment, topology: Topology) -> None:
        """Ready pods are not enough: a sentinel learns the replicas from the primary's INFO every 10 s,
        and a primary lost before that is never failed over (the e2e pod-kill test hung on it)."""
        for s in deployment.sentinel_pods():
            def sees_all(s=s) -> bool:
                try:
                    return sentinel_can_fail_over(deployment, s, topology.replicas, topology.sentinels)
                except Exception:  # noqa: BLE001 - a sentinel still starting answers nothing yet
                    return False
            self.wait_for(sees_all, f"{s.name} to see {topology.replicas} replicas and {topology.sentinels - 1} sentinels",
                       deployment.extra["namespace"])

    def _statefulset_ready(self, ns: str, name: str, replicas: int) -> bool:
        status = self.api.apps.read_namespaced_stateful_set_status(name, ns).status
        if (status.ready_replicas or 0) >= replicas and (status.updated_replicas or 0) >= replicas:
            return True
        self._refuse_unpullable_images(ns)
        return False

    def _refuse_unpullable_images(self, ns: str) -> None:
        """A pod whose image cannot be pulled never becomes Ready: say so now, naming the image, rather than
        after the whole readiness timeout (a server version without an image of this cluster's, say)."""
        for pod in self.api.core.list_namespaced_pod(ns).items:
            for cs in [*(pod.status.init_container_statuses or []), *(pod.status.container_statuses or [])]:
                waiting = cs.state.waiting if cs.state else None
                if waiting is not None and waiting.reason in PULL_FAILURES:
                    raise PlatformError(f"pod {pod.metadata.name}: container {cs.name} cannot get its image {cs.image}: "
                                        f"{waiting.reason}: {waiting.message or ''} (REDIS_HARNESS_K8S_SERVER_IMAGES maps "
                                        "a server version to an image this cluster has)".rstrip())

    def _job_done(self, ns: str, name: str) -> bool:
        status = self.api.batch.read_namespaced_job_status(name, ns).status
        if status.failed and status.failed >= 6:
            raise PlatformError(f"Job {name} failed {status.failed} times\n{self.diagnose(ns)}")
        return bool(status.succeeded)

    def wait_for(self, condition: Callable[[], Any], what: str, ns: str, timeout: float | None = None,
                 interval: float = 1.0) -> Any:
        """`condition`'s first truthy value; past the timeout, a PlatformError with what the namespace's pods say."""
        try:
            return wait_until(condition, timeout=timeout or self.ready_timeout_s, interval=interval, what=what,
                              describe_failure=lambda: self.diagnose(ns))
        except PollTimeout as exc:
            raise PlatformError(str(exc)) from None

    def diagnose(self, ns: str, log_lines: int = 15) -> str:
        """Why pods are not ready: phase, container states, the pod's events and its last log lines."""
        out = []
        try:
            pods = self.api.core.list_namespaced_pod(ns).items
        except Exception as exc:  # noqa: BLE001
            return f"(cannot list pods in {ns}: {_api_message(exc)})"
        for pod in pods:
            ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
            if ready or pod.status.phase == "Succeeded":
                continue
            name = pod.metadata.name
            out.append(f"pod {name}: phase {pod.status.phase}")
            for cs in pod.status.container_statuses or []:
                state = cs.state.waiting or cs.state.terminated
                detail = f"{state.reason}: {state.message or ''}".strip() if state else "running"
                out.append(f"  container {cs.name}: {detail} (restarts {cs.restart_count})")
            try:
                events = self.api.core.list_namespaced_event(ns, field_selector=f"involvedObject.name={name}").items
                for ev in events[-8:]:
                    out.append(f"  event {ev.type} {ev.reason}: {ev.message}")
            except Exception:  # noqa: BLE001
                pass
            for cs in pod.status.container_statuses or []:
                for previous in ((False, True) if cs.restart_count else (False,)):
                    try:
                        text = self.api.core.read_namespaced_pod_log(name, ns, container=cs.name, tail_lines=log_lines,
                                                                     previous=previous)
                    except Exception:  # noqa: BLE001
                        continue
                    label = "previous run's" if previous else "last"
                    out.append(f"  {label} log lines of {cs.name}:\n" + "\n".join(f"    {l}" for l in text.splitlines()))
        return "\n".join(out) or f"(every pod in {ns} is ready)"

    # ------------------------------------------------------------------ pods and addresses
    def _pod_ips(self, ns: str) -> dict[str, str]:
        return {p.metadata.name: p.status.pod_ip for p in self.api.core.list_namespaced_pod(
            ns, label_selector="app.kubernetes.io/managed-by=redis-harness").items if p.status.pod_ip}

    def _describe_pods(self, deployment: Deployment, topology: Topology) -> None:
        ns = deployment.extra["namespace"]
        ips = self._pod_ips(ns)
        image = image_for(topology, self.options)
        deployment.pods = [
            Pod(name=spec.name, kind=spec.kind, host="", port=spec.port, shard=spec.shard, initial_role=spec.initial_role,
                server=spec.server, version=image)
            for spec in plan_pods(topology)
        ]
        if topology.kind == "naive":
            self._name_naive_pods(deployment)
            deployment.extra["service"] = naive.service_address(self.api.core, ns)
        self._set_access(deployment, ips)

    def _name_naive_pods(self, deployment: Deployment) -> None:
        """A Deployment's pods have generated names: the harness calls them redis-0.. (targets, reports) and
        keeps the real names in extra["k8s_names"], which every API call goes through (k8s_name)."""
        ready = naive.ready_pod_names(self.api.core, deployment.extra["namespace"])
        deployment.extra["k8s_names"] = naive.assign_names(
            [p.name for p in deployment.redis_pods()], deployment.extra.get("k8s_names") or {}, ready)

    @staticmethod
    def k8s_name(deployment: Deployment, name: str) -> str:
        return (deployment.extra.get("k8s_names") or {}).get(name) or name

    def _set_access(self, deployment: Deployment, ips: dict[str, str]) -> None:
        logical = {k8s: name for name, k8s in (deployment.extra.get("k8s_names") or {}).items()}
        ips = {logical.get(k8s, k8s): ip for k8s, ip in ips.items()}
        ns, domain = deployment.extra["namespace"], deployment.extra["cluster_domain"]
        access = deployment.extra["access"]
        if access == "port-forward":
            relays = self._relays.setdefault(deployment.id, {})
            for pod in deployment.pods:
                if pod.name not in relays:
                    port = SENTINEL_PORT if pod.kind == "sentinel" else REDIS_PORT
                    relays[pod.name] = Relay(kubernetes_connect(self.api.core, ns, pod.name, port))
                pod.host, pod.port = "127.0.0.1", relays[pod.name].port
            deployment.client_address = "127.0.0.1"
        elif access == "pod-ip":
            for pod in deployment.pods:
                pod.host = ips.get(pod.name, pod.host)
            deployment.client_address = _local_address_towards(next(iter(ips.values()), "127.0.0.1"))
        else:
            for pod in deployment.pods:
                pod.host = pod_fqdn(pod.name, ns, domain)
            deployment.client_address = os.environ.get("POD_IP") or _local_address_towards(next(iter(ips.values()), "127.0.0.1"))
        deployment.extra["pod_ips"] = ips
        deployment.extra["aliases"] = aliases_for(deployment.pods, ns, ips, domain)
        deployment.extra["metrics_urls"] = _metrics_urls(deployment, ips)
        deployment.save()

    def refresh(self, deployment: Deployment) -> None:
        """Pod IPs change when pods are recreated: re-read them (and reopen port-forwards for a loaded deployment)."""
        self._set_access(deployment, self._pod_ips(deployment.extra["namespace"]))

    # ------------------------------------------------------------------ exec
    def exec(self, deployment: Deployment, pod: str, container: str, argv: Sequence[str], *, check: bool = True,
             timeout: float = 30) -> subprocess.CompletedProcess:
        from kubernetes.stream import stream

        ns = deployment.extra["namespace"]
        try:
            resp = stream(self.api.exec_core.connect_get_namespaced_pod_exec, pod, ns, command=list(argv), container=container,
                          stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
            resp.run_forever(timeout=timeout)
            out, err = resp.read_stdout() or "", resp.read_stderr() or ""
            code = resp.returncode
            resp.close()
        except Exception as exc:  # noqa: BLE001
            raise PlatformError(f"exec in {pod}/{container} failed: {_api_message(exc)}") from None
        if code is None:
            raise PlatformError(f"exec in {pod}/{container} `{' '.join(argv)}` did not finish in {timeout:g}s")
        proc = subprocess.CompletedProcess(list(argv), code, out, err)
        if check and code != 0:
            raise PlatformError(f"in {pod}/{container}, `{' '.join(argv)}` exited {code}: {err.strip() or out.strip()}")
        return proc

    def run_in_pod_network(self, deployment: Deployment, pod: Pod, argv: Sequence[str], *, check: bool = True,
                           timeout: float = 30) -> subprocess.CompletedProcess:
        """Through exec in the pod's `fault` sidecar, which shares the pod's network namespace."""
        if not deployment.extra.get("fault_sidecar"):
            raise CapabilityError("running commands in a pod's network needs the fault sidecar (platform option fault_sidecar)")
        return self.exec(deployment, self.k8s_name(deployment, pod.name), "fault", argv, check=check, timeout=timeout)

    # ------------------------------------------------------------------ pod faults
    def kill_pod(self, deployment: Deployment, pod: Pod, *, grace_period_s: int | None = 0) -> None:
        """Delete the pod (grace 0 = SIGKILL); its StatefulSet recreates it at once under the same name,
        with a new emptyDir (the data is gone) or the same PVC. start_pod waits for the new pod."""
        ns, name = deployment.extra["namespace"], self.k8s_name(deployment, pod.name)
        try:
            current = self.api.core.read_namespaced_pod(name, ns)
            self._killed_uid[(deployment.id, pod.name)] = current.metadata.uid
            self._save_logs(deployment, current)
            self._log_cache.pop((deployment.id, pod.name), None)
            self.api.core.delete_namespaced_pod(name, ns, grace_period_seconds=grace_period_s)
        except Exception as exc:  # noqa: BLE001
            raise PlatformError(f"deleting pod {pod.name} failed: {_api_message(exc)}") from None

    def delete_pod(self, deployment: Deployment, pod: Pod) -> None:
        """pod-delete: the pod's own grace period (redis-server gets SIGTERM and may save)."""
        self.kill_pod(deployment, pod, grace_period_s=None)

    def start_pod(self, deployment: Deployment, pod: Pod, *, wipe_data: bool = False) -> None:
        """Wait for the recreated pod to be Ready. With wipe_data and PVCs, the claim is deleted first so
        the pod comes back empty, as an emptyDir pod does."""
        ns = deployment.extra["namespace"]
        if wipe_data and deployment.topo.persistent_volumes:
            self._delete_claim(deployment, pod)
        old_uid = self._killed_uid.pop((deployment.id, pod.name), None)
        if deployment.topology["kind"] == "naive":
            self._wait_naive_replacement(deployment, pod)
            return

        def back() -> bool:
            current = self.api.core.read_namespaced_pod(pod.name, ns)
            if current.metadata.uid == old_uid or current.metadata.deletion_timestamp:
                return False
            if any(c.type == "Ready" and c.status == "True" for c in (current.status.conditions or [])):
                return True
            self._refuse_unpullable_images(ns)
            return False

        self.wait_for(back, f"pod {pod.name} to be recreated and Ready", ns)
        self.refresh(deployment)

    def _wait_naive_replacement(self, deployment: Deployment, pod: Pod) -> None:
        """A Deployment replaces a deleted pod with a new one under a new name: wait until it is Ready
        (the deleted one gone), then let it carry the deleted pod's logical name and reach it."""
        ns, gone = deployment.extra["namespace"], self.k8s_name(deployment, pod.name)
        wanted = len(deployment.redis_pods())

        def replaced() -> bool:
            ready = naive.ready_pod_names(self.api.core, ns)
            return gone not in ready and len(ready) >= wanted

        self.wait_for(replaced, f"Deployment {naive.NAME} to replace pod {gone} with a Ready one", ns)
        self._name_naive_pods(deployment)
        self.refresh(deployment)

    def _delete_claim(self, deployment: Deployment, pod: Pod) -> None:
        ns, claim = deployment.extra["namespace"], f"data-{pod.name}"
        core = self.api.core
        try:
            old_uid = core.read_namespaced_persistent_volume_claim(claim, ns).metadata.uid
            core.delete_namespaced_persistent_volume_claim(claim, ns)
        except Exception as exc:  # noqa: BLE001
            if getattr(exc, "status", None) != 404:
                raise PlatformError(f"deleting claim {claim} failed: {_api_message(exc)}") from None
            old_uid = None
        # the claim goes only once no pod uses it; a pod recreated meanwhile waits on the dying
        # claim, so delete that pod again and let the StatefulSet make both anew
        try:
            core.delete_namespaced_pod(pod.name, ns, grace_period_seconds=0)
        except Exception as exc:  # noqa: BLE001
            if getattr(exc, "status", None) != 404:
                raise PlatformError(f"deleting pod {pod.name} failed: {_api_message(exc)}") from None

        def replaced() -> bool:
            try:
                return core.read_namespaced_persistent_volume_claim(claim, ns).metadata.uid != old_uid
            except Exception as exc:  # noqa: BLE001
                if getattr(exc, "status", None) == 404:
                    return False
                raise

        self.wait_for(replaced, f"claim {claim} to be replaced by a new, empty one", ns)

    def pause_pod(self, deployment: Deployment, pod: Pod, *, duration_s: float | None = None,
                  method: str | None = None) -> None:
        """sigstop (the default, as on the local platform: SIGSTOP from the fault sidecar) or
        debug-sleep (DEBUG SLEEP for duration_s by exec, Redis pods only, no sidecar needed)."""
        method = method or "sigstop"
        if method == "debug-sleep" and duration_s is None:
            raise CapabilityError("pause by DEBUG SLEEP needs the pause duration (duration_s)")
        plan = faults.plan_pause(f"pause-{pod.name}", pod.name, duration_s=duration_s or 0, method=method,
                                 kind=pod.kind, sidecar=bool(deployment.extra.get("fault_sidecar")))
        self.execute(deployment, plan.inject)
        self._paused[(deployment.id, pod.name)] = plan

    def resume_pod(self, deployment: Deployment, pod: Pod) -> None:
        plan = self._paused.pop((deployment.id, pod.name), None)
        if plan is not None:
            self.execute(deployment, plan.heal)

    def replace_server(self, deployment: Deployment, pod: Pod, server: str, *, replicaof: str | None) -> None:
        """The drill's step on Kubernetes (harness.platforms.kubernetes.upgrade): the `redis` StatefulSet's
        template gets `server`'s image (OnDelete, so no other pod moves), the pod is deleted with its grace
        period and recreated by the StatefulSet under the same name; returns once its server container
        runs (wait_pod_answers waits for PING). `replicaof` is not needed: the start script asks the
        sentinels whom to follow."""
        ns = deployment.extra["namespace"]
        image = server_image(server, self.options)
        patch = k8s_upgrade.template_patch(image, first=not deployment.extra.get("on_delete"))
        try:
            self.api.apps.patch_namespaced_stateful_set(k8s_upgrade.STATEFULSET, ns, patch, field_manager=FIELD_MANAGER)
        except Exception as exc:  # noqa: BLE001
            raise PlatformError(f"patching StatefulSet {k8s_upgrade.STATEFULSET} to {image} failed: "
                                f"{_api_message(exc)}") from None
        deployment.extra["on_delete"] = True
        self.kill_pod(deployment, pod, grace_period_s=None)
        old_uid = self._killed_uid.pop((deployment.id, pod.name), None)
        self.wait_for(lambda: self._stopped(ns, pod.name, old_uid), f"pod {pod.name}'s containers to stop", ns, interval=0.2)

        def running() -> bool:
            current = self.api.core.read_namespaced_pod(pod.name, ns)
            if current.metadata.uid == old_uid or current.metadata.deletion_timestamp or not current.status.pod_ip:
                return False
            spec = {c.name: c.image for c in current.spec.containers}
            if spec.get(k8s_upgrade.CONTAINER) != image:  # recreated from the template before the patch: cannot be
                raise PlatformError(f"pod {pod.name} was recreated with {spec.get(k8s_upgrade.CONTAINER)}, not {image}")
            return any(c.name == k8s_upgrade.CONTAINER and c.state.running
                       for c in (current.status.container_statuses or []))

        self.wait_for(running, f"pod {pod.name} to be recreated with {image} and running", ns, interval=0.2)
        pod.server, pod.version = server, image
        self.refresh(deployment)

    def _stopped(self, ns: str, name: str, uid: str | None) -> bool:
        """The pod deleted with its grace period is gone, or every container of it has exited. Then a pod
        object still Terminating is only the kubelet's bookkeeping (this fixture's 1.20 kubelet has held
        one for over a minute), which would make the step measure the kubelet: it is deleted at once,
        for that uid only, so the StatefulSet recreates it now. The server got its SIGTERM and stopped,
        as the local platform's stop."""
        from kubernetes.client import V1DeleteOptions, V1Preconditions

        try:
            current = self.api.core.read_namespaced_pod(name, ns)
        except Exception as exc:  # noqa: BLE001
            if getattr(exc, "status", None) == 404:
                return True
            raise
        if current.metadata.uid != uid:
            return True
        if any(c.state.running for c in (current.status.container_statuses or [])):
            return False
        try:
            # grace 0 in the body: with a body, the API server ignores the query's gracePeriodSeconds
            self.api.core.delete_namespaced_pod(name, ns, body=V1DeleteOptions(
                grace_period_seconds=0, preconditions=V1Preconditions(uid=uid)))
        except Exception as exc:  # noqa: BLE001
            if getattr(exc, "status", None) not in (404, 409):  # gone, or another uid by now
                raise PlatformError(f"deleting the stopped pod {name} failed: {_api_message(exc)}") from None
        return True

    def wait_pod_answers(self, deployment: Deployment, pod: Pod, timeout: float = 30.0) -> None:
        """Until the pod answers PING and runs the version its image promises (a mislabelled image would
        make the drill's verdict about the wrong server)."""
        from harness.redisconn import pod_client

        ns = deployment.extra["namespace"]
        self.wait_for(lambda: pod_client(deployment, pod, timeout=1).ping(), f"{pod.name} to answer PING", ns,
                   timeout=timeout, interval=0.1)
        running = str(pod_client(deployment, pod, timeout=2).info("server").get("redis_version", "?"))
        promised = image_binary(pod.version).version_str
        if running != promised:
            raise PlatformError(f"{pod.name} runs Redis {running}, but its image {pod.version} promises {promised}")
        if deployment.topology["kind"] == "sentinel" and deployment.extra.get("on_delete"):
            self._sentinels_forget_old_addresses(deployment, pod, timeout)

    def _sentinels_forget_old_addresses(self, deployment: Deployment, pod: Pod, timeout: float) -> None:
        """A recreated pod has a new IP under the same DNS name, and a 6.2 sentinel keeps the IP it resolved
        first (redis#9103, #8540): it marks the replica s_down for good and can promote no one. So once
        the replaced pod is a linked replica (bounded; the drill itself measures and judges its sync), every
        sentinel is told SENTINEL RESET (the usual workaround for those issues); it learns the
        replicas again from the primary's INFO, with fresh addresses, and the other sentinels from their
        hellos (the drill's switch-over waits until each sentinel knows them all again)."""
        from harness.pod_config import MASTER_NAME
        from harness.redisconn import pod_client

        def linked() -> bool:
            info = pod_client(deployment, pod, timeout=1).info("replication")
            return info.get("role") == "master" or info.get("master_link_status") == "up"

        try:
            wait_until(linked, timeout=timeout, interval=0.1, what=f"{pod.name} to be a linked replica")
        except PollTimeout:
            return  # not in sync: the drill's own wait says why, from the pod's log
        for sentinel in deployment.sentinel_pods():
            pod_client(deployment, sentinel, timeout=2).execute_command("SENTINEL", "RESET", MASTER_NAME)

    def server_log(self, deployment: Deployment, pod: Pod) -> str:
        """The pod's server log so far across its incarnations: those deleted during the run (saved at the
        delete) and the current one, in the format collect_logs writes, so an offset into an earlier answer
        keeps pointing at the same text. Read at most every LOG_CACHE_S per pod (the drill polls it)."""
        key = (deployment.id, pod.name)
        cached = self._log_cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < LOG_CACHE_S:
            return cached[1]
        ns, name = deployment.extra["namespace"], self.k8s_name(deployment, pod.name)
        container = "sentinel" if pod.kind == "sentinel" else "redis"
        text = "".join(self._saved_logs.get(deployment.id, {}).get(name, {}).get(container, []))
        try:
            current = self.api.core.read_namespaced_pod(name, ns)
            text += "".join(k8s_logs.read_container_logs(self.api.core.read_namespaced_pod_log, ns, current,
                                                         only=container).get(container, []))
        except Exception:  # noqa: BLE001 - a pod being recreated has no log yet
            pass
        self._log_cache[key] = (time.monotonic(), text)
        return text

    # ------------------------------------------------------------------ network faults
    def peers(self, deployment: Deployment, side_a: list[str], side_b: list[str] | None = None) -> faults.Peers:
        """The sides of a network fault with the pods' current IPs; side_b defaults to every other pod."""
        ips = self._pod_ips(deployment.extra["namespace"])
        names = [p.name for p in deployment.pods]
        side_b = side_b if side_b is not None else [n for n in names if n not in side_a]
        missing = [n for n in side_a + side_b if n not in ips]
        if missing:
            raise PlatformError(f"pods without an IP (not running?): {missing}")
        client = "loopback" if deployment.extra["access"] == "port-forward" else deployment.client_address
        return faults.Peers(side_a, side_b, ips, client, {n: faults.server_port(n) for n in names})

    def plan_fault(self, deployment: Deployment, fault: Any, fault_id: str, side_a: list[str],
                   side_b: list[str] | None = None) -> faults.FaultPlan:
        """The operations that make and heal one firing, from the same planner `--dry-run` prints
        (harness.platforms.kubernetes.faults.plan_fault), with the pods' current IPs and the backend chosen
        from what this cluster offers. The nemesis executes `inject`, checks `checks`, runs `heal`."""
        network = fault.kind in faults.NETWORK_KINDS
        peers = self.peers(deployment, side_a, side_b) if network else faults.Peers(side_a, side_b or [], {})
        plan = faults.plan_fault(fault_id, fault, peers, pod_kinds={p.name: p.kind for p in deployment.pods},
                                 sidecar=bool(deployment.extra.get("fault_sidecar")),
                                 chaos_mesh=self.chaos_mesh_installed() if network else False,
                                 preferred=self.network_backend, namespace=deployment.extra["namespace"],
                                 run_id=deployment.id, delayer=bool(deployment.extra.get("sidecar_delayer", True)))
        if deployment.extra.get("k8s_names"):
            plan = naive.with_pod_names(plan, deployment.extra["k8s_names"])
        return plan

    def verify_fault(self, deployment: Deployment, plan: faults.FaultPlan | dict) -> list[tuple[bool, str]]:
        """Each of the plan's checks: an exec that exits 0 while the fault is in place, or the object's GET."""
        plan = _as_plan(plan)
        results = []
        for op in plan.checks:
            kind, _, name = op.target.partition("/")
            if op.verb == "get":
                try:
                    self._read_object(deployment.extra["namespace"], kind, name)
                    results.append((True, f"{op.target} exists"))
                except Exception as exc:  # noqa: BLE001
                    results.append((False, f"{op.target}: {_api_message(exc)}"))
                continue
            proc = self.exec(deployment, name, op.params["container"], op.params["argv"], check=False)
            detail = (proc.stderr or proc.stdout).strip()
            results.append((proc.returncode == 0, f"{name}: `{op.params['argv'][-1]}` "
                                                  f"{'holds' if proc.returncode == 0 else 'fails'}{': ' + detail if detail else ''}"))
        return results

    def heal_fault(self, deployment: Deployment, plan: faults.FaultPlan | dict) -> list[str]:
        """Idempotent: every heal operation runs, failures are collected (returned), not raised half-way."""
        plan = _as_plan(plan)
        problems = []
        for op in plan.heal:
            try:
                self.execute(deployment, [op])
            except Exception as exc:  # noqa: BLE001
                problems.append(f"{op.describe(deployment.extra['namespace'])}: {exc}")
        return problems

    def execute(self, deployment: Deployment, ops: list[faults.Op]) -> None:
        ns = deployment.extra["namespace"]
        logical = {k8s: name for name, k8s in (deployment.extra.get("k8s_names") or {}).items()}
        for op in ops:
            kind, _, name = op.target.partition("/")
            name = logical.get(name, name) if op.verb != "exec" else name  # pods by the harness's names
            if op.verb == "exec":
                self.exec(deployment, name, op.params["container"], op.params["argv"])
            elif op.verb == "create" and op.body is not None:
                self.apply(op.body)
            elif op.verb == "delete" and kind == "pods":
                pod = deployment.pod(name)
                self.kill_pod(deployment, pod, grace_period_s=op.params.get("gracePeriodSeconds"))
            elif op.verb == "delete":
                self._delete_object(ns, kind, name)
            elif op.verb == "wait" and kind == "pods":
                if "PING" in op.params["until"]:
                    from harness.redisconn import pod_client

                    pod = deployment.pod(name)
                    self.wait_for(lambda: pod_client(deployment, pod, timeout=1).ping(), f"{name} to answer PING", ns,
                               timeout=op.params.get("timeout_s"))
                else:
                    self.start_pod(deployment, deployment.pod(name))
            else:
                raise PlatformError(f"cannot execute {op}")

    _OBJECT_KINDS = {"networkpolicies": ("networking.k8s.io/v1", "NetworkPolicy"),
                     "networkchaos": (faults.CHAOS_MESH_API, "NetworkChaos"),
                     "persistentvolumeclaims": ("v1", "PersistentVolumeClaim")}

    def _read_object(self, ns: str, kind: str, name: str) -> Any:
        api_version, kind_name = self._OBJECT_KINDS[kind]
        return self.api.dynamic.resources.get(api_version=api_version, kind=kind_name).get(name=name, namespace=ns)

    def _delete_object(self, ns: str, kind: str, name: str) -> None:
        api_version, kind_name = self._OBJECT_KINDS[kind]
        resource = self.api.dynamic.resources.get(api_version=api_version, kind=kind_name)
        try:
            resource.delete(name=name, namespace=ns)
        except Exception as exc:  # noqa: BLE001
            if getattr(exc, "status", None) != 404:
                raise PlatformError(f"deleting {kind}/{name} failed: {_api_message(exc)}") from None

    # ------------------------------------------------------------------ logs
    def _save_logs(self, deployment: Deployment, pod: Any) -> None:
        """A deleted pod's logs go with it: keep them for collect_logs (one read per container)."""
        pieces = k8s_logs.read_container_logs(self.api.core.read_namespaced_pod_log, deployment.extra["namespace"], pod)
        saved = self._saved_logs.setdefault(deployment.id, {}).setdefault(pod.metadata.name, {})
        for container, texts in pieces.items():
            saved.setdefault(container, []).extend(texts)

    def collect_logs(self, deployment: Deployment, logs_dir: Path) -> list[str]:
        """Every container's log in the run's namespace (previous containers and pods deleted during the
        run included) into `logs_dir`, before teardown deletes them (see harness.platforms.kubernetes.logs)."""
        ns = deployment.extra["namespace"]
        selector = None if deployment.extra.get("own_namespace") else f"{RUN_LABEL}={label_value(deployment.id)}"
        pieces = {pod: {c: list(t) for c, t in containers.items()}
                  for pod, containers in self._saved_logs.pop(deployment.id, {}).items()}
        main = {p.name: "sentinel" if p.kind == "sentinel" else "redis" for p in deployment.pods}
        for pod in self.api.core.list_namespaced_pod(ns, label_selector=selector).items:
            main[pod.metadata.name] = k8s_logs.main_container(pod) if pod.metadata.name in main else ""
            for container, texts in k8s_logs.read_container_logs(self.api.core.read_namespaced_pod_log, ns, pod).items():
                pieces.setdefault(pod.metadata.name, {}).setdefault(container, []).extend(texts)
        return k8s_logs.write_logs(Path(logs_dir), pieces, main, {p.name for p in deployment.pods})

    # ------------------------------------------------------------------ teardown
    def teardown(self, deployment: Deployment) -> list[str]:
        """Close port-forwards; delete the run's namespace (or, in a given namespace, the run's objects),
        unless keep; wait (bounded) until it is gone. Idempotent."""
        removed = []
        for name, relay in self._relays.pop(deployment.id, {}).items():
            relay.close()
            removed.append(f"port-forward 127.0.0.1:{relay.port} ({name})")
        ns = deployment.extra.get("namespace")
        if ns and not deployment.extra.get("keep"):
            removed += self._delete_namespace(ns) if deployment.extra.get("own_namespace") else \
                self._delete_run_objects(ns, deployment.id)
        if deployment.state_file.exists():
            deployment.state_file.unlink()
            removed.append(f"file {deployment.state_file}")
        tls_dir = Path(deployment.state_dir) / TLS_DIR
        if tls_dir.exists():
            shutil.rmtree(tls_dir, ignore_errors=True)
            removed.append(f"directory {tls_dir}")
        try:
            os.rmdir(deployment.state_dir)
        except OSError:
            pass
        return removed

    def delete_namespace(self, ns: str) -> list[str]:
        """Delete a namespace and wait (bounded) until it is gone; `cleanup` sweeps orphans with it."""
        return self._delete_namespace(ns)

    def namespace_exists(self, ns: str) -> bool:
        """Also while it terminates; any answer but found or 404 raises."""
        return not _absent(lambda: self.api.core.read_namespace(ns))

    def _delete_namespace(self, ns: str) -> list[str]:
        try:
            self.api.core.delete_namespace(ns, propagation_policy="Foreground")
            # The run is over and its logs are copied: no pod of it needs its grace period (30 s, more with
            # the preStop hand-over), and a namespace waits for its slowest pod. After the namespace is
            # Terminating, so no controller can start a replacement with a grace period of its own.
            self.api.core.delete_collection_namespaced_pod(ns, grace_period_seconds=0)
        except Exception as exc:  # noqa: BLE001
            if getattr(exc, "status", None) == 404:
                return []
            raise PlatformError(f"deleting namespace {ns} failed: {_api_message(exc)}") from None
        try:
            wait_until(lambda: not self.namespace_exists(ns), timeout=self.ready_timeout_s,
                       interval=1.0, what=f"namespace {ns} to be deleted")
        except PollTimeout:
            return [f"namespace {ns} (still terminating)"]
        return [f"namespace {ns}"]

    def _delete_run_objects(self, ns: str, run_id: str) -> list[str]:
        selector = f"{RUN_LABEL}={label_value(run_id)}"
        removed = []
        for api_version, kind in (("apps/v1", "StatefulSet"), ("batch/v1", "Job"), ("apps/v1", "Deployment"),
                                  ("v1", "Service"), ("v1", "ConfigMap"), ("v1", "Secret"),
                                  ("networking.k8s.io/v1", "NetworkPolicy"), ("policy/v1", "PodDisruptionBudget"),
                                  ("policy/v1beta1", "PodDisruptionBudget"), (faults.CHAOS_MESH_API, "NetworkChaos"),
                                  ("v1", "PersistentVolumeClaim")):
            try:
                resource = self.api.dynamic.resources.get(api_version=api_version, kind=kind)
                items = resource.get(namespace=ns, label_selector=selector).items
            except Exception:  # noqa: BLE001 - a kind this server does not serve
                continue
            for item in items:
                resource.delete(name=item.metadata.name, namespace=ns, propagation_policy="Foreground")
                removed.append(f"{kind} {ns}/{item.metadata.name}")
        return removed


PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")


def sweep_refusal(access: str) -> str | None:
    """Why a capacity sweep cannot run with this access, or None. Its open-loop generator runs in the
    harness's processes: through a port-forward every request crosses the API server and the kubelet's
    stream, so it would measure that tunnel, not the server; a node reaching pod IPs directly is a plain
    hop (the only access it has been measured with). Generator pods (`load.workers`) need neither."""
    if access == "pod-ip":
        return None
    why = ("the generator runs in the harness's processes and, through a port-forward, would measure the tunnel "
           "(API server and kubelet streams), not the server" if access == "port-forward" else
           "the generator has been measured only from a node dialing pod IPs")
    return (f"platform: a sweep on Kubernetes needs access pod-ip (got {access!r}): {why}; run the harness on a "
            "node that routes to pod IPs and set REDIS_HARNESS_K8S_ACCESS=pod-ip, or run the generator as pods "
            "in the cluster (sweep.load.workers: N)")


def capabilities_for(*, sidecar: bool, chaos_mesh: bool, preferred: str = "auto",
                     delayer: bool = True) -> dict[str, str | None]:
    """Fault kind -> None when it can be made, else why not (pure, so dry runs and tests use it too)."""
    caps: dict[str, str | None] = {"pod-kill": None, "pod-delete": None, "pause": None,
                                   "upgrade": None}  # which drills: KubernetesPlatform.refusals
    for kind in faults.NETWORK_KINDS:
        try:
            faults.choose_backend(kind, sidecar=sidecar, chaos_mesh=chaos_mesh, preferred=preferred, delayer=delayer)
            caps[kind] = None
        except CapabilityError as exc:
            caps[kind] = str(exc)
    return caps


def _local_address_towards(ip: str) -> str:
    """The source address this machine uses to reach `ip` (a UDP connect sends no packet)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((ip, 9))
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def _as_plan(plan: faults.FaultPlan | dict) -> faults.FaultPlan:
    """A plan, also from the plain data the nemesis keeps in its records."""
    return plan if isinstance(plan, faults.FaultPlan) else faults.FaultPlan.from_dict(plan)


def _absent(read: Callable[[], Any]) -> bool:
    try:
        read()
    except Exception as exc:  # noqa: BLE001
        if getattr(exc, "status", None) == 404:
            return True
        raise
    return False


def _api_message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if body:
        try:
            import json

            return json.loads(body).get("message", str(body))
        except (ValueError, AttributeError):
            return str(body)
    return str(exc)

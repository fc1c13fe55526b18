"""`--dry-run` on Kubernetes: every object a run would apply, and every API operation each
scheduled fault would perform, without a cluster.

The output is a YAML stream (objects as documents, everything else as comments), so it can be
read, diffed, or fed to `kubectl apply --dry-run=server -f -`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from harness.errors import CapabilityError
from harness.platforms.kubernetes import faults
from harness.platforms.kubernetes import tls as k8s_tls
from harness.platforms.kubernetes.objects import (
    BenchmarkControl,
    RenderOptions,
    dump_yaml,
    locust_objects,
    namespace_name,
    namespace_object,
    redis_benchmark_job,
    topology_objects,
)
from harness.platforms.kubernetes.upgrade import drill_lines
from harness.workload.redis_benchmark import STOP_GRACE_S as BENCHMARK_GRACE_S
from harness.scenario import FaultTarget, Scenario, Topology
from harness.pod_config import plan_pods
from harness.tls import ServerPem, refuse_tls_unavailable


def plan(scenario: Scenario, *, server_version: str = "1.30", fault_sidecar: bool = False, chaos_mesh: bool = False,
         network_backend: str = "auto", access: str = "port-forward", image: str | None = None,
         run_id: str | None = None, sidecar_image: str | None = None, sidecar_delayer: bool | None = None,
         metrics: bool = False, metrics_image: str | None = None,
         server_images: dict[str, str] | None = None, locust_image: str | None = None,
         ready_timeout_s: float = 300.0) -> str:
    """The dry-run text for one scenario. `chaos_mesh` says whether to assume its CRDs exist;
    `sidecar_delayer` whether the sidecar image ships the latency delayer (default: it is the project's)."""
    refuse_tls_unavailable(scenario, "kubernetes")  # what a run would refuse before deploying
    run_id = run_id or f"{scenario.name}-dry-run"
    namespace = namespace_name(run_id)
    options = RenderOptions(namespace=namespace, server_version=server_version, image=image,
                            fault_sidecar=fault_sidecar, run_id=run_id, metrics=metrics,
                            server_images=dict(server_images or {}))
    if sidecar_image:
        options = replace(options, sidecar_image=sidecar_image)
    if locust_image:
        options = replace(options, locust_image=locust_image)
    if metrics_image:
        options = replace(options, metrics_image=metrics_image)
    delayer = faults.sidecar_ships_delayer(options.sidecar_image) if sidecar_delayer is None else sidecar_delayer
    topology = scenario.topology
    out = [
        f"# redis-harness dry run: scenario {scenario.name} on Kubernetes {server_version}",
        f"# namespace {namespace} (a real run names it after its run id); access: {access}",
        f"# fault backends: sidecar={'yes' if fault_sidecar else 'no'}, "
        f"chaos-mesh={'yes' if chaos_mesh else 'no'}, networkpolicy=partitions only (needs an enforcing CNI)",
        "# objects, applied in this order with server-side apply (field manager redis-harness):",
    ]
    objects = [namespace_object(namespace, run_id)]
    options = k8s_tls.with_secret(options, topology)
    if topology.tls:  # its certificates are made when it deploys: placeholders here
        objects.append(k8s_tls.secret_object(ServerPem(*("<made when the run deploys>",) * 3), options))
    objects += topology_objects(topology, options)
    load = scenario.workload
    if load.locust.workers:  # in the cluster; else Locust runs on the harness's machine and makes no object
        objects += locust_objects(load.locust, topology, options, seed=scenario.seed, controlled=True)
    if load.locust.enabled and not load.locust.workers:
        out.append("# locust: runs on the harness's machine (workload.locust.workers: N runs it in the cluster)")
    if load.redis_benchmark.in_cluster:  # the primary's address is resolved by the run (shown: the first pod)
        host = "redis" if topology.kind in ("sentinel", "cluster") else f"{topology.redis_pod_names()[0]}.redis-headless"
        control = BenchmarkControl.for_run(host, load.redis_benchmark, ready_timeout_s=ready_timeout_s,
                                           duration_s=scenario.duration_s, grace_s=BENCHMARK_GRACE_S)
        objects.append(redis_benchmark_job(load.redis_benchmark, topology, options, control=control))
    elif load.redis_benchmark.enabled:
        out.append("# redis-benchmark: runs on the harness's machine (workload.redis_benchmark.in_cluster: true "
                   "runs it as a Job in the cluster)")
    if load.openloop.enabled:
        out.append("# openloop: the open-loop generator runs on the harness's machine")
    out.append(dump_yaml(objects).rstrip())
    out.append("---")
    waits = _waits(topology)
    if load.locust.workers:
        waits.append(f"Locust master Ready and {load.locust.workers} workers connected; at t=0 POST /swarm to it")
    if load.redis_benchmark.in_cluster:
        waits.append(f"Job redis-benchmark's pod Running at its gate; at t={load.redis_benchmark.start_s:g} exec "
                     f"`echo <seconds to the run's end> > /gate/go` in it, then follow its log")
    out.append("# waits: " + "; ".join(waits))
    out.append("# faults (targets are resolved from Redis/Sentinel when each fault fires; shown here with the")
    out.append("# pods that hold those roles at deployment):")
    if not scenario.faults:
        out.append("#   (none)")
    for index, fault in enumerate(scenario.faults):
        for firing, (start, end) in enumerate(fault.firings()):
            if fault.kind == "upgrade":  # a drill, not a planned firing
                out += drill_lines(f"{index}.{firing}", fault, start, topology, options, namespace)
                continue
            out += _fault_lines(f"{index}.{firing}", fault, start, end, topology, namespace, run_id,
                                sidecar=fault_sidecar, chaos_mesh=chaos_mesh, preferred=network_backend,
                                access=access, delayer=delayer)
    out.append(f"# teardown: DELETE /api/v1/namespaces/{namespace} (skipped with --keep)")
    return "\n".join(out) + "\n"


def options_from_env() -> dict[str, Any]:
    """The plan options a live run would use, from the REDIS_HARNESS_K8S_* variables `run --platform
    kubernetes` reads (fault sidecar, backend, access, image), so the dry run plans the same faults the
    same way. Chaos Mesh cannot be known without a cluster: the plan assumes it absent and says so."""
    from harness.platforms.kubernetes import platform as kubernetes

    env = kubernetes.options_from_env()
    access = env.get("access", "auto")
    if access == "auto":
        access = "in-cluster" if kubernetes.in_cluster() else "port-forward"
    return {"fault_sidecar": bool(env.get("fault_sidecar")), "network_backend": env.get("network_backend", "auto"),
            "access": access, "image": env.get("image"), "sidecar_image": env.get("sidecar_image"),
            "sidecar_delayer": env.get("sidecar_delayer"), "metrics": bool(env.get("metrics")),
            "metrics_image": env.get("metrics_image"), "server_images": env.get("server_images"),
            "locust_image": env.get("locust_image"), "ready_timeout_s": env.get("ready_timeout_s", 300.0)}


def _waits(topology: Topology) -> list[str]:
    waits = []
    if topology.kind == "cluster":
        waits.append("Job redis-cluster-create succeeded")
    waits.append(f"StatefulSet redis: {len(topology.redis_pod_names())} pods Ready")
    if topology.kind == "sentinel":
        waits.append(f"StatefulSet sentinel: {topology.sentinels} pods Ready")
    return waits


def resolve_initial(topology: Topology, target: FaultTarget) -> list[str]:
    """The pods a target names at deployment time (a run asks the servers when the fault fires)."""
    if target.pod:
        return [target.pod]
    specs = plan_pods(topology)
    if target.role == "sentinel":
        names = [s.name for s in specs if s.kind == "sentinel"]
    elif target.role == "any":
        names = [s.name for s in specs if s.kind == "redis"]
    else:
        names = [s.name for s in specs if s.initial_role == target.role]
    if target.shard is not None:
        names = [n for n in names if topology.shard_of(n) == target.shard]
    return names[:1]


def _describe_target(target: FaultTarget) -> str:
    return ", ".join(f"{k}={v}" for k, v in target.model_dump(exclude_none=True).items() if k != "pick" or v != "first")


def initial_sides(topology: Topology, fault: Any) -> tuple[list[str], list[str]]:
    """A fault's sides as at deployment: the targets, and the other side (partition) or the peers (loss)."""
    everyone = topology.pod_names()
    groups = getattr(fault, "groups", None)
    if groups:
        side_a = [p for t in groups[0] for p in resolve_initial(topology, t)]
        return side_a, [p for t in groups[1] for p in resolve_initial(topology, t) if p not in side_a]
    side_a = resolve_initial(topology, fault.target)
    if getattr(fault, "peers", None):
        return side_a, [p for t in fault.peers for p in resolve_initial(topology, t) if p not in side_a]
    return side_a, [p for p in everyone if p not in side_a]


def client_placeholder(access: str) -> str:
    """How the dry run names the harness's clients in fault rules (a live run: loopback or its address)."""
    return "loopback" if access == "port-forward" else "<harness address>"


def _fault_lines(fault_id: str, fault: Any, start: float, end: float, topology: Topology, namespace: str, run_id: str,
                 *, sidecar: bool, chaos_mesh: bool, preferred: str, access: str, delayer: bool) -> list[str]:
    target = fault.target or (fault.groups[0][0] if getattr(fault, "groups", None) else None)
    side_a, _ = initial_sides(topology, fault)
    head = (f"# fault {fault_id}: {fault.kind} at {start:g}s until {end:g}s, target "
            f"{_describe_target(target) if target else '-'} (now {', '.join(side_a) or 'no pod'})")
    try:
        plan_ = plan_initial(fault_id, fault, topology, namespace, run_id, sidecar=sidecar, chaos_mesh=chaos_mesh,
                             preferred=preferred, access=access, delayer=delayer)
    except CapabilityError as exc:
        return [head, f"#   REFUSED: {exc}"]
    lines = [head, f"#   backend: {plan_.backend}"]
    lines += [f"#   inject: {op.describe(namespace)}" for op in plan_.inject]
    for op in plan_.inject:
        if op.body:
            lines += ["#     " + line for line in dump_yaml([op.body]).splitlines()[1:]]
    lines += [f"#   heal at {end:g}s: {op.describe(namespace)}" for op in plan_.heal]
    lines += [f"#   note: {note}" for note in plan_.notes]
    return lines


def plan_initial(fault_id: str, fault: Any, topology: Topology, namespace: str, run_id: str | None, *, sidecar: bool,
                 chaos_mesh: bool, preferred: str, access: str, delayer: bool) -> faults.FaultPlan:
    """One firing planned with the pods as at deployment (placeholder IPs): what the dry run prints, and
    what the platform checks before deploying (CapabilityError: the fault cannot be made here)."""
    side_a, side_b = initial_sides(topology, fault)
    everyone = topology.pod_names()
    peers = faults.Peers(side_a, side_b, {p: f"<ip of {p}>" for p in everyone}, client_placeholder(access),
                         {p: faults.server_port(p) for p in everyone})
    return faults.plan_fault(fault_id, fault, peers, pod_kinds={p: _kind(p) for p in everyone}, sidecar=sidecar,
                             chaos_mesh=chaos_mesh, preferred=preferred, namespace=namespace, run_id=run_id,
                             delayer=delayer)


def _kind(pod: str) -> str:
    return "sentinel" if pod.startswith("sentinel-") else "redis"

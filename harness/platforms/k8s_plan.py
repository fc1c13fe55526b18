"""`--dry-run` on Kubernetes: every object a run would apply, and every API operation each
scheduled fault would perform, without a cluster.

The output is a YAML stream (objects as documents, everything else as comments), so it can be
read, diffed, or fed to `kubectl apply --dry-run=server -f -`.
"""

from __future__ import annotations

from typing import Any

from harness.errors import CapabilityError
from harness.platforms import k8s_faults as faults
from harness.platforms.k8s_objects import (
    RenderOptions,
    dump_yaml,
    locust_objects,
    namespace_name,
    namespace_object,
    redis_benchmark_job,
    topology_objects,
)
from harness.scenario import Scenario, Target, Topology
from harness.topology import plan_pods


def plan(scenario: Scenario, *, server_version: str = "1.30", fault_sidecar: bool = False, chaos_mesh: bool = False,
         network_backend: str = "auto", access: str = "port-forward", image: str | None = None,
         run_id: str | None = None) -> str:
    """The dry-run text for one scenario. `chaos_mesh` says whether to assume its CRDs exist."""
    run_id = run_id or f"{scenario.name}-dry-run"
    namespace = namespace_name(run_id)
    options = RenderOptions(namespace=namespace, server_version=server_version, image=image,
                            fault_sidecar=fault_sidecar, run_id=run_id)
    topology = scenario.topology
    out = [
        f"# redis-harness dry run: scenario {scenario.name} on Kubernetes {server_version}",
        f"# namespace {namespace} (a real run names it after its run id); access: {access}",
        f"# fault backends: sidecar={'yes' if fault_sidecar else 'no'}, "
        f"chaos-mesh={'yes' if chaos_mesh else 'no'}, networkpolicy=partitions only (needs an enforcing CNI)",
        "# objects, applied in this order with server-side apply (field manager redis-harness):",
    ]
    objects = [namespace_object(namespace, run_id), *topology_objects(topology, options)]
    load = scenario.workload
    if load.locust.enabled:
        objects += locust_objects(load.locust, topology, options, run_time_s=scenario.duration_s, seed=scenario.seed)
    if load.redis_benchmark.enabled:
        objects.append(redis_benchmark_job(load.redis_benchmark, topology, options))
    out.append(dump_yaml(objects).rstrip())
    out.append("---")
    out.append("# waits: " + "; ".join(_waits(topology)))
    out.append("# faults (targets are resolved from Redis/Sentinel when each fault fires; shown here with the")
    out.append("# pods that hold those roles at deployment):")
    if not scenario.faults:
        out.append("#   (none)")
    for index, fault in enumerate(scenario.faults):
        for firing, (start, end) in enumerate(fault.firings()):
            out += _fault_lines(f"{index}.{firing}", fault, start, end, topology, namespace, run_id,
                                sidecar=fault_sidecar, chaos_mesh=chaos_mesh, preferred=network_backend,
                                access=access)
    out.append(f"# teardown: DELETE /api/v1/namespaces/{namespace} (skipped with --keep)")
    return "\n".join(out) + "\n"


def options_from_env() -> dict[str, Any]:
    """The plan options a live run would use, from the REDIS_HARNESS_K8S_* variables `run --platform
    kubernetes` reads (fault sidecar, backend, access, image), so the dry run plans the same faults the
    same way. Chaos Mesh cannot be known without a cluster: the plan assumes it absent and says so."""
    from harness.platforms import kubernetes

    env = kubernetes.options_from_env()
    access = env.get("access", "auto")
    if access == "auto":
        access = "in-cluster" if kubernetes.in_cluster() else "port-forward"
    return {"fault_sidecar": bool(env.get("fault_sidecar")), "network_backend": env.get("network_backend", "auto"),
            "access": access, "image": env.get("image")}


def _waits(topology: Topology) -> list[str]:
    waits = []
    if topology.kind == "cluster":
        waits.append("Job redis-cluster-create succeeded")
    waits.append(f"StatefulSet redis: {len(topology.redis_pod_names())} pods Ready")
    if topology.kind == "sentinel":
        waits.append(f"StatefulSet sentinel: {topology.sentinels} pods Ready")
    return waits


def resolve_initial(topology: Topology, target: Target) -> list[str]:
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


def _describe_target(target: Target) -> str:
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
                 *, sidecar: bool, chaos_mesh: bool, preferred: str, access: str) -> list[str]:
    target = fault.target or (fault.groups[0][0] if getattr(fault, "groups", None) else None)
    side_a, side_b = initial_sides(topology, fault)
    head = (f"# fault {fault_id}: {fault.kind} at {start:g}s until {end:g}s, target "
            f"{_describe_target(target) if target else '-'} (now {', '.join(side_a) or 'no pod'})")
    everyone = topology.pod_names()
    peers = faults.Peers(side_a, side_b, {p: f"<ip of {p}>" for p in everyone}, client_placeholder(access),
                         {p: faults.server_port(p) for p in everyone})
    try:
        plan_ = faults.plan_fault(fault_id, fault, peers, pod_kinds={p: _kind(p) for p in everyone}, sidecar=sidecar,
                                  chaos_mesh=chaos_mesh, preferred=preferred, namespace=namespace, run_id=run_id)
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


def _kind(pod: str) -> str:
    return "sentinel" if pod.startswith("sentinel-") else "redis"

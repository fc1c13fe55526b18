"""Before a run: every fault the platform cannot make here, with the reason, or nothing.

Checks run for real where they can, inside a pod's network: iptables answers, the delayer can
bind an NFQUEUE (root, kernel support, the fnfqueue package), an IFB device can be made.
"""

from __future__ import annotations

from harness.errors import PlatformError
from harness.nemesis import latency, network
from harness.nemesis.faults import Context, planning
from harness.scenario import Pause, target_problem, fault_targets

IPTABLES_KINDS = {"partition", "packet-loss", "latency"}


def problems(ctx: Context, faults: list) -> list[str]:
    """One line per fault that cannot be made: `faults.<i> (<kind>): <reason>`."""
    caps = ctx.platform.capabilities()
    topology = ctx.deployment.topo
    pod_check = _PodCheck(ctx)
    found = []
    for i, fault in enumerate(faults):
        reasons = [caps[fault.kind]] if caps.get(fault.kind) else []
        reasons += [f"{path}: {p}" for path, t in fault_targets(fault) if (p := target_problem(topology, t))]
        if not reasons:
            reasons += (_planned_specific if planning(ctx) else _fault_specific)(ctx, fault, pod_check)
        found += [f"faults.{i} ({fault.kind}): {reason}" for reason in reasons]
    return found


def _fault_specific(ctx: Context, fault, pod_check: "_PodCheck") -> list[str]:
    reasons = []
    if isinstance(fault, Pause) and fault.method == "debug-sleep":
        target = fault.target
        if target.role == "sentinel" or (target.pod and ctx.deployment.pod(target.pod).kind == "sentinel"):
            reasons.append("method debug-sleep needs a Redis server; a sentinel has no DEBUG command (use sigstop)")
    if fault.kind in IPTABLES_KINDS:
        reasons += pod_check.once("iptables", [*network.IPTABLES, "-S", "INPUT"])
    if fault.kind == "latency":
        reasons += pod_check.once("nfqueue", latency.check_argv(65500))
    if fault.kind == "bandwidth":
        reasons += pod_check.once("tc", ["tc", "qdisc", "show"])
        if fault.direction != "egress":
            reasons += pod_check.once("ifb", ["sh", "-c", "ip link add rhifbcheck type ifb && ip link del rhifbcheck"])
    return reasons


def _planned_specific(ctx: Context, fault, pod_check: "_PodCheck") -> list[str]:
    """A planning platform (Kubernetes) with the fault sidecar: what its plans run there must work
    (iptables; the latency delayer binding an NFQUEUE; tc and IFB for bandwidth)."""
    if not ctx.deployment.extra.get("fault_sidecar") or fault.kind not in ("partition", "packet-loss", "latency",
                                                                          "bandwidth"):
        return []
    if fault.kind in ("partition", "packet-loss"):
        return pod_check.once("iptables", [*network.IPTABLES, "-S", "INPUT"])
    if fault.kind == "latency":
        return pod_check.once("delayer", [latency.SIDECAR_COMMAND, *latency.check_args(65500)]) + \
            pod_check.once("iptables", [*network.IPTABLES, "-S", "INPUT"])
    reasons = pod_check.once("tc", ["tc", "qdisc", "show"])
    if fault.direction != "egress":
        reasons += pod_check.once("ifb", ["sh", "-c", "ip link add rhifbcheck type ifb && ip link del rhifbcheck"])
    return reasons


class _PodCheck:
    """Runs each check once, in the first Redis pod's network, and remembers the answer."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.answers: dict[str, list[str]] = {}

    def once(self, name: str, argv: list[str]) -> list[str]:
        if name not in self.answers:
            pod = self.ctx.deployment.redis_pods()[0]
            try:
                proc = self.ctx.run(pod, argv, check=False)
                ok, detail = proc.returncode == 0, (proc.stderr or proc.stdout).strip()
            except (OSError, PlatformError) as exc:
                ok, detail = False, str(exc)
            self.answers[name] = [] if ok else [f"`{' '.join(argv)}` fails in a pod's network: {detail}"]
        return self.answers[name]

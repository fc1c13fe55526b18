"""The upgrade drill on Kubernetes: which drills the platform makes, and what one step does there.

A step upgrades one pod by changing its image, the way an operator rolls a StatefulSet pod by pod:
the `redis` StatefulSet is switched to `updateStrategy: OnDelete` (once), its pod template gets the
target version's image, and the one pod is deleted (its own grace period, as a container stop): the
StatefulSet recreates it under the same name and address with the new image, and the other pods keep
theirs until the drill deletes them in turn. The drill's order (harness/nemesis/upgrade_plan.py) is
unchanged: each replica, then the switch-over (SENTINEL FAILOVER with writes paused), then the old
primary. Why not a `partition`: it rolls pods by ordinal, highest first, while the drill picks pods by
their role when the step starts (a revert rolls one pod back, not every pod above an ordinal).

What a recreated pod keeps: its name, DNS name and role (the start script asks the sentinels whom to
follow), and its data only with `persistent_volumes` (an emptyDir goes with the pod, so it resyncs in
full). The sentinels stay on the image they were deployed with: the drill rolls Redis pods only, on
both platforms. Every pod reads the ConfigMap's one redis.conf, rendered for the deployment's version,
so the target version must accept that file too (checked before deploying, with the local binaries).

Only the Sentinel drill with `replicas-first` is made here; the Cluster drill, `naive` and `rollback`
stay on the local platform (refused before anything is deployed, with the reason).
"""

from __future__ import annotations

from typing import Any

from harness.errors import ScenarioError
from harness.platforms.kubernetes.objects import RenderOptions, image_binary, image_for, redis_conf, server_image
from harness.scenario import Topology

STATEFULSET = "redis"
CONTAINER = "redis"


def drill_refusal(fault: Any, topology: Topology, options: RenderOptions) -> str | None:
    """Why this cluster, as configured, cannot run the drill `fault` (None: it can). Pure but for the
    config check, which loads the deployed redis.conf into the target server here (harness.lint)."""
    if topology.kind != "sentinel":
        return (f"on Kubernetes only the Sentinel drill is built (the {topology.kind} drill runs on the local "
                "platform; issue 16)")
    if fault.strategy != "replicas-first":
        return f"strategy {fault.strategy}: on Kubernetes only replicas-first is built (local platform for the others)"
    if options.image:
        return ("the platform's image option runs every server on one image; a drill needs an image per version "
                "(server_images, REDIS_HARNESS_K8S_SERVER_IMAGES)")
    try:
        before, after = image_for(topology, options), server_image(fault.to, options)
    except ScenarioError as exc:
        return str(exc)
    if before == after:
        return f"{fault.to} has the same image as the deployment ({before}): nothing to upgrade"
    return _config_refusal(topology, before, fault.to, options)


def _config_refusal(topology: Topology, deployed_image: str, to: str, options: RenderOptions) -> str | None:
    """The ConfigMap's redis.conf (rendered for the deployed image) must load in the target server."""
    from harness.lint import describe, lint_config

    text = redis_conf(topology, deployed_image, options)
    rejected = [r for r in lint_config(text, "redis", [to], source=f"the deployed redis.conf ({deployed_image})")
                if r.rejected]
    return f"the pods share one redis.conf and {to} rejects it: {describe(rejected[0])}" if rejected else None


def template_patch(image: str, *, first: bool) -> dict:
    """The StatefulSet patch of one step (strategic merge: the container by name). `first`: also switch to
    OnDelete (rollingUpdate must go with RollingUpdate), so a template change rolls no pod by itself."""
    spec: dict[str, Any] = {"template": {"spec": {"containers": [{"name": CONTAINER, "image": image}]}}}
    if first:
        spec["updateStrategy"] = {"type": "OnDelete", "rollingUpdate": None}
    return {"spec": spec}


def drill_lines(fault_id: str, fault: Any, start: float, topology: Topology, options: RenderOptions,
                namespace: str) -> list[str]:
    """The dry run's lines for a drill: its refusal, or the API operations of its steps."""
    head = f"# fault {fault_id}: upgrade drill to {fault.to} ({fault.strategy}) at {start:g}s"
    reason = drill_refusal(fault, topology, options)
    if reason:
        return [head, f"#   REFUSED: {reason}"]
    before, after = image_for(topology, options), server_image(fault.to, options)
    sts = f"/apis/apps/v1/namespaces/{namespace}/statefulsets/{STATEFULSET}"
    version = image_binary(after).version_str
    return [head,
            f"#   image {before} -> {after} (Redis pods only; the sentinels keep {before})",
            f"#   inject: PATCH {sts} updateStrategy OnDelete (once, before the first step)",
            "#   inject: each step, one pod (each replica in turn, then the old primary after the switch-over): "
            f"PATCH {sts} template container {CONTAINER} image {after}; "
            f"DELETE /api/v1/namespaces/{namespace}/pods/<pod> (its grace period)",
            f"#   wait: the recreated pod running {after}, answering PING with redis_version {version}",
            "#   switch-over: CLIENT PAUSE WRITE on the primary, replicas caught up, SENTINEL FAILOVER, CLIENT UNPAUSE",
            "#   nothing is healed after: the upgrade is meant to last"]

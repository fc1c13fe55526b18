"""Turn a FaultTarget selector into pods at the moment a fault fires, by asking the servers who is what now.

`random` draws from an RNG seeded by the scenario's seed and the fault id, so a rerun with the
same seed picks the same way whatever order overlapping faults fire in.
"""

from __future__ import annotations

import random

from harness.errors import HarnessError
from harness.deployment import Deployment, Pod
from harness.roles import current_roles, primaries
from harness.scenario import FaultTarget


class TargetError(HarnessError):
    """No pod matches the selector right now (e.g. no replica is up)."""


def rng_for(seed: int, fault_id: str) -> random.Random:
    return random.Random(f"{seed}/{fault_id}")


def describe(target: FaultTarget) -> dict:
    return target.model_dump(exclude_defaults=True)


def resolve(deployment: Deployment, target: FaultTarget, rng: random.Random) -> list[Pod]:
    """The pods the selector means now: one (`first`, `random`) or every match (`all`)."""
    if target.pod is not None:
        return [deployment.pod(target.pod)]
    candidates = candidates_for(deployment, target.role, target.shard)
    if not candidates:
        shard = f" in shard {target.shard}" if target.shard is not None else ""
        raise TargetError(f"no pod is {target.role}{shard} now")
    if target.pick == "all":
        return candidates
    if target.pick == "random":
        return [rng.choice(candidates)]
    return candidates[:1]


def candidates_for(deployment: Deployment, role: str | None, shard: int | None) -> list[Pod]:
    """Pods with `role` now, in deployment order. `any` means any Redis server pod (not a sentinel)."""
    if role == "sentinel":
        return deployment.sentinel_pods()
    if role == "primary" and deployment.topology["kind"] == "sentinel":
        current = primaries(deployment).get(None)  # Sentinel's view: the primary clients are sent to
        return [current] if current is not None else []
    roles = {r.pod: r for r in current_roles(deployment)}
    matches = []
    for pod in deployment.redis_pods():
        r = roles.get(pod.name)
        pod_shard = r.shard if r is not None and r.shard is not None else pod.shard
        if shard is not None and pod_shard != shard:
            continue
        if role == "any" or (r is not None and r.role == role):
            matches.append(pod)
    return matches

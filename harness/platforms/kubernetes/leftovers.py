"""Kubernetes leftovers of killed runs: the run's namespace (or its labelled objects) and its state dir.

A run keeps `k8s-<namespace>/deployment.json` under the state root while it lives; a run killed
with SIGKILL (or a machine that lost power) leaves the namespace and that file behind. Each such
deployment whose owner is gone is torn down through the platform, as the run itself would have.

Namespaces the harness labelled (`app.kubernetes.io/managed-by=redis-harness`) with no state here
may be another machine's run in progress, so they are removed only with `everything` (`--all`),
and never one whose state here names a live owner. Without a reachable cluster nothing of this
is touched, and what was kept is said on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from harness.errors import HarnessError
from harness.deployment import Deployment
from harness.platforms.kubernetes.objects import MANAGED_BY

STATE_GLOB = "k8s-*/deployment.json"


def _cluster_configured() -> bool:
    from harness.platforms.kubernetes.platform import in_cluster

    return bool(os.environ.get("KUBECONFIG")) or Path("~/.kube/config").expanduser().exists() or in_cluster()


def kubernetes_leftovers(root: Path, everything: bool = False) -> list[str]:
    """Tear down dead runs' Kubernetes deployments (and, with `everything`, orphaned labelled namespaces)."""
    states = []
    for state_file in sorted(root.glob(STATE_GLOB)) if root.exists() else []:
        try:
            states.append(Deployment.load(state_file))
        except (OSError, ValueError, TypeError):
            continue
    if not states and not (everything and _cluster_configured()):
        return []
    from harness.platforms.kubernetes.platform import KubernetesPlatform, options_from_env

    platform = KubernetesPlatform(**options_from_env())
    removed: list[str] = []
    live = set()
    for deployment in states:
        if deployment.kept_by_cleanup(everything):
            live.add(deployment.extra.get("namespace"))
            continue
        try:
            removed += platform.teardown(deployment)
        except HarnessError as exc:
            live.add(deployment.extra.get("namespace"))
            _say(f"kept {deployment.state_dir}: {exc}")
    if everything:
        removed += _orphan_namespaces(platform, live)
    return removed


def _orphan_namespaces(platform, keep: set[str | None]) -> list[str]:
    try:
        items = platform.api.core.list_namespace(label_selector=f"app.kubernetes.io/managed-by={MANAGED_BY}").items
    except Exception as exc:  # noqa: BLE001 - no cluster answers: nothing to sweep there
        _say(f"Kubernetes namespaces not checked: {exc}")
        return []
    removed = []
    for ns in items:
        name = ns.metadata.name
        if name in keep or ns.status.phase == "Terminating":
            continue
        removed += platform.delete_namespace(name)
    return removed


def _say(message: str) -> None:
    print(f"redis-harness cleanup: {message}", file=sys.stderr)

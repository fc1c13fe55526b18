"""Sweep what killed runs left behind: processes, namespaces, links and state dirs, found by prefix.

A deployment whose owner process is still alive (a run in progress) is left alone, and so is an
interactive one from `redis-harness deploy` unless `everything` is set. Kubernetes leftovers (the
`k8s-<namespace>` state dirs, and the namespaces the harness labelled) are in
harness.platforms.kubernetes.leftovers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness.platforms.kubernetes.leftovers import kubernetes_leftovers
from harness.platforms.local import netns, registry
from harness.deployment import Deployment, state_root
from harness.platforms.local.platform import LocalPlatform, kill_hard


def _kept_elsewhere(root: Path, everything: bool) -> set[str]:
    """Prefixes of deployments whose state lives under another state root: kept while their owner runs
    (or, interactive ones, unless `everything`); a registry entry whose state file is gone is dropped."""
    kept = set()
    for prefix, state_file in registry.registered().items():
        try:
            deployment = Deployment.load(state_file)
        except (OSError, ValueError, TypeError):
            registry.unregister(prefix)
            continue
        if state_file.parent.parent == root.resolve():
            continue  # judged above, from its own state file
        if deployment.kept_by_cleanup(everything):
            kept.add(prefix)
    return kept


def _processes_under(root: Path) -> list[int]:
    """Server processes whose command line names a file under the state root (loopback-mode pods)."""
    found = []
    needle = str(root).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:
            found.append(int(entry.name))
    return found


def cleanup(everything: bool = False, root: Path | None = None) -> list[str]:
    root = root or state_root()
    removed: list[str] = []
    kept_prefixes: set[str] = set()
    platform = LocalPlatform(root)
    for state_file in sorted(root.glob("rh*/deployment.json")) if root.exists() else []:
        try:
            deployment = Deployment.load(state_file)
        except (OSError, ValueError, TypeError):
            continue
        if deployment.kept_by_cleanup(everything):
            kept_prefixes.add(state_file.parent.name)
            continue
        removed += platform.teardown(deployment)
    kept_prefixes |= _kept_elsewhere(root, everything)
    # Orphans with no readable state file: anything carrying the prefix that no live deployment owns.
    for ns in netns.list_netns():
        if ns.split("-")[0] in kept_prefixes:
            continue
        for pid in netns.netns_pids(ns):
            kill_hard(pid)
            removed.append(f"process {pid} (in {ns})")
        netns.delete_netns(ns)
        removed.append(f"netns {ns}")
    removed += kubernetes_leftovers(root, everything)
    for link in netns.list_links():
        if link[:8] not in kept_prefixes:
            netns.delete_link(link)
            removed.append(f"link {link}")
    if root.exists():
        for pid in _processes_under(root):
            if not any(prefix in Path(f"/proc/{pid}/cmdline").read_text(errors="replace") for prefix in kept_prefixes):
                kill_hard(pid)
                removed.append(f"process {pid}")
        for d in root.glob("rh*"):
            if d.is_dir() and d.name not in kept_prefixes:
                shutil.rmtree(d, ignore_errors=True)
                removed.append(f"dir {d}")
    return removed

"""Pod logs as evidence: every container's log copied out of the cluster before the namespace goes.

Why: the checker times detection and promotion from the servers' own logs (Sentinel `+odown`,
`+switch-master`; cluster `FAIL message received`), not from when the harness heard of them, which
during a partition can be seconds late. On the local platform the servers write to files; on
Kubernetes the logs live with the kubelet and vanish with the pod. So:

- `<pod>.log` holds a harness pod's server container (the file name the local platform uses, and
  that harness.checker.server_logs reads), in order: the logs of incarnations that were deleted
  during the run (read just before the delete), the previous container (a restart), the current one.
- Every other container (the fault sidecar, the cluster bootstrap Job, Locust) goes to
  `containers/<pod>.<container>.log`, out of the way of the checker's `sentinel-*.log` globs.
- A marker line starting with `#` opens each piece; no server log line starts that way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

Reader = Callable[..., str]  # CoreV1Api.read_namespaced_pod_log


def marker(pod: str, container: str, uid: str, what: str) -> str:
    return f"# redis-harness: pod {pod} (uid {uid}) container {container}: {what}\n"


def read_container_logs(read: Reader, namespace: str, pod: Any, *, only: str | None = None) -> dict[str, list[str]]:
    """container name -> its log pieces (previous container first), each opened by a marker line.
    A piece that cannot be read (no previous container, the pod going away) is left out. `only`: that
    container's alone."""
    name, uid = pod.metadata.name, pod.metadata.uid
    restarts = {cs.name: cs.restart_count for cs in (pod.status.container_statuses or [])}
    containers = [c.name for c in (pod.spec.init_containers or [])] + [c.name for c in pod.spec.containers]
    containers = [c for c in containers if only is None or c == only]
    pieces: dict[str, list[str]] = {}
    for container in containers:
        for previous in (True, False) if restarts.get(container) else (False,):
            try:
                text = read(name, namespace, container=container, previous=previous)
            except Exception:  # noqa: BLE001 - a log the kubelet no longer has is simply not there
                continue
            what = "previous container" if previous else "container"
            pieces.setdefault(container, []).append(marker(name, container, uid, what) + _ended(text or ""))
    return pieces


def main_container(pod: Any) -> str:
    """The server's container: the first one of the pod spec (`redis` or `sentinel`; the sidecar comes after)."""
    return pod.spec.containers[0].name


def write_logs(logs_dir: Path, pieces_by_pod: dict[str, dict[str, list[str]]], main: dict[str, str],
               harness_pods: set[str]) -> list[str]:
    """Write what `read_container_logs` (and earlier, deleted incarnations) gave; returns the files written."""
    written = []
    for pod, containers in sorted(pieces_by_pod.items()):
        for container, pieces in containers.items():
            if pod in harness_pods and container == main.get(pod):
                path = logs_dir / f"{pod}.log"
            else:
                path = logs_dir / "containers" / f"{pod}.{container}.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(pieces))
            written.append(str(path))
    return written


def _ended(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"

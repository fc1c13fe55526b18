"""Which pod a server means when it names an address: meta.json's pods and their aliases.

Servers report addresses, not pod names: Sentinel's `+switch-master` on Kubernetes names the
pod's DNS name (`redis-1.redis-headless.<ns>.svc.cluster.local 6379`), not the address the harness
dials. meta.json lists each pod's `host`/`port` and, where the platform knows more names for it,
`aliases` ("host:port" strings), so results name pods, never addresses.
"""

from __future__ import annotations


def pod_addresses(pods: list[dict]) -> dict[tuple[str, int], str]:
    """(host, port) -> pod name, for every pod's own address and each of its aliases."""
    found: dict[tuple[str, int], str] = {}
    for pod in pods:
        name = pod.get("name")
        if not name:
            continue
        for alias in pod.get("aliases") or []:
            host, _, port = str(alias).rpartition(":")
            if host and port.isdigit():
                found.setdefault((host, int(port)), name)
        found[(str(pod.get("host")), int(pod.get("port") or 0))] = name
    return found

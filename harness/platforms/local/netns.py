"""Linux network plumbing for the local platform: a bridge, one namespace + veth per pod.

Every name carries the deployment's prefix (`rh` + 6 hex digits) so that runs never collide
and `cleanup` can find what a killed run left behind.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from harness.errors import PlatformError

PREFIX_RE = re.compile(r"^rh[0-9a-f]{6}")
SUPERNET = "10.213"  # 10.213.N.0/24 per deployment; only addresses inside the harness's own namespaces


def is_root() -> bool:
    return os.geteuid() == 0


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise PlatformError(f"`ip {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc


@dataclass(frozen=True)
class Names:
    """All names of one deployment's network objects (interface names are at most 15 characters)."""

    key: str  # 6 hex digits

    @property
    def prefix(self) -> str:
        return f"rh{self.key}"

    @property
    def bridge(self) -> str:
        return f"{self.prefix}br"

    def netns(self, pod: str) -> str:
        return f"{self.prefix}-{pod}"

    def host_veth(self, index: int) -> str:
        return f"{self.prefix}v{index}"


def pick_subnet(key: str) -> str:
    """A /24 in 10.213.0.0/16 no existing route uses, derived from the key so it is stable per run."""
    used = ip("-4", "route", "show").stdout
    start = int(key, 16) % 250
    for step in range(250):
        third = 1 + (start + step) % 250
        subnet = f"{SUPERNET}.{third}"
        if f"{subnet}.0/24" not in used:
            return subnet
    raise PlatformError("no free /24 left in 10.213.0.0/16 for a new deployment (run `redis-harness cleanup`)")


# One lock for every harness process on the machine (not per state dir: tests use several)
SUBNET_LOCK = "/run/lock/redis-harness-subnets.lock"


@contextmanager
def subnet_lock() -> Iterator[None]:
    """Choosing a free /24 and taking it (the bridge's address) is one step for concurrent deployments:
    two runs starting together once chose the same subnet and talked to each other's pods."""
    os.makedirs(os.path.dirname(SUBNET_LOCK), exist_ok=True)
    with open(SUBNET_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def create_bridge_in_free_subnet(names: Names) -> tuple[str, str]:
    """Pick a free subnet and create the bridge in it, under the machine-wide lock: (subnet, own address)."""
    with subnet_lock():
        subnet = pick_subnet(names.key)
        return subnet, create_bridge(names, subnet)


def create_bridge(names: Names, subnet: str) -> str:
    """Create the bridge; returns the harness's own address on it."""
    address = f"{subnet}.1"
    ip("link", "add", names.bridge, "type", "bridge")
    ip("addr", "add", f"{address}/24", "dev", names.bridge)
    ip("link", "set", names.bridge, "up")
    return address


def create_pod_netns(names: Names, pod: str, index: int, address: str) -> str:
    ns = names.netns(pod)
    veth = names.host_veth(index)
    ip("netns", "add", ns)
    ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
    ip("link", "set", veth, "master", names.bridge, "up")
    ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
    ip("-n", ns, "link", "set", "eth0", "up")
    ip("-n", ns, "link", "set", "lo", "up")
    return ns


def netns_pids(ns: str) -> list[int]:
    out = ip("netns", "pids", ns, check=False).stdout
    return [int(x) for x in out.split()]


def list_netns(prefix_re: re.Pattern = PREFIX_RE) -> list[str]:
    out = ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line and prefix_re.match(line.split()[0])]


def list_links(prefix_re: re.Pattern = PREFIX_RE) -> list[str]:
    out = ip("-o", "link", "show", check=False).stdout
    names = [line.split(": ")[1].split("@")[0] for line in out.splitlines() if ": " in line]
    return [n for n in names if prefix_re.match(n)]


def delete_netns(ns: str) -> None:
    ip("netns", "delete", ns, check=False)


def delete_link(link: str) -> None:
    ip("link", "delete", link, check=False)

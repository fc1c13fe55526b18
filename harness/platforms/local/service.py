"""A Kubernetes Service on the local platform, made the way kube-proxy (iptables mode) makes one.

Why: the naive deployment's lesson is what a ClusterIP Service does to three independent primaries:
each new connection is DNATed to one endpoint drawn at random, so a write and the read after it
may land on different pods. kube-proxy writes, per Service, a chain that jumps to endpoint chains
with `-m statistic --mode random --probability 1/n, 1/(n-1), ..., 1`, each DNATing to its pod, and
marks the packet for MASQUERADE. The same rules are made here, inside a namespace of the harness's
own (`rh<key>-svc`) that owns the Service address on the deployment's bridge: clients connect to
that address, the namespace forwards to the pod and masquerades, so replies come back through it
and conntrack undoes the NAT. Nothing is added to the host's tables; the namespace (and with it
every rule) goes with the deployment, and `cleanup` finds it by its prefix like a pod's.
"""

from __future__ import annotations

import subprocess

from harness.errors import PlatformError
from harness.platforms.local import netns

SERVICE_POD = "svc"  # the namespace is rh<key>-svc
SERVICE_HOST_OCTET = 2  # <subnet>.2: the bridge is .1, pods start at .10
MASQ_MARK = "0x4000/0x4000"  # kube-proxy's KUBE-MARK-MASQ bit


def service_chain_rules(address: str, port: int, endpoints: list[str]) -> list[list[str]]:
    """The iptables (nat table) arguments, in order: kube-proxy's KUBE-SERVICES / KUBE-SVC-* / KUBE-SEP-*
    shape with RH- names. Pure, so the rules can be read and tested without a namespace."""
    rules = [["-N", "RH-SVC"]] + [["-N", f"RH-SEP-{i}"] for i in range(len(endpoints))]
    rules.append(["-A", "PREROUTING", "-d", f"{address}/32", "-p", "tcp", "--dport", str(port), "-j", "RH-SVC"])
    rules.append(["-A", "RH-SVC", "-j", "MARK", "--set-xmark", MASQ_MARK])
    for i in range(len(endpoints)):
        left = len(endpoints) - i
        draw = ["-m", "statistic", "--mode", "random", "--probability", f"{1 / left:.11f}"] if left > 1 else []
        rules.append(["-A", "RH-SVC", *draw, "-j", f"RH-SEP-{i}"])
    for i, endpoint in enumerate(endpoints):
        rules.append(["-A", f"RH-SEP-{i}", "-p", "tcp", "-j", "DNAT", "--to-destination", f"{endpoint}:{port}"])
    rules.append(["-A", "POSTROUTING", "-m", "mark", "--mark", MASQ_MARK, "-j", "MASQUERADE"])
    return rules


def create_service(names: netns.Names, subnet: str, endpoints: list[str], port: int) -> dict:
    """Make the Service namespace and its rules; returns what Deployment.extra["service"] keeps."""
    ns = names.netns(SERVICE_POD)
    address = f"{subnet}.{SERVICE_HOST_OCTET}"
    veth = f"{names.prefix}vs"
    netns.ip("netns", "add", ns)
    netns.ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
    netns.ip("link", "set", veth, "master", names.bridge, "up")
    netns.ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
    netns.ip("-n", ns, "link", "set", "eth0", "up")
    netns.ip("-n", ns, "link", "set", "lo", "up")
    # a router that sends packets back out the interface they came in on would tell the client to go to
    # the pod directly (an ICMP redirect); the Service must stay in the path
    for key, value in (("net.ipv4.ip_forward", "1"), ("net.ipv4.conf.all.send_redirects", "0"),
                       ("net.ipv4.conf.eth0.send_redirects", "0")):
        _in_ns(ns, ["sysctl", "-q", "-w", f"{key}={value}"])
    for rule in service_chain_rules(address, port, endpoints):
        _in_ns(ns, ["iptables", "-w", "-t", "nat", *rule])
    return {"netns": ns, "host": address, "port": port, "endpoints": endpoints, "link": veth}


def service_rules(ns: str) -> str:
    """`iptables -t nat -S` inside the Service namespace (for tests and for the curious)."""
    return _in_ns(ns, ["iptables", "-w", "-t", "nat", "-S"]).stdout


def _in_ns(ns: str, argv: list[str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise PlatformError(f"in the Service namespace {ns}, `{' '.join(argv)}` failed: {proc.stderr.strip()}")
    return proc

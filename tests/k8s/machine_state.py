"""What the fixture cluster may change on this machine, as data to compare before `up` and after `down`.

    python tests/k8s/machine_state.py snapshot > before.json
    python tests/k8s/machine_state.py compare before.json after.json   # exit 1 and a diff if they differ
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

FIXTURE_PROCESSES = re.compile(
    r"(^|/)(etcd|containerd|containerd-shim[\w-]*|runc|kube-apiserver|kube-controller-manager|kube-scheduler"
    r"|kubelet|kube-proxy|pause)$")
SYSCTLS = ["vm.overcommit_memory", "vm.panic_on_oom", "kernel.panic", "kernel.panic_on_oops",
           "kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes", "net.ipv4.ip_forward",
           "net.ipv4.conf.all.route_localnet", "net.bridge.bridge-nf-call-iptables",
           "net.bridge.bridge-nf-call-ip6tables", "net.netfilter.nf_conntrack_max"]
FIXTURE_DIRS = ["/var/lib/redis-harness-k8s", "/run/containerd"]
# the local platform's deployments (tests running beside this one) come and go with names of their own
# (rh<6 hex>br, rh<6 hex>-redis-0, 10.213.x.y): they have leak checks of their own and are not the fixture's;
# nor is /run/netns itself, which iproute2 mounts when anyone first makes a named network namespace
# (nor are the `rh-test-*` cgroups and mounts that tests running beside it make and remove)
NOT_OURS = re.compile(r"(^|[/ :])rh[0-9a-f]{6}|(^|/)rh-test-|10\.213\.|^/run/netns$")


def _run(*argv: str) -> list[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        return []


def processes() -> list[str]:
    """Fixture-like processes: by executable name, or anything running from the fixture's files."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        cmdline = b" ".join(argv).decode(errors="replace").strip()
        if FIXTURE_PROCESSES.search(exe) or "redis-harness-k8s" in cmdline or "tests/k8s/dns.py" in cmdline:
            found.append(f"{pid} {cmdline}")
    return sorted(found)


def iptables_rules() -> list[str]:
    rules = []
    for tool in ("iptables-save", "ip6tables-save"):
        for line in _run(tool):
            if line.startswith("#"):
                continue
            rules.append(f"{tool}: " + re.sub(r"\[\d+:\d+\]", "", line).strip())
    return sorted(set(rules))


def cgroups() -> list[str]:
    found = []
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        if root.count("/") >= 6:  # /sys/fs/cgroup/<controller>/a/b
            dirs.clear()
        if any(k in root for k in ("kubepods", "k8s.io", "cri-containerd")) or root.count("/") <= 5:
            found.append(root)
    return sorted(found)


def sysctls() -> dict[str, str]:
    values = {}
    for key in SYSCTLS:
        path = Path("/proc/sys") / key.replace(".", "/")
        if path.exists():
            values[key] = path.read_text().strip()
    return values


def snapshot() -> dict:
    return {
        "processes": processes(),
        "mounts": sorted({line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()}),
        "links": sorted(re.split(r"[@:]", line.split(": ", 1)[1])[0] for line in _run("ip", "-o", "link", "show")),
        "netns": sorted(os.listdir("/var/run/netns")) if os.path.isdir("/var/run/netns") else [],
        "routes": sorted(_run("ip", "route", "show")),
        "iptables": iptables_rules(),
        "cgroups": cgroups(),
        "hosts": Path("/etc/hosts").read_text().splitlines(),
        "sysctls": sysctls(),
        "fixture_dirs": [d for d in FIXTURE_DIRS if os.path.exists(d)],
    }


def differences(before: dict, after: dict) -> list[str]:
    """What `after` has that `before` did not, and what it lost, per aspect."""
    out = []
    for key in before.keys() | after.keys():
        a, b = before.get(key), after.get(key)
        if isinstance(a, dict) or isinstance(b, dict):
            a, b = a or {}, b or {}
            out += [f"{key}: {k} {a.get(k)} -> {b.get(k)}" for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
            continue
        if key == "processes":  # pids of unrelated processes churn: compare commands
            a = [p.split(" ", 1)[1] if " " in p else p for p in a or []]
            b = [p.split(" ", 1)[1] if " " in p else p for p in b or []]
        a = [x for x in a or [] if not NOT_OURS.search(str(x))]
        b = [x for x in b or [] if not NOT_OURS.search(str(x))]
        added, removed = set(b) - set(a), set(a) - set(b)
        out += [f"{key}: + {x}" for x in sorted(added)] + [f"{key}: - {x}" for x in sorted(removed)]
    return out


def main() -> int:
    if sys.argv[1:2] == ["snapshot"]:
        json.dump(snapshot(), sys.stdout, indent=1)
        return 0
    if sys.argv[1:2] == ["compare"] and len(sys.argv) == 4:
        diff = differences(*(json.loads(Path(p).read_text()) for p in sys.argv[2:4]))
        print("\n".join(diff) or "machine unchanged")
        return 1 if diff else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

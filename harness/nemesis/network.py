"""iptables and tc command lines for the network faults: data in, argv out, nothing run here.

Every rule a fault adds lives in its own chain (`RH-<fault id>`) inside the pod's network
namespace, hooked from INPUT and/or OUTPUT for non-loopback traffic only. Healing is then
"unhook, flush, delete that chain": exact, and harmless to repeat. Both platforms run these
argvs through `Platform.run_in_pod_network`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Literal

Argv = list[str]
Rule = list[str]  # one rule as iptables arguments after the binary: ["-A", chain, ...]
IPTABLES = ["iptables", "-w", "5"]  # -w: wait for the xtables lock when heals overlap in one namespace
CHAIN_PREFIX = "RH-"
HOOKS = {"INPUT": "-i", "OUTPUT": "-o"}


def chain_name(fault_id: str) -> str:
    """`RH-0-1` for fault id `0.1` (iptables chain names: at most 28 characters)."""
    return CHAIN_PREFIX + re.sub(r"[^A-Za-z0-9_-]", "-", fault_id)[:25]


def _jump(hook: str, chain: str) -> list[str]:
    """The jump from a hook to the chain, for every packet not on the loopback interface."""
    return ["!", HOOKS[hook], "lo", "-j", chain]


def install(chain: str, rules: list[Rule], hooks: Iterable[str] = ("INPUT", "OUTPUT")) -> Argv:
    """One iptables-restore transaction: the chain, its rules, and a jump to it first thing in each hook.

    Atomic, so a pod never runs with half a fault's rules, and one process per pod keeps the
    time between the first and the last pod's rules short. Lines go through printf's
    arguments, never through the shell's parser.
    """
    lines = ["*filter", f":{chain} - [0:0]"]
    lines += [" ".join(["-I", hook, "1", *_jump(hook, chain)]) for hook in hooks]
    lines += [" ".join(rule) for rule in rules] + ["COMMIT"]
    return ["sh", "-c", 'printf "%s\\n" "$@" | iptables-restore --noflush', "sh", *lines]


def chain_unhook(chain: str, hook: str) -> Argv:
    """Delete one jump to the chain; fails (harmlessly) once none is left."""
    return [*IPTABLES, "-D", hook, *_jump(hook, chain)]


def chain_remove(chain: str) -> list[Argv]:
    """Flush and delete the chain; run after every jump to it is gone. Each step may fail if already done."""
    return [[*IPTABLES, "-F", chain], [*IPTABLES, "-X", chain]]


def chain_list(chain: str) -> Argv:
    return [*IPTABLES, "-S", chain]


def verdict(action: Literal["drop", "reject"]) -> list[list[str]]:
    """DROP makes clients time out; REJECT with a TCP reset makes them fail fast (another code path)."""
    if action == "drop":
        return [["-j", "DROP"]]
    return [["-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"], ["-j", "REJECT"]]


@dataclass(frozen=True)
class Cut:
    """Packets from any `sources` address to any `destinations` address are stopped."""

    sources: frozenset[str]
    destinations: frozenset[str]


def partition_cuts(side_a: set[str], side_b: set[str], mode: str) -> list[Cut]:
    """Symmetric split: both directions; one-way: only A -> B."""
    a, b = frozenset(side_a), frozenset(side_b)
    return [Cut(a, b)] if mode == "one-way" else [Cut(a, b), Cut(b, a)]


def cut_rules(chain: str, own_address: str, cuts: list[Cut], action: Literal["drop", "reject"]) -> list[Rule]:
    """Rules for the pod at `own_address`: it stops what it would send across a cut and what it would receive.

    Both ends of a cut carry rules, so a side that is not a pod (the harness's client address)
    is cut off by the pods' rules alone.
    """
    rules: list[Rule] = []
    for cut in cuts:
        peers: list[tuple[str, str]] = []
        if own_address in cut.sources:
            peers += [("-d", dst) for dst in sorted(cut.destinations - {own_address})]
        if own_address in cut.destinations:
            peers += [("-s", src) for src in sorted(cut.sources - {own_address})]
        for flag, address in peers:
            rules += [["-A", chain, flag, address, *v] for v in verdict(action)]
    return rules


def loss_rules(chain: str, percent: float, peers: list[str] | None = None) -> list[Rule]:
    """Drop each packet into or out of the pod with probability percent/100 (only to/from `peers` if given)."""
    probability = f"{percent / 100:.6f}"
    match = ["-m", "statistic", "--mode", "random", "--probability", probability, "-j", "DROP"]
    if peers is None:
        return [["-A", chain, *match]]
    return [["-A", chain, flag, peer, *match] for peer in sorted(peers) for flag in ("-s", "-d")]


def counters(chain_or_hook: str) -> Argv:
    """Packet counters of every rule in a chain (`-x`: exact numbers)."""
    return [*IPTABLES, "-L", chain_or_hook, "-v", "-x", "-n"]


def packets_to(listing: str, target: str) -> int:
    """Packets counted by the rules of a `counters` listing whose target is `target` (a chain, DROP, ...)."""
    total = 0
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[0].isdigit() and parts[2] == target:
            total += int(parts[0])
    return total


def nfqueue_rule(chain: str, queue: int) -> Rule:
    """Hand packets to the user-space delayer; with --queue-bypass they pass untouched while none listens."""
    return ["-A", chain, "-j", "NFQUEUE", "--queue-num", str(queue), "--queue-bypass"]


# ----------------------------------------------------------------------------------- tc (bandwidth)


def interface_of(ip_addr_output: str, address: str) -> str | None:
    """The interface holding `address`, from `ip -o -4 addr show` output."""
    for line in ip_addr_output.splitlines():
        parts = line.split()
        if "inet" in parts and parts[parts.index("inet") + 1].split("/")[0] == address:
            return parts[1].split("@")[0]
    return None


def ifb_name(fault_id: str) -> str:
    """An IFB device for one fault's ingress shaping (interface names: at most 15 characters)."""
    return "rhifb" + re.sub(r"[^A-Za-z0-9]", "", fault_id)[-10:]


def htb(dev: str, rate_kbit: int) -> list[Argv]:
    """One HTB class holding every packet the device sends to `rate_kbit`."""
    rate = f"{rate_kbit}kbit"
    return [
        ["tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "1"],
        ["tc", "class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate", rate, "ceil", rate],
    ]


def ingress_redirect(dev: str, ifb: str) -> list[Argv]:
    """Send what `dev` receives through `ifb`, whose egress can then be shaped (HTB shapes only egress)."""
    return [
        ["ip", "link", "add", ifb, "type", "ifb"],
        ["ip", "link", "set", ifb, "up"],
        ["tc", "qdisc", "add", "dev", dev, "handle", "ffff:", "ingress"],
        ["tc", "filter", "add", "dev", dev, "parent", "ffff:", "protocol", "all", "u32", "match", "u32", "0", "0",
         "action", "mirred", "egress", "redirect", "dev", ifb],
    ]


def bandwidth_setup(dev: str, ifb: str, rate_kbit: int, direction: str) -> list[Argv]:
    argv: list[Argv] = []
    if direction in ("egress", "both"):
        argv += htb(dev, rate_kbit)
    if direction in ("ingress", "both"):
        argv += ingress_redirect(dev, ifb) + htb(ifb, rate_kbit)
    return argv


def bandwidth_teardown(dev: str, ifb: str) -> list[Argv]:
    """Each step may fail when already undone (or never done): run them all, ignore failures."""
    return [
        ["tc", "qdisc", "del", "dev", dev, "root"],
        ["tc", "qdisc", "del", "dev", dev, "ingress"],
        ["ip", "link", "del", ifb],
    ]

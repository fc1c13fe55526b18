"""Faults on Kubernetes as data: the API operations that inject and heal one firing.

The platform executes these operations; `--dry-run` prints them. Keeping them as data means the
plan a user reads is the plan that runs, and the tests check it without a cluster.

Network faults have three backends, chosen per fault (`choose_backend`):
- `sidecar`: iptables / tc run through exec in the pod's `fault` container (same network
  namespace, NET_ADMIN). Acts on every packet, replication and Sentinel traffic included.
  Latency is the local platform's NFQUEUE delayer (harness/nemesis/delayer.py), which the
  project's sidecar image installs as `redis-harness-delayer`: no sch_netem needed on the node,
  and the same mechanism, so the same truth, on both platforms. With another sidecar image,
  latency is refused before anything is deployed (`sidecar_ships_delayer`).
- `chaos-mesh`: a NetworkChaos object, when the Chaos Mesh CRDs are installed.
- `networkpolicy`: partitions only, as NetworkPolicy objects; needs a CNI that enforces them
  (Calico, Cilium, ...), may not cut connections that are already open, and cannot REJECT.
"""

from __future__ import annotations

import re
import shlex
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.errors import CapabilityError
from harness.nemesis import latency, network
from harness.platforms.kubernetes.objects import MANAGED_BY, POD_NAME_LABEL, POD_TLS_ARGS, RUN_LABEL, label_value
from harness.pod_config import REDIS_PORT, SENTINEL_PORT

NETWORK_KINDS = ("partition", "packet-loss", "latency", "bandwidth")
BACKENDS = ("sidecar", "chaos-mesh", "networkpolicy")
SAFETY_MARGIN_S = 60  # sidecar rules and NetworkChaos heal themselves this long after the planned end
CHAOS_MESH_API = "chaos-mesh.org/v1alpha1"
CLIENT_LABEL = "redis-harness/client"  # in-cluster clients (a harness Job, Locust workers) carry it
POD_DEVICE = "eth0"  # a pod's interface on the pod network
DELAYER = latency.SIDECAR_COMMAND  # harness/nemesis/delayer.py as the project's sidecar image installs it
PROJECT_SIDECAR_IMAGES = ("redis-harness-netfault", "redis-harness/netfault")  # repositories of that image


def sidecar_ships_delayer(image: str) -> bool:
    """Whether a sidecar image is the project's (manifests/components/fault-sidecar/image), which ships
    the latency delayer. Other images (netshoot, ...) are not assumed to: latency is refused for them."""
    repository = image.split("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository[: len(repository) - len(last) + last.index(":")]
    return repository.endswith(PROJECT_SIDECAR_IMAGES)


@dataclass(frozen=True)
class Op:
    """One API operation. `target` is `kind/name`; `params` holds what the verb needs."""

    verb: str  # delete | create | exec | wait | get (checks only)
    target: str
    params: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None

    def describe(self, namespace: str) -> str:
        kind, _, name = self.target.partition("/")
        path = f"{_api_path(kind)}/namespaces/{namespace}/{kind}/{name}"
        if self.verb == "delete":
            query = "&".join(f"{k}={v}" for k, v in self.params.items())
            return f"DELETE {path}" + (f"?{query}" if query else "")
        if self.verb == "create":
            return f"POST {_api_path(kind)}/namespaces/{namespace}/{kind}  ({(self.body or {}).get('kind')} {name})"
        if self.verb == "exec":
            argv = " ".join(shlex.quote(a) for a in self.params["argv"])
            return f"POST {path}/exec?container={self.params['container']}  $ {argv}"
        if self.verb == "wait":
            return f"WAIT {self.target}: {self.params['until']} (timeout {self.params.get('timeout_s', 300):g}s)"
        if self.verb == "get":
            return f"GET {path}"
        raise ValueError(f"unknown verb {self.verb}")


def _api_path(kind: str) -> str:
    return {"networkpolicies": "/apis/networking.k8s.io/v1", "networkchaos": f"/apis/{CHAOS_MESH_API}",
            "statefulsets": "/apis/apps/v1"}.get(kind, "/api/v1")


@dataclass
class FaultPlan:
    fault_id: str
    kind: str
    backend: str  # "api" for pod faults
    pods: list[str]
    inject: list[Op]
    heal: list[Op]
    notes: list[str] = field(default_factory=list)
    # how a run checks that the fault took: exec ops that exit 0 while it is in place, or `get` of an object
    checks: list[Op] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (the nemesis keeps it in its record, so any process can heal the firing)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FaultPlan":
        ops = {k: [Op(**op) for op in data.get(k) or []] for k in ("inject", "heal", "checks")}
        return cls(**{**data, **ops})

    def describe(self, namespace: str) -> dict[str, list[str]]:
        """The operations as the dry run prints them (and a live run records them)."""
        return {"inject": [op.describe(namespace) for op in self.inject],
                "heal": [op.describe(namespace) for op in self.heal]}


@dataclass(frozen=True)
class Peers:
    """What a network fault acts between, resolved when it fires.

    `side_a` holds the targets; `side_b` the other side (the rest of the topology for `isolate`).
    `ips` maps pod names to their current pod IPs (`<ip of POD>` placeholders in a dry run).
    `client` is how the harness's clients reach pods: `loopback` (port-forward: traffic enters each
    pod on its own lo) or an address (in-cluster or routed pod IPs).
    """

    side_a: list[str]
    side_b: list[str]
    ips: dict[str, str]
    client: str = "loopback"
    ports: dict[str, int] = field(default_factory=dict)  # pod -> server port (6379 / 26379)


# --------------------------------------------------------------------------- choosing a backend


def choose_backend(kind: str, *, sidecar: bool, chaos_mesh: bool, preferred: str = "auto",
                   action: str = "drop", delayer: bool = True) -> str:
    """The backend for a network fault, or CapabilityError saying what is missing. `delayer`: the
    sidecar image ships the latency delayer (the project's image does)."""
    available = {"sidecar": sidecar and (kind != "latency" or delayer), "chaos-mesh": chaos_mesh,
                 "networkpolicy": kind == "partition"}
    order = list(BACKENDS) if preferred == "auto" else [preferred]
    for backend in order:
        if not available[backend]:
            continue
        if backend == "networkpolicy" and action == "reject":
            continue
        if backend == "chaos-mesh" and action == "reject":
            continue
        return backend
    if preferred != "auto":
        raise CapabilityError(_missing(preferred, kind, action, sidecar=sidecar))
    needs = "the fault sidecar (platform option fault_sidecar) or Chaos Mesh (its CRDs are not installed)"
    if kind == "latency" and sidecar:
        needs = f"{NO_DELAYER}, or Chaos Mesh (its CRDs are not installed)"
    if kind == "partition" and action == "reject":
        needs = "the fault sidecar (REJECT with TCP reset is an iptables action; NetworkPolicy and Chaos Mesh only drop)"
    raise CapabilityError(f"{kind} on Kubernetes needs {needs}")


NO_DELAYER = ("the latency delayer in the fault sidecar (`redis-harness-delayer`: the NFQUEUE delayer the project's "
              "sidecar image ships, built from manifests/components/fault-sidecar/image; the sidecar image in use is "
              "not that image: set it with REDIS_HARNESS_K8S_SIDECAR_IMAGE / sidecar_image, or say that yours ships "
              "it with REDIS_HARNESS_K8S_SIDECAR_DELAYER=1)")


def _missing(backend: str, kind: str, action: str, *, sidecar: bool = False) -> str:
    if backend == "networkpolicy" and kind != "partition":
        return f"{kind} cannot be made with NetworkPolicy (it only allows or denies traffic)"
    if action == "reject" and backend != "sidecar":
        return f"partition action 'reject' needs the sidecar backend; {backend} only drops"
    if backend == "chaos-mesh":
        return "Chaos Mesh is not installed in this cluster (no chaos-mesh.org CRDs)"
    if kind == "latency" and sidecar:
        return f"latency on Kubernetes needs {NO_DELAYER}"
    return "the fault sidecar is not enabled (platform option fault_sidecar)"


# --------------------------------------------------------------------------- pod faults


def plan_pod_kill(fault_id: str, pod: str, *, graceful: bool = False, delete_claim: bool = False,
                  timeout_s: float = 300) -> FaultPlan:
    """pod-kill: delete with grace 0 (SIGKILL); pod-delete: the pod's own grace period. The StatefulSet
    recreates the pod under the same name; an emptyDir is new, a PVC is kept unless `delete_claim`."""
    inject = []
    if delete_claim:
        inject.append(Op("delete", f"persistentvolumeclaims/data-{pod}"))
    inject.append(Op("delete", f"pods/{pod}", {} if graceful else {"gracePeriodSeconds": 0}))
    heal = [Op("wait", f"pods/{pod}", {"until": "recreated by its StatefulSet (new uid) and Ready",
                                       "timeout_s": timeout_s})]
    return FaultPlan(fault_id, "pod-delete" if graceful else "pod-kill", "api", [pod], inject, heal)


def plan_pause(fault_id: str, pod: str, *, duration_s: float, method: str, kind: str, sidecar: bool,
               password_env: bool = True) -> FaultPlan:
    """debug-sleep: DEBUG SLEEP in the server (Redis pods only; nothing ends it early).
    sigstop: SIGSTOP/SIGCONT from the fault sidecar, which shares the pod's process namespace."""
    if method == "debug-sleep":
        if kind != "redis":
            raise CapabilityError("pause by DEBUG SLEEP works on Redis pods only; use method: sigstop for sentinels")
        auth = '[ -z "$REDIS_PASSWORD" ] || export REDISCLI_AUTH="$REDIS_PASSWORD"; '  # not on a command line
        tls = f"${{REDIS_TLS:+{POD_TLS_ARGS} }}"  # topology.tls (the pod's REDIS_TLS)
        argv = ["sh", "-c", f"{auth}redis-cli -p 6379 {tls}DEBUG SLEEP {duration_s:g} >/dev/null 2>&1 &"]
        inject = [Op("exec", f"pods/{pod}", {"container": "redis", "argv": argv})]
        heal = [Op("wait", f"pods/{pod}", {"until": "answers PING (DEBUG SLEEP ends by itself)",
                                           "timeout_s": duration_s + 60})]
        return FaultPlan(fault_id, "pause", "api", [pod], inject, heal)
    if not sidecar:
        raise CapabilityError("pause by SIGSTOP on Kubernetes needs the fault sidecar; or use method: debug-sleep")
    stop = ["sh", "-c", _stop_script(duration_s)]
    cont = ["sh", "-c", signal_servers("CONT") + "; true"]
    return FaultPlan(fault_id, "pause", "sidecar", [pod], [Op("exec", f"pods/{pod}", {"container": "fault", "argv": stop})],
                     [Op("exec", f"pods/{pod}", {"container": "fault", "argv": cont})])


SERVER_PROCESSES = "redis-server|redis-sentinel|valkey-server|valkey-sentinel"


def signal_servers(signal: str, *, must_find: bool = False) -> str:
    """sh that sends `signal` to every Redis/Valkey server process the sidecar sees (the pod shares
    its process namespace). Plain sh over /proc, no pkill: the sidecar image needs nothing but `sh`.
    With `must_find`, exits 3 naming the cause when no server process is visible, so a pause that
    cannot stop anything fails loudly instead of passing as done."""
    script = (f'n=0; for d in /proc/[0-9]*; do read -r comm < "$d/comm" 2>/dev/null || continue; '
              f'case "$comm" in {SERVER_PROCESSES}) kill -{signal} "${{d#/proc/}}" && n=$((n+1));; esac; done')
    if must_find:
        script += ('; if [ "$n" -eq 0 ]; then echo "no redis/valkey server process is visible from the fault '
                   'sidecar (is shareProcessNamespace on in the pod spec?)" >&2; exit 3; fi')
    return script


def _stop_script(duration_s: float) -> str:
    """SIGSTOP now; SIGCONT by itself after the planned end plus a margin if the harness never heals."""
    return (signal_servers("STOP", must_find=True)
            + f"; (sleep {duration_s + SAFETY_MARGIN_S:g}; {signal_servers('CONT')}) </dev/null >/dev/null 2>&1 &")


# --------------------------------------------------------------------------- network faults: sidecar


def chain_name(fault_id: str) -> str:
    """An iptables chain per firing (at most 28 characters), so healing removes exactly its rules."""
    return "RH" + re.sub(r"[^A-Za-z0-9]", "_", fault_id)[:20]


def _ipt_install(chain: str) -> list[str]:
    return [f"iptables -w -N {chain}I", f"iptables -w -N {chain}O",
            f"iptables -w -I INPUT -j {chain}I", f"iptables -w -I OUTPUT -j {chain}O"]


def _ipt_remove(chain: str) -> str:
    steps = [f"iptables -w -D INPUT -j {chain}I", f"iptables -w -D OUTPUT -j {chain}O", f"iptables -w -F {chain}I",
             f"iptables -w -F {chain}O", f"iptables -w -X {chain}I", f"iptables -w -X {chain}O"]
    return "; ".join(f"{step} 2>/dev/null" for step in steps) + "; true"


def _dns_exempt(chain: str) -> list[str]:
    """A partition cuts the pods' traffic, not the cluster's DNS. Pods name each other by DNS (replicas
    and sentinels announce hostnames); when the DNS server shares an address with a cut peer (a DNS
    on the node whose address is also the harness's), cutting it would turn the partition into a
    name-resolution outage in which the sentinels cannot fail over, which no local run has."""
    return [f"iptables -w -A {chain}O -p {proto} --dport 53 -j RETURN" for proto in ("udp", "tcp")] + \
           [f"iptables -w -A {chain}I -p {proto} --sport 53 -j RETURN" for proto in ("udp", "tcp")]


def _verdict(action: str) -> str:
    return "-p tcp -j REJECT --reject-with tcp-reset" if action == "reject" else "-j DROP"


def _sidecar_exec(pod: str, lines: list[str], heal: str, duration_s: float) -> Op:
    """Rules first, then a background self-heal after the planned end plus a margin, so a harness
    that dies mid-fault does not leave the pod cut off."""
    script = "set -e; " + "; ".join(lines) + f"; (sleep {duration_s + SAFETY_MARGIN_S:g}; {heal}) >/dev/null 2>&1 &"
    return Op("exec", f"pods/{pod}", {"container": "fault", "argv": ["sh", "-c", script]})


def _cut_lines(chain: str, peer_ips: list[str], action: str, *, inbound_only: bool = False) -> list[str]:
    lines = []
    for ip in peer_ips:
        lines.append(f"iptables -w -A {chain}I -s {ip} {_verdict(action)}")
        if not inbound_only:
            lines.append(f"iptables -w -A {chain}O -d {ip} {_verdict(action)}")
    return lines


def _client_lines(chain: str, client: str, port: int, action: str) -> list[str]:
    """Cut the harness's clients from this pod. Port-forwarded connections arrive on lo from 127.0.0.1;
    the pod's own probes dial its pod IP (LOCAL_HOST), so they keep working."""
    if client == "loopback":
        return [f"iptables -w -A {chain}I -i lo -s 127.0.0.1 -d 127.0.0.1 -p tcp --dport {port} {_verdict(action)}"]
    return _cut_lines(chain, [client], action)


def plan_partition_sidecar(fault_id: str, peers: Peers, *, mode: str, client_side: str, action: str,
                           duration_s: float) -> FaultPlan:
    chain = chain_name(fault_id)
    heal = _ipt_remove(chain)
    inject, heal_ops = [], []
    rules: dict[str, list[str]] = {}
    if mode == "one-way":  # side A's packets to side B are dropped, at B
        for pod in peers.side_b:
            rules[pod] = _cut_lines(chain, [peers.ips[p] for p in peers.side_a], action, inbound_only=True)
    else:
        for pod in peers.side_a:
            rules[pod] = _cut_lines(chain, [peers.ips[p] for p in peers.side_b], action)
        if mode == "split":
            for pod in peers.side_b:
                rules[pod] = _cut_lines(chain, [peers.ips[p] for p in peers.side_a], action)
    cut_clients_from = {"target": peers.side_b, "rest": peers.side_a, "both": []}[client_side]
    for pod in cut_clients_from:
        rules.setdefault(pod, []).extend(_client_lines(chain, peers.client, peers.ports.get(pod, REDIS_PORT), action))
    for pod, lines in rules.items():
        inject.append(_sidecar_exec(pod, _ipt_install(chain) + _dns_exempt(chain) + lines, heal, duration_s))
        heal_ops.append(Op("exec", f"pods/{pod}", {"container": "fault", "argv": ["sh", "-c", heal]}))
    return FaultPlan(fault_id, "partition", "sidecar", sorted(rules), inject, heal_ops,
                     checks=[_chain_check(pod, chain) for pod in sorted(rules)])


def _chain_check(pod: str, chain: str) -> Op:
    """Exit 0 while the firing's chains hold rules that drop or reject."""
    script = f"iptables -w -S {chain}I; iptables -w -S {chain}O"
    return Op("exec", f"pods/{pod}", {"container": "fault",
                                      "argv": ["sh", "-c", f"({script}) 2>/dev/null | grep -Eq -- '-j (DROP|REJECT)'"]})


def _delayer_stop(queue: int) -> str:
    """sh: SIGTERM the delayer holding `queue` (it releases what it holds, then exits) and wait, bounded,
    until the queue is free. Found by its command line (python running the delayer for `--queue=N`), so
    no other process is hit: not the shells whose scripts name it, not another fault's delayer."""
    return (f'for d in /proc/[0-9]*; do tr "\\0" " " < "$d/cmdline" 2>/dev/null | '
            f'grep -Eq -- "^[^ ]*python[0-9.]* [^ ]*{DELAYER} --queue={queue} " && kill -TERM "${{d#/proc/}}"; done; '
            f'i=0; while grep -Eq "^ *{queue} " {latency.QUEUE_PROC} 2>/dev/null && [ $i -lt 100 ]; '
            f'do sleep 0.1; i=$((i+1)); done; true')


def plan_shaping_sidecar(fault_id: str, kind: str, pod: str, params: dict[str, Any], duration_s: float,
                         peer_ips: list[str] | None = None) -> FaultPlan:
    """packet-loss with iptables' statistic match (both directions, not lo; only to/from `peer_ips` when
    given); latency with the local platform's NFQUEUE delayer (every packet the pod sends, not on lo:
    every round trip through the pod gains the delay once); bandwidth with the local platform's HTB
    (+ IFB for ingress) on eth0."""
    chain = chain_name(fault_id)
    if kind == "packet-loss":
        p = params["percent"] / 100
        match = f"-m statistic --mode random --probability {p:.4f} -j DROP"
        if peer_ips:
            rules = [r for ip in sorted(peer_ips) for r in (f"iptables -w -A {chain}I ! -i lo -s {ip} {match}",
                                                             f"iptables -w -A {chain}O ! -o lo -d {ip} {match}")]
        else:
            rules = [f"iptables -w -A {chain}I ! -i lo {match}", f"iptables -w -A {chain}O ! -o lo {match}"]
        lines = _ipt_install(chain) + rules
        heal = _ipt_remove(chain)
        check = _chain_check(pod, chain)
    elif kind == "latency":
        queue = latency.queue_number(fault_id)
        seed = zlib.crc32(f"{fault_id}/{pod}".encode()) % (1 << 30)  # the dry run's plan is the live one
        args = latency.delayer_args(queue, params["delay_ms"], params.get("jitter_ms", 0), seed=seed,
                                    lifetime_s=duration_s + SAFETY_MARGIN_S)
        # the delayer holds the queue before any packet is sent to it (it prints its pid once it does)
        lines = [shlex.join([DELAYER, *args]) + " >/dev/null"] + _ipt_install(chain) + \
                [f"iptables -w -A {chain}O ! -o lo -j NFQUEUE --queue-num {queue} --queue-bypass"]
        heal = _ipt_remove(chain) + "; " + _delayer_stop(queue)
        script_check = (f"iptables -w -S {chain}O 2>/dev/null | grep -q NFQUEUE && "
                        f"grep -Eq '^ *{queue} ' {latency.QUEUE_PROC}")
        check = Op("exec", f"pods/{pod}", {"container": "fault", "argv": ["sh", "-c", script_check]})
    elif kind == "bandwidth":
        ifb = network.ifb_name(fault_id)
        direction = params.get("direction", "both")
        lines = [shlex.join(argv) for argv in network.bandwidth_setup(POD_DEVICE, ifb, int(params["rate_kbit"]), direction)]
        heal = "; ".join(f"{shlex.join(argv)} 2>/dev/null" for argv in network.bandwidth_teardown(POD_DEVICE, ifb)) + "; true"
        shaped = [POD_DEVICE] if direction in ("egress", "both") else []
        shaped += [ifb] if direction in ("ingress", "both") else []
        script_check = " && ".join(f"tc qdisc show dev {dev} | grep -q htb" for dev in shaped)
        check = Op("exec", f"pods/{pod}", {"container": "fault", "argv": ["sh", "-c", script_check]})
    else:
        raise ValueError(kind)
    inject = [_sidecar_exec(pod, lines, heal, duration_s)]
    notes = [f"latency: {DELAYER} in the fault sidecar delays every packet the pod sends (not on lo), "
             "as on the local platform"] if kind == "latency" else []
    return FaultPlan(fault_id, kind, "sidecar", [pod], inject,
                     [Op("exec", f"pods/{pod}", {"container": "fault", "argv": ["sh", "-c", heal]})], notes, [check])


# --------------------------------------------------------------------------- network faults: objects


def _fault_name(fault_id: str, suffix: str = "") -> str:
    return f"rh-fault-{re.sub(r'[^a-z0-9]', '-', fault_id.lower())}{suffix}"


def _fault_labels(run_id: str | None) -> dict[str, str]:
    labels = {"app.kubernetes.io/managed-by": MANAGED_BY, "redis-harness/fault": "true"}
    if run_id:
        labels[RUN_LABEL] = label_value(run_id)
    return labels


def _pods_selector(pods: list[str], operator: str = "In") -> dict[str, Any]:
    return {"matchExpressions": [{"key": POD_NAME_LABEL, "operator": operator, "values": sorted(pods)}]}


def _dns_egress() -> dict[str, Any]:
    return {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}


def _client_peer() -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {CLIENT_LABEL: "true"}}}


def _policy(name: str, namespace: str, selected: list[str], *, ingress_from: list[dict] | None,
            egress_to: list[dict] | None, run_id: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": _pods_selector(selected), "policyTypes": []}
    if ingress_from is not None:
        spec["policyTypes"].append("Ingress")
        spec["ingress"] = [{"from": ingress_from}] if ingress_from else []
    if egress_to is not None:
        spec["policyTypes"].append("Egress")
        spec["egress"] = [_dns_egress()] + ([{"to": egress_to}] if egress_to else [])
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace, "labels": _fault_labels(run_id)}, "spec": spec}


def plan_partition_networkpolicy(fault_id: str, peers: Peers, *, mode: str, client_side: str, namespace: str,
                                 run_id: str | None = None) -> FaultPlan:
    """Allow-lists: a pod selected by a policy only talks to what the policy allows."""
    a, b = peers.side_a, peers.side_b
    client_a = [_client_peer()] if client_side in ("both", "target") else []
    client_b = [_client_peer()] if client_side in ("both", "rest") else []
    policies = []
    if mode == "one-way":
        policies.append(_policy(_fault_name(fault_id, "-b"), namespace, b,
                                ingress_from=[{"podSelector": _pods_selector(a, "NotIn")}] + client_b,
                                egress_to=None, run_id=run_id))
    else:
        policies.append(_policy(_fault_name(fault_id, "-a"), namespace, a,
                                ingress_from=[{"podSelector": _pods_selector(a)}] + client_a,
                                egress_to=[{"podSelector": _pods_selector(a)}] + client_a, run_id=run_id))
        policies.append(_policy(_fault_name(fault_id, "-b"), namespace, b,
                                ingress_from=[{"podSelector": _pods_selector(b)}] + client_b,
                                egress_to=[{"podSelector": _pods_selector(b)}] + client_b, run_id=run_id))
    inject = [Op("create", f"networkpolicies/{p['metadata']['name']}", body=p) for p in policies]
    heal = [Op("delete", f"networkpolicies/{p['metadata']['name']}") for p in policies]
    notes = ["NetworkPolicy needs a CNI that enforces it (Calico, Cilium, ...); with others it does nothing",
             "connections open before the policy may survive, depending on the CNI: the run checks the cut took",
             "clients connected through port-forward enter pods via localhost and are not cut by NetworkPolicy"]
    return FaultPlan(fault_id, "partition", "networkpolicy", sorted(a + b), inject, heal, notes)


def _chaos(name: str, namespace: str, spec: dict[str, Any], run_id: str | None) -> dict[str, Any]:
    return {"apiVersion": CHAOS_MESH_API, "kind": "NetworkChaos",
            "metadata": {"name": name, "namespace": namespace, "labels": _fault_labels(run_id)}, "spec": spec}


def _chaos_selector(namespace: str, pods: list[str]) -> dict[str, Any]:
    return {"pods": {namespace: sorted(pods)}}


def plan_chaos_mesh(fault_id: str, kind: str, peers: Peers, *, namespace: str, duration_s: float,
                    params: dict[str, Any], run_id: str | None = None) -> FaultPlan:
    """A NetworkChaos object; its `duration` (planned length + margin) heals it if the harness dies."""
    spec: dict[str, Any] = {"mode": "all", "selector": _chaos_selector(namespace, peers.side_a),
                            "duration": f"{int(duration_s + SAFETY_MARGIN_S)}s"}
    if kind == "partition":
        mode = params.get("mode", "isolate")
        spec.update({"action": "partition", "direction": "to" if mode == "one-way" else "both",
                     "target": {"mode": "all", "selector": _chaos_selector(namespace, peers.side_b)}})
    elif kind == "packet-loss":
        spec.update({"action": "loss", "loss": {"loss": f"{params['percent']:g}", "correlation": "0"}})
    elif kind == "latency":
        spec.update({"action": "delay", "delay": {"latency": f"{params['delay_ms']:g}ms",
                                                   "jitter": f"{params.get('jitter_ms', 0):g}ms", "correlation": "0"}})
    elif kind == "bandwidth":
        # Chaos Mesh rates are tc units: "bps" is bytes per second
        spec.update({"action": "bandwidth", "bandwidth": {"rate": f"{int(params['rate_kbit']) * 1000 // 8}bps",
                                                          "limit": 20971520, "buffer": 10000}})
    else:
        raise ValueError(kind)
    name = _fault_name(fault_id)
    obj = _chaos(name, namespace, spec, run_id)
    notes = ["clients connected through port-forward are not affected by NetworkChaos"] if kind == "partition" else []
    return FaultPlan(fault_id, kind, "chaos-mesh", sorted(set(peers.side_a + peers.side_b)),
                     [Op("create", f"networkchaos/{name}", body=obj)], [Op("delete", f"networkchaos/{name}")], notes)


def plan_network_fault(fault_id: str, fault: Any, peers: Peers, *, backend: str, namespace: str,
                       run_id: str | None = None) -> FaultPlan:
    """One firing of a scenario network fault (Partition, PacketLoss, Latency, Bandwidth) on `backend`."""
    params = fault.model_dump(exclude={"target", "at_s", "duration_s", "every_s", "count", "kind", "groups", "peers"})
    if backend == "sidecar":
        if fault.kind == "partition":
            return plan_partition_sidecar(fault_id, peers, mode=fault.mode, client_side=fault.client_side,
                                          action=fault.action, duration_s=fault.duration_s)
        peer_ips = [peers.ips[p] for p in peers.side_b] if getattr(fault, "peers", None) else None
        plans = [plan_shaping_sidecar(fault_id, fault.kind, pod, params, fault.duration_s, peer_ips) for pod in peers.side_a]
        return FaultPlan(fault_id, fault.kind, "sidecar", peers.side_a, [op for p in plans for op in p.inject],
                         [op for p in plans for op in p.heal], plans[0].notes if plans else [],
                         [op for p in plans for op in p.checks])
    if backend == "networkpolicy":
        if fault.kind != "partition":
            raise CapabilityError(_missing("networkpolicy", fault.kind, "drop"))
        plan = plan_partition_networkpolicy(fault_id, peers, mode=fault.mode, client_side=fault.client_side,
                                            namespace=namespace, run_id=run_id)
    elif backend == "chaos-mesh":
        if getattr(fault, "peers", None):
            raise CapabilityError("packet-loss with `peers` needs the fault sidecar; Chaos Mesh loss acts on all traffic")
        plan = plan_chaos_mesh(fault_id, fault.kind, peers, namespace=namespace, duration_s=fault.duration_s,
                               params=params, run_id=run_id)
    else:
        raise ValueError(backend)
    plan.checks = [Op("get", op.target) for op in plan.inject]
    return plan


def plan_fault(fault_id: str, fault: Any, peers: Peers, *, pod_kinds: dict[str, str], sidecar: bool,
               chaos_mesh: bool, preferred: str, namespace: str, run_id: str | None = None,
               delayer: bool = True) -> FaultPlan:
    """One firing of any fault kind on Kubernetes, as the API operations that make and heal it.

    The one place a Kubernetes fault is decided: a live run executes this plan (targets resolved
    from the servers when the fault fires), and `--dry-run` prints it (targets as at deployment).
    `peers.side_a` holds the targets; `side_b` the other side of a partition or a loss's peers.
    """
    pods = peers.side_a
    if not pods:
        raise CapabilityError("the target names no pod")
    if fault.kind in ("pod-kill", "pod-delete", "pause"):
        if fault.kind == "pause":
            plans = [plan_pause(fault_id, pod, duration_s=fault.duration_s, method=fault.method, kind=pod_kinds[pod],
                                sidecar=sidecar) for pod in pods]
        else:
            plans = [plan_pod_kill(fault_id, pod, graceful=fault.kind == "pod-delete") for pod in pods]
        return FaultPlan(fault_id, fault.kind, plans[0].backend, list(pods), [op for p in plans for op in p.inject],
                         [op for p in plans for op in p.heal], plans[0].notes)
    backend = choose_backend(fault.kind, sidecar=sidecar, chaos_mesh=chaos_mesh, preferred=preferred,
                             action=getattr(fault, "action", "drop"), delayer=delayer)
    return plan_network_fault(fault_id, fault, peers, backend=backend, namespace=namespace, run_id=run_id)


def server_port(pod: str) -> int:
    return SENTINEL_PORT if pod.startswith("sentinel-") else REDIS_PORT

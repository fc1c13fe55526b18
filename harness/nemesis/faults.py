"""Apply, verify and heal each fault kind, in terms of the Platform protocol alone.

What a firing did is kept in an `ActiveFault`: plain data (pods, chain, devices, delayer pids)
that is filled in *before* each step acts, so a heal that comes at any moment (the end of the
duration, a Ctrl-C, a Chaos Toolkit rollback in another process) undoes exactly what was done.
Every heal step is harmless to repeat.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, TypeVar

import redis

from harness.errors import PlatformError
from harness.nemesis import latency, network
from harness.nemesis.targets import describe, resolve
from harness.deployment import Deployment, Pod
from harness.platforms.protocol import PlanningPlatform, Platform
from harness.poll import PollTimeout, wait_until
from harness.redisconn import client_kwargs, connection, pod_client
from harness.roles import redis_role
from harness.scenario import Bandwidth, FaultTarget, Latency, PacketLoss, Partition, Pause

RESTART_TIMEOUT_S = 60.0
NETWORK_KINDS = ("partition", "packet-loss", "latency", "bandwidth")
CLIENT = "client"  # how a partition's sides name the harness's own address

NOT_PARAMS = {"kind", "target", "at_s", "every_s", "count", "groups", "peers", "allow_not_applied"}

T = TypeVar("T")


@dataclass
class ActiveFault:
    fault_id: str
    kind: str
    target: dict[str, Any]
    params: dict[str, Any]
    pods: list[str] = field(default_factory=list)  # every pod the fault acts on (rules live in these)
    sides: list[list[str]] = field(default_factory=list)  # partition: pod names (and "client") per side
    chain: str | None = None  # iptables chain in each of `pods`
    devices: dict[str, str] = field(default_factory=dict)  # bandwidth: pod -> shaped interface
    ifb: str | None = None  # bandwidth: the IFB device for ingress shaping
    queue: int | None = None  # latency: NFQUEUE number
    delayers: dict[str, int] = field(default_factory=dict)  # latency: pod -> delayer pid
    observed: dict[str, Any] = field(default_factory=dict)  # what the fault measurably did (packet-loss: drops)
    plan: dict[str, Any] | None = None  # a planning platform (Kubernetes): the operations that make and heal it
    ops: dict[str, list[str]] = field(default_factory=dict)  # those operations as the dry run prints them
    started: bool = False  # the fault took effect (fault-start was written)
    healed: bool = False
    heal_error: str | None = None  # the heal failed (reported once, not retried: teardown sweeps what is left)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ActiveFault":
        return cls(**data)

    @property
    def chain_name(self) -> str:
        """`chain`, which every iptables fault sets before it installs rules."""
        return _set(self.chain, f"fault {self.fault_id} has no iptables chain")

    @property
    def queue_number(self) -> int:
        return _set(self.queue, f"fault {self.fault_id} has no NFQUEUE number")

    @property
    def ifb_device(self) -> str:
        return _set(self.ifb, f"fault {self.fault_id} has no IFB device")

    @property
    def event_pod(self) -> str | list[str]:
        """The `pod` field of fault events: the pod hit, or a list for partitions (side A) and multi-pod faults."""
        if self.kind == "partition":
            return [name for name in (self.sides or [[]])[0] if name != CLIENT]
        return self.pods[0] if len(self.pods) == 1 else list(self.pods)


@dataclass
class Context:
    """Where faults act: a platform and one of its deployments."""

    platform: Platform
    deployment: Deployment
    seed: int = 0

    def run(self, pod: Pod, argv: list[str], *, check: bool = True):
        return self.platform.run_in_pod_network(self.deployment, pod, argv, check=check)

    def pod(self, name: str) -> Pod:
        return self.deployment.pod(name)


def plan(fault, fault_id: str) -> ActiveFault:
    """The record of one firing before anything is done."""
    target = describe(fault.target) if fault.target is not None else {}
    if getattr(fault, "groups", None):
        target = {"groups": [[describe(t) for t in side] for side in fault.groups]}
    if getattr(fault, "peers", None):
        target["peers"] = [describe(t) for t in fault.peers]
    return ActiveFault(fault_id, fault.kind, target, fault.model_dump(mode="json", exclude=NOT_PARAMS))


def planning(ctx: Context) -> bool:
    """The platform makes faults from plans of its own (Kubernetes: API operations, the same plan its
    dry run prints); otherwise the nemesis makes them from the platform's primitives (local)."""
    return isinstance(ctx.platform, PlanningPlatform)


def planner(ctx: Context) -> PlanningPlatform:
    """The context's platform as a planning one (only called where `planning(ctx)` holds)."""
    if not isinstance(ctx.platform, PlanningPlatform):
        raise PlatformError(f"platform {ctx.platform.name} makes no fault plans")
    return ctx.platform


def apply(ctx: Context, fault, record: ActiveFault, rng: random.Random | None = None) -> None:
    rng = rng or random.Random(0)
    (_apply_planned if planning(ctx) else APPLY[fault.kind])(ctx, fault, record, rng)
    record.started = True


def heal(ctx: Context, record: ActiveFault) -> None:
    """Undo the firing; idempotent. Raises PlatformError naming what could not be healed."""
    if record.healed:
        return
    if record.plan is not None:
        problems = planner(ctx).heal_fault(ctx.deployment, record.plan)
        if problems:
            raise PlatformError("heal failed: " + "; ".join(problems))
    elif not planning(ctx):
        HEAL[record.kind](ctx, record)
    record.healed = True


def verify(ctx: Context, fault, record: ActiveFault, deadline: float) -> list[tuple[bool, str]]:
    """Checks that the fault took: (ok, detail) pairs. Polls at most until `deadline` (monotonic)."""
    if record.plan is not None and fault.kind in NETWORK_KINDS:
        results = planner(ctx).verify_fault(ctx.deployment, record.plan)
        return results + (_verify_links(ctx, fault, record, deadline) if fault.kind == "partition" else [])
    return VERIFY[fault.kind](ctx, fault, record, deadline)


# ----------------------------------------------------------------------------------- planned (Kubernetes)


def _apply_planned(ctx: Context, fault, record: ActiveFault, rng: random.Random) -> None:
    """Resolve the targets now (asking the servers), have the platform plan the firing, keep the plan
    in the record before anything acts (so any heal undoes it), then execute it."""
    if fault.kind == "partition":
        side_a, side_b = _partition_sides(ctx, fault, rng)
        record.sides = _named_sides(side_a, side_b, fault.client_side)
        record.pods = [p.name for p in side_a + side_b]
    else:
        side_a = resolve(ctx.deployment, fault.target, rng)
        side_b = _resolve_all(ctx, fault.peers, rng) if getattr(fault, "peers", None) else []
        if side_b:
            record.sides = [[p.name for p in side_a], [p.name for p in side_b]]
        record.pods = [p.name for p in side_a]
    plan = planner(ctx).plan_fault(ctx.deployment, fault, record.fault_id, [p.name for p in side_a],
                                   [p.name for p in side_b] if fault.kind == "partition" or side_b else None)
    record.plan = plan.as_dict()
    record.ops = plan.describe(ctx.deployment.extra.get("namespace", ""))
    planner(ctx).execute(ctx.deployment, plan.inject)


# ----------------------------------------------------------------------------------- helpers


def answers(deployment: Deployment, pod: Pod, timeout: float = 0.5) -> bool:
    try:
        return bool(pod_client(deployment, pod, timeout=timeout).ping())
    except (redis.RedisError, OSError):
        return False


def _silent_or_refused(ctx: Context, pod: Pod) -> str | None:
    """None if the pod answers PING; else how it failed (for the verification detail)."""
    try:
        pod_client(ctx.deployment, pod, timeout=0.3).ping()
        return None
    except redis.TimeoutError:
        return "PING timed out"
    except (redis.RedisError, OSError) as exc:
        return f"PING failed: {type(exc).__name__}"


def _wait_answers(ctx: Context, pod: Pod, timeout: float) -> None:
    try:
        wait_until(lambda: answers(ctx.deployment, pod), timeout=timeout, interval=0.1, what=f"{pod.name} to answer PING")
    except PollTimeout as exc:
        raise PlatformError(str(exc)) from None


def _resolve_all(ctx: Context, targets: list[FaultTarget], rng: random.Random) -> list[Pod]:
    pods: dict[str, Pod] = {}
    for target in targets:
        pods.update((p.name, p) for p in resolve(ctx.deployment, target, rng))
    return list(pods.values())


def on_each(pods: list[Pod], act: Callable[[Pod], None]) -> None:
    """Act on every pod at once, so a multi-pod fault lands everywhere at nearly the same moment."""
    if len(pods) <= 1:
        for pod in pods:
            act(pod)
        return
    with ThreadPoolExecutor(max_workers=len(pods), thread_name_prefix="fault-pod") as pool:
        futures = [pool.submit(act, pod) for pod in pods]
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        raise errors[0]


def _set(value: T | None, missing: str) -> T:
    if value is None:
        raise PlatformError(missing)
    return value


def _target(fault: Any) -> FaultTarget:
    return _set(fault.target, f"a {fault.kind} fault needs a target")


def _groups(fault: Partition) -> list[list[FaultTarget]]:
    return _set(fault.groups, "a split or one-way partition needs groups")


def _heal_each(pods: list[str], undo: Callable[[str], None]) -> None:
    """Undo on every pod even if one fails; then report every failure at once."""
    errors = []
    for name in pods:
        try:
            undo(name)
        except Exception as exc:  # noqa: BLE001 - the others must still be healed
            errors.append(f"{name}: {exc}")
    if errors:
        raise PlatformError("heal failed on " + "; ".join(errors))


# ----------------------------------------------------------------------------------- pod-kill / pod-delete


def _apply_kill(ctx: Context, fault, record: ActiveFault, rng: random.Random) -> None:
    pods = resolve(ctx.deployment, fault.target, rng)
    record.pods = [p.name for p in pods]
    record.params["wipe_data"] = fault.kind == "pod-delete" and not ctx.deployment.topo.persistent_volumes
    # a platform may delete differently (Kubernetes: the pod's grace period)
    stop = ctx.platform.delete_pod if fault.kind == "pod-delete" else ctx.platform.kill_pod
    for pod in pods:
        stop(ctx.deployment, pod)


def _heal_kill(ctx: Context, record: ActiveFault) -> None:
    """Start the pod again (a kubelet restart: same config and address), then wait until it answers."""

    def restart(name: str) -> None:
        pod = ctx.pod(name)
        ctx.platform.start_pod(ctx.deployment, pod, wipe_data=bool(record.params.get("wipe_data")))
        ctx.platform.wait_pod_answers(ctx.deployment, pod, RESTART_TIMEOUT_S)  # a server that exits says so at once

    _heal_each(record.pods, restart)


def _wait_silent(ctx: Context, record: ActiveFault, deadline: float, said: str) -> list[tuple[bool, str]]:
    """Each pod stops answering PING by `deadline` (polled: a fault may land a moment after the call that
    made it returns; on Kubernetes, DEBUG SLEEP is sent by a redis-cli an exec starts in the background)."""
    results = []
    for name in record.pods:
        pod = ctx.pod(name)
        try:
            how = wait_until(lambda: _silent_or_refused(ctx, pod), timeout=max(1.0, deadline - time.monotonic()),
                             interval=0.1, what=f"{name} to stop answering")
            results.append((True, f"{name}: {said.format(how=how)}"))
        except PollTimeout:
            results.append((False, f"{name}: still answers PING"))
    return results


def _verify_down(ctx: Context, fault, record: ActiveFault, deadline: float) -> list[tuple[bool, str]]:
    return _wait_silent(ctx, record, deadline, "process gone ({how})")


# ----------------------------------------------------------------------------------- pause


def _apply_pause(ctx: Context, fault: Pause, record: ActiveFault, rng: random.Random) -> None:
    pods = resolve(ctx.deployment, fault.target, rng)
    record.pods = [p.name for p in pods]
    for pod in pods:
        if fault.method == "sigstop":
            ctx.platform.pause_pod(ctx.deployment, pod)
        else:
            _debug_sleep(ctx, pod, fault.duration_s)


def _debug_sleep(ctx: Context, pod: Pod, seconds: float) -> None:
    """Send DEBUG SLEEP and hang up: the server reads the command before it notices the close, then sleeps."""
    if pod.kind != "redis":
        raise PlatformError(f"{pod.name} is a {pod.kind}: DEBUG SLEEP needs a Redis server")
    conn = connection(pod.host, pod.port, **client_kwargs(ctx.deployment), socket_timeout=2, socket_connect_timeout=2)
    try:
        conn.connect()
        conn.send_command("DEBUG", "SLEEP", f"{seconds:g}")
    finally:
        conn.disconnect()


def _heal_pause(ctx: Context, record: ActiveFault) -> None:
    """SIGCONT; a DEBUG SLEEP cannot be cut short, so its heal waits until the server answers again."""

    def resume(name: str) -> None:
        pod = ctx.pod(name)
        if record.params.get("method") == "debug-sleep":
            _wait_answers(ctx, pod, float(record.params["duration_s"]) + 30)
        else:
            ctx.platform.resume_pod(ctx.deployment, pod)

    _heal_each(record.pods, resume)


def _verify_pause(ctx: Context, fault, record: ActiveFault, deadline: float) -> list[tuple[bool, str]]:
    return _wait_silent(ctx, record, deadline, "{how}")


# ----------------------------------------------------------------------------------- iptables faults


def _install_chain(ctx: Context, pod: Pod, chain: str, rules: list[list[str]], hooks=("INPUT", "OUTPUT")) -> None:
    ctx.run(pod, network.install(chain, rules, hooks))


def _remove_chain(ctx: Context, name: str, chain: str) -> None:
    pod = ctx.pod(name)
    for hook in network.HOOKS:
        for _ in range(10):  # one jump per hook is added; stop at the first "no such rule"
            if ctx.run(pod, network.chain_unhook(chain, hook), check=False).returncode != 0:
                break
    for argv in network.chain_remove(chain):
        ctx.run(pod, argv, check=False)
    left = ctx.run(pod, network.chain_list(chain), check=False)
    if left.returncode == 0:
        raise PlatformError(f"chain {chain} is still present in {name}'s network:\n{left.stdout}")


def _heal_chain(ctx: Context, record: ActiveFault) -> None:
    if record.chain:
        _heal_each(record.pods, lambda name: _remove_chain(ctx, name, record.chain_name))


def _verify_chain(ctx: Context, record: ActiveFault) -> list[tuple[bool, str]]:
    results = []
    for name in record.pods:
        listing = ctx.run(ctx.pod(name), network.chain_list(record.chain_name), check=False)
        rules = [line for line in listing.stdout.splitlines() if line.startswith("-A ")]
        results.append((listing.returncode == 0 and bool(rules), f"{name}: {record.chain} has {len(rules)} rules"))
    return results


def _partition_sides(ctx: Context, fault: Partition, rng: random.Random) -> tuple[list[Pod], list[Pod]]:
    if fault.mode == "isolate":
        side_a = resolve(ctx.deployment, _target(fault), rng)
        names = {p.name for p in side_a}
        return side_a, [p for p in ctx.deployment.pods if p.name not in names]
    side_a = _resolve_all(ctx, _groups(fault)[0], rng)
    names = {p.name for p in side_a}
    return side_a, [p for p in _resolve_all(ctx, _groups(fault)[1], rng) if p.name not in names]


def _apply_partition(ctx: Context, fault: Partition, record: ActiveFault, rng: random.Random) -> None:
    side_a, side_b = _partition_sides(ctx, fault, rng)
    client = ctx.deployment.client_address
    addresses_a, addresses_b = {p.host for p in side_a}, {p.host for p in side_b}
    if fault.client_side == "target":
        addresses_a.add(client)
    elif fault.client_side == "rest":
        addresses_b.add(client)
    record.sides = _named_sides(side_a, side_b, fault.client_side)
    record.chain = network.chain_name(record.fault_id)
    record.pods = [p.name for p in side_a + side_b]
    cuts = network.partition_cuts(addresses_a, addresses_b, fault.mode)
    on_each(side_a + side_b, lambda pod: _install_chain(
        ctx, pod, record.chain_name, network.cut_rules(record.chain_name, pod.host, cuts, fault.action)))


def _named_sides(side_a: list[Pod], side_b: list[Pod], client_side: str) -> list[list[str]]:
    """Pod names per side, with `client` on the side the harness's clients are on (if one)."""
    names_a, names_b = [p.name for p in side_a], [p.name for p in side_b]
    if client_side == "target":
        names_a.append(CLIENT)
    elif client_side == "rest":
        names_b.append(CLIENT)
    return [names_a, names_b]


def _verify_partition(ctx: Context, fault: Partition, record: ActiveFault, deadline: float) -> list[tuple[bool, str]]:
    """Rules are in place; and a reachable replica cut from its primary reports master_link_status:down."""
    return _verify_chain(ctx, record) + _verify_links(ctx, fault, record, deadline)


def _verify_links(ctx: Context, fault: Partition, record: ActiveFault, deadline: float) -> list[tuple[bool, str]]:
    """Whatever made the cut: a reachable replica cut from its primary reports master_link_status:down."""
    results = []
    side_of = {name: i for i, side in enumerate(record.sides) for name in side}
    for name in record.pods:
        pod = ctx.pod(name)
        if pod.kind != "redis" or (CLIENT in side_of and side_of[CLIENT] != side_of[name]):
            continue  # the harness cannot ask a pod it is cut off from
        role = redis_role(ctx.deployment, pod)
        if role.role != "replica" or role.primary not in side_of or side_of[role.primary] == side_of[name]:
            continue
        if fault.mode == "one-way" and side_of[name] == 0:
            continue  # A -> B only: a replica on side A still receives its primary's stream
        results.append(_wait_link_down(ctx, pod, deadline))
    return results


def _wait_link_down(ctx: Context, pod: Pod, deadline: float) -> tuple[bool, str]:
    def down() -> bool:
        return pod_client(ctx.deployment, pod, timeout=0.5).info("replication").get("master_link_status") == "down"

    try:
        wait_until(down, timeout=max(0.5, deadline - time.monotonic()), interval=0.2,
                   what=f"{pod.name}'s master_link_status to go down")
        return True, f"{pod.name}: master_link_status:down"
    except PollTimeout:
        return False, f"{pod.name}: master_link_status still up (repl-timeout not reached within the fault?)"


def _apply_loss(ctx: Context, fault: PacketLoss, record: ActiveFault, rng: random.Random) -> None:
    pods = resolve(ctx.deployment, fault.target, rng)
    peers = None
    if fault.peers:
        peer_pods = _resolve_all(ctx, fault.peers, rng)
        record.sides = [[p.name for p in pods], [p.name for p in peer_pods]]
        peers = [p.host for p in peer_pods]
    record.chain = network.chain_name(record.fault_id)
    record.pods = [p.name for p in pods]
    on_each(pods, lambda pod: _install_chain(ctx, pod, record.chain_name, network.loss_rules(record.chain_name, fault.percent, peers)))


def _heal_loss(ctx: Context, record: ActiveFault) -> None:
    """Before the rules go, read their counters: the share of packets really dropped."""
    if record.chain and not record.observed:
        dropped = total = 0
        for name in record.pods:
            pod = ctx.pod(name)
            chain = ctx.run(pod, network.counters(record.chain), check=False).stdout
            dropped += network.packets_to(chain, "DROP")
            for hook in network.HOOKS:
                total += network.packets_to(ctx.run(pod, network.counters(hook), check=False).stdout, record.chain)
        record.observed = {"dropped": dropped, "packets": total}
    _heal_chain(ctx, record)


def _verify_rules(ctx: Context, fault, record: ActiveFault, deadline: float) -> list[tuple[bool, str]]:
    return _verify_chain(ctx, record)


# ----------------------------------------------------------------------------------- latency


def _apply_latency(ctx: Context, fault: Latency, record: ActiveFault, rng: random.Random) -> None:
    pods = resolve(ctx.deployment, fault.target, rng)
    record.pods = [p.name for p in pods]
    record.queue = latency.queue_number(record.fault_id)
    record.chain = network.chain_name(record.fault_id)
    seeds = {pod.name: rng.randrange(1 << 30) for pod in pods}

    def delay(pod: Pod) -> None:
        record.delayers[pod.name] = latency.start(
            ctx.platform, ctx.deployment, pod, record.queue_number, fault.delay_ms, fault.jitter_ms,
            seed=seeds[pod.name], lifetime_s=fault.duration_s + 60)
        _install_chain(ctx, pod, record.chain_name, [network.nfqueue_rule(record.chain_name, record.queue_number)], hooks=("OUTPUT",))

    on_each(pods, delay)


def _heal_latency(ctx: Context, record: ActiveFault) -> None:
    """Stop queueing first, then let the delayer release what it holds and exit."""
    errors = []
    for step in (lambda: _heal_chain(ctx, record),
                 lambda: _heal_each(list(record.delayers), lambda name: latency.stop(
                     ctx.platform, ctx.deployment, ctx.pod(name), record.delayers[name], record.queue_number))):
        try:
            step()
        except PlatformError as exc:
            errors.append(str(exc))
    if errors:
        raise PlatformError("; ".join(errors))


def _verify_latency(ctx: Context, fault, record: ActiveFault, deadline: float) -> list[tuple[bool, str]]:
    results = _verify_chain(ctx, record)
    for name in record.pods:
        bound = record.queue in latency.bound_queues(ctx.platform, ctx.deployment, ctx.pod(name))
        results.append((bound, f"{name}: delayer {'holds' if bound else 'does not hold'} NFQUEUE {record.queue}"))
    return results


# ----------------------------------------------------------------------------------- bandwidth


def _apply_bandwidth(ctx: Context, fault: Bandwidth, record: ActiveFault, rng: random.Random) -> None:
    pods = resolve(ctx.deployment, fault.target, rng)
    record.pods = [p.name for p in pods]
    record.ifb = network.ifb_name(record.fault_id)

    def shape(pod: Pod) -> None:
        addresses = ctx.run(pod, ["ip", "-o", "-4", "addr", "show"]).stdout
        dev = network.interface_of(addresses, pod.host)
        if dev is None:
            raise PlatformError(f"no interface holds {pod.host} in {pod.name}'s network:\n{addresses}")
        record.devices[pod.name] = dev
        for argv in network.bandwidth_setup(dev, record.ifb_device, fault.rate_kbit, fault.direction):
            ctx.run(pod, argv)

    on_each(pods, shape)


def _heal_bandwidth(ctx: Context, record: ActiveFault) -> None:
    def undo(name: str) -> None:
        pod = ctx.pod(name)
        for argv in network.bandwidth_teardown(record.devices[name], record.ifb_device):
            ctx.run(pod, argv, check=False)
        shown = ctx.run(pod, ["tc", "qdisc", "show", "dev", record.devices[name]], check=False).stdout
        if "htb" in shown or "ingress" in shown:
            raise PlatformError(f"a shaping qdisc is still on {record.devices[name]}: {shown.strip()}")

    _heal_each(list(record.devices), undo)


def _verify_bandwidth(ctx: Context, fault: Bandwidth, record: ActiveFault, deadline: float) -> list[tuple[bool, str]]:
    results = []
    for name, dev in record.devices.items():
        shaped = [d for d in (dev, record.ifb_device) if "htb" in ctx.run(ctx.pod(name), ["tc", "qdisc", "show", "dev", d],
                                                                   check=False).stdout]
        expected = {"egress": 1, "ingress": 1, "both": 2}[fault.direction]
        results.append((len(shaped) == expected, f"{name}: htb {fault.rate_kbit}kbit on {', '.join(shaped) or 'nothing'}"))
    return results


APPLY = {"pod-kill": _apply_kill, "pod-delete": _apply_kill, "pause": _apply_pause, "partition": _apply_partition,
         "packet-loss": _apply_loss, "latency": _apply_latency, "bandwidth": _apply_bandwidth}
HEAL = {"pod-kill": _heal_kill, "pod-delete": _heal_kill, "pause": _heal_pause, "partition": _heal_chain,
        "packet-loss": _heal_loss, "latency": _heal_latency, "bandwidth": _heal_bandwidth}
VERIFY = {"pod-kill": _verify_down, "pod-delete": _verify_down, "pause": _verify_pause,
          "partition": _verify_partition, "packet-loss": _verify_rules, "latency": _verify_latency,
          "bandwidth": _verify_bandwidth}

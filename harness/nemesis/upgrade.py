"""The rolling-upgrade drill: a scenario's `upgrade` fault run as a sequence of timed steps.

Each step is a firing of its own in events.jsonl (`fault-start` / `fault-verified` / `fault-end`,
fault id `<drill id>/<n>`, kind the step's action: `upgrade`, `switch-over` or `revert`), so the checkers' per-fault unavailability, detection and
promotion apply to every step unchanged, and the report draws each on the timeline. `fault-end`
carries what the step measured (`observed`): per replica the resync kind from its own log and the
time its replication link was down; a pod that cannot sync is named with the log line that says why.
`drill-start` / `drill-end` frame the whole drill (outcome `completed`, `stopped` and the reason).

Why the Sentinel switch-over is SENTINEL FAILOVER with writes paused, not the FAILOVER command:
FAILOVER (6.2+) waits for the replica to catch up, but Sentinel is not told: it keeps handing clients
the old primary, then sees its primary report `role:slave`, marks it down and runs a failover of its
own to whichever replica it likes. SENTINEL FAILOVER alone promotes at once, without waiting for
the replica, so writes acknowledged in that gap are lost. So the drill pauses writes on the primary
(`CLIENT PAUSE ... WRITE`, 6.2+), waits until every replica's offset equals the primary's, asks a
sentinel to fail over, points the old primary at the new one, and only then unpauses (the writes
held meanwhile get -READONLY or a closed connection: refused, never acknowledged-then-lost).
In a Cluster, CLUSTER FAILOVER (without FORCE) on the replica does that wait itself.

Nothing is healed at the end: an upgrade is meant to last. A step whose pod cannot sync is put back
on the version it ran before (a `revert` step) and the drill stops there, so the run still converges.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import redis

from harness.binaries import ServerBinary, resolve_server
from harness.checker.replication_log import incompatibility, resync_kind
from harness.errors import CapabilityError, HarnessError
from harness.nemesis.faults import Context, on_each
from harness.nemesis.upgrade_plan import Leg, legs
from harness.deployment import Deployment, Pod
from harness.poll import PollTimeout, wait_until
from harness.redisconn import pod_client
from harness.roles import current_roles, redis_role, sentinel_can_fail_over, sentinel_primary
from harness.rundir import EventLog
from harness.scenario import Scenario, Topology, Upgrade
from harness.pod_config import MASTER_NAME, render_redis_conf

SOURCE = "nemesis"
LINK_POLL_S = 0.1


class StepFailed(HarnessError):
    """A step's pod did not come back in sync; `line` is the server's own reason when its log has one."""

    def __init__(self, message: str, pod: str, line: str | None = None):
        super().__init__(message)
        self.pod, self.line = pod, line


class SyncTimeout(StepFailed):
    """A wait of the step ran out (as opposed to a server saying it cannot load its primary's data)."""


class DrillStopped(HarnessError):
    """The run is stopping (Ctrl-C, an error elsewhere, or the drill's budget is spent)."""


@dataclass
class StepRecord:
    fault_id: str
    action: str  # upgrade | switch-over | revert
    pods: list[str]
    to: str | None = None
    observed: dict[str, Any] = field(default_factory=dict)

    @property
    def event_pod(self) -> str | list[str]:
        return self.pods[0] if len(self.pods) == 1 else self.pods


class LinkWatch:
    """Polls every Redis pod's INFO replication during a step: how long each replica's link was not up
    (its process down, reconnecting, or syncing), so a step reports replication link down time."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.down_s: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drill-links", daemon=True)

    def __enter__(self) -> "LinkWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        clients: dict[str, redis.Redis] = {}
        last = time.monotonic()
        while not self._stop.wait(LINK_POLL_S):
            now = time.monotonic()
            for pod in self.ctx.deployment.redis_pods():
                client = clients.setdefault(pod.name, pod_client(self.ctx.deployment, pod, timeout=0.3))
                role = redis_role(self.ctx.deployment, pod, client=client)
                if role.role == "down" or (role.role == "replica" and not role.link_up):
                    self.down_s[pod.name] = self.down_s.get(pod.name, 0.0) + (now - last)
            last = now

    def link_down_s(self, replicas: list[str]) -> dict[str, float]:
        return {name: round(self.down_s.get(name, 0.0), 3) for name in replicas}


class Drill:
    """One `upgrade` fault: its legs, shard by shard, phase by phase, each step timed and verified."""

    def __init__(self, ctx: Context, fault: Upgrade, drill_id: str, events: EventLog, stopping: threading.Event,
                 deadline: float):
        self.ctx, self.fault, self.drill_id, self.events = ctx, fault, drill_id, events
        self.stopping, self.deadline = stopping, deadline  # deadline: monotonic end of the drill's budget
        self.original = {p.name: p.server for p in ctx.deployment.redis_pods()}
        self.steps = 0
        self._before: dict[str, str] = {}  # the step in progress: each pod's server before it
        self.current: str | None = None  # the step in progress, for the run's progress lines

    # ------------------------------------------------------------------ the drill
    def run(self) -> None:
        self.events.emit(SOURCE, "drill-start", fault_id=self.drill_id, kind="upgrade", strategy=self.fault.strategy,
                         to=self.fault.to, naive_order=self.fault.naive_order,
                         versions={p.name: p.version for p in self.ctx.deployment.redis_pods()})
        outcome, reason = "completed", None
        try:
            for leg in legs(self.fault.strategy, self.fault.naive_order, self.fault.to):
                self._leg(leg)
        except StepFailed as exc:
            outcome, reason = "stopped", str(exc)
        except DrillStopped as exc:
            outcome, reason = "stopped", str(exc)
        except Exception as exc:  # noqa: BLE001 - the drill's failure is a finding; the run goes on to teardown
            outcome, reason = "error", f"{type(exc).__name__}: {exc}"
        self.current = None
        # the drill rolls Redis pods only: the sentinels' versions are recorded so the report can say so
        self.events.emit(SOURCE, "drill-end", fault_id=self.drill_id, kind="upgrade", outcome=outcome, reason=reason,
                         versions={p.name: p.version for p in self.ctx.deployment.redis_pods()},
                         sentinels={p.name: p.version for p in self.ctx.deployment.sentinel_pods()})

    def _leg(self, leg: Leg) -> None:
        shards = sorted({r.shard for r in current_roles(self.ctx.deployment) if r.role in ("primary", "replica")},
                        key=lambda s: -1 if s is None else s) if leg.per_shard else [None]
        for shard in shards:
            old_primary = self._primary(shard) if leg.per_shard else None
            for phase in leg.phases:
                self._phase(phase, leg, shard, old_primary)

    def _phase(self, phase: str, leg: Leg, shard: int | None, old_primary: Pod | None) -> None:
        if phase == "everything":
            pods = self.ctx.deployment.redis_pods()
            self._upgrade(pods, {p.name: self._target(leg, p) for p in pods})
        elif phase == "each-replica":
            for name in self._replicas_of(self._primary(shard)):
                pod = self.ctx.pod(name)
                if pod.server != self._target(leg, pod):
                    self._upgrade([pod], {name: self._target(leg, pod)})
        elif phase == "primary":
            pod = self._primary(shard)
            self._upgrade([pod], {pod.name: self._target(leg, pod)})
        elif phase == "switch-over":
            self._switch_over(self._primary(shard), leg)
        elif phase == "old-primary" and old_primary is not None:
            if old_primary.server != self._target(leg, old_primary):
                self._upgrade([old_primary], {old_primary.name: self._target(leg, old_primary)})

    def _target(self, leg: Leg, pod: Pod) -> str:
        return leg.to if leg.to is not None else self.original[pod.name]

    # ------------------------------------------------------------------ steps
    def _step(self, action: str, pods: list[Pod], to: str | None, act: Callable[[StepRecord], None]) -> None:
        """Emit the step's firing around `act`; on a pod that cannot sync, revert it and stop the drill."""
        if self.stopping.is_set():
            raise DrillStopped("the run is stopping")
        if time.monotonic() > self.deadline:
            raise DrillStopped(f"the drill's budget (duration_s {self.fault.duration_s:g}) is spent")
        self.steps += 1
        self.current = f"{self.drill_id}/{self.steps} {action} {','.join(p.name for p in pods)}"
        record = StepRecord(f"{self.drill_id}/{self.steps}", action, [p.name for p in pods], to)
        target = {"step": self.steps, "action": action}
        params = {"action": action, "step": self.steps, "strategy": self.fault.strategy,
                  "from": {p.name: p.version for p in pods}, "to": self._version(to) if to else None}
        self.events.emit(SOURCE, "fault-start", fault_id=record.fault_id, kind=action, target=target,
                         pod=record.event_pod, params=params)
        failure: StepFailed | None = None
        try:
            with LinkWatch(self.ctx) as links:
                try:
                    act(record)
                except StepFailed as exc:
                    failure = exc
                record.observed["link_down_s"] = {**links.link_down_s(
                    [r.pod for r in current_roles(self.ctx.deployment) if r.role == "replica"]),
                    **record.observed.pop("link_down_exact", {})}
        except DrillStopped:  # the run is stopping: the step ends unverified (its check says so), no revert
            self._end(record)
            raise
        except Exception as exc:  # noqa: BLE001 - any other failure is this step's finding
            failure = StepFailed(f"step {self.steps} ({action}) failed: {exc}", record.pods[0])
        ok = failure is None
        detail = record.observed.get("detail") or (str(failure) if failure else "")
        self.events.emit(SOURCE, "fault-verified", fault_id=record.fault_id, ok=ok, detail=detail)
        if failure is not None:
            record.observed["failed"] = {"pod": failure.pod, "why": str(failure), "log_line": failure.line}
        self._end(record)
        if failure is not None:
            changed = {name: server for name, server in self._before.items() if server != self.ctx.pod(name).server}
            if action == "upgrade" and changed:
                self._revert(changed)
            raise failure

    def _end(self, record: StepRecord) -> None:
        self.events.emit(SOURCE, "fault-end", fault_id=record.fault_id, kind=record.action, pod=record.event_pod,
                         observed=record.observed)

    def _version(self, server: str) -> str:
        binary = resolve_server(server)
        return f"{binary.product} {binary.version_str}"

    def _upgrade(self, pods: list[Pod], to: dict[str, str], action: str = "upgrade") -> None:
        servers = set(to.values())
        self._step(action, pods, servers.pop() if len(servers) == 1 else None,
                   lambda record: self._replace(record, pods, to))

    def _revert(self, servers: dict[str, str]) -> None:
        """Put the pods a failed step changed back on the servers they ran before it (reported as a step of
        its own), so the topology can converge: the replica that could not sync, or the replicas of a
        primary they cannot follow."""
        try:
            self._upgrade([self.ctx.pod(name) for name in servers], servers, action="revert")
        except StepFailed:
            pass  # the revert step's own events say what happened

    def _replace(self, record: StepRecord, pods: list[Pod], to: dict[str, str]) -> None:
        """Stop each pod and start its new server on the same address, role and data dir; then wait until
        every replica is in sync again (for an all-at-once step, every replica of the topology)."""
        deployment = self.ctx.deployment
        self._before = {p.name: p.server for p in pods}
        primaries = {p.name: self._follows(p) for p in pods}
        were_replicas = {r.pod for r in current_roles(deployment) if r.role == "replica"}
        were_replicas |= {name for name, primary in primaries.items() if primary is not None}
        # Sentinel topologies render `replicaof`; a cluster node keeps its primary in nodes.conf
        sentinel = deployment.topology["kind"] == "sentinel"
        follow = {name: primary.host if primary is not None and sentinel else None for name, primary in primaries.items()}
        offsets = {p.name: self._log_size(p) for p in deployment.redis_pods()}
        started: dict[str, float] = {}
        stopped: dict[str, float] = {}

        def replace(pod: Pod) -> None:
            stopped[pod.name] = self.events.clock.t()
            self.ctx.platform.replace_server(deployment, pod, to[pod.name], replicaof=follow[pod.name])
            started[pod.name] = self.events.clock.t()

        on_each(pods, replace)
        deployment.save()
        # the pods left running judge by what their logs say from now on (they were following the old servers)
        offsets.update({p.name: self._log_size(p) for p in deployment.redis_pods() if p.name not in to})
        record.observed["started_s"] = started
        timeout = self.fault.step_timeout_s
        for pod in pods:
            try:
                self.ctx.platform.wait_pod_answers(deployment, pod, timeout=timeout)
            except HarnessError:
                self._check_log(pod, offsets[pod.name])  # it may have refused its own data dir's RDB at start-up
                raise
        # every replica, and every pod that was one (a restarted pod still LOADING does not say its role yet)
        # (and not a replica that a failover during the step has made primary)
        roles = {r.pod: r.role for r in current_roles(deployment)}
        watched = [p.name for p in deployment.redis_pods()
                   if roles.get(p.name) == "replica" or (p.name in were_replicas and roles.get(p.name) != "primary")]
        link_up = self._wait_synced(watched, offsets, timeout)
        # a restarted replica's link was down from its stop until it was seen up again
        record.observed["link_down_exact"] = {n: round(link_up[n] - stopped[n], 3) for n in stopped if n in link_up}
        record.observed["resync"] = {n: resync_kind(self._log_since(deployment.pod(n), offsets[n])) for n in watched}
        record.observed["versions"] = {p.name: p.version for p in pods}
        record.observed["detail"] = "; ".join(
            [f"{p.name} runs {p.version}" for p in pods]
            + [f"{n} in sync ({record.observed['resync'][n] or 'no'} resync)" for n in watched])

    def _follows(self, pod: Pod) -> Pod | None:
        """The primary `pod` replicates (or will, once started): its own INFO's, or for a pod that is down (a
        failed start) the primary of its shard unless that is itself. None: it is, or will be, a primary."""
        role = redis_role(self.ctx.deployment, pod)
        if role.role == "replica" and role.primary:
            return self.ctx.pod(role.primary)
        if role.role != "down":
            return None
        cluster = self.ctx.deployment.topology["kind"] == "cluster"
        try:
            primary = self._primary(pod.shard if cluster else None)
        except StepFailed:
            return None
        return primary if primary.name != pod.name else None

    def _wait_synced(self, names: list[str], log_offsets: dict[str, int], timeout: float) -> dict[str, float]:
        """Every replica's link is up and its offset reached its primary's offset at link-up; a log line
        saying one cannot load its primary's data ends the wait at once. All are polled together, so the
        run time each link was first seen up (returned) is as exact as the 0.1 s poll."""
        link_up: dict[str, float] = {}
        target: dict[str, int] = {}
        waiting = list(names)

        def synced(name: str) -> bool:
            pod = self.ctx.pod(name)
            self._check_log(pod, log_offsets[name])
            info = pod_client(self.ctx.deployment, pod, timeout=0.5).info("replication")
            if info.get("role") != "slave" or info.get("master_link_status") != "up":
                return False
            link_up.setdefault(name, self.events.clock.t())
            if name not in target:
                primary = self.ctx.deployment.pod_by_address(str(info["master_host"]), int(info["master_port"]))
                if primary is None:  # an address of no pod: not in sync with the primary it should follow
                    return False
                target[name] = int(pod_client(self.ctx.deployment, primary, timeout=0.5)
                                   .info("replication")["master_repl_offset"])
            return int(info.get("slave_repl_offset", -1)) >= target[name]

        def all_synced() -> bool:
            waiting[:] = [name for name in waiting if not _answers_true(partial(synced, name))]
            return not waiting

        if not names:
            return link_up
        try:
            self._poll(all_synced, timeout, f"{', '.join(names)} to sync with their primary", self.ctx.pod(names[0]), 0)
        except SyncTimeout:
            late = self.ctx.pod(waiting[0]) if waiting else None
            if late is None:
                raise
            text = self._log_since(late, log_offsets[late.name]).strip().splitlines()
            raise SyncTimeout(f"{late.name} ({late.version}) never synced within {timeout:g}s; its last log line: "
                              f"{text[-1] if text else '(nothing in its log)'}", late.name) from None
        return link_up

    def _check_log(self, pod: Pod, offset: int) -> None:
        line = incompatibility(self._log_since(pod, offset))
        if line:
            raise StepFailed(f"incompatible: {pod.name} ({pod.version}) cannot load its primary's data: {line}",
                             pod.name, line)

    def _poll(self, condition: Callable[[], bool], timeout: float, what: str, pod: Pod, log_offset: int) -> None:
        def stoppable() -> bool:
            if self.stopping.is_set():
                raise DrillStopped("the run is stopping")
            return condition()

        try:
            wait_until(stoppable, timeout=timeout, interval=0.1, what=what)
        except PollTimeout as exc:
            text = self._log_since(pod, log_offset).strip().splitlines()
            last = text[-1] if text else "(nothing in its log)"
            raise SyncTimeout(f"{exc}; {pod.name}'s ({pod.version}) last log line: {last}", pod.name) from None

    # ------------------------------------------------------------------ switch-over
    def _switch_over(self, primary: Pod, leg: Leg) -> None:
        replicas = self._replicas_of(primary)
        upgraded = [n for n in replicas if self.ctx.pod(n).server == self._target(leg, self.ctx.pod(n))]
        if not upgraded:
            raise StepFailed(f"switch-over: no upgraded replica of {primary.name} to promote", primary.name)
        kind = self.ctx.deployment.topology["kind"]
        act = self._sentinel_switch if kind == "sentinel" else self._cluster_switch
        self._step("switch-over", [primary], None, lambda record: act(record, primary, self.ctx.pod(upgraded[0])))

    def _sentinel_switch(self, record: StepRecord, primary: Pod, candidate: Pod) -> None:
        """Sentinel picks the replica itself (by priority and offset); every replica of the primary runs the
        target version by this phase, so `candidate` only proves that one does."""
        deployment, topo, timeout = self.ctx.deployment, self.ctx.deployment.topo, self.fault.step_timeout_s
        offsets = {p.name: self._log_size(p) for p in deployment.redis_pods()}
        for s in deployment.sentinel_pods():  # sentinels must have re-read the restarted replicas first
            self._poll(partial(sentinel_can_fail_over, deployment, s, topo.replicas, topo.sentinels), timeout,
                       f"{s.name} to see every replica usable", primary, offsets[primary.name])
        client = pod_client(deployment, primary, timeout=2)
        client.execute_command("CLIENT", "PAUSE", int(timeout * 1000), "WRITE")
        record.observed["writes_paused_s"] = self.events.clock.t()
        try:
            target = int(client.info("replication")["master_repl_offset"])
            for name in self._replicas_of(primary):
                replica = self.ctx.pod(name)
                self._poll(partial(_offset_reached, deployment, replica, target), timeout,
                           f"{name} to reach offset {target}", replica, offsets[name])
            pod_client(deployment, deployment.sentinel_pods()[0], timeout=2).execute_command(
                "SENTINEL", "FAILOVER", MASTER_NAME)
            new = self._poll_value(lambda: _other(sentinel_primary(deployment), primary), timeout,
                                   "Sentinel to name a new primary", primary, offsets[primary.name])
            record.observed["new_primary"] = new.name
            client.execute_command("REPLICAOF", new.host, str(new.port))
            for s in deployment.sentinel_pods():  # the step ends when every sentinel has finished the failover
                self._poll(partial(_sentinel_settled, deployment, s, new), timeout,
                           f"{s.name} to finish the failover to {new.name}", primary, offsets[primary.name])
        finally:
            try:
                client.execute_command("CLIENT", "UNPAUSE")
                record.observed["writes_unpaused_s"] = self.events.clock.t()
            except redis.RedisError:
                pass
        self._after_switch(record, offsets)

    def _cluster_switch(self, record: StepRecord, primary: Pod, candidate: Pod) -> None:
        deployment, timeout = self.ctx.deployment, self.fault.step_timeout_s
        offsets = {p.name: self._log_size(p) for p in deployment.redis_pods()}
        asked = [time.monotonic()]
        pod_client(deployment, candidate, timeout=2).execute_command("CLUSTER", "FAILOVER")

        def taken_over() -> bool:
            if redis_role(deployment, candidate).role == "primary" and redis_role(deployment, primary).role == "replica":
                return True
            if time.monotonic() - asked[0] > MANUAL_FAILOVER_GIVES_UP_S:  # the server gave up: ask once more
                asked[0] = time.monotonic()
                try:
                    pod_client(deployment, candidate, timeout=2).execute_command("CLUSTER", "FAILOVER")
                except redis.RedisError:
                    pass  # it became the primary meanwhile: the next poll sees it
            return False

        self._poll(taken_over, timeout, f"{candidate.name} to take over from {primary.name}", candidate,
                   offsets[candidate.name])
        record.observed["new_primary"] = candidate.name
        for pod in (candidate, primary):
            self._poll(partial(_cluster_ok, deployment, pod), timeout, f"{pod.name} to report cluster_state:ok", pod,
                       offsets[pod.name])
        self._after_switch(record, offsets)

    def _after_switch(self, record: StepRecord, offsets: dict[str, int]) -> None:
        replicas = self._replicas_of(self.ctx.pod(record.observed["new_primary"]))
        self._wait_synced(replicas, offsets, self.fault.step_timeout_s)
        record.observed["resync"] = {n: resync_kind(self._log_since(self.ctx.pod(n), offsets[n])) for n in replicas}
        record.observed["detail"] = f"{record.observed['new_primary']} is primary; " + "; ".join(
            f"{n} in sync ({record.observed['resync'][n] or 'no'} resync)" for n in replicas)

    def _poll_value(self, value: Callable[[], Any], timeout: float, what: str, pod: Pod, log_offset: int) -> Any:
        found: list[Any] = []

        def condition() -> bool:
            got = value()
            if got:
                found.append(got)
            return bool(got)

        self._poll(condition, timeout, what, pod, log_offset)
        return found[-1]

    # ------------------------------------------------------------------ server logs
    def _log_size(self, pod: Pod) -> int:
        """An offset into the pod's server log (the platform's, across the servers it ran)."""
        return len(self.ctx.platform.server_log(self.ctx.deployment, pod))

    def _log_since(self, pod: Pod, offset: int) -> str:
        return self.ctx.platform.server_log(self.ctx.deployment, pod)[offset:]

    # ------------------------------------------------------------------ roles
    def _primary(self, shard: int | None) -> Pod:
        """The shard's primary now: Sentinel's view where there is one (the primary clients are sent to)."""
        if self.ctx.deployment.topology["kind"] == "sentinel":
            named = sentinel_primary(self.ctx.deployment)
            if named is not None:
                return named
        for role in current_roles(self.ctx.deployment):
            if role.role == "primary" and (shard is None or role.shard == shard):
                return self.ctx.pod(role.pod)
        raise StepFailed(f"no primary{'' if shard is None else f' in shard {shard}'} now", "")

    def _replicas_of(self, primary: Pod) -> list[str]:
        return [r.pod for r in current_roles(self.ctx.deployment) if r.role == "replica" and r.primary == primary.name]


def new_drill(ctx: Context, fault: Upgrade, drill_id: str, events: EventLog, stopping: threading.Event) -> Drill:
    return Drill(ctx, fault, drill_id, events, stopping, time.monotonic() + fault.duration_s)


def _offset_reached(deployment: Deployment, replica: Pod, offset: int) -> bool:
    return int(pod_client(deployment, replica, timeout=0.5).info("replication").get("slave_repl_offset", -1)) >= offset


def _cluster_ok(deployment: Deployment, pod: Pod) -> bool:
    return pod_client(deployment, pod, timeout=0.5).cluster("info")["cluster_state"] == "ok"


def _sentinel_settled(deployment: Deployment, sentinel: Pod, new: Pod) -> bool:
    """The sentinel names `new` as primary and has no failover in progress."""
    client = pod_client(deployment, sentinel, timeout=0.5)
    addr = client.execute_command("SENTINEL", "get-master-addr-by-name", MASTER_NAME)
    flags = client.execute_command("SENTINEL", "MASTER", MASTER_NAME)
    flags = dict(zip(flags[0::2], flags[1::2])) if isinstance(flags, list) else flags
    named = deployment.pod_by_address(addr[0], int(addr[1]))
    return named is not None and named.name == new.name and "failover" not in str(flags.get("flags", ""))


def _answers_true(condition: Callable[[], bool]) -> bool:
    """A poll round's check of one pod: a pod that does not answer yet is simply not synced yet."""
    try:
        return condition()
    except HarnessError:
        raise
    except Exception:  # noqa: BLE001 - connection refused while it starts, LOADING, ...
        return False


def _other(pod: Pod | None, old: Pod) -> Pod | None:
    return pod if pod is not None and pod.name != old.name else None


# ---------------------------------------------------------------------- before the run


def drill_problems(scenario: Scenario) -> list[str]:
    """Before anything is deployed: every drill's target server must exist here, and every config the
    drill will render must load in every version it will meet (`lint_drill_configs`)."""
    found = []
    for i, fault in enumerate(scenario.faults):
        if not isinstance(fault, Upgrade):
            continue
        servers = sorted({fault.to, *map(scenario.topology.server_for, scenario.topology.redis_pod_names())})
        try:
            binaries = [resolve_server(spec) for spec in servers]
        except CapabilityError as exc:
            found.append(f"faults.{i} (upgrade): {exc}")
            continue
        old = [b for b in binaries if b.product == "redis" and b.version < (6, 2, 0)]
        if old and scenario.topology.kind == "sentinel" and fault.strategy != "naive":
            found.append(f"faults.{i} (upgrade): the switch-over pauses writes with CLIENT PAUSE WRITE, which needs "
                         f"Redis 6.2+; {old[0].spec} is {old[0].version_str}")
        found += [f"faults.{i} (upgrade): {p}" for p in lint_drill_configs(scenario.topology, binaries)]
    return found


# A replica abandons a manual failover its primary did not complete in 5 s ("Manual failover timed out")
MANUAL_FAILOVER_GIVES_UP_S = 6.0


def lint_drill_configs(topology: Topology, binaries: list[ServerBinary]) -> list[str]:
    """The cross-version config lint before a drill: the redis.conf each version will be started with
    (rendered as the platform renders it, the scenario's `extra_config` included) is loaded by that
    version (`harness.lint`); one line per config a version rejects."""
    from harness.lint import describe, lint_config

    problems = []
    for binary in binaries:
        text = render_redis_conf(topology, binary, bind="127.0.0.1", data_dir=".", logfile="")
        results = lint_config(text, "redis", [binary.spec], source=f"redis.conf rendered for {binary.spec}")
        problems += [describe(r) for r in results if r.rejected]
    return problems

"""Chaos Toolkit actions and probes for a topology deployed by `redis-harness deploy`.

An experiment calls them by Python path:

    {"type": "action", "name": "kill-the-primary",
     "provider": {"type": "python", "module": "harness.chaostoolkit", "func": "pod_kill",
                  "arguments": {"role": "primary"}}}

Every function takes `deployment`: the path of the deployment.json that `redis-harness deploy`
wrote. Left out, it comes from the experiment's configuration key `redis_harness_deployment`,
then from the environment variable REDIS_HARNESS_DEPLOYMENT.

Fault actions use the nemesis's own fault kinds (same targets, checks and heals as a scenario
run) and return the fault's record. Each one is written to `<deployment state>/chaostoolkit/
faults.json` before it acts, so `heal` / `heal_all` in the rollbacks — of this `chaos run` or
a later one — undo exactly what was done. With `duration_s` the fault also heals itself after
that long; the `chaos` process then waits for that heal before it exits, so a timed fault
never outlives the experiment. Without it the fault stays until a rollback heals it.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import redis
from chaoslib.exceptions import ActivityFailed
from pydantic import TypeAdapter, ValidationError
from redis.cluster import RedisCluster

from harness.nemesis import faults as kinds
from harness.nemesis import feasibility
from harness.nemesis.faults import ActiveFault, Context
from harness.nemesis.targets import resolve, rng_for
from harness.platforms import make_platform
from harness.deployment import Deployment
from harness.poll import PollTimeout, wait_until
from harness.redisconn import cluster_client, pod_client
from harness.roles import current_roles, primaries, redis_role
from harness.scenario import Fault, FaultTarget

ENV = "REDIS_HARNESS_DEPLOYMENT"
CONFIG_KEY = "redis_harness_deployment"
UNTIL_HEALED_S = 86400.0  # the model wants a duration; a fault without one lasts until a rollback heals it
WAIT_MS = 1000  # how long acknowledged_writes_lost waits for replicas to acknowledge its batch

__all__ = [
    "pod_kill", "pod_delete", "pause", "partition", "packet_loss", "latency", "bandwidth", "heal", "heal_all",
    "wait_for_primary", "wait_for_replica_link", "ping", "role_of", "primary_address", "replication_lag", "cluster_state_ok",
    "acknowledged_writes_lost",
]

_timers: dict[str, threading.Timer] = {}
_timers_lock = threading.Lock()


# =================================================================================== actions: faults


def pod_kill(role: str | None = None, pod: str | None = None, shard: int | None = None, pick: str = "first",
             duration_s: float | None = None, seed: int = 0, deployment: str | None = None,
             configuration: dict | None = None) -> dict:
    """SIGKILL the target's server; it is restarted (same data dir) by the heal."""
    return _start("pod-kill", _selector(role, pod, shard, pick), duration_s, seed, deployment, configuration)


def pod_delete(role: str | None = None, pod: str | None = None, shard: int | None = None, pick: str = "first",
               duration_s: float | None = None, seed: int = 0, deployment: str | None = None,
               configuration: dict | None = None) -> dict:
    """Kill the target; the heal restarts it with an empty data dir (unless the topology has persistent volumes)."""
    return _start("pod-delete", _selector(role, pod, shard, pick), duration_s, seed, deployment, configuration)


def pause(role: str | None = None, pod: str | None = None, shard: int | None = None, pick: str = "first",
          method: str = "sigstop", duration_s: float | None = None, seed: int = 0, deployment: str | None = None,
          configuration: dict | None = None) -> dict:
    """Freeze the target (SIGSTOP, or `DEBUG SLEEP duration_s` with method debug-sleep) until healed."""
    if method == "debug-sleep" and duration_s is None:
        raise ActivityFailed("method debug-sleep needs duration_s: the server sleeps that long and cannot be woken")
    return _start("pause", _selector(role, pod, shard, pick), duration_s, seed, deployment, configuration,
                  method=method)


def partition(role: str | None = None, pod: str | None = None, shard: int | None = None, pick: str = "first",
              mode: str = "isolate", groups: list | None = None, client_side: str = "both", action: str = "drop",
              duration_s: float | None = None, seed: int = 0, deployment: str | None = None,
              configuration: dict | None = None) -> dict:
    """Cut the target off from every other pod (isolate), or cut `groups` [[A...], [B...]] apart (split / one-way)."""
    selector = _selector(role, pod, shard, pick) if mode == "isolate" else None
    return _start("partition", selector, duration_s, seed, deployment, configuration, mode=mode, groups=groups,
                  client_side=client_side, action=action)


def packet_loss(percent: float, role: str | None = None, pod: str | None = None, shard: int | None = None,
                pick: str = "first", peers: list | None = None, duration_s: float | None = None, seed: int = 0,
                deployment: str | None = None, configuration: dict | None = None) -> dict:
    """Drop `percent` of the target's packets at random (only those to/from `peers` if given)."""
    return _start("packet-loss", _selector(role, pod, shard, pick), duration_s, seed, deployment, configuration,
                  percent=percent, peers=peers)


def latency(delay_ms: float, jitter_ms: float = 0.0, role: str | None = None, pod: str | None = None,
            shard: int | None = None, pick: str = "first", duration_s: float | None = None, seed: int = 0,
            deployment: str | None = None, configuration: dict | None = None) -> dict:
    """Delay every packet the target sends by delay_ms ± jitter_ms (NFQUEUE and a user-space delayer)."""
    return _start("latency", _selector(role, pod, shard, pick), duration_s, seed, deployment, configuration,
                  delay_ms=delay_ms, jitter_ms=jitter_ms)


def bandwidth(rate_kbit: int, direction: str = "both", role: str | None = None, pod: str | None = None,
              shard: int | None = None, pick: str = "first", duration_s: float | None = None, seed: int = 0,
              deployment: str | None = None, configuration: dict | None = None) -> dict:
    """Cap the target's traffic at rate_kbit (HTB; ingress through an IFB device)."""
    return _start("bandwidth", _selector(role, pod, shard, pick), duration_s, seed, deployment, configuration,
                  rate_kbit=rate_kbit, direction=direction)


def heal(fault_id: str, deployment: str | None = None, configuration: dict | None = None) -> dict:
    """Heal one fault by the id its action returned; harmless if it is healed already."""
    d = _load(deployment, configuration)
    with _book(d) as book:
        if fault_id not in book:
            raise ActivityFailed(f"no fault {fault_id!r} was started on this deployment; known: {sorted(book)}")
        record = _heal_record(d, book, fault_id)
    return record.as_dict()


def heal_all(deployment: str | None = None, configuration: dict | None = None) -> list[str]:
    """Heal every fault the actions started on this deployment that is still in effect; returns their ids."""
    d = _load(deployment, configuration)
    errors = []
    with _book(d) as book:
        pending = [fid for fid, data in book.items() if not data["healed"]]
        for fault_id in pending:
            try:
                _heal_record(d, book, fault_id)
            except Exception as exc:  # noqa: BLE001 - heal the others, then report
                errors.append(f"{fault_id}: {exc}")
    if errors:
        raise ActivityFailed("could not heal " + "; ".join(errors))
    return pending


def wait_for_primary(timeout_s: float = 60.0, changed_from: str | None = None, shard: int | None = None,
                     deployment: str | None = None, configuration: dict | None = None) -> str:
    """Wait until the (shard's) primary answers PING — and is not `changed_from` ("host:port") if given."""
    d = _load(deployment, configuration)

    def serving() -> str:
        current = primaries(d).get(shard)
        if current is None or current.address == changed_from:
            return ""
        return current.address if pod_client(d, current, timeout=0.5).ping() else ""

    try:
        return wait_until(serving, timeout=timeout_s, interval=0.2, what="a primary that answers")
    except PollTimeout as exc:
        raise ActivityFailed(str(exc)) from None


def wait_for_replica_link(pod: str | None = None, up: bool = True, timeout_s: float = 60.0,
                          deployment: str | None = None, configuration: dict | None = None) -> str:
    """Wait until a replica's master_link_status is up (or down, with up=false).

    Without `pod`, up waits until every replica the topology declares is a replica with its link
    up (e.g. after a rollback restarted an old primary that Sentinel must demote first), and
    down waits until some replica's link is down (the one a `role: replica` fault picked).
    """
    d = _load(deployment, configuration)
    wanted = "up" if up else "down"

    def reached() -> bool:
        if pod is not None:
            info = pod_client(d, d.pod(pod), timeout=0.5).info("replication")
            return info.get("role") == "slave" and info.get("master_link_status") == wanted
        replicas = [r for r in current_roles(d) if r.role == "replica"]
        if up:
            return sum(1 for r in replicas if r.link_up) == _declared_replicas(d)
        return any(r.link_up is False for r in replicas)

    where = pod or ("every replica" if up else "some replica")
    try:
        wait_until(reached, timeout=timeout_s, interval=0.2, what=f"master_link_status:{wanted} on {where}")
    except PollTimeout as exc:
        raise ActivityFailed(str(exc)) from None
    return f"master_link_status:{wanted} on {where}"


def _declared_replicas(d: Deployment) -> int:
    topo = d.topo
    return topo.replicas * (topo.shards if topo.kind == "cluster" else 1)


# =================================================================================== probes


def ping(pod: str | None = None, role: str | None = "primary", shard: int | None = None,
         deployment: str | None = None, configuration: dict | None = None) -> bool:
    """Whether the pod (by name, or by current role) answers PING within half a second."""
    d = _load(deployment, configuration)
    try:
        (target,) = resolve(d, _target(_selector(role if pod is None else None, pod, shard, "first")), rng_for(0, ""))
    except Exception:  # noqa: BLE001 - no pod has that role now: nothing answers
        return False
    return kinds.answers(d, target)


def role_of(pod: str, deployment: str | None = None, configuration: dict | None = None) -> str:
    """`primary`, `replica`, `sentinel` or `down`, as the servers say now."""
    d = _load(deployment, configuration)
    roles = {r.pod: r.role for r in current_roles(d)}
    if pod not in roles:
        raise ActivityFailed(f"no pod {pod!r}; pods: {sorted(roles)}")
    return roles[pod]


def primary_address(shard: int | None = None, deployment: str | None = None,
                    configuration: dict | None = None) -> str:
    """host:port of the current primary (Sentinel's view in a sentinel topology; a shard's in a cluster)."""
    d = _load(deployment, configuration)
    current = primaries(d).get(shard)
    if current is None:
        raise ActivityFailed(f"no primary now{f' for shard {shard}' if shard is not None else ''}")
    return current.address


def replication_lag(pod: str | None = None, deployment: str | None = None,
                    configuration: dict | None = None) -> int:
    """Bytes the replica (or the most lagging replica) is behind its primary; fails if one is unreachable."""
    d = _load(deployment, configuration)
    replicas = [r for r in current_roles(d) if r.role == "replica" and (pod is None or r.pod == pod)]
    if pod is not None and not replicas:
        raise ActivityFailed(f"{pod} is not a replica now ({role_of(pod, deployment, configuration)})")
    lags = []
    for replica in replicas:
        if not replica.link_up or replica.primary is None:
            raise ActivityFailed(f"{replica.pod}'s link to its primary is down")
        primary = redis_role(d, d.pod(replica.primary))
        lags.append(max(0, (primary.offset or 0) - (replica.offset or 0)))
    return max(lags, default=0)


def cluster_state_ok(deployment: str | None = None, configuration: dict | None = None) -> bool:
    """Every Redis pod that answers reports cluster_state:ok (and at least one answers)."""
    d = _load(deployment, configuration)
    if d.topology["kind"] != "cluster":
        raise ActivityFailed(f"cluster_state_ok needs a cluster topology, this one is {d.topology['kind']!r}")
    states = []
    for p in d.redis_pods():
        try:
            states.append(pod_client(d, p, timeout=0.5).cluster("info")["cluster_state"])
        except (redis.RedisError, OSError):
            continue
    return bool(states) and all(state == "ok" for state in states)


def acknowledged_writes_lost(count: int = 50, wait_replicas: int | None = None, deployment: str | None = None,
                             configuration: dict | None = None) -> int:
    """Writes this probe had acknowledged on earlier calls that the current primary no longer has.

    Each call reads back every key earlier calls wrote (the count of missing or changed ones is
    the result), then writes `count` new keys, waits for `wait_replicas` replicas (default: all
    of the topology's) to acknowledge them with WAIT, and records the acknowledged ones. Put it
    in the steady-state hypothesis: the call before the method writes, the call after checks.
    """
    d = _load(deployment, configuration)
    client = _data_client(d)
    ledger = _state_dir(d) / "writes.json"
    written: dict[str, str] = json.loads(ledger.read_text()) if ledger.exists() else {}
    try:
        lost = sum(1 for key, value in written.items() if client.get(key) != value)
        batch = uuid.uuid4().hex[:8]
        for i in range(count):
            key, value = f"ctk:{batch}:{i}", f"{batch}-{i}"
            client.set(key, value)
            written[key] = value
        _wait_replicas(d, client, d.topo.replicas if wait_replicas is None else wait_replicas)
    except (redis.RedisError, OSError) as exc:
        raise ActivityFailed(f"the write/read check could not talk to the primary: {exc}") from None
    ledger.write_text(json.dumps(written))
    return lost


# =================================================================================== internals


def _load(path: str | None, configuration: dict | None) -> Deployment:
    path = path or (configuration or {}).get(CONFIG_KEY) or os.environ.get(ENV)
    if not path:
        raise ActivityFailed(f"which deployment? pass `deployment`, set configuration {CONFIG_KEY} or ${ENV} "
                             "to the deployment.json that `redis-harness deploy` wrote")
    try:
        return Deployment.load(path)
    except OSError as exc:
        raise ActivityFailed(f"cannot read deployment {path}: {exc}") from None


def _selector(role: str | None, pod: str | None, shard: int | None, pick: str) -> dict | None:
    if role is None and pod is None:
        return None
    spec: dict[str, Any] = {"pick": pick}
    if pod is not None:
        spec["pod"] = pod
    else:
        spec["role"] = role
    if shard is not None:
        spec["shard"] = shard
    return spec


def _target(selector: dict | None) -> FaultTarget:
    if selector is None:
        raise ActivityFailed("name a target: `role` or `pod`")
    return FaultTarget.model_validate(selector)


def _fault(kind: str, selector: dict | None, duration_s: float | None, params: dict):
    spec = {"kind": kind, "at_s": 0, "duration_s": duration_s or UNTIL_HEALED_S,
            **{k: v for k, v in params.items() if v is not None}}
    if selector is not None:
        spec["target"] = selector
    try:
        return TypeAdapter(Fault).validate_python(spec)
    except ValidationError as exc:
        raise ActivityFailed(f"invalid {kind} fault: {exc}") from None


def _platform(d: Deployment):
    return make_platform(d.platform)


def _state_dir(d: Deployment) -> Path:
    path = Path(d.state_dir) / "chaostoolkit"
    path.mkdir(parents=True, exist_ok=True)
    return path


_process_lock = threading.Lock()


@contextmanager
def _book(d: Deployment) -> Iterator[dict[str, dict]]:
    """The deployment's fault records, locked against other threads and `chaos` processes, saved on exit."""
    state = _state_dir(d)
    with _process_lock, open(state / "faults.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = state / "faults.json"
        book = json.loads(path.read_text()) if path.exists() else {}
        try:
            yield book
        finally:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(book, indent=2))
            tmp.replace(path)


def _start(kind: str, selector: dict | None, duration_s: float | None, seed: int, path: str | None,
           configuration: dict | None, **params) -> dict:
    d = _load(path, configuration)
    fault = _fault(kind, selector, duration_s, params)
    ctx = Context(_platform(d), d, seed)
    problems = feasibility.problems(ctx, [fault])
    if problems:
        raise ActivityFailed("this platform cannot make the fault here: " + "; ".join(problems))
    with _book(d) as book:
        fault_id = f"ctk-{len(book)}"
        record = kinds.plan(fault, fault_id)
        book[fault_id] = record.as_dict()
        try:
            kinds.apply(ctx, fault, record, rng_for(seed, fault_id))
        except Exception as exc:
            undo = ""
            try:
                kinds.heal(ctx, record)  # undo whatever part was done
            except Exception as heal_exc:  # noqa: BLE001 - report both; the record stays unhealed for heal_all
                undo = f"; undoing it failed too: {heal_exc}"
            book[fault_id] = record.as_dict()
            raise ActivityFailed(f"could not start {kind}: {exc}{undo}") from None
        book[fault_id] = record.as_dict()
    if duration_s is not None:
        _heal_later(path or d.state_file, configuration, fault_id, duration_s)
    return record.as_dict()


def _heal_record(d: Deployment, book: dict[str, dict], fault_id: str) -> ActiveFault:
    with _timers_lock:
        timer = _timers.pop(fault_id, None)
    if timer is not None and timer is not threading.current_thread():
        timer.cancel()
    record = ActiveFault.from_dict(book[fault_id])
    try:
        kinds.heal(Context(_platform(d), d), record)
    finally:
        book[fault_id] = record.as_dict()
    return record


def _heal_later(path: str | os.PathLike, configuration: dict | None, fault_id: str, duration_s: float) -> None:
    """A non-daemon timer: the process cannot exit before a timed fault is healed."""
    timer = threading.Timer(duration_s, heal, kwargs={"fault_id": fault_id, "deployment": str(path),
                                                       "configuration": configuration})
    timer.name = f"heal-{fault_id}"
    with _timers_lock:
        _timers[fault_id] = timer
    timer.start()


def _data_client(d: Deployment):
    if d.topology["kind"] == "cluster":
        return cluster_client(d, socket_timeout=5, socket_connect_timeout=2, decode_responses=True)
    current = primaries(d).get(None)
    if current is None:
        raise ActivityFailed("no primary now")
    return pod_client(d, current, timeout=5)  # longer than WAIT's own timeout below


def _wait_replicas(d: Deployment, client, replicas: int) -> None:
    if replicas <= 0:
        return
    if isinstance(client, RedisCluster):
        client.execute_command("WAIT", replicas, WAIT_MS, target_nodes=RedisCluster.PRIMARIES)
    else:
        client.execute_command("WAIT", replicas, WAIT_MS)

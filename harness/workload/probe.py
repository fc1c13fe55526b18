"""The probe: K Jepsen-style clients writing keys that can be checked afterwards.

Each client is one process with at most one operation outstanding: `SET probe:<client>:<seq>
<seq>`, optionally `WAIT` after an acknowledged write and a `GET` of the key between writes.
A paced client keeps its schedule (open loop): write <seq> is due at schedule start + seq x
period, whatever happened to the writes before it; a client that fell behind (a slow reply, a
failure's backoff) sends the next due write at once until it has caught up. The schedule is in
the `driver-start` event (`schedule_start_ns`, `period_ns`), so the checker measures each
write's latency from when it was due, not from when a closed-loop client got round to sending it
(coordinated omission: a 200 ms stall would otherwise count as one slow write instead of twenty). Every
operation goes to history.csv as `invoke`, then `ok` / `fail` / `info` (harness.workload.probe_client
says which is which); each client hands its rows over in small batches, at most ~0.1 s old. After
the run healed, `final_read` reads every key a client tried to write from the current primary of
its shard into final.csv (a naive deployment's keys from every pod: present if any pod has it); the
checker compares the two.
"""

from __future__ import annotations

import csv
import random
import threading
import time
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator

import redis
from redis.crc import key_slot

from harness import roles
from harness.deployment import Deployment, Pod
from harness.redisconn import pod_client
from harness.rundir import FINAL_COLUMNS, EventLog, HistoryWriter
from harness.scenario import ProbeLoad
from harness.workload.probe_client import Outcome, Target, make_target
from harness.poll import join_all

MAX_DURATION_S = 86400 + 600  # the longest scenario plus headroom: clients stop by themselves at the latest then
BACKOFF_BASE_S = 0.01
BACKOFF_CAP_S = 0.25  # also bounds how late the probe sees a recovered primary
FINAL_BATCH = 1000
FINAL_TIMEOUT_S = 5.0
ROWS_BATCH = 128  # a client hands its rows to the HistoryWriter this many at a time at most...
ROWS_MAX_AGE_NS = 100_000_000  # ...or once the oldest is this old, or before the client waits


class ClientRows:
    """One client's history rows, stamped at once and written in small batches: one lock round per
    batch instead of per row keeps recording cheap when several clients run at full speed."""

    def __init__(self, history: HistoryWriter, process: int):
        self._now_ns = history.clock.ns
        self._write = history.record_rows
        self._process = process
        self._rows: list[tuple] = []
        self._oldest_ns = 0

    def add(self, type: str, f: str, key: str, value: object = "", pod: str = "", error: str = "") -> None:
        t_ns = self._now_ns()
        if not self._rows:
            self._oldest_ns = t_ns
        self._rows.append((t_ns, self._process, type, f, key, value, pod, error))
        if len(self._rows) >= ROWS_BATCH or t_ns - self._oldest_ns >= ROWS_MAX_AGE_NS:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self._write(self._rows)
            self._rows = []


class Backoff:
    """Bounded exponential backoff with equal jitter, reset by a success."""

    def __init__(self, rng: random.Random):
        self._rng = rng
        self._failures = 0

    def reset(self) -> None:
        self._failures = 0

    def next_s(self) -> float:
        self._failures += 1
        delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(self._failures - 1, 16))
        return delay / 2 + self._rng.uniform(0, delay / 2)


class Probe:
    def __init__(self, deployment: Deployment, spec: ProbeLoad, history: HistoryWriter, events: EventLog, *,
                 seed: int = 0, max_duration_s: float = MAX_DURATION_S,
                 target_factory: Callable[[Deployment, float], Target] = make_target):
        self.deployment = deployment
        self.spec = spec
        self.history = history
        self.events = events
        self.seed = seed
        self.max_duration_s = max_duration_s
        self._target_factory = target_factory
        self._invoked = [0] * spec.clients  # client c invoked writes of probe:c:0 .. probe:c:n-1
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ended = False
        self._end_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        deadline = time.monotonic() + self.max_duration_s
        period_ns = round(1e9 / self.spec.rate_per_client) if self.spec.rate_per_client else 0
        schedule_start_ns = self.history.clock.ns()
        origin_s = (self.history.clock.start_mono_ns + schedule_start_ns) / 1e9  # monotonic seconds
        self._threads = [
            threading.Thread(target=self._client, args=(c, deadline, origin_s), name=f"probe-{c}", daemon=True)
            for c in range(self.spec.clients)
        ]
        rate = f"{self.spec.rate_per_client:g}/s" if self.spec.rate_per_client else "as fast as possible"
        self.events.emit("driver", "driver-start", driver="probe", schedule_start_ns=schedule_start_ns,
                         period_ns=period_ns, clients=self.spec.clients,
                         detail=f"{self.spec.clients} clients, {rate} each, timeout {self.spec.timeout_ms} ms")
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask every client to finish its operation and return; True when all have. Idempotent."""
        self._stop.set()
        stuck = join_all(self._threads, timeout)
        self._end(f"{self.writes_invoked()} writes invoked" + (f"; still in an operation: {stuck}" if stuck else ""))
        return not stuck

    def _end(self, detail: str) -> None:
        """One driver-end event, whoever ends first: stop(), or the clients at max_duration_s."""
        with self._end_lock:
            if self._ended:
                return
            self._ended = True
        self.events.emit("driver", "driver-end", driver="probe", detail=detail)

    def writes_invoked(self) -> int:
        return sum(self._invoked)

    # ------------------------------------------------------------------ one client
    def _client(self, process: int, deadline: float, origin_s: float) -> None:
        spec = self.spec
        op_timeout = spec.timeout_ms / 1000
        wait_args = ("WAIT", spec.wait_replicas, spec.wait_timeout_ms)
        wait_timeout = op_timeout + spec.wait_timeout_ms / 1000  # WAIT blocks for its own timeout first
        period = 1.0 / spec.rate_per_client if spec.rate_per_client else 0.0
        backoff = Backoff(random.Random(f"{self.seed}:{process}"))
        rows = ClientRows(self.history, process)
        target = None
        try:
            target = self._target_factory(self.deployment, op_timeout)
            seq = 0
            while not self._stop.is_set() and time.monotonic() < deadline:
                if period:
                    delay = origin_s + seq * period - time.monotonic()  # open loop: when write <seq> is due
                    if delay > 0:
                        rows.flush()  # a paced client is not in a hurry: its rows go out before it waits
                        if self._stop.wait(delay):
                            break
                key = f"probe:{process}:{seq}"
                self._invoked[process] = seq + 1
                healthy = _op(target, rows, "write", key, seq, ("SET", key, seq), op_timeout).type == "ok"
                if healthy and spec.wait_replicas:
                    _op(target, rows, "wait", key, "", wait_args, wait_timeout)
                if spec.reads:
                    healthy = _op(target, rows, "read", key, "", ("GET", key), op_timeout).type == "ok" and healthy
                seq += 1
                if healthy:
                    backoff.reset()
                else:
                    rows.flush()
                    if self._stop.wait(backoff.next_s()):
                        break
            if not self._stop.is_set():
                self._end(f"clients reached max_duration_s {self.max_duration_s:g}")
        except Exception as exc:  # noqa: BLE001 - a client dying must be visible in the events, not silent
            self.events.emit("driver", "driver-error", driver="probe", detail=f"client {process}: {exc!r}")
        finally:
            rows.flush()
            if target is not None:
                target.close()

    # ------------------------------------------------------------------ final state
    def final_read(self, path: Path) -> dict[str, int]:
        """Read every key a client invoked a write for, from the current primary of its shard, into final.csv.

        Call after the run healed and settled. `present` is 1 or 0. Keys whose primary could not be
        asked (none known, or it did not answer) get no row and are counted as `unread`.
        """
        owner = self._key_owner()
        clients: dict[str, redis.Redis] = {}
        counts = {"keys": 0, "present": 0, "absent": 0, "unread": 0}
        with open(path, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(FINAL_COLUMNS)
            for batch in _batches(self._keys(), FINAL_BATCH):  # streamed: memory stays one batch
                for key, value, pod_name in self._read_batch(clients, owner, batch):
                    counts["keys"] += 1
                    if value is _UNREAD:  # no row: the checker counts such keys as unchecked, never lost
                        counts["unread"] += 1
                        continue
                    counts["present" if value is not None else "absent"] += 1
                    writer.writerow((key, int(value is not None), _text(value), pod_name))
        for client in clients.values():
            client.close()
        return counts

    def _keys(self) -> Iterator[str]:
        for client, invoked in enumerate(self._invoked):
            for seq in range(invoked):
                yield f"probe:{client}:{seq}"

    def _read_batch(self, clients: dict[str, redis.Redis], owner: Callable[[str], str] | None,
                    batch: list[str]) -> Iterator[tuple[str, object, str]]:
        """(key, value or None or _UNREAD, pod) for each key: from its primary; with no single owner (a naive
        deployment's independent primaries) from every pod, present if any pod has it: what is absent
        everywhere is gone, whichever pod a client would have reached."""
        if owner is None:
            pods = [p.name for p in self.deployment.redis_pods()]
            answers = {name: self._read(clients, name, batch) for name in pods}
            for i, key in enumerate(batch):
                held = [(answers[n][i], n) for n in pods if answers[n][i] is not None and answers[n][i] is not _UNREAD]
                if held:
                    yield key, held[0][0], held[0][1]
                else:
                    unread = any(answers[n][i] is _UNREAD for n in pods)
                    yield key, (_UNREAD if unread else None), ""
            return
        by_pod: dict[str, list[str]] = {}
        for key in batch:
            by_pod.setdefault(owner(key), []).append(key)
        for pod_name, keys in by_pod.items():
            for key, value in zip(keys, self._read(clients, pod_name, keys)):
                yield key, value, pod_name

    def _key_owner(self) -> Callable[[str], str] | None:
        """key -> name of the pod that is primary for it now ('' when no primary is known); None when no
        one pod owns a key (naive: every pod is a primary of its own)."""
        if self.deployment.topology["kind"] == "naive":
            return None
        primaries = roles.primaries(self.deployment)
        if self.deployment.topology["kind"] != "cluster":
            primary = primaries.get(None)
            return lambda key: primary.name if primary else ""
        slot_owner = _slot_owners(self.deployment, list(primaries.values()))
        return lambda key: slot_owner[key_slot(key.encode())]

    def _read(self, clients: dict[str, redis.Redis], pod_name: str, keys: list[str]) -> list[object]:
        if not pod_name:
            return [_UNREAD] * len(keys)
        if pod_name not in clients:
            clients[pod_name] = pod_client(self.deployment, self.deployment.pod(pod_name), timeout=FINAL_TIMEOUT_S)
        try:
            pipe = clients[pod_name].pipeline(transaction=False)
            for key in keys:
                pipe.get(key)
            return pipe.execute()
        except redis.RedisError:
            return [_UNREAD] * len(keys)


_UNREAD = object()


def _op(target: Target, rows: ClientRows, f: str, key: str, value: object, args: tuple, timeout_s: float) -> Outcome:
    """One operation: invoke, exactly one attempt, completion."""
    rows.add("invoke", f, key, value)
    outcome = target.call(args, key, timeout_s)
    if outcome.type == "ok" and f != "write":
        value = _text(outcome.value)
    rows.add(outcome.type, f, key, value, outcome.pod, outcome.error)
    return outcome


def _slot_owners(deployment: Deployment, primaries: list[Pod]) -> list[str]:
    """slot -> primary pod name, from CLUSTER SLOTS of the first primary that answers."""
    owners = [""] * 16384
    for pod in primaries:
        try:
            ranges = pod_client(deployment, pod, timeout=FINAL_TIMEOUT_S).execute_command("CLUSTER", "SLOTS")
        except redis.RedisError:
            continue
        for start, end, primary, *_replicas in ranges:
            owner = deployment.pod_by_address(str(primary[0]), int(primary[1]))
            owners[int(start):int(end) + 1] = [owner.name if owner else ""] * (int(end) - int(start) + 1)
        break
    return owners


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def _text(value: object) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)

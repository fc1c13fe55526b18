"""The server watchers: what Sentinel announced and which roles the pods held, written as events.

The checker times detection and promotion from these events, so they are written the moment
they are seen: Sentinel pub/sub messages as they arrive; roles by polling every `interval_s`
(INFO replication of each Redis pod, and for clusters CLUSTER NODES / CLUSTER INFO).
`role-change` is what each pod says of itself; `primary-change` is where clients are sent
(Sentinel's +switch-master, or CLUSTER NODES), which can differ for a while. Every
connection has a short timeout and is made again after an error, so pods that die, pause or
come back are followed.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import redis

from harness import roles
from harness.deployment import Deployment, Pod
from harness.redisconn import pod_client
from harness.rundir import EventLog
from harness.poll import join_all

MAX_DURATION_S = 86400 + 600  # watchers stop by themselves at the latest after the longest scenario
POLL_TIMEOUT_S = 0.5  # a pod that does not answer INFO within this is `down` (paused counts as down)
PUBSUB_POLL_S = 0.2
RECONNECT_S = 0.2


class Watcher:
    def __init__(self, deployment: Deployment, events: EventLog, *, interval_s: float = 0.1,
                 max_duration_s: float = MAX_DURATION_S):
        self.deployment = deployment
        self.events = events
        self.interval_s = interval_s
        self.max_duration_s = max_duration_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._roles: dict[str, str] = {}  # pod -> last role seen
        self._shard_primary: dict[int | None, str] = {}  # shard -> last primary seen
        self._cluster_state: dict[str, str] = {}  # pod -> cluster_state it reported last
        self._cluster_views: dict[str, tuple[int, dict]] = {}  # pod -> (current epoch, its CLUSTER NODES)

    def start(self) -> None:
        deadline = time.monotonic() + self.max_duration_s
        loops: list[tuple[str, Callable[..., None], tuple]] = []
        loops += [(f"watch-{p.name}", self._sentinel_loop, (p,)) for p in self.deployment.sentinel_pods()]
        loops += [(f"watch-{p.name}", self._role_loop, (p,)) for p in self.deployment.redis_pods()]
        self._threads = [threading.Thread(target=self._guard, args=(fn, deadline, *args), name=name, daemon=True)
                         for name, fn, args in loops]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop every watcher thread; True when all have. Idempotent."""
        self._stop.set()
        return not join_all(self._threads, timeout)

    def _running(self, deadline: float) -> bool:
        return not self._stop.is_set() and time.monotonic() < deadline

    def _guard(self, loop: Callable[..., None], deadline: float, *args: object) -> None:
        try:
            loop(deadline, *args)
        except Exception as exc:  # noqa: BLE001 - a dead watcher must show in the events
            self.events.emit("watcher", "watcher-error", detail=f"{threading.current_thread().name}: {exc!r}")

    # ------------------------------------------------------------------ sentinel pub/sub
    def _sentinel_loop(self, deadline: float, sentinel: Pod) -> None:
        """psubscribe * on one sentinel, subscribing again whenever the connection breaks."""
        while self._running(deadline):
            client = pod_client(self.deployment, sentinel, timeout=POLL_TIMEOUT_S)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.psubscribe("*")
                while self._running(deadline):
                    message = pubsub.get_message(timeout=PUBSUB_POLL_S)
                    if message and message.get("type") == "pmessage":
                        self._sentinel_event(sentinel, message)
            except (redis.RedisError, OSError):
                pass  # down, restarting or unreachable: subscribe again below
            finally:
                pubsub.close()
                client.close()
            self._stop.wait(RECONNECT_S)

    def _sentinel_event(self, sentinel: Pod, message: dict) -> None:
        channel = str(message["channel"])
        if channel.startswith("__"):  # hello gossip between sentinels, not an event
            return
        detail = str(message["data"])
        self.events.emit("sentinel", "sentinel", event=channel, detail=detail, sentinel=sentinel.name)
        if channel == "+switch-master":  # "<name> <old ip> <old port> <new ip> <new port>"
            _name, old_host, old_port, new_host, new_port = detail.split()[:5]
            old = self.deployment.pod_by_address(old_host, int(old_port))
            new = self.deployment.pod_by_address(new_host, int(new_port))
            with self._lock:
                if old is not None:
                    self._shard_primary.setdefault(None, old.name)
                if new is not None:
                    self._saw_primary(None, new.name)

    # ------------------------------------------------------------------ roles
    def _role_loop(self, deadline: float, pod: Pod) -> None:
        """INFO replication (and the cluster's view) of one pod on one kept connection, made again after errors."""
        cluster = self.deployment.topology["kind"] == "cluster"
        client = pod_client(self.deployment, pod, timeout=POLL_TIMEOUT_S)
        try:
            while self._running(deadline):
                role = roles.redis_role(self.deployment, pod, client=client).role
                self._saw_role(pod, role)
                if cluster:
                    self._saw_cluster_view(pod, client if role != "down" else None)
                self._stop.wait(self.interval_s)
        finally:
            client.close()

    def _saw_role(self, pod: Pod, role: str) -> None:
        with self._lock:
            if self._roles.get(pod.name) == role:
                return
            self._roles[pod.name] = role
            self.events.emit("watcher", "role-change", pod=pod.name, role=role, shard=pod.shard)

    def _saw_primary(self, shard: int | None, pod: str) -> None:
        """The primary clients are sent to changed: Sentinel's view (+switch-master), or the cluster's.

        Not INFO roles: a primary that comes back with its old config (a cluster node's stale view, a
        server restarted by hand) says `master` until it is turned into a replica, but no client is sent there. Caller holds the lock."""
        old = self._shard_primary.get(shard)
        if old != pod:
            self._shard_primary[shard] = pod
            if old is not None:
                self.events.emit("watcher", "primary-change", shard=shard, old=old, new=pod)

    # ------------------------------------------------------------------ cluster
    def _saw_cluster_view(self, pod: Pod, client: redis.Redis | None) -> None:
        """CLUSTER INFO + CLUSTER NODES of one pod. Shard primaries come from the view of the pod that
        knows the highest config epoch: a restarted old primary's stale view (itself master of its old
        slots) must not count. A pod's shard is its layout shard: its slots stay with the shard."""
        view = None
        if client is not None:
            try:
                info = client.cluster("info")
                nodes = roles.parse_cluster_nodes(self.deployment, client.execute_command("CLUSTER", "NODES"))
                view = (int(info.get("cluster_current_epoch", 0)), nodes, str(info.get("cluster_state", "unknown")))
            except redis.RedisError:
                pass
        with self._lock:
            if view is None:
                self._cluster_views.pop(pod.name, None)  # a pod that does not answer: its role-change says so
                return
            epoch, nodes, state = view
            self._cluster_views[pod.name] = (epoch, nodes)
            if self._cluster_state.get(pod.name) != state:
                self._cluster_state[pod.name] = state
                self.events.emit("watcher", "cluster-state", pod=pod.name, state=state)
            _epoch, latest = max(self._cluster_views.values(), key=lambda v: v[0])
            for name, (serves, role) in latest.items():
                if role == "primary" and serves is not None:  # a master with no slots (just restarted) is no shard's
                    self._saw_primary(self.deployment.pod(name).shard, name)

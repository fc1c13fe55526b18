"""How one probe client reaches the primary, and what each single attempt's outcome was.

A probe client behaves like an application: standalone talks to the pod, sentinel asks the
sentinels where the primary is and keeps using that connection until it errors, cluster is
redis-py's RedisCluster (MOVED/ASK, slot refresh). redis-py's own retries are off everywhere,
so each recorded operation is exactly one attempt, and the outcome is classified honestly:

- `ok`: the server acknowledged;
- `fail`: certainly not applied: nothing was sent (no primary known, connection refused or timed
  out while connecting) or the server replied with an error (READONLY, NOREPLICAS, CLUSTERDOWN,
  LOADING, MASTERDOWN, ...);
- `info`: unknown: the command may have reached the server (timeout or connection lost after
  sending).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import BusyLoadingError, RedisClusterException, RedisError, ResponseError
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel

from harness.deployment import Deployment
from harness.pod_config import MASTER_NAME
from harness.redisconn import client_kwargs, cluster_client, connection

Args = tuple[Any, ...]

try:
    from redis.driver_info import DriverInfo

    NO_CLIENT_SETINFO: dict[str, Any] = {"driver_info": DriverInfo(name=None, lib_version=None)}
except ImportError:  # redis-py before 7
    NO_CLIENT_SETINFO = {"lib_name": None, "lib_version": None}


def no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def connection_kwargs(deployment: Deployment, timeout_s: float) -> dict[str, Any]:
    """One attempt per call, a bounded wait, and no handshake beyond AUTH: RESP2 (no HELLO) and no
    CLIENT SETINFO, so connecting sends no command and a connect error always means 'nothing sent'."""
    return dict(
        protocol=2,
        **client_kwargs(deployment),  # the password, and TLS with its client certificate
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=no_retry(),
        **NO_CLIENT_SETINFO,
    )


@dataclass(slots=True)
class Outcome:
    type: str  # ok | fail | info
    value: Any = None
    pod: str = ""
    error: str = ""


class NotSent(Exception):
    """Raised before anything reached a server: the attempt certainly did not apply."""


def classify(exc: BaseException) -> tuple[str, str]:
    """(type, short error) for an exception raised by one attempt."""
    if isinstance(exc, NotSent):
        return "fail", str(exc)
    if isinstance(exc, (ResponseError, BusyLoadingError)):  # the server answered with an error
        code = getattr(exc, "status_code", None) or str(exc).split(" ", 1)[0]
        return "fail", code
    if isinstance(exc, MasterNotFoundError):
        return "fail", "no primary known to the sentinels"
    if isinstance(exc, RedisClusterException):
        cause = exc.__context__
        if isinstance(cause, (redis.ConnectionError, redis.TimeoutError)):
            return classify(cause)  # slot refresh failed after the attempt; judge the attempt
        return "fail", short_error(exc)  # raised before sending (no node for the slot...)
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        text = str(exc)
        if "connecting to" in text:  # redis-py's wording for connect errors and connect timeouts
            return "fail", short_error(exc)
        return "info", short_error(exc)
    return "info", short_error(exc)  # anything unexpected: we cannot say it did not apply


def short_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:120].replace("\n", " ")


class Target(Protocol):
    """Where one probe client sends its commands. `call` never raises for Redis errors."""

    def call(self, args: Args, key: str, timeout_s: float) -> Outcome: ...

    def close(self) -> None: ...


class PodNames:
    """host:port -> pod name, memoised (asked for on every operation)."""

    def __init__(self, deployment: Deployment):
        self._deployment = deployment
        self._names: dict[tuple[str, int], str] = {}

    def __call__(self, host: str | None, port: int | None) -> str:
        if host is None or port is None:
            return ""
        key = (host, int(port))
        name = self._names.get(key)
        if name is None:
            pod = self._deployment.pod_by_address(host, int(port))
            if pod is None:  # not remembered: a replacement pod gets its address once the platform re-reads it
                return f"{host}:{port}"
            name = self._names[key] = pod.name
        return name


class PrimaryTarget:
    """One connection to whoever `locate` names as primary; re-located only after the connection errors.

    Like a real client, a connection to an old primary is kept while it answers: in a split brain
    the probe keeps writing to the minority side, which is what the lost-write check needs to see.
    """

    def __init__(self, deployment: Deployment, locate: Callable[[], tuple[str, int]], timeout_s: float):
        self._kwargs = connection_kwargs(deployment, timeout_s)
        self._locate = locate
        self._pod = PodNames(deployment)
        self._conn: redis.Connection | None = None
        self._served = ""

    def call(self, args: Args, key: str, timeout_s: float) -> Outcome:
        try:
            conn = self._connected()
        except Exception as exc:  # noqa: BLE001 - nothing was sent; every failure here is a `fail`
            return Outcome("fail", pod=self._served, error=classify(exc)[1])
        try:
            conn.send_command(*args)
            value = conn.read_response(timeout=timeout_s)
        except RedisError as exc:
            kind, error = classify(exc)
            if kind == "info" or isinstance(exc, redis.exceptions.ReadOnlyError):
                self._drop()  # a demoted primary: ask the sentinels again next time
            return Outcome(kind, pod=self._served, error=error)
        except OSError as exc:
            self._drop()
            return Outcome("info", pod=self._served, error=short_error(exc))
        return Outcome("ok", value, self._served)

    def _connected(self) -> redis.Connection:
        conn = self._conn
        if conn is not None and conn._sock is not None:
            if not _has_pending_data(conn):
                return conn
            self._drop()  # closed by the server while idle (redis-py's pool does the same check)
        self._served = ""
        host, port = self._locate()
        self._served = self._pod(host, port)
        conn = connection(host, port, **self._kwargs)
        try:
            conn.connect()
        except RedisError as exc:
            conn.disconnect()
            raise NotSent(classify(exc)[1]) from exc
        self._conn = conn
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.disconnect()
            self._conn = None

    def close(self) -> None:
        self._drop()


def _has_pending_data(conn: redis.Connection) -> bool:
    try:
        return conn.can_read(timeout=0)
    except RedisError:
        return True


def standalone_target(deployment: Deployment, timeout_s: float) -> PrimaryTarget:
    pod = deployment.redis_pods()[0]
    return PrimaryTarget(deployment, lambda: (pod.host, pod.port), timeout_s)


def sentinel_target(deployment: Deployment, timeout_s: float) -> PrimaryTarget:
    """The primary as redis-py's Sentinel discovers it (skips a primary the sentinels see as down)."""
    sentinels = Sentinel(
        [(p.host, p.port) for p in deployment.sentinel_pods()],
        sentinel_kwargs=connection_kwargs(deployment, timeout_s),  # sentinels require the password too
    )

    def locate() -> tuple[str, int]:
        try:
            host, port = sentinels.discover_master(MASTER_NAME)
        except MasterNotFoundError:
            raise NotSent("no primary known to the sentinels") from None
        return deployment.dial_address(host, int(port))

    return PrimaryTarget(deployment, locate, timeout_s)


class ClusterTarget:
    """redis-py's RedisCluster with its command retries off: it follows MOVED/ASK and refreshes
    slots after errors, as an application's cluster client does."""

    def __init__(self, deployment: Deployment, timeout_s: float):
        self._deployment = deployment
        self._timeout_s = timeout_s
        self._pod = PodNames(deployment)
        self._client: RedisCluster | None = None

    def call(self, args: Args, key: str, timeout_s: float) -> Outcome:
        try:
            client = self._connected()
        except Exception as exc:  # noqa: BLE001 - no slot map: nothing was sent
            return Outcome("fail", error=f"no cluster slot map: {classify(exc)[1]}")
        node: Any = None
        try:
            node = client.get_node_from_key(key)
            if args[0] == "WAIT":  # keyless: it must go to the node that took the write
                value = self._on_node(client, node, args, timeout_s)
            else:
                value = client.execute_command(*args)
                node = client.get_node_from_key(key)  # after MOVED, the node the reply came from
        except Exception as exc:  # noqa: BLE001 - classified below; a Target never raises
            kind, error = classify(exc)
            served = getattr(exc, "connection", None) or getattr(exc.__context__, "connection", None) or node
            return Outcome(kind, pod=self._pod(getattr(served, "host", None), getattr(served, "port", None)),
                           error=error)
        return Outcome("ok", value, self._pod(node.host, node.port))

    @staticmethod
    def _on_node(client: RedisCluster, node: ClusterNode, args: Args, timeout_s: float) -> Any:
        pool = client.get_redis_connection(node).connection_pool
        conn = pool.get_connection()
        try:
            conn.send_command(*args)
            return conn.read_response(timeout=timeout_s)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            conn.disconnect()
            exc.connection = conn  # type: ignore[union-attr]
            raise
        finally:
            pool.release(conn)

    def _connected(self) -> RedisCluster:
        if self._client is None:
            kwargs = connection_kwargs(self._deployment, self._timeout_s)
            self._client = cluster_client(
                self._deployment,
                require_full_coverage=False,  # a client still serves the other shards while one is down
                **kwargs,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def make_target(deployment: Deployment, timeout_s: float) -> Target:
    kind = deployment.topology["kind"]
    if kind == "standalone":
        return standalone_target(deployment, timeout_s)
    if kind == "sentinel":
        return sentinel_target(deployment, timeout_s)
    if kind == "naive":
        from harness.workload.service_client import service_target  # it builds on this module

        return service_target(deployment, timeout_s)
    return ClusterTarget(deployment, timeout_s)

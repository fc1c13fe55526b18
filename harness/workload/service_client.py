"""A probe client behind a Service: a new connection per operation, as kube-proxy balances connections.

Why a connection per operation: kube-proxy picks an endpoint per connection, so what an application
sees from a Service in front of independent primaries depends on how often it connects. An
application that opens a connection per request (or whose pool hands out connections spread over
the pods) sends a write and the read after it to different pods two times in three with three
pods: the read misses an acknowledged write. That is the behaviour the naive deployment is measured
for, so each operation gets its own connection here.

Which pod served is asked of the server (`CLIENT INFO`: `laddr` is the pod's own address, which the
DNAT hides from the client) before the operation is sent; anything failing up to then is `fail`
(nothing of the operation was sent). The connection is closed with a reset (SO_LINGER 0): hundreds
of connections a second would otherwise fill the client's ports with TIME_WAIT.
"""

from __future__ import annotations

import socket
import struct

import redis
from redis.exceptions import RedisError

from harness.deployment import Deployment
from harness.redisconn import connection
from harness.workload.probe_client import Args, Outcome, PodNames, classify, connection_kwargs, short_error

_ABORT = struct.pack("ii", 1, 0)


class ServiceTarget:
    def __init__(self, deployment: Deployment, timeout_s: float):
        service = deployment.extra.get("service") or {}
        if not service.get("host"):
            raise RedisError(f"deployment {deployment.id} has no Service address (a naive topology makes one)")
        self._host, self._port = str(service["host"]), int(service["port"])
        self._kwargs = connection_kwargs(deployment, timeout_s)
        self._pod = PodNames(deployment)

    def call(self, args: Args, key: str, timeout_s: float) -> Outcome:
        conn = connection(self._host, self._port, **self._kwargs)
        try:
            try:
                conn.connect()
                conn.send_command("CLIENT", "INFO")
                pod = self._served(conn.read_response(timeout=timeout_s))
            except (RedisError, OSError) as exc:
                return Outcome("fail", error=f"before sending: {classify(exc)[1]}")
            try:
                conn.send_command(*args)
                value = conn.read_response(timeout=timeout_s)
            except RedisError as exc:
                kind, error = classify(exc)
                return Outcome(kind, pod=pod, error=error)
            except OSError as exc:
                return Outcome("info", pod=pod, error=short_error(exc))
            return Outcome("ok", value, pod)
        finally:
            _abort(conn)

    def _served(self, info: object) -> str:
        text = info.decode() if isinstance(info, bytes) else str(info)
        fields = dict(part.split("=", 1) for part in text.split() if "=" in part)
        host, _, port = fields.get("laddr", "").rpartition(":")
        return self._pod(host or None, int(port) if port.isdigit() else None)

    def close(self) -> None:
        pass  # no connection outlives its operation


def _abort(conn: redis.Connection) -> None:
    sock = conn._sock
    conn._sock = None
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)
            sock.close()
        except OSError:
            pass
    conn.disconnect()


def service_target(deployment: Deployment, timeout_s: float) -> ServiceTarget:
    return ServiceTarget(deployment, timeout_s)

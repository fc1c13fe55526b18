"""redis-py connections to pods: one place that knows timeouts and passwords."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.platforms.base import Deployment, Pod


def connect(pod: Pod, password: str | None = None, *, timeout: float = 1.0) -> redis.Redis:
    """A short-timeout, non-retrying connection: the harness's own checks must not hang on a faulted pod."""
    return redis.Redis(
        host=pod.host,
        port=pod.port,
        password=password if pod.kind == "redis" else None,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),
    )


def pod_client(deployment: Deployment, pod: Pod, *, timeout: float = 1.0) -> redis.Redis:
    return connect(pod, deployment.password, timeout=timeout)

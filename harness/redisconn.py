"""redis-py connections to pods: one place that knows timeouts, passwords and TLS.

Every client of a deployment takes its credentials from here (`client_kwargs`, `connection`,
`ssl_context`, `tls_cli_args`), so a `topology.tls` deployment's certificates reach the probe, the
generator, the Locust user, redis-benchmark and the watchers without each knowing about TLS.
"""

from __future__ import annotations

import ssl
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

from harness.deployment import Deployment, Pod, TlsFiles


def tls_kwargs(tls: TlsFiles | None) -> dict[str, Any]:
    """redis-py's TLS settings for these files: the CA to trust, and the client certificate the servers
    require. Hostnames are checked where each server's certificate names its pod's address (not on
    Kubernetes: TlsFiles.check_hostname says why)."""
    if tls is None:
        return {}
    return dict(ssl=True, ssl_ca_certs=tls.ca, ssl_certfile=tls.cert, ssl_keyfile=tls.key, ssl_cert_reqs="required",
                ssl_check_hostname=tls.check_hostname)


def client_kwargs(deployment: Deployment) -> dict[str, Any]:
    """What any redis-py client (Redis, RedisCluster, Sentinel and its sentinel_kwargs) of this deployment needs
    to be let in: the password and, with `topology.tls`, TLS with the deployment's client certificate."""
    return dict(password=deployment.password, **tls_kwargs(deployment.tls))


def connection(host: str, port: int, **kwargs: Any) -> redis.Connection:
    """One redis-py Connection from client kwargs (those of `client_kwargs`): an SSLConnection when they ask
    for TLS, since a plain Connection takes no `ssl` argument."""
    if kwargs.pop("ssl", False):
        return redis.SSLConnection(host=host, port=port, **kwargs)
    return redis.Connection(host=host, port=port, **kwargs)


def ssl_context(deployment: Deployment) -> ssl.SSLContext | None:
    """For clients that open sockets themselves (the open-loop generator's asyncio transports); None without TLS."""
    tls = deployment.tls
    if tls is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tls.ca)
    context.load_cert_chain(tls.cert, tls.key)
    context.check_hostname = tls.check_hostname
    return context


def tls_cli_args(tls: TlsFiles | None) -> list[str]:
    """redis-cli / redis-benchmark options for these TLS files (a deployment's `tls`, or a pod's mounted Secret,
    TlsFiles.mounted); none without TLS. Neither checks the server's name."""
    return [] if tls is None else ["--tls", "--cacert", tls.ca, "--cert", tls.cert, "--key", tls.key]


def cluster_client(deployment: Deployment, pods: list[Pod] | None = None, **kwargs: Any) -> RedisCluster:
    """A RedisCluster of the deployment (startup nodes: `pods`, default its Redis pods) that dials every node
    address the cluster reports as the harness can reach it (a Kubernetes pod DNS name, a port-forward).
    `kwargs` go to RedisCluster on top of `client_kwargs`."""
    return RedisCluster(startup_nodes=[ClusterNode(p.host, p.port) for p in pods or deployment.redis_pods()],
                        address_remap=lambda address: deployment.dial_address(*address),
                        **{**client_kwargs(deployment), **kwargs})


def pod_client(deployment: Deployment, pod: Pod, *, timeout: float = 1.0) -> redis.Redis:
    """A short-timeout, non-retrying connection: the harness's own checks must not hang on a faulted pod."""
    return redis.Redis(host=pod.host, port=pod.port, socket_timeout=timeout, socket_connect_timeout=timeout,
                       decode_responses=True, retry=Retry(NoBackoff(), 0), **client_kwargs(deployment))

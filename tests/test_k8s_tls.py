"""`topology.tls` on a real cluster (marked `kubernetes`): the platform's own certificates in a Secret.

One small sentinel deployment (a replica, three sentinels) with TLS. Known outcomes: the harness's
clients, with the deployment's client certificate, write and read; a plaintext client and a TLS client
without a certificate are refused by a server pod; the replica has the key (replication over TLS);
every sentinel names redis-0 (the sentinels reach the servers and answer over TLS); a pause by DEBUG
SLEEP (redis-cli in the pod, over TLS) stops the replica answering. Nothing is left of the deployment's
certificates after teardown.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest
import redis

from harness.platforms.kubernetes.platform import KubernetesPlatform, options_from_env
from harness.pod_config import MASTER_NAME
from harness.poll import wait_until
from harness.redisconn import pod_client
from harness.scenario import Topology
from tests.conftest import unique_id

pytestmark = pytest.mark.kubernetes

TOPOLOGY = Topology(kind="sentinel", replicas=1, sentinels=3, quorum=2, tls=True, down_after_ms=30000)


@pytest.fixture(scope="module")
def tls_deployment():
    platform = KubernetesPlatform(**options_from_env())
    deployment = platform.deploy(TOPOLOGY, unique_id("tls"), owner_pid=os.getpid())
    try:
        yield platform, deployment
    finally:
        platform.teardown(deployment)
        assert not (Path(deployment.state_dir) / "tls").exists()


def test_the_client_certificate_writes_and_reads_and_the_replica_has_it(tls_deployment):
    _, d = tls_deployment
    assert d.tls is not None and not d.tls.check_hostname  # the chain only on Kubernetes (TlsFiles says why)
    primary = pod_client(d, d.pod("redis-0"), timeout=2)
    assert primary.set("tls-key", "over-tls") is True
    assert primary.get("tls-key") == "over-tls"
    replica = pod_client(d, d.pod("redis-1"), timeout=2)
    assert wait_until(lambda: replica.get("tls-key") == "over-tls", timeout=10, what="the key on the replica")
    assert replica.info("replication")["master_link_status"] == "up"


def test_plaintext_and_certificateless_clients_are_refused(tls_deployment):
    _, d = tls_deployment
    pod = d.pod("redis-0")
    plain = redis.Redis(host=pod.host, port=pod.port, socket_timeout=2, socket_connect_timeout=2, password=d.password)
    with pytest.raises(redis.ConnectionError):
        plain.ping()
    tls = d.tls
    assert tls is not None
    anonymous = redis.Redis(host=pod.host, port=pod.port, socket_timeout=2, socket_connect_timeout=2, ssl=True,
                            ssl_ca_certs=tls.ca, ssl_cert_reqs="required", ssl_check_hostname=False)
    with pytest.raises((redis.ConnectionError, ssl.SSLError)):  # tls-auth-clients yes
        anonymous.ping()


def test_every_sentinel_names_the_primary_over_tls(tls_deployment):
    _, d = tls_deployment
    for sentinel in d.sentinel_pods():
        client = pod_client(d, sentinel, timeout=2)
        addr = client.execute_command("SENTINEL", "get-master-addr-by-name", MASTER_NAME)
        assert d.pod_by_address(addr[0], int(addr[1])).name == "redis-0", (sentinel.name, addr)
        replicas = client.execute_command("SENTINEL", "replicas", MASTER_NAME)
        assert len(replicas) == 1, (sentinel.name, replicas)


def test_a_debug_sleep_pause_reaches_the_server_over_tls(tls_deployment):
    platform, d = tls_deployment
    replica = d.pod("redis-1")
    client = pod_client(d, replica, timeout=0.5)
    assert client.ping() is True
    platform.pause_pod(d, replica, duration_s=3, method="debug-sleep")
    try:
        wait_until(lambda: _times_out(client), timeout=2, what="the replica to stop answering (DEBUG SLEEP)")
    finally:
        platform.resume_pod(d, replica)  # waits (bounded) until it answers again
    assert wait_until(client.ping, timeout=10, what="the replica to answer again")


def _times_out(client: redis.Redis) -> bool:
    try:
        client.ping()
    except redis.TimeoutError:
        return True
    return False

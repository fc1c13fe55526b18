"""`topology.tls: true` on real local pods: every client of the harness connects with the deployment's
certificates, and the servers and sentinels refuse anyone without one (plaintext, no client certificate,
a certificate of another deployment's CA). Plus a resilience run over TLS, the configs TLS renders, and
the refusals (a server built without TLS, in-cluster load on Kubernetes) in tests/test_cli_bad_input.py;
TLS on Kubernetes: tests/test_kubernetes_tls.py, tests/test_k8s_tls.py."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest
import redis
from cryptography import x509
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.binaries import resolve_server
from harness.poll import wait_until
from harness.pod_config import render_redis_conf, render_sentinel_conf
from harness.redisconn import pod_client
from harness.runner import run_scenario
from harness.scenario import RedisBenchmarkLoad, Topology, load_scenario
from harness.deployment import TlsFiles
from harness.tls import make_certificates
from harness.workload.openloop.pool import GeneratorPool
from harness.workload.openloop.spec import OpenLoopLoad
from harness.workload.probe_client import make_target
from harness.workload.redis_benchmark import run_benchmark
from tests.conftest import needs_redis, needs_root, state_dirs_owned_by

ROOT = Path(__file__).resolve().parent.parent
FILES = TlsFiles(ca="/s/tls/ca.crt", cert="/s/tls/redis-0.crt", key="/s/tls/redis-0.key")


def refused(pod, **kwargs) -> str:
    """The error a client with these settings gets from the pod (the test fails if it gets an answer)."""
    client = redis.Redis(host=pod.host, port=pod.port, socket_timeout=2, socket_connect_timeout=2,
                         retry=Retry(NoBackoff(), 0), **kwargs)
    with pytest.raises(redis.ConnectionError) as caught:
        client.ping()
    return str(caught.value)


@needs_root
@needs_redis
def test_a_tls_sentinel_topology_serves_its_clients_and_refuses_everyone_else(deploy, tmp_path):
    d = deploy(Topology(kind="sentinel", replicas=1, sentinels=3, tls=True), "tls")
    tls_dir = Path(d.state_dir) / "tls"
    parties = ["client", "redis-0", "redis-1", "sentinel-0", "sentinel-1", "sentinel-2"]
    assert sorted(p.name for p in tls_dir.iterdir()) == sorted(
        ["ca.crt"] + [f"{p}.{ext}" for p in parties for ext in ("crt", "key")]), "the CA's key is never written"
    assert (tls_dir / "client.key").stat().st_mode & 0o077 == 0
    for pod in d.pods:  # each server's certificate names its own address
        cert = x509.load_pem_x509_certificate((tls_dir / f"{pod.name}.crt").read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(pod.host)]

    # the probe's client writes and reads through the primary the sentinels name (asked over TLS)
    target = make_target(d, 5.0)  # generous: TLS handshakes on a machine whose cores are busy
    written = target.call(("SET", "tls:k", "v1"), "tls:k", 5.0)
    read = target.call(("GET", "tls:k"), "tls:k", 5.0)
    target.close()
    assert (written.type, written.pod, read.type, read.value) == ("ok", "redis-0", "ok", b"v1"), (written, read)
    # replication, and the sentinels' links to each other, run over TLS too
    wait_until(lambda: pod_client(d, d.pod("redis-1")).get("tls:k") == "v1", timeout=10, what="the replica's copy")
    wait_until(lambda: all(len(pod_client(d, s).execute_command("SENTINEL", "sentinels", "mymaster")) == 2
                           for s in d.sentinel_pods()), timeout=30, what="every sentinel to know the other two")

    # refused: plaintext, TLS without a client certificate, a client certificate of another CA
    other = make_certificates(tmp_path / "other", [("redis-0", d.pod("redis-0").host)])
    for pod in (d.pod("redis-0"), d.sentinel_pods()[0]):
        refused(pod)
        refused(pod, ssl=True, ssl_ca_certs=d.tls.ca)
        refused(pod, ssl=True, ssl_ca_certs=d.tls.ca, ssl_certfile=str(other / "client.crt"),
                ssl_keyfile=str(other / "client.key"))

    # redis-benchmark (--tls --cacert --cert --key) and the open-loop generator (its own TLS transports)
    assert_benchmark_and_generator_serve(d, bench_clients=5, requests=2000, generator_clients=4, keyspace=1000)


def assert_benchmark_and_generator_serve(d, *, bench_clients: int, requests: int, generator_clients: int,
                                         keyspace: int) -> None:
    """redis-benchmark (--tls --cacert --cert --key) completes, and the open-loop generator's 400/s step
    for 1.5 s is acknowledged whole (its own TLS transports)."""
    (bench,) = run_benchmark(d, RedisBenchmarkLoad(tests=["set"], clients=bench_clients, requests=requests),
                             timeout_s=60)
    assert bench.rps and bench.rps > 0, bench
    with GeneratorPool(d, OpenLoopLoad(clients=generator_clients, mix={"set": 1, "get": 1}, keyspace=keyspace)) as pool:
        step = pool.step(400, 2.0, 0.5)
    assert step.errors == 0 and step.unknown == 0 and step.ok == step.sent == step.offered == 600, step


@needs_root
@needs_redis
def test_a_tls_cluster_routes_by_slot_over_tls(deploy):
    """The cluster bus is TLS (the nodes met and agree on the slots), CLUSTER SLOTS hands out the TLS
    ports, and the slot-aware clients follow them: the probe's RedisCluster, redis-benchmark --cluster
    and the generator."""
    d = deploy(Topology(kind="cluster", shards=3, tls=True), "tlsclus")
    target = make_target(d, 5.0)
    served = {target.call(("SET", key, "v"), key, 5.0).pod for key in ("a", "b", "c", "d", "e", "f")}
    target.close()
    assert len(served) == 3, served  # six keys over three shards: every primary took some
    assert_benchmark_and_generator_serve(d, bench_clients=6, requests=3000, generator_clients=2, keyspace=5000)


@needs_root
@needs_redis
@pytest.mark.slow
def test_a_sentinel_primary_kill_over_tls_loses_no_acknowledged_write(tmp_path):
    """The bundled flagship (probe and Locust over TLS; the sentinels fail over over TLS), shortened.

    down_after_ms 2000 (the bundled file's is 2000 too since this change): on the shared machine, 1 run in 4 at 1000 ms had two of
    the sentinels call the just-promoted replica down exactly 1 s after their +switch-master (no PING
    answered on their new link yet) and fail over a second time, losing what it had acknowledged; the
    plaintext flagship has shown the same second failover (README, Kubernetes e2e row). The killed
    primary stays down 9 s: one back before the (slower) failover restarts empty and the replicas
    resync from it, which loses everything (persistence is off): seen once with a 5 s kill."""
    scenario = load_scenario(ROOT / "scenarios" / "sentinel-primary-kill.yaml", {
        "topology.tls": True, "topology.down_after_ms": 2000, "duration_s": 18, "settle_s": 1,
        "faults.0.at_s": 5, "faults.0.duration_s": 9})  # back after the failover: persistence is off
    result = run_scenario(scenario, out_dir=tmp_path / "run", progress=lambda m: None)
    assert result.status == "complete", (tmp_path / "run" / "meta.json").read_text()
    summary = result.summary
    assert summary is not None
    (failover,) = summary["failover"]
    print(f"\nTLS primary kill: unavailable {failover['unavailable_s']} s, writes {summary['writes']}, "
          f"verdict {summary['verdict']}")
    assert summary["writes"]["lost"] == 0 and summary["writes"]["acknowledged"] > 1000
    assert failover["new_primary"] in ("redis-1", "redis-2") and failover["unavailable_s"] < 15
    by_driver = summary["throughput"]["by_driver"]
    assert by_driver["locust"]["recovered_ops_per_s"] > 0, by_driver  # the Locust user connected with TLS
    assert summary["verdict"] == "pass", summary["headline"]
    assert not state_dirs_owned_by(os.getpid()), "a deployment (its certificates) outlived the run"


@needs_redis
def test_tls_configs_listen_on_tls_only_and_require_client_certificates():
    binary = resolve_server("system")
    common = dict(bind="10.0.0.10", data_dir="/d", logfile="/l", tls=FILES)
    redis_conf = render_redis_conf(Topology(kind="sentinel", replicas=1, tls=True), binary, **common).splitlines()
    for line in ("port 0", "tls-port 6379", "tls-cert-file /s/tls/redis-0.crt", "tls-key-file /s/tls/redis-0.key",
                 "tls-ca-cert-file /s/tls/ca.crt", "tls-auth-clients yes", "tls-replication yes", "tls-protocols TLSv1.2"):
        assert line in redis_conf
    assert "tls-cluster yes" not in redis_conf
    assert "tls-cluster yes" in render_redis_conf(Topology(kind="cluster", tls=True), binary, **common)
    sentinel_conf = render_sentinel_conf(Topology(kind="sentinel", replicas=1, tls=True), primary_host="10.0.0.10",
                                         **common).splitlines()
    assert {"port 0", "tls-port 26379", "tls-replication yes", "tls-auth-clients yes"} <= set(sentinel_conf)
    plain = render_redis_conf(Topology(kind="sentinel", replicas=1), binary, **{**common, "tls": None})
    assert "tls" not in plain and "port 6379" in plain.splitlines()
    with pytest.raises(ValueError, match="topology.tls"):
        render_redis_conf(Topology(kind="standalone", tls=True), binary, **{**common, "tls": None})

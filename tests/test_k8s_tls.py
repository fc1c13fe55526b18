"""`topology.tls` on a real cluster (marked `kubernetes`): the platform's own certificates in a Secret.

One small sentinel deployment (a replica, three sentinels) with TLS. Known outcomes: the harness's
clients, with the deployment's client certificate, write and read; a plaintext client and a TLS client
without a certificate are refused by a server pod; the replica has the key (replication over TLS);
every sentinel names redis-0 (the sentinels reach the servers and answer over TLS); a pause by DEBUG
SLEEP (redis-cli in the pod, over TLS) stops the replica answering. Nothing is left of the deployment's
certificates after teardown. The deployment has the metrics sidecar (REDIS_HARNESS_K8S_METRICS; the
fixture's Debian exporter): each exporter dials rediss:// to its own pod's headless name, checking the
certificate's chain and name, so every one says redis_up 1, and the harness's scraper records the
replica's lag from the primary's exporter as a run does (replication-lag.csv, the checker's summary).

Standalone and Cluster, each deployed on its own: the same write and read, plaintext refused by every
pod; the cluster was created over TLS (its bootstrap Job's CLUSTER MEET / ADDSLOTS / REPLICATE, the bus
with `tls-cluster yes`), serves every slot, takes a write on each shard, and each replica has its
shard's key (`tls-replication yes`), as the harness's role discovery reports over TLS.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot

from harness.checker.replication_lag import replication_lag
from harness.exporter_scrape import ExporterScraper, fetch
from harness.platforms.kubernetes.platform import KubernetesPlatform, options_from_env
from harness.pod_config import MASTER_NAME
from harness.poll import wait_until
from harness.redisconn import cluster_client, pod_client
from harness.roles import current_roles
from harness.rundir import ReplicationLagWriter, RunClock, RunDir, read_replication_lag
from harness.scenario import Topology
from tests.conftest import unique_id

pytestmark = pytest.mark.kubernetes

TOPOLOGY = Topology(kind="sentinel", replicas=1, sentinels=3, quorum=2, tls=True, down_after_ms=30000)


FIXTURE_EXPORTER_IMAGE = os.environ.get("REDIS_HARNESS_K8S_METRICS_IMAGE", "redis-harness/redis-exporter:1")


@pytest.fixture(scope="module")
def tls_deployment():
    # the metrics sidecar on this deployment rather than a run of its own: the TLS case costs seconds, not a deploy
    platform = KubernetesPlatform(**{**options_from_env(), "metrics": True, "metrics_image": FIXTURE_EXPORTER_IMAGE})
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
    assert_tls_only(d, d.pod("redis-0"))


def assert_tls_only(d, pod) -> None:
    """A plaintext client, and a TLS client without a certificate of the deployment's CA, are refused.

    A short reply timeout: the TLS port waits for the rest of what it takes for a TLS record and never answers
    plaintext, so no answer is the refusal (redis-py's TimeoutError is a ConnectionError); 2 s per try made the
    check take ~9 s a pod."""
    plain = redis.Redis(host=pod.host, port=pod.port, socket_timeout=0.5, socket_connect_timeout=2,
                        password=d.password)
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


def test_the_metrics_sidecars_reach_their_servers_over_tls_and_the_lag_is_recorded(tls_deployment, tmp_path):
    _, d = tls_deployment
    urls = d.extra["metrics_urls"]
    assert set(urls) == {"redis-0", "redis-1"}  # pod-ip access: the harness reaches port 9121

    def up(url: str) -> str | None:
        page = fetch(url, timeout=2)
        return page if re.search(r"^redis_up 1$", page, re.M) else None

    pages = {pod: wait_until(lambda u=url: up(u), timeout=15, what=f"{pod}'s exporter to say redis_up 1")
             for pod, url in urls.items()}
    assert re.search(r'^redis_instance_info\{(?=.*role="master")', pages["redis-0"], re.M)
    assert re.search(r"^redis_master_link_up\{[^}]*\} 1$", pages["redis-1"], re.M)  # the replica's link (TLS too)
    run = RunDir(tmp_path / "run").create()
    writer = ReplicationLagWriter(run.replication_lag)
    scraper = ExporterScraper(d, writer, RunClock.start(), interval_s=0.5, max_duration_s=20)
    scraper.start()
    try:
        wait_until(lambda: min(scraper.answered.get(p, 0) for p in urls) >= 3, timeout=15,
                   what="three scrapes of each exporter", describe_failure=lambda: str(scraper.last_error))
    finally:
        assert scraper.stop()
        writer.close()
    table = read_replication_lag(run.replication_lag).value
    assert table is not None and len(table) >= 3
    assert set(table["pod"]) == {"redis-0"} and set(table["replica"]) == {"redis-1"}
    assert (table["state"] == "online").all() and (table["lag_bytes"] >= 0).all() and (table["lag_s"] >= 0).all()
    summary = replication_lag(table)
    assert summary is not None and summary["redis-1"]["primaries"] == ["redis-0"]
    print(f"exporters over TLS: redis_up 1 on {sorted(pages)}; {len(table)} lag rows; replication_lag {summary}")


def _times_out(client: redis.Redis) -> bool:
    try:
        client.ping()
    except redis.TimeoutError:
        return True
    return False


TOPOLOGIES = {"standalone": Topology(kind="standalone", tls=True),
              "cluster": Topology(kind="cluster", shards=3, replicas=1, tls=True)}


@pytest.mark.parametrize("kind", sorted(TOPOLOGIES))
def test_standalone_and_cluster_serve_over_tls_only(kind):
    platform = KubernetesPlatform(**options_from_env())
    d = platform.deploy(TOPOLOGIES[kind], unique_id(f"tls-{kind}"), owner_pid=os.getpid())
    try:
        for pod in d.redis_pods():
            assert_tls_only(d, pod)
        if kind == "cluster":
            assert_cluster_over_tls(d)
        else:
            client = pod_client(d, d.pod("redis-0"), timeout=2)
            assert client.set("tls-key", "over-tls") is True and client.get("tls-key") == "over-tls"
    finally:
        platform.teardown(d)
    assert not (Path(d.state_dir) / "tls").exists()


def assert_cluster_over_tls(d) -> None:
    """Every slot served; a write through the harness's cluster client lands on each shard's primary, and its
    replica (as role discovery names it, over TLS) has it."""
    slots = served_slots(d)
    assert sum(b - a + 1 for ranges in slots.values() for a, b in ranges) == 16384 and len(slots) == 3, slots
    client = cluster_client(d, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)
    keys = {}
    for primary, ranges in slots.items():
        keys[primary] = key = key_in(ranges)
        assert client.set(key, primary) is True and client.get(key) == primary
        assert pod_client(d, d.pod(primary), timeout=2).get(key) == primary  # on that shard's primary itself
    client.close()
    replicas = [r for r in current_roles(d) if r.role == "replica"]
    assert sorted(str(r.primary) for r in replicas) == sorted(slots), replicas
    for r in replicas:
        wait_until(lambda r=r: replica_get(d, r.pod, keys[str(r.primary)]) == r.primary, timeout=10,
                   what=f"{r.pod} to have its primary's key")


def served_slots(d) -> dict[str, list[tuple[int, int]]]:
    """primary pod -> its slot ranges, from CLUSTER SLOTS asked of each pod in turn (the same answer from all)."""
    answers = []
    for pod in d.redis_pods():
        slots: dict[str, list[tuple[int, int]]] = {}
        for first, last, primary, *_ in pod_client(d, pod, timeout=2).execute_command("CLUSTER", "SLOTS"):
            owner = d.pod_by_address(str(primary[0]), int(primary[1]))
            slots.setdefault(owner.name if owner else f"{primary[0]}:{primary[1]}", []).append((first, last))
        answers.append({name: sorted(ranges) for name, ranges in slots.items()})
    assert all(answer == answers[0] for answer in answers), answers
    return answers[0]


def key_in(ranges: list[tuple[int, int]]) -> str:
    return next(key for key in (f"tls:{i}" for i in itertools.count())
                if any(a <= key_slot(key.encode()) <= b for a, b in ranges))


def replica_get(d, pod: str, key: str) -> str | None:
    """GET on a cluster replica: READONLY first, on the same connection (a pipeline)."""
    with pod_client(d, d.pod(pod), timeout=2).pipeline(transaction=False) as pipe:
        return pipe.execute_command("READONLY").get(key).execute()[1]


ROOT = Path(__file__).resolve().parents[1]
IN_CLUSTER_LOAD = ["--set", "topology.tls=true", "--set", "duration_s=10", "--set", "workload.locust.workers=1",
                   "--set", "workload.redis_benchmark={enabled: true, in_cluster: true, clients: 10, loop: true}"]


def test_in_cluster_locust_and_redis_benchmark_connect_over_tls(tmp_path, monkeypatch):
    """The in-cluster load of a TLS run (a Locust worker pod, the redis-benchmark Job) mounts the deployment's
    Secret and connects with it: both drivers pass their checks with load from the run's first seconds, and
    no Locust request failed (a client without TLS would fail every one)."""
    monkeypatch.setenv("REDIS_HARNESS_K8S_LOCUST_CPU", "500m")  # a 2-core node shared with the Redis pod
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(ROOT / "scenarios" / "standalone-baseline.yaml"),
                           "--platform", "kubernetes", "--out", str(out), *IN_CLUSTER_LOAD],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert (out / "summary.json").exists(), done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    checks = {c["name"]: c for c in summary["checks"]}
    for driver in ("locust", "redis-benchmark"):
        assert checks[f"driver {driver}"]["status"] == "pass", checks[f"driver {driver}"]
        assert summary["throughput"]["by_driver"][driver]["baseline_ops_per_s"] > 0, summary["throughput"]
    rows = [line.split(",") for line in (out / "series" / "locust.csv").read_text().splitlines()[1:]]
    assert sum(int(row[2]) for row in rows) > 0 and sum(int(row[3]) for row in rows) == 0, rows
    assert done.returncode == 0 and summary["verdict"] == "pass", (summary["headline"], done.stderr[-3000:])

"""What the bundled manifests promise a platform team, on a real cluster (marked `kubernetes`).

And the shipped sentinel topology with the network-policy and metrics components applies with
`kubectl apply -k`, needs the Secret redis-auth, its sentinels ask for the password, and its
redis_exporter sidecars serve /metrics.

One standalone pod with a persistent volume and a 64 MiB memory limit serves both checks:
- persistence matches the volume: the scenario says `persistence: none`, the volume turns AOF on, and
  after a graceful delete of the pod every acknowledged write is back;
- maxmemory follows the limit (75%): filling the pod past it gets `OOM command not allowed` refusals
  (`noeviction`), and the container is never OOM-killed.

The fixture has no storage provisioner: the test makes a hostPath PersistentVolume of its own (the
node is this machine), with a storage class name only its claim asks for, and deletes it at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import redis

from harness.exporter_scrape import fetch, replica_figures
from harness.platforms.kubernetes.components import EXPORTER_IMAGE, METRICS_PORT
from harness.platforms.kubernetes.platform import KubernetesPlatform, options_from_env
from harness.poll import wait_until
from harness.redisconn import pod_client
from harness.scenario import Topology
from tests.conftest import unique_id
from tests.test_kubernetes_manifests import MANIFESTS
from tests.test_kubernetes_metrics import FIXTURE_EXPORTER_IMAGE

pytestmark = pytest.mark.kubernetes

LIMIT = "64Mi"
VALUE = b"x" * 100_000


@pytest.fixture(scope="module")
def small_persistent_pod():
    platform = KubernetesPlatform(**{**options_from_env(), "memory_limit": LIMIT, "fault_sidecar": False,
                                     "storage_class": (storage_class := unique_id("rh-pv").lower())})
    folder = Path(tempfile.mkdtemp(prefix="rh-pv-"))
    folder.chmod(0o777)  # a hostPath volume is not chowned to the pod's fsGroup
    volume = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": storage_class},
              "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                       "persistentVolumeReclaimPolicy": "Retain", "storageClassName": storage_class,
                       "hostPath": {"path": str(folder), "type": "Directory"}}}
    platform.api.core.create_persistent_volume(volume)
    deployment = None
    try:
        deployment = platform.deploy(Topology(kind="standalone", persistent_volumes=True), storage_class,
                                     owner_pid=os.getpid())
        yield platform, deployment
    finally:
        if deployment is not None:
            platform.teardown(deployment)
        platform.api.core.delete_persistent_volume(storage_class)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_deleted_pod_finds_its_acknowledged_writes_on_its_volume(small_persistent_pod):
    platform, d = small_persistent_pod
    pod = d.pod("redis-0")
    client = pod_client(d, pod, timeout=5)
    assert client.config_get("appendonly")["appendonly"] == "yes"  # the volume turned AOF on
    acked = [f"p{i}" for i in range(2000) if client.set(f"p{i}", str(i))]
    platform.delete_pod(d, pod)  # its own grace period: SIGTERM, AOF flushed
    platform.start_pod(d, pod)
    back = pod_client(d, d.pod("redis-0"), timeout=5)
    present = back.exists(*acked)
    print(f"{present} of {len(acked)} acknowledged writes back after the pod was deleted")
    assert present == len(acked) == 2000


def test_writes_past_maxmemory_are_refused_not_oom_killed(small_persistent_pod):
    platform, d = small_persistent_pod
    client = pod_client(d, d.pod("redis-0"), timeout=5)
    maxmemory = int(client.config_get("maxmemory")["maxmemory"])
    assert maxmemory == 48 * 2**20  # 75% of 64 MiB
    refused = stored = 0
    for i in range(int(1.5 * 64 * 2**20 / len(VALUE))):  # half as much again as the container's limit
        try:
            client.set(f"fill{i}", VALUE)
            stored += 1
        except redis.exceptions.OutOfMemoryError:  # -OOM command not allowed when used memory > 'maxmemory'
            refused += 1
    print(f"maxmemory {maxmemory} bytes: {stored} values of 100 kB stored, {refused} refused")
    assert refused > 0 and stored > 0
    assert client.ping()
    status = platform.api.core.read_namespaced_pod("redis-0", d.extra["namespace"]).status
    redis_status = next(s for s in status.container_statuses if s.name == "redis")
    assert redis_status.restart_count == 0 and redis_status.last_state.terminated is None


def kubectl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=timeout)


def test_shipped_sentinel_with_the_new_components_applies_and_requires_the_secret(tmp_path):
    """`kubectl apply -k` of the shipped sentinel topology with the network-policy and metrics components:
    without the Secret redis-auth the pods do not start and say why; with it the Redis and Sentinel
    containers serve, asking for the password, and the metrics sidecars' /metrics answer through the pod IP
    with the password read from the Secret: redis_up 1, and the primary's replication figures for its two
    replicas. The overlay points the component's image at the fixture's (Debian's prometheus-redis-exporter,
    tests/k8s/cluster build_exporter) with kustomize's `images`, as a platform team points it at a mirror."""
    namespace = f"rh-{unique_id('apply-k').lower()}"[:63].rstrip("-")
    exporter_name, exporter_tag = FIXTURE_EXPORTER_IMAGE.rsplit(":", 1)
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    def rel(*parts: str) -> str:  # kustomize takes relative paths only
        return os.path.relpath(MANIFESTS.joinpath(*parts), overlay)

    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"namespace: {namespace}\nresources: [{rel('sentinel')}]\n"
        f"components: [{rel('components', 'network-policy')}, {rel('components', 'metrics')}]\n"
        f"images: [{{name: {EXPORTER_IMAGE.split(':')[0]}, newName: {exporter_name}, newTag: '{exporter_tag}'}}]\n"
        # the fixture is Kubernetes 1.20, without policy/v1 (the static files use it; the harness picks
        # the PDB's version from the server's): the overlay drops the PDBs
        + "patches:\n" + "".join(
            f"- patch: '{{apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {{name: {name}}}, "
            f"$patch: delete}}'\n" for name in ("redis", "sentinel")))
    assert kubectl("create", "namespace", namespace).returncode == 0
    try:
        applied = kubectl("apply", "-k", str(overlay))
        assert applied.returncode == 0, applied.stderr
        assert "networkpolicy.networking.k8s.io/redis created" in applied.stdout
        assert "service/redis-metrics created" in applied.stdout

        def waiting_reason() -> str | None:
            pod = kubectl("get", "pod", "redis-0", "-n", namespace, "-o", "json")
            if pod.returncode:
                return None
            statuses = json.loads(pod.stdout).get("status", {}).get("containerStatuses") or []
            redis_status = next((s for s in statuses if s["name"] == "redis"), {})
            waiting = redis_status.get("state", {}).get("waiting") or {}
            return f"{waiting.get('reason')}: {waiting.get('message')}" if waiting.get("reason") == \
                "CreateContainerConfigError" else None

        reason = wait_until(waiting_reason, timeout=120, what="the pod to say it lacks the Secret")
        assert 'secret "redis-auth" not found' in reason
        created = kubectl("create", "secret", "generic", "redis-auth", "-n", namespace,
                          "--from-literal=password=apply-k-pw")
        assert created.returncode == 0, created.stderr

        def serving() -> bool:
            pods = json.loads(kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
            ready = {(p["metadata"]["name"], s["name"]) for p in pods
                     for s in p.get("status", {}).get("containerStatuses") or [] if s.get("ready")}
            return {("redis-0", "redis"), ("redis-1", "redis"), ("redis-2", "redis"),
                    ("sentinel-0", "sentinel"), ("sentinel-1", "sentinel"), ("sentinel-2", "sentinel")} <= ready

        wait_until(serving, timeout=240, interval=2, what="every Redis and Sentinel container to be ready")
        pods = json.loads(kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
        spec = next(p for p in pods if p["metadata"]["name"] == "redis-0")["spec"]
        assert [c["name"] for c in spec["containers"]] == ["redis", "metrics"]
        assert spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1] == "/scripts/redis-prestop.sh"
        ip = next(p for p in pods if p["metadata"]["name"] == "sentinel-0")["status"]["podIP"]
        with pytest.raises(redis.exceptions.AuthenticationError):  # the sentinels ask for the password too
            redis.Redis(host=ip, port=26379, socket_timeout=5).ping()
        assert redis.Redis(host=ip, port=26379, password="apply-k-pw", socket_timeout=5).ping()
        ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in pods}

        def metrics_of(pod: str) -> str:
            return fetch(f"http://{ips[pod]}:{METRICS_PORT}/metrics")

        # the sidecars' /metrics (not their readiness, probed only every 10 s): the exporter answers at once
        assert re.search(r"^redis_up 1$", wait_until(lambda: metrics_of("sentinel-0"), timeout=30,
                                                      what="sentinel-0's /metrics"), re.M)
        # replicas announce their FQDN (replica-announce-ip), which the exporter reports as slave_ip
        aliases = {f"redis-{i}.redis-headless.{namespace}.svc.cluster.local:6379": f"redis-{i}" for i in range(3)}

        def primary_names_both_replicas() -> list:  # the replicas' links come up a moment after readiness
            figures = replica_figures(metrics_of("redis-0"), aliases)
            return figures if {f.replica for f in figures if f.state == "online"} == {"redis-1", "redis-2"} else []

        figures = wait_until(primary_names_both_replicas, timeout=30, what="redis-0's exporter to name both replicas",
                             describe_failure=lambda: metrics_of("redis-0"))
        assert re.search(r"^redis_up 1$", metrics_of("redis-0"), re.M)
        assert all(f.lag_bytes is not None and f.lag_bytes >= 0 and f.lag_s is not None for f in figures)
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false")

"""Faults on a real cluster (marked `kubernetes`: tests/k8s/ci.sh runs them on the fixture cluster).

- Every fault kind (pod-kill, pod-delete, pause both methods, partition isolate / split / one-way with
  drop and reject, packet-loss, latency, bandwidth) takes effect: a test per kind, all on one
  deployment (each fault hits the replica redis-1, or the link redis-0 -> redis-1, and each test waits
  until the replica is back in sync before firing, so the outcomes are independent). Each is checked by
  the nemesis's own verification, by the effect a client sees where it is cheap to measure (latency on
  PING, bandwidth on a large SET, a paused or killed server not answering), and the operations the live
  run performed must be exactly the dry run's plan.
- A fault the cluster cannot make (latency with a sidecar image that does not ship the delayer) is
  refused before anything is deployed, naming why.

The platform options come from the same REDIS_HARNESS_K8S_* variables `redis-harness` reads (ci.sh
sets them for the fixture: pod-ip access, the fault sidecar and its image).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from pydantic import TypeAdapter

from harness.nemesis.schedule import Nemesis
from harness.platforms.kubernetes.plan import plan
from harness.platforms.kubernetes.platform import KubernetesPlatform, options_from_env
from harness.poll import wait_until
from harness.redisconn import pod_client
from harness.rundir import EventLog, RunClock
from harness.scenario import Fault, Scenario, Topology
from tests.conftest import unique_id

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.kubernetes

# one primary, one replica, one sentinel that never fails over a replica's fault (quorum 1, long down-after);
# repl-timeout 2 s: a cut replica reports its link down within the fault
TOPOLOGY = Topology(kind="sentinel", replicas=1, sentinels=1, quorum=1, down_after_ms=30000,
                    extra_config={"repl-timeout": "2"})
REPLICA = {"pod": "redis-1"}
PRIMARY = {"pod": "redis-0"}
DELAY_MS = 40
RATE_KBIT = 800

KINDS = {
    "pod-kill": {"kind": "pod-kill", "target": REPLICA, "duration_s": 1},
    "pod-delete": {"kind": "pod-delete", "target": REPLICA, "duration_s": 1},
    "pause-sigstop": {"kind": "pause", "method": "sigstop", "target": REPLICA, "duration_s": 3},
    "pause-debug-sleep": {"kind": "pause", "method": "debug-sleep", "target": REPLICA, "duration_s": 3},
    "partition-isolate-drop": {"kind": "partition", "mode": "isolate", "target": REPLICA, "action": "drop",
                               "duration_s": 5},
    "partition-isolate-reject": {"kind": "partition", "mode": "isolate", "target": REPLICA, "action": "reject",
                                 "duration_s": 5},
    "partition-split-drop": {"kind": "partition", "mode": "split", "groups": [[PRIMARY], [REPLICA]],
                             "action": "drop", "duration_s": 5},
    "partition-split-reject": {"kind": "partition", "mode": "split", "groups": [[PRIMARY], [REPLICA]],
                               "action": "reject", "duration_s": 5},
    "partition-one-way-drop": {"kind": "partition", "mode": "one-way", "groups": [[PRIMARY], [REPLICA]],
                               "action": "drop", "duration_s": 5},
    "partition-one-way-reject": {"kind": "partition", "mode": "one-way", "groups": [[PRIMARY], [REPLICA]],
                                 "action": "reject", "duration_s": 5},
    "packet-loss": {"kind": "packet-loss", "percent": 50, "target": REPLICA, "duration_s": 3},
    "latency": {"kind": "latency", "delay_ms": DELAY_MS, "target": REPLICA, "duration_s": 4},
    "bandwidth": {"kind": "bandwidth", "rate_kbit": RATE_KBIT, "direction": "both", "target": REPLICA,
                  "duration_s": 4},
}


def platform(**options) -> KubernetesPlatform:
    return KubernetesPlatform(**{**options_from_env(), "fault_sidecar": True, **options})


def dry_run_ops(text: str, fault_id: str) -> dict[str, list[str]]:
    """The inject and heal lines the dry run prints for one firing."""
    section = text.split(f"# fault {fault_id}:", 1)[1].split("\n# fault ", 1)[0].split("\n# teardown", 1)[0]
    return {"inject": re.findall(r"^#   inject: (.*)$", section, re.M),
            "heal": re.findall(r"^#   heal at [\d.]+s: (.*)$", section, re.M)}


@pytest.fixture(scope="module")
def fleet():
    """One deployment for every kind's test (each test leaves the replica healed and in sync)."""
    k8s = platform()
    deployment = k8s.deploy(TOPOLOGY, unique_id("k8s-kinds"), owner_pid=os.getpid())
    try:
        yield k8s, deployment
    finally:
        k8s.teardown(deployment)


def in_sync(deployment) -> bool:
    try:
        info = pod_client(deployment, deployment.pod("redis-1"), timeout=1).info("replication")
    except (redis.RedisError, OSError):
        return False
    return info.get("role") == "slave" and info.get("master_link_status") == "up"


def fire(k8s, deployment, spec: dict, tmp_path: Path, during=None):
    """One firing of `spec` through the nemesis at run time 0.5 s; `during(deployment)` runs once the
    nemesis verified the fault. Returns the firing's events and what `during` measured."""
    wait_until(lambda: in_sync(deployment), timeout=60, interval=0.2, what="redis-1 replicating from redis-0")
    k8s.refresh(deployment)  # a recreated pod has a new IP
    fault = TypeAdapter(Fault).validate_python({**spec, "at_s": 0.5})
    clock = RunClock.start()
    log = EventLog(tmp_path / "events.jsonl", clock)
    nemesis = Nemesis(k8s, deployment, [fault], log, clock)
    nemesis.refuse_infeasible()
    ips = {p.name: p.host for p in deployment.pods}  # pod-ip access: the IPs the plan will name
    measured = None
    nemesis.start()
    try:
        if during is not None:
            wait_until(lambda: '"fault-verified"' in (tmp_path / "events.jsonl").read_text(), timeout=60,
                       interval=0.05, what="the fault to be verified")
            measured = during(deployment)
        wait_until(nemesis.done, timeout=180, interval=0.2, what="the firing applied and healed")
    finally:
        assert nemesis.stop() == []
        log.close()
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    mine = [e for e in events if e.get("fault_id") == "0.0"]
    start = next((e for e in mine if e["type"] == "fault-start"), None)
    verified = [e for e in mine if e["type"] == "fault-verified"]
    assert start is not None, mine
    assert verified and all(e["ok"] for e in verified), verified
    assert any(e["type"] == "fault-end" for e in mine), mine
    # the operations performed are the dry run's plan for the same scenario
    scenario = Scenario.model_validate({"name": "kinds", "duration_s": 30, "topology": TOPOLOGY.model_dump(),
                                        "faults": [{**spec, "at_s": 5}]})
    text = plan(scenario, server_version=deployment.extra["server_version"], fault_sidecar=True,
                access=deployment.extra["access"], run_id=deployment.id, sidecar_image=k8s.options.sidecar_image,
                sidecar_delayer=k8s.sidecar_delayer)
    for name, ip in ips.items():
        text = text.replace(f"<ip of {name}>", ip)
    text = text.replace("<harness address>", deployment.client_address)
    assert start["params"]["ops"] == dry_run_ops(text, "0.0"), spec["kind"]
    if spec["kind"] not in ("pod-kill", "pod-delete", "pause"):  # nothing of a network fault is left behind
        for pod in ("redis-0", "redis-1"):
            rules = k8s.run_in_pod_network(deployment, deployment.pod(pod), ["iptables", "-S"]).stdout
            assert not re.search(r"-j (DROP|REJECT|NFQUEUE)", rules), (pod, rules)
            qdiscs = k8s.run_in_pod_network(deployment, deployment.pod(pod), ["tc", "qdisc", "show"]).stdout
            assert "htb" not in qdiscs, (pod, qdiscs)
    return mine, measured


def ping_ms(deployment, pod: str = "redis-1", n: int = 15) -> list[float]:
    client = pod_client(deployment, deployment.pod(pod), timeout=2)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.ping()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def answers(deployment, pod: str = "redis-1") -> bool:
    try:
        return bool(pod_client(deployment, deployment.pod(pod), timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


@pytest.mark.parametrize("name", list(KINDS))
def test_fault_kind_takes_effect_on_the_cluster(fleet, name, tmp_path):
    k8s, deployment = fleet
    spec = KINDS[name]
    measure = None
    if spec["kind"] == "latency":
        measure = ping_ms
    elif spec["kind"] == "bandwidth":
        def measure(d):  # 64 KiB to the replica and back through 800 kbit/s links: ~1.3 s, ~1 ms unshaped
            t0 = time.perf_counter()
            pod_client(d, d.pod("redis-1"), timeout=10).echo(b"x" * 65536)
            return time.perf_counter() - t0
    elif spec["kind"] == "pause":
        measure = answers
    before = ping_ms(deployment) if spec["kind"] == "latency" else None
    uid = k8s.api.core.read_namespaced_pod("redis-1", deployment.extra["namespace"]).metadata.uid
    events, measured = fire(k8s, deployment, spec, tmp_path, measure)
    detail = [e.get("detail") or e.get("checks") for e in events if e["type"] == "fault-verified"]
    print(f"\n{name}: verified {detail}")
    if spec["kind"] == "latency":
        print(f"{name}: PING to redis-1 median {statistics.median(before):.2f} ms before, "
              f"{statistics.median(measured):.2f} ms during a {DELAY_MS} ms delay")
        assert statistics.median(before) < DELAY_MS / 4 and statistics.median(measured) >= DELAY_MS * 0.9, \
            (before, measured)
        assert statistics.median(ping_ms(deployment)) < DELAY_MS / 4, "healed"
    elif spec["kind"] == "bandwidth":
        print(f"{name}: a 64 KiB ECHO took {measured:.2f} s at {RATE_KBIT} kbit/s")
        assert measured >= 0.8, measured
    elif spec["kind"] == "pause":
        assert measured is False, f"redis-1 still answers PING during {name}"
    if spec["kind"] in ("pod-kill", "pod-delete"):  # the StatefulSet made a new pod
        assert k8s.api.core.read_namespaced_pod("redis-1", deployment.extra["namespace"]).metadata.uid != uid
    wait_until(lambda: answers(deployment), timeout=60, interval=0.2, what="redis-1 to answer again")


def test_latency_is_refused_before_deploying_with_a_sidecar_image_without_the_delayer(tmp_path):
    """With a sidecar image that does not ship the delayer (netshoot), a latency scenario exits 2 naming
    what is missing, and no namespace is created."""
    scenario = tmp_path / "latency.yaml"
    scenario.write_text(json.dumps({
        "name": "latency-refused", "duration_s": 10, "topology": {"kind": "standalone"},
        "faults": [{"kind": "latency", "delay_ms": 40, "target": {"role": "primary"}, "at_s": 3, "duration_s": 2}]}))
    k8s = platform()
    labelled = "app.kubernetes.io/managed-by=redis-harness"
    before = {n.metadata.name for n in k8s.api.core.list_namespace(label_selector=labelled).items}
    env = {**os.environ, "REDIS_HARNESS_K8S_SIDECAR_IMAGE": "nicolaka/netshoot:v0.13"}
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(scenario), "--platform", "kubernetes",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=env)
    after = {n.metadata.name for n in k8s.api.core.list_namespace(label_selector=labelled).items}
    print(f"\nrefused: exit {proc.returncode}: {proc.stderr.strip()[-400:]}")
    assert proc.returncode == 2 and "faults.0 (latency)" in proc.stderr and "redis-harness-delayer" in proc.stderr, \
        proc.stderr
    assert not {n for n in after - before if "latency-refused" in n}, after - before


def test_cleanup_removes_a_dead_runs_namespace_and_state_dir(tmp_path):
    """A run killed outright leaves its namespace and `k8s-<namespace>/deployment.json`: the sweep tears
    that down; a labelled namespace with no state here (maybe another machine's run) goes only with --all.
    (The Kubernetes part of `redis-harness cleanup` alone: the local sweep would also take the network
    namespaces of other runs on this machine, which no state root of this test owns.)"""
    from harness.platforms.kubernetes.leftovers import kubernetes_leftovers
    from harness.deployment import Deployment
    from harness.platforms.kubernetes.objects import namespace_name, namespace_object

    k8s = platform()
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid: an owner that no longer runs
    run_id, orphan_id = unique_id("k8s-killed"), unique_id("k8s-orphan")
    namespace, orphan = namespace_name(run_id), namespace_name(orphan_id)
    for ns, rid in ((namespace, run_id), (orphan, orphan_id)):
        k8s.apply(namespace_object(ns, rid))
    state = tmp_path / "state"
    Deployment(id=run_id, platform="kubernetes", topology=Topology(kind="standalone").model_dump(mode="json"), pods=[],
               client_address="", network="kubernetes", state_dir=str(state / f"k8s-{namespace}"), owner_pid=dead.pid,
               extra={"namespace": namespace, "own_namespace": True}).save()

    def active(ns: str) -> bool:
        try:
            return k8s.api.core.read_namespace(ns).status.phase == "Active"
        except Exception as exc:  # noqa: BLE001
            if getattr(exc, "status", None) == 404:
                return False
            raise

    try:
        removed = kubernetes_leftovers(state)
        assert f"namespace {namespace}" in removed and not active(namespace), removed
        assert not (state / f"k8s-{namespace}").exists() and active(orphan), removed
        removed = kubernetes_leftovers(state, everything=True)
        assert f"namespace {orphan}" in removed and not active(orphan), removed
    finally:
        for ns in (namespace, orphan):
            k8s.delete_namespace(ns)

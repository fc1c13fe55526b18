"""Faults on a real cluster (marked `kubernetes`: tests/k8s/ci.sh runs them on the fixture cluster).

- Every fault kind the platform offers takes effect, checked by the nemesis's own verification,
  on one deployment (the faults hit a replica one after the other, so each outcome is independent
  of the others), and the operations a live run performed are exactly the dry run's plan.
- A fault the cluster cannot make (latency without sch_netem on the node) is refused, naming why.
- The split-brain scenario loses acknowledged writes on Kubernetes as it does on the local platform.

The platform options come from the same REDIS_HARNESS_K8S_* variables `redis-harness` reads (ci.sh
sets them for the fixture: pod-ip access, the fault sidecar and its image).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from harness.errors import CapabilityError
from harness.nemesis import Nemesis
from harness.platforms.k8s_plan import plan
from harness.platforms.kubernetes import KubernetesPlatform, options_from_env
from harness.poll import wait_until
from harness.rundir import EventLog, RunClock
from harness.scenario import Fault, Scenario, Topology
from tests.conftest import unique_id

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.kubernetes

# one replica is hit by each kind in turn; gaps let each heal before the next fires (the first at 3 s:
# a scenario, which the dry run reads, needs that much baseline before its first fault)
MATRIX = [
    {"kind": "pause", "method": "sigstop", "at_s": 3, "duration_s": 3},
    {"kind": "partition", "mode": "isolate", "action": "reject", "at_s": 7, "duration_s": 4},
    {"kind": "packet-loss", "percent": 50, "at_s": 12, "duration_s": 3},
    {"kind": "bandwidth", "rate_kbit": 800, "direction": "both", "at_s": 16, "duration_s": 3},
    {"kind": "pod-delete", "at_s": 20, "duration_s": 1},
]
TOPOLOGY = Topology(kind="sentinel", replicas=1, sentinels=1, quorum=1, extra_config={"repl-timeout": "2"})


def platform(**options) -> KubernetesPlatform:
    return KubernetesPlatform(**{**options_from_env(), "fault_sidecar": True, **options})


def faults_of(specs: list[dict], target: str) -> list:
    return [TypeAdapter(Fault).validate_python({**spec, "target": {"pod": target}}) for spec in specs]


def dry_run_ops(text: str, fault_id: str) -> dict[str, list[str]]:
    """The inject and heal lines the dry run prints for one firing."""
    section = text.split(f"# fault {fault_id}:", 1)[1].split("\n# fault ", 1)[0].split("\n# teardown", 1)[0]
    return {"inject": re.findall(r"^#   inject: (.*)$", section, re.M),
            "heal": re.findall(r"^#   heal at [\d.]+s: (.*)$", section, re.M)}


def test_every_fault_kind_takes_effect_and_runs_the_dry_run_plan(tmp_path):
    k8s = platform()
    deployment = k8s.deploy(TOPOLOGY, unique_id("k8s-matrix"), owner_pid=os.getpid())
    try:
        faults = faults_of(MATRIX, "redis-1")
        with pytest.raises(CapabilityError, match="sch_netem"):  # this kernel has no netem: refused, not faked
            Nemesis(k8s, deployment, faults_of([{"kind": "latency", "delay_ms": 40, "at_s": 0, "duration_s": 3}],
                                               "redis-1"), EventLog(tmp_path / "refused.jsonl", RunClock.start()),
                    RunClock.start()).preflight()
        ips = {p.name: p.host for p in deployment.pods}  # pod-ip access: the pods' IPs before any is replaced
        clock = RunClock.start()
        log = EventLog(tmp_path / "events.jsonl", clock)
        nemesis = Nemesis(k8s, deployment, faults, log, clock)
        nemesis.preflight()
        nemesis.start()
        try:
            wait_until(nemesis.done, timeout=180, interval=0.5, what="every firing applied and healed")
        finally:
            assert nemesis.stop() == []
            log.close()
        events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
        scenario = Scenario.model_validate({"name": "matrix", "duration_s": 30, "topology": TOPOLOGY.model_dump(),
                                            "faults": [f.model_dump() for f in faults]})
        text = plan(scenario, server_version=deployment.extra["server_version"], fault_sidecar=True,
                    access=deployment.extra["access"], run_id=deployment.id)
        for name, ip in ips.items():
            text = text.replace(f"<ip of {name}>", ip)
        text = text.replace("<harness address>", deployment.client_address)
        for index, spec in enumerate(MATRIX):
            fid = f"{index}.0"
            mine = [e for e in events if e.get("fault_id") == fid]
            start = next((e for e in mine if e["type"] == "fault-start"), None)
            assert start is not None, (spec, mine)
            verified = [e for e in mine if e["type"] == "fault-verified"]
            assert verified and all(e["ok"] for e in verified), (spec, verified)
            assert any(e["type"] == "fault-end" for e in mine), (spec, mine)
            assert start["params"]["ops"] == dry_run_ops(text, fid), spec["kind"]
        rules = k8s.run_in_pod_network(deployment, deployment.pod("redis-0"), ["iptables", "-S"]).stdout
        assert "-j DROP" not in rules and "-j REJECT" not in rules, rules
    finally:
        k8s.teardown(deployment)


def test_split_brain_loses_the_old_primarys_writes(tmp_path):
    """The primary is cut from its replicas and the sentinels, the clients stay with it: the sentinels
    promote a replica during the partition, and the old primary's acknowledged writes are lost at the
    heal (7,284 lost locally; 0 here before the partition stopped cutting the cluster's DNS)."""
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(ROOT / "scenarios/sentinel-partition-split-brain.yaml"),
                           "--platform", "kubernetes", "--out", str(out)], capture_output=True, text=True, timeout=600,
                          cwd=ROOT)
    summary = json.loads((out / "summary.json").read_text())
    writes = summary["writes"]
    print(f"\nsplit-brain on Kubernetes: {writes['lost']} of {writes['acknowledged']} acknowledged writes lost, "
          f"{writes['acknowledged_by_demoted_primary_lost']} of them acknowledged by the old primary; "
          f"failover {summary['failover']}")
    assert not summary["partial"], proc.stderr[-3000:]
    assert writes["lost"] > 0 and writes["acknowledged_by_demoted_primary_lost"] > 0, (writes, proc.stderr[-3000:])
    start = next(json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()
                 if '"fault-start"' in line)
    logged = [line for log in (out / "logs").glob("sentinel-*.log") for line in log.read_text().splitlines()
              if "+switch-master" in line]
    assert logged, "the sentinels' own logs (copied from the pods) show the failover"
    assert summary["failover"][0]["promoted_s"] is not None and summary["failover"][0]["promoted_s"] < 12, \
        (summary["failover"], start)


def test_cleanup_removes_a_dead_runs_namespace_and_state_dir(tmp_path):
    """A run killed outright leaves its namespace and `k8s-<namespace>/deployment.json`: the sweep tears
    that down; a labelled namespace with no state here (maybe another machine's run) goes only with --all.
    (The Kubernetes part of `redis-harness cleanup` alone: the local sweep would also take the network
    namespaces of other runs on this machine, which no state root of this test owns.)"""
    from harness.cleanup_k8s import kubernetes_leftovers
    from harness.platforms.base import Deployment
    from harness.platforms.k8s_objects import namespace_name, namespace_object

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

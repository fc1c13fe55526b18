"""Shared fixtures: real deployments on the local platform, torn down and checked for leaks."""

from __future__ import annotations

import os
import random
import secrets
import socket
import shutil
import json
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from harness.platforms.local import netns
from harness.deployment import state_root
from harness.platforms.local.platform import LocalPlatform, process_alive
from harness.scenario import Topology

pytest_plugins = ["tests.skipguard"]  # CI=true: a skip outside its allow-list fails the run

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and iptables")
needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


# Tests marked `kubernetes` need a real cluster. Without KUBECONFIG they skip, saying so; but where a
# cluster is required (tests/k8s/ci.sh sets this), a missing or silent cluster, and any skip of such a
# test, is a failure: a CI whose Kubernetes tests all skipped must not pass.
K8S_REQUIRED = "REDIS_HARNESS_K8S_REQUIRED"


def _k8s_required() -> bool:
    return os.environ.get(K8S_REQUIRED, "").lower() in ("1", "true", "yes")


_cluster_problem: list[str | None] = []  # asked once per session: None = the API server answers


def _cluster_answers() -> str | None:
    if not _cluster_problem:
        from harness.platforms.kubernetes.platform import KubernetesPlatform

        try:
            KubernetesPlatform().server_version()
            _cluster_problem.append(None)
        except Exception as exc:  # noqa: BLE001 - any failure to reach it is the answer
            _cluster_problem.append(f"{type(exc).__name__}: {exc}")
    return _cluster_problem[0]


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("kubernetes") is None:
        return
    if not os.environ.get("KUBECONFIG"):
        if _k8s_required():
            pytest.fail(f"{K8S_REQUIRED} is set but KUBECONFIG is not: no cluster to run on", pytrace=False)
        pytest.skip("needs a Kubernetes cluster: set KUBECONFIG (docs/kubernetes.md: kind)")
    if _k8s_required() and (problem := _cluster_answers()):
        pytest.fail(f"the Kubernetes cluster at KUBECONFIG={os.environ['KUBECONFIG']} does not answer: {problem}",
                    pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _k8s_required() and item.get_closest_marker("kubernetes") is not None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"a `kubernetes` test skipped where a cluster is required ({K8S_REQUIRED}): {reason}"


@contextmanager
def reaped(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """The subprocess a test started never outlives it, whatever failed inside the block."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def state_dirs_owned_by(pid: int) -> list[Path]:
    """The local deployments' state directories whose run is process `pid` (a `redis-harness run`)."""
    return [d for d in state_root().glob("rh*") if (d / "deployment.json").exists()
            and json.loads((d / "deployment.json").read_text())["owner_pid"] == pid]


def unique_id(label: str) -> str:
    return f"test-{label}-{secrets.token_hex(4)}"


def assert_gone(platform: LocalPlatform, deployment) -> None:
    """Nothing of the deployment is left: no process, namespace, link or state dir."""
    prefix = deployment.extra["prefix"]
    assert not [p.name for p in deployment.pods if process_alive(p.pid)], "pod processes survived teardown"
    assert not [n for n in netns.list_netns() if n.startswith(prefix)], "namespaces survived teardown"
    assert not [n for n in netns.list_links() if n.startswith(prefix)], "links survived teardown"
    assert not Path(deployment.state_dir).exists(), "state dir survived teardown"
    root_rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout if (
        os.geteuid() == 0 and shutil.which("iptables-save")) else ""
    assert "RH-" not in root_rules, "a fault's iptables chain is in the root namespace"


@pytest.fixture
def local_platform() -> LocalPlatform:
    return LocalPlatform()


@pytest.fixture
def deploy(local_platform):
    """deploy(Topology or dict) -> Deployment; every deployment is torn down and leak-checked after the test."""
    made = []

    def _deploy(topology: Topology | dict, label: str = "t"):
        topo = topology if isinstance(topology, Topology) else Topology.model_validate(topology)
        deployment = local_platform.deploy(topo, unique_id(label), owner_pid=os.getpid())
        made.append(deployment)
        return deployment

    yield _deploy
    for deployment in made:
        local_platform.teardown(deployment)
        assert_gone(local_platform, deployment)


def free_port() -> int:
    """A free 127.0.0.1 port whose cluster-bus twin (port + 10000) is free too; below 55536 as Redis wants."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair found")

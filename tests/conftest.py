"""Shared fixtures: real deployments on the local platform, torn down and checked for leaks."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.platforms import netns
from harness.platforms.local import LocalPlatform, process_alive
from harness.scenario import Topology

pytest_plugins = ["tests.skipguard"]  # CI=true: a skip outside its allow-list fails the run

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and iptables")
needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


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

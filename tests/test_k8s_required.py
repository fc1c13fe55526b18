"""A CI whose Kubernetes tests could not run must fail: `kubernetes` tests skip only where no cluster is
asked for, and fail where tests/k8s/ci.sh requires one (REDIS_HARNESS_K8S_REQUIRED) but none answers.

Each case runs pytest itself on a real `kubernetes` test, so the hooks of tests/conftest.py
are exercised as CI meets them. No cluster is needed: the point is what happens without one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST = "tests/test_kubernetes_e2e.py::test_latency_is_refused_before_deploying_with_a_sidecar_image_without_the_delayer"


def run_kubernetes_test(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    # without CI: under CI=true tests/skipguard.py would fail the inner skip too, which is not what is tested here
    full = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "REDIS_HARNESS_K8S_REQUIRED", "CI")}
    full.update(env, REDIS_HARNESS_STATE=str(tmp_path / "state"))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "kubernetes", "-p", "no:cacheprovider",
                           "-rfs", TEST], cwd=ROOT, env=full, capture_output=True, text=True, timeout=300)


def test_without_a_cluster_asked_for_the_test_skips_with_the_reason(tmp_path):
    proc = run_kubernetes_test(tmp_path)
    assert proc.returncode == 0 and "1 skipped" in proc.stdout, proc.stdout[-2000:]
    assert "set KUBECONFIG" in proc.stdout


@pytest.mark.parametrize("kubeconfig", [None, "missing", "silent"])
def test_where_a_cluster_is_required_no_cluster_is_a_failure(tmp_path, kubeconfig):
    env = {"REDIS_HARNESS_K8S_REQUIRED": "1"}
    if kubeconfig == "missing":
        env["KUBECONFIG"] = str(tmp_path / "no-such-kubeconfig")
    elif kubeconfig == "silent":  # a well-formed kubeconfig whose server is a closed loopback port
        path = tmp_path / "kubeconfig"
        path.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
                        "users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
                        "current-context: c\n")
        env["KUBECONFIG"] = str(path)
    proc = run_kubernetes_test(tmp_path, **env)
    # a failure in setup is reported as an error: either way pytest exits 1, and nothing skipped
    assert proc.returncode == 1 and re.search(r"\b1 (failed|error)\b", proc.stdout), proc.stdout[-2000:]
    assert "skipped" not in proc.stdout, proc.stdout[-2000:]
    expected = "KUBECONFIG is not" if kubeconfig is None else "does not answer"
    assert expected in proc.stdout, proc.stdout[-2000:]

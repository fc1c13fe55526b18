"""The bundled capacity sweep on a real cluster (marked `kubernetes`: tests/k8s/ci.sh runs it on the fixture).

scenarios/capacity-standalone.yaml as shipped, shortened on the command line (two low steps, a lenient
SLO so the verdict does not rest on a shared machine's latency), through `redis-harness run --platform
kubernetes`, the generator in two places:
- on this machine dialing pod IPs (access pod-ip);
- as two pods in the cluster (`sweep.load.workers: 2`) while the harness reaches the cluster only through
  port-forwards, as from a laptop: the sweep the platform refuses without generator pods.
Outcomes known before
the run: the low steps achieve their offered rate; the server's CPU comes from INFO (no pid here), is
positive and under the pod's 1-CPU limit; memory per key agrees with MEMORY USAGE as it does locally
(tests/test_capacity.py); and the run's namespace is gone afterwards.
"""

from __future__ import annotations

import json
import os

import jsonschema
import pytest

from harness.platforms.kubernetes.objects import RenderOptions, cpu_millis, namespace_name
from harness.platforms.kubernetes.platform import KubernetesPlatform
from tests.test_cli import ROOT, cli

RATES = [2000, 5000]
POD_CPU_LIMIT = cpu_millis(RenderOptions().limits["cpu"]) / 1000  # a Redis container's, in CPUs


# generator -> (the --set that places it, the access the harness runs with, what the report says of it)
PLACEMENTS = {"harness": ([], "pod-ip", "harness machine (a cluster node)"),
              "pods": (["--set", "sweep.load.workers=2"], "port-forward", "2 generator pod(s) in the cluster")}


@pytest.mark.kubernetes
@pytest.mark.parametrize("generator", list(PLACEMENTS))
def test_the_bundled_sweep_runs_on_kubernetes_with_cpu_from_info(generator, tmp_path):
    placement, access, said = PLACEMENTS[generator]
    if generator == "harness" and os.environ.get("REDIS_HARNESS_K8S_ACCESS") != "pod-ip":
        pytest.skip("a sweep on Kubernetes needs REDIS_HARNESS_K8S_ACCESS=pod-ip (the harness on a node)")
    out = tmp_path / "run"
    platform = KubernetesPlatform()
    namespace = None
    try:
        ran = cli("run", "scenarios/capacity-standalone.yaml", "--platform", "kubernetes", "--out", str(out),
                  "--set", f"sweep.rates={json.dumps(RATES)}", "--set", "sweep.step_s=3", "--set", "sweep.warmup_s=1",
                  "--set", "sweep.slo_p99_ms=1000", *placement,
                  env={**os.environ, "REDIS_HARNESS_K8S_ACCESS": access})
        meta = json.loads((out / "meta.json").read_text()) if (out / "meta.json").exists() else {}
        if meta.get("run_id"):
            namespace = namespace_name(f"{meta['run_id']}-v0")  # the run's only variant (run.py names it so)
        print("\n" + ran.stdout + ran.stderr[-3000:])
        assert ran.returncode == 0, ran.stdout + ran.stderr
        summary = json.loads((out / "summary.json").read_text())
        jsonschema.validate(summary, json.loads((ROOT / "docs" / "capacity-summary.schema.json").read_text()))
        assert summary["platform"] == "kubernetes" and summary["verdict"] == "pass"
        assert said in summary["generator"], summary["generator"]
        (variant,) = summary["variants"]
        steps, answers = variant["steps"], variant["answers"]
        assert [s["offered_rate"] for s in steps] == RATES
        for s in steps:
            assert s["achieved_rate"] == pytest.approx(s["offered_rate"], rel=0.03), s
            assert s["dropped"] == 0, s
            assert s["server_cpu_source"] == "info", s
            assert 0 < s["server_cpu_s_per_s"] <= POD_CPU_LIMIT * 1.05, s  # seconds per second, under the limit
            assert s["server_cpu_s_per_s"] == s["server_info_cpu_s_per_s"], s
            assert s["server_wait_s_per_s"] is None, s  # schedstat's wait needs the pid: not claimed here
        assert answers["server_cpu_source"].startswith("INFO cpu") and answers["server_cpu_ms_per_1k_ops"] > 0
        assert answers["bytes_per_key"] == pytest.approx(answers["memory_usage_mean"], rel=0.15)
        assert answers["bytes_per_key"] >= answers["memory_usage_mean"], "the bucket array is not in MEMORY USAGE"
        text = (out / "report.txt").read_text()
        assert "CPU-ms per 1k ops (from INFO cpu" in text and f"generator: {said}" in text
        assert namespace and not platform.namespace_exists(namespace), "the run left its namespace behind"
    finally:
        if namespace and platform.namespace_exists(namespace):
            platform.delete_namespace(namespace)

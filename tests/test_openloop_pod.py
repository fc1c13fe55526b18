"""The generator pod's program (harness.workload.openloop.pod) run as a process here, against a real local
Redis, driven through its gate directory exactly as harness.platforms.kubernetes.openloop drives a pod
(which tests/test_k8s_openloop.py and tests/test_k8s_capacity.py run on the fixture). Known outcomes:
- a run's step (armed first, started by `<n>.go`): every scheduled request acknowledged, the per-second
  rows it printed add up to its result, and they start at the second the go named;
- a sweep's step (its start in the step file): the same, with the warm-up outside the counted window;
- `stop` ends the process by itself, exit code 0; lines that are not messages are not taken for ones;
- not connected when armed is a `warning`, still not connected at the start an `error` (exit non-zero).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from harness.workload.openloop.pod import DEPLOYMENT_ENV, GATE_ENV, MARK, SPEC_ENV, WAIT_ENV, parse


def _write(gate: Path, name: str, text: str) -> None:
    (gate / f"{name}.tmp").write_text(text)
    (gate / f"{name}.tmp").rename(gate / name)


def _next(proc: subprocess.Popen, kind: str, step: int, seen: list[dict]) -> dict:
    """Read messages until `kind` of `step` (those on the way are kept in `seen`)."""
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, f"the generator ended before `{kind}` of step {step}"
        message = parse(line.rstrip("\n"))
        if message is not None:
            seen.append(message)
            if message["kind"] == kind and message["step"] == step:
                return message
    raise AssertionError(f"no `{kind}` of step {step} within 30 s")


def test_the_pod_program_runs_a_run_step_and_a_sweep_step_and_stops(deploy, tmp_path):
    deployment = deploy({"kind": "standalone"}, "olpod")
    gate = tmp_path / "gate"
    gate.mkdir()
    env = {**os.environ, DEPLOYMENT_ENV: json.dumps(asdict(deployment)), GATE_ENV: str(gate), WAIT_ENV: "30",
           SPEC_ENV: json.dumps({"clients": 2, "keyspace": 1000})}
    proc = subprocess.Popen([sys.executable, "-m", "harness.workload.openloop.pod"], env=env, stdout=subprocess.PIPE,
                            text=True)
    seen: list[dict] = []
    try:
        _next(proc, "ready", 0, seen)
        _write(gate, "1.step", json.dumps({"rate": 500, "duration_s": 3, "warmup_s": 0, "clients": 2, "seed": 1,
                                           "seconds": True}))
        _next(proc, "armed", 1, seen)
        zero = time.time()
        _write(gate, "1.go", repr(zero))
        run = _next(proc, "result", 1, seen)["result"]
        rows = [row for m in seen if m["kind"] == "seconds" and m["step"] == 1 for row in m["rows"]]
        assert run["offered"] == 1500 and run["ok"] == 1500 and run["dropped"] == 0 and run["unknown"] == 0, run
        assert sum(r["ok"] for r in rows) == 1500 and sum(r["due"] for r in rows) == 1500, rows
        assert {r["t"] for r in rows if r["due"]} == {0, 1, 2}, rows  # the run's seconds, from the go's zero

        _write(gate, "2.step", json.dumps({"rate": 400, "duration_s": 2, "warmup_s": 0.5, "clients": 2, "seed": 2,
                                           "start_wall": time.time() + 1.0}))
        sweep = _next(proc, "result", 2, seen)["result"]
        assert sweep["offered"] == 600 and sweep["ok"] == 600 and sweep["dropped"] == 0, sweep  # 400/s x 1.5 s
        assert not [m for m in seen if m["kind"] == "seconds" and m["step"] == 2], "a sweep step prints no rows"
        assert not [m for m in seen if m["kind"] == "error"], seen

        _write(gate, "stop", "stop")
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_only_marked_json_lines_are_messages():
    assert parse(MARK + '{"kind": "ready", "step": 0}') == {"kind": "ready", "step": 0}
    assert parse("Traceback (most recent call last):") is None
    assert parse(MARK + "{not json") is None
    assert parse(MARK + '{"step": 1}') is None  # no kind


def test_a_pod_not_connected_when_armed_warns_and_fails_only_at_its_start(deploy, tmp_path):
    """Not connected when armed is a `warning`: the engine tries again at the start (a primary may be back by
    then), and the harness fails the driver on `error` only. Still not connected at the start is an `error`, and
    the process ends non-zero. Pointed at a port where nothing listens, both happen."""
    deployment = deploy({"kind": "standalone"}, "olwarn")
    data = asdict(deployment) | {"state_dir": str(tmp_path / "none")}  # as in a pod (pod_view): no saved deployment
    for pod in data["pods"]:
        pod["port"] = 1  # nothing listens there
    gate = tmp_path / "gate"
    gate.mkdir()
    env = {**os.environ, DEPLOYMENT_ENV: json.dumps(data), GATE_ENV: str(gate), WAIT_ENV: "30",
           SPEC_ENV: json.dumps({"clients": 1, "keyspace": 100})}
    proc = subprocess.Popen([sys.executable, "-m", "harness.workload.openloop.pod"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    seen: list[dict] = []
    try:
        _next(proc, "ready", 0, seen)
        _write(gate, "1.step", json.dumps({"rate": 100, "duration_s": 1, "warmup_s": 0, "clients": 1, "seed": 1}))
        _next(proc, "armed", 1, seen)
        assert [m["kind"] for m in seen] == ["ready", "warning", "armed"], seen
        assert "not connected before the start" in seen[1]["detail"], seen
        _write(gate, "1.go", repr(time.time()))
        error = _next(proc, "error", 0, seen)
        assert "could not connect" in error["detail"], error
        assert proc.wait(timeout=10) != 0
        assert not [m for m in seen if m["kind"] == "result"], seen
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

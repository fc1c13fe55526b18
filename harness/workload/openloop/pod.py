"""The open-loop generator as a pod in the cluster (`workload.openloop.workers`, `sweep.load.workers`):
one engine process per pod, driven by the harness through files it writes into the pod's gate
directory, reporting on its stdout (the pod's log, which the harness follows).

Why pods: from the harness's machine a sweep measures the path to the cluster too (a laptop, a
port-forward). Pods put the generator next to the servers, and more pods add cores.

The protocol, step n = 1, 2, ...:
- the harness writes `<gate>/<n>.step` (JSON: rate, duration_s, warmup_s, clients, seed, and either
  `start_wall` or nothing); the pod builds the step's engine, connects, and says `armed`;
- the schedule starts at `start_wall` (Unix time) when the step file has one (a sweep's step, set a
  moment ahead), else at the time in `<gate>/<n>.go` (a run's load: its t = 0, known only then);
- with `seconds: true` the engine's per-second rows go out as they come (a run's series), and at the
  step's end its result (engine.StepResult); `<gate>/stop` ends the step now and the pod after it.

Each message is one stdout line: MARK, then JSON with `kind` (ready | armed | seconds | result | warning | error)
and `step`. The time base is Unix time converted to this pod's monotonic clock at the start: the
run's seconds to within the clocks' offset between the harness's machine and the node (none on a
single-node cluster; NTP's on a real one), as for in-cluster Locust.

Bounded: a pod waits for its next step at most `REDIS_HARNESS_WAIT_S`, the engine ends each schedule
by itself, and the pod's activeDeadlineSeconds bounds the whole.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

MARK = "REDIS-HARNESS-OPENLOOP "
POLL_S = 0.005  # how often the gate is looked at: at most this late after the harness wrote a file
DEPLOYMENT_ENV, SPEC_ENV, GATE_ENV, WAIT_ENV = ("REDIS_HARNESS_DEPLOYMENT_JSON", "REDIS_HARNESS_OPENLOOP",
                                                "REDIS_HARNESS_GATE", "REDIS_HARNESS_WAIT_S")


def say(kind: str, step: int, **fields: Any) -> None:
    print(MARK + json.dumps({"kind": kind, "step": step, **fields}, separators=(",", ":")), flush=True)


def parse(line: str) -> dict[str, Any] | None:
    """A message from a pod's log line; None for any other line (a traceback, a warning)."""
    if not line.startswith(MARK):
        return None
    try:
        message = json.loads(line[len(MARK):])
    except ValueError:
        return None
    return message if isinstance(message, dict) and "kind" in message else None


async def _wait_file(path: Path, stop: Path, deadline: float) -> str | None:
    """The file's text once it exists; None when `stop` appears first or the deadline passes."""
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text()
        if stop.exists():
            return None
        await asyncio.sleep(POLL_S)
    return None


def _mono_ns(start_wall: float) -> int:
    return time.monotonic_ns() + int((start_wall - time.time()) * 1e9)


async def _steps(deployment: Any, spec: Any, gate: Path, wait_s: float) -> None:
    from harness.workload.openloop.engine import Engine, StepPlan

    stop = gate / "stop"
    n = 1
    while not stop.exists():
        text = await _wait_file(gate / f"{n}.step", stop, time.monotonic() + wait_s)
        if text is None:
            return
        step = json.loads(text)
        sink = (lambda rows, n=n: say("seconds", n, rows=rows)) if step.get("seconds") else None
        not_yet = time.monotonic_ns() + 10**15  # nothing due while it connects (start_at moves it)
        engine = Engine(deployment, spec, StepPlan(step["rate"], step["duration_s"], step["warmup_s"], not_yet,
                                                   step["clients"], step["seed"]), sink=sink, stop=stop.exists)
        try:
            await engine.connect()
        except RuntimeError as exc:  # no primary right now: run() tries again at the start and says what failed
            say("warning", n, detail=f"not connected before the start: {exc}")
        say("armed", n)
        start_wall = step.get("start_wall")
        if start_wall is None:
            go = await _wait_file(gate / f"{n}.go", stop, time.monotonic() + wait_s)
            if go is None:
                return
            start_wall = float(go)
        engine.start_at(_mono_ns(float(start_wall)))
        say("result", n, result=(await engine.run()).as_dict())
        n += 1


def main() -> int:
    from harness.deployment import Deployment, Pod
    from harness.scenario import OpenLoopRunLoad

    data = json.loads(os.environ[DEPLOYMENT_ENV])
    data["pods"] = [Pod(**p) for p in data["pods"]]
    if os.environ.get("REDIS_HARNESS_PASSWORD"):  # from the Secret, as the servers read it: not in the pod spec
        data["topology"]["password"] = os.environ["REDIS_HARNESS_PASSWORD"]
    deployment = Deployment(**data)
    spec = OpenLoopRunLoad.model_validate_json(os.environ[SPEC_ENV])
    say("ready", 0, pid=os.getpid())
    try:
        asyncio.run(_steps(deployment, spec, Path(os.environ[GATE_ENV]), float(os.environ.get(WAIT_ENV, "600"))))
    except Exception as exc:  # noqa: BLE001 - said on the protocol, so the harness reports it
        say("error", 0, detail=f"{type(exc).__name__}: {exc}")
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())

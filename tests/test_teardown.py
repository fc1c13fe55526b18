"""The teardown order as a unit: every step runs whatever failed before it, the platform always last.

Components here are stand-ins that fail on purpose (the real ones rarely fail on cue); the real
thing, a run whose directory vanishes mid-run, is in test_interrupts.py.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from harness.rundir import RunDir
from harness.runner import _Session


class Failing:
    def __init__(self, name: str, calls: list[str]):
        self.name, self.calls = name, calls

    def stop(self) -> None:
        self.calls.append(self.name)
        raise RuntimeError(f"{self.name} would not stop")


def test_every_step_runs_and_failures_are_recorded(tmp_path: Path):
    calls: list[str] = []
    run_dir = RunDir(tmp_path / "run").create()
    run_dir.update_meta(degraded=[])
    platform = SimpleNamespace(teardown=lambda deployment: calls.append("teardown"),
                               collect_logs=lambda deployment, logs_dir: [])
    session = _Session(scenario=None, platform=platform, run_dir=run_dir, clock=None, events=None, history=None,
                       progress=lambda message: None)
    session.nemesis, session.probe, session.watcher = Failing("nemesis", calls), None, Failing("watcher", calls)
    session.drivers = [Failing("locust", calls)]
    log = tmp_path / "server.log"
    log.write_text("a log line\n")
    session.deployment = SimpleNamespace(pods=[SimpleNamespace(name="redis-0", log=str(log))])
    run_dir.logs_dir.rmdir()  # the log copy fails too
    session.shutdown()
    assert calls == ["nemesis", "locust", "watcher", "teardown"]
    degraded = run_dir.read_meta()["degraded"]
    assert [d.split(":")[1].strip() for d in degraded] == [
        "could not stop the nemesis", "could not stop the locust driver", "could not stop the watcher",
        "could not keep the pods' logs"]

"""One run, start to end: deploy, load + probe + nemesis concurrently, heal, settle, final read, teardown.

The order of the `finally` is the point of this module: faults healed, clients stopped, logs
kept, platform torn down — on a normal end, an exception, SIGINT and SIGTERM alike. Analysis
runs afterwards over the files alone.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from harness import __version__
from harness.errors import CapabilityError, HarnessError
from harness.platforms import make_platform
from harness.platforms.base import Deployment
from harness.poll import PollTimeout, wait_until
from harness.roles import current_roles, primaries
from harness.rundir import EventLog, HistoryWriter, RunClock, RunDir, new_run_id
from harness.scenario import Scenario
from harness.signals import Interrupted, interrupts_deferred, interrupts_raise

Progress = Callable[[str], None]


def stderr_progress(message: str) -> None:
    print(f"redis-harness: {message}", file=sys.stderr, flush=True)


@dataclass
class RunResult:
    run_dir: Path
    status: str  # complete | failed | interrupted
    summary: dict | None
    exit_code: int


def preflight(scenario: Scenario, platform) -> None:
    """Refuse, before anything is deployed, every fault this platform cannot make."""
    caps = platform.capabilities()
    problems = [f"faults.{i} ({f.kind}): {caps[f.kind]}" for i, f in enumerate(scenario.faults) if caps.get(f.kind)]
    if problems:
        raise CapabilityError("this platform cannot make these faults:\n  " + "\n  ".join(problems))


def run_scenario(
    scenario: Scenario,
    *,
    out_dir: Path | None = None,
    reports_root: Path = Path("reports"),
    progress: Progress = stderr_progress,
) -> RunResult:
    run_id = new_run_id(scenario.name)
    run_dir = RunDir(out_dir or reports_root / run_id).create()
    platform = make_platform(scenario.platform)
    preflight(scenario, platform)
    run_dir.scenario.write_text(yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False))
    clock = RunClock.start()
    run_dir.update_meta(
        run_id=run_id, scenario=scenario.name, platform=scenario.platform, topology=scenario.topology.model_dump(mode="json"),
        harness_version=__version__, start_mono_ns=clock.start_mono_ns, start_wall=clock.start_wall,
        utc_offset_s=time.localtime().tm_gmtoff,  # servers log local time
        duration_s=scenario.duration_s, status="running", error=None, degraded=[],
    )
    events = EventLog(run_dir.events, clock)
    history = HistoryWriter(run_dir.history, clock)
    events.emit("runner", "run-start", detail=scenario.name)
    session = _Session(scenario, platform, run_dir, clock, events, history, progress)
    status, error = "failed", None
    try:
        with interrupts_raise():
            session.execute(run_id)
        status = "complete"
    except Interrupted as exc:
        status, error = "interrupted", f"interrupted by {exc}"
        progress(f"{error}: healing and tearing down")
    except HarnessError as exc:
        error = str(exc)
        progress(f"run failed: {error}")
    except Exception as exc:  # noqa: BLE001 - any crash still heals, tears down and reports
        error = f"{type(exc).__name__}: {exc}"
        progress(f"run failed: {error}")
    finally:
        with interrupts_deferred():
            session.shutdown()
            events.emit("runner", "run-end", detail=status)
            events.close()
            history.close()
            run_dir.update_meta(status=status, error=error, ended_t=round(clock.t(), 3))
    summary = _analyze(run_dir, progress)
    return RunResult(run_dir.path, status, summary, exit_code_for(status, summary))


def exit_code_for(status: str, summary: dict | None) -> int:
    if status != "complete" or summary is None:
        return 3
    return 0 if summary.get("verdict") == "pass" else 1


def _analyze(run_dir: RunDir, progress: Progress) -> dict | None:
    from harness.checker import analyze
    from harness.report import build_report

    try:
        summary = analyze(run_dir.path)
        build_report(run_dir.path)
    except Exception as exc:  # noqa: BLE001 - the raw data is on disk; say so and let `report` retry
        progress(f"analysis failed ({type(exc).__name__}: {exc}); raw data kept in {run_dir.path}")
        return None
    progress(f"report: {run_dir.html}")
    return summary


class _Session:
    """The live part of a run; every component it started is stopped by `shutdown`, in reverse."""

    def __init__(self, scenario: Scenario, platform, run_dir: RunDir, clock: RunClock, events: EventLog,
                 history: HistoryWriter, progress: Progress):
        self.scenario, self.platform, self.run_dir = scenario, platform, run_dir
        self.clock, self.events, self.history, self.progress = clock, events, history, progress
        self.deployment: Deployment | None = None
        self.probe = self.watcher = self.nemesis = None
        self.drivers: list = []
        self._done = threading.Event()

    def execute(self, run_id: str) -> None:
        scenario = self.scenario
        self.progress(f"deploying {scenario.topology.kind} on {scenario.platform}")
        self.deployment = self.platform.deploy(scenario.topology, run_id, owner_pid=os.getpid(), progress=self.progress)
        self.run_dir.update_meta(
            network=self.deployment.network,
            pods=[{"name": p.name, "kind": p.kind, "host": p.host, "port": p.port, "shard": p.shard,
                   "version": p.version} for p in self.deployment.pods],
        )
        self.events.emit("runner", "deploy-done", detail=f"{len(self.deployment.pods)} pods")
        if self.deployment.network == "loopback":
            self._degrade("not root: pods run on 127.x loopback addresses without network namespaces; "
                          "network faults are unavailable")
        self._start_components()
        self.progress(f"running for {scenario.duration_s:g}s")
        self._wait_duration()
        self._heal_and_settle()
        if self.probe is not None:
            self.probe.stop()
            counts = self.probe.final_read(self.run_dir.final)
            self.events.emit("runner", "final-read", detail=counts)

    def _start_components(self) -> None:
        from harness.nemesis import Nemesis
        from harness.watch import Watcher
        from harness.workload.probe import Probe

        scenario, deployment = self.scenario, self.deployment
        bound = scenario.duration_s + scenario.settle_s + 120  # every thread stops by itself, even if never told
        self.watcher = Watcher(deployment, self.events, max_duration_s=bound)
        self.watcher.start()
        if scenario.workload.probe.enabled:
            self.probe = Probe(deployment, scenario.workload.probe, self.history, self.events, seed=scenario.seed,
                               max_duration_s=bound)
            self.probe.start()
        for driver in self._load_drivers():
            driver.start()
            self.drivers.append(driver)
        self.events.emit("runner", "load-start")
        self.nemesis = Nemesis(self.platform, deployment, list(scenario.faults), self.events, self.clock,
                               seed=scenario.seed)
        self.nemesis.preflight()
        self.nemesis.start()

    def _load_drivers(self) -> list:
        load = self.scenario.workload
        common = dict(duration_s=self.scenario.duration_s, seed=self.scenario.seed)
        drivers = []
        if load.locust.enabled:
            from harness.workload.locust_driver import LocustDriver
            drivers.append(LocustDriver(self.deployment, load.locust, self.run_dir, self.clock, self.events, **common))
        if load.redis_benchmark.enabled:
            from harness.workload.redis_benchmark import RedisBenchmarkDriver
            drivers.append(RedisBenchmarkDriver(self.deployment, load.redis_benchmark, self.run_dir, self.clock,
                                                self.events, **common))
        return drivers

    def _wait_duration(self) -> None:
        end = self.scenario.duration_s
        next_report = 0.0
        while (now := self.clock.t()) < end:
            if now >= next_report:
                self.progress(f"[{now:5.0f}s / {end:g}s] {self._faults_active()}")
                next_report = now + 10
            self._done.wait(min(1.0, end - now))

    def _faults_active(self) -> str:
        active = getattr(self.nemesis, "active", None)
        return f"faults active: {', '.join(active())}" if callable(active) and active() else "no fault active"

    def _heal_and_settle(self) -> None:
        self.nemesis.stop()
        self.events.emit("runner", "heal-all")
        for driver in self.drivers:
            driver.wait(timeout=30)
        self.progress(f"healed; settling {self.scenario.settle_s:g}s before the final read")
        time.sleep(self.scenario.settle_s)  # the scenario's settle time is a duration, not a synchronisation
        try:
            wait_until(lambda: _settled(self.deployment), timeout=60, interval=0.25, what="the topology to settle")
            self.events.emit("runner", "settled")
        except PollTimeout as exc:
            self._degrade(f"topology did not settle before the final read: {exc}")

    def _degrade(self, message: str) -> None:
        meta = self.run_dir.read_meta()
        self.run_dir.update_meta(degraded=meta.get("degraded", []) + [message])
        self.progress(message)

    def shutdown(self) -> None:
        for name, stop in [("nemesis", lambda: self.nemesis and self.nemesis.stop()),
                           ("probe", lambda: self.probe and self.probe.stop()),
                           *[(f"driver {i}", d.stop) for i, d in enumerate(self.drivers)],
                           ("watcher", lambda: self.watcher and self.watcher.stop())]:
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - one failing stop must not skip the teardown
                self._degrade(f"stopping the {name} failed: {exc}")
        if self.deployment is not None:
            self._keep_logs()
            self.platform.teardown(self.deployment)

    def _keep_logs(self) -> None:
        """Each pod's server log into logs/<pod>.log: the checker times failovers from them. A platform
        whose logs are not files here (Kubernetes: the pod log API) may offer `collect_logs(deployment,
        dest_dir)` to write them there instead."""
        collect = getattr(self.platform, "collect_logs", None)
        if callable(collect):
            try:
                collect(self.deployment, self.run_dir.logs_dir)
            except Exception as exc:  # noqa: BLE001 - missing logs cost precision, not the teardown
                self._degrade(f"could not collect the pods' logs: {exc}")
        for pod in self.deployment.pods:
            if pod.log and Path(pod.log).exists():
                shutil.copy(pod.log, self.run_dir.logs_dir / f"{pod.name}.log")


def _settled(deployment: Deployment) -> bool:
    """Every shard has exactly one answering primary and every replica's link is up."""
    roles = [r for r in current_roles(deployment) if r.role != "sentinel"]
    if any(r.role == "down" for r in roles):
        return False
    shard_primaries = [r.shard for r in roles if r.role == "primary"]
    if len(shard_primaries) != len(set(shard_primaries)):
        return False
    if not all(r.link_up for r in roles if r.role == "replica"):
        return False
    return bool(primaries(deployment))

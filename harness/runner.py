"""One run, start to end: deploy, load + probe + nemesis concurrently, heal, settle, final read, teardown.

The order of the `finally` is the point of this module: faults healed, clients stopped, logs
kept, platform torn down — on a normal end, an exception, SIGINT and SIGTERM alike. Analysis
runs afterwards over the files alone.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import yaml

from harness import __version__
from harness.errors import CapabilityError, HarnessError
from harness.platforms import make_platform
from harness.platforms.protocol import PlanningPlatform, Platform
from harness.deployment import Deployment
from harness.poll import PollTimeout, wait_until
from harness.rundir import EventLog, HistoryWriter, RunClock, RunDir, fresh_run_path, new_run_id, refuse_used_run_dir
from harness.scenario import Scenario
from harness.signals import Interrupted, interrupts_deferred, interrupts_raise
from harness.store.fingerprint import load_per_cpu, machine_facts
from harness.tls import refuse_tls_unavailable

if TYPE_CHECKING:
    from harness.exporter_scrape import ExporterScraper
    from harness.nemesis.schedule import Nemesis
    from harness.watch import Watcher
    from harness.workload.driver import LoadDriver
    from harness.workload.probe import Probe

Progress = Callable[[str], None]


def stderr_progress(message: str) -> None:
    print(f"redis-harness: {message}", file=sys.stderr, flush=True)


@dataclass
class RunResult:
    run_dir: Path
    status: str  # complete | failed | interrupted
    summary: dict | None
    exit_code: int


def refuse_unsupported_faults(scenario: Scenario, platform: Platform) -> None:
    """Refuse, before anything is deployed, every fault this platform cannot make (and a TLS topology it
    cannot run: a platform without TLS, a server built without it)."""
    refuse_tls_unavailable(scenario, platform.name)
    caps = platform.capabilities()
    problems = [f"faults.{i} ({f.kind}): {caps[f.kind]}" for i, f in enumerate(scenario.faults) if caps.get(f.kind)]
    if not problems and any(f.kind == "upgrade" for f in scenario.faults):
        from harness.nemesis.upgrade import drill_problems

        problems = drill_problems(scenario)
    if not problems and isinstance(platform, PlanningPlatform):  # Kubernetes: each fault as it would be planned
        problems = platform.refusals(scenario)
    if problems:
        raise CapabilityError("this platform cannot make these faults:\n  " + "\n  ".join(problems))


def run_scenario(
    scenario: Scenario,
    *,
    out_dir: Path | None = None,
    reports_root: Path = Path("reports"),
    progress: Progress = stderr_progress,
) -> RunResult:
    if scenario.sweep is not None:  # a capacity study: its own steps, analysis and report
        from harness.capacity.run import run_capacity
        return run_capacity(scenario, out_dir=out_dir, reports_root=reports_root, progress=progress)
    run_id = new_run_id(scenario.name)
    if out_dir is not None:
        refuse_used_run_dir(out_dir)
    platform = make_platform(scenario.platform)
    refuse_unsupported_faults(scenario, platform)  # before anything exists, the run directory included
    run_dir = RunDir(out_dir or fresh_run_path(reports_root, run_id)).create()
    run_dir.scenario.write_text(yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False))
    clock = RunClock.start()  # provisional: moved to the load's start once the topology is ready
    machine = machine_facts()  # for the results store's environment fingerprint
    run_dir.update_meta(
        run_id=run_id, scenario=scenario.name, platform=scenario.platform, topology=scenario.topology.model_dump(mode="json"),
        harness_version=__version__, start_mono_ns=clock.start_mono_ns, start_wall=clock.start_wall,
        run_start_wall=clock.start_wall,
        utc_offset_s=time.localtime().tm_gmtoff,  # servers log local time
        duration_s=scenario.duration_s, status="running", error=None, degraded=[], machine=machine,
    )
    events = EventLog(run_dir.events, clock)
    history = HistoryWriter(run_dir.history, clock)
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
            for what, step in (("record the run start", session.emit_run_start),
                               ("close events.jsonl", lambda: _close_events(events, status)),
                               ("close history.csv", history.close),
                               ("write meta.json", lambda: run_dir.update_meta(status=status, error=error,
                                                                                ended_t=round(clock.t(), 3),
                                                                                machine={**machine, "load_per_cpu_end": load_per_cpu()}))):
                try:
                    step()
                except (OSError, ValueError) as exc:  # the run dir may be gone; the platform is already down
                    status, error = "failed", error or f"could not {what}: {exc}"
                    progress(f"could not {what}: {exc}")
    summary = _analyze(run_dir, progress)
    return RunResult(run_dir.path, status, summary, exit_code_for(status, summary))


def _close_events(events: EventLog, status: str) -> None:
    events.emit("runner", "run-end", detail=status)
    events.close()


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

    def __init__(self, scenario: Scenario, platform: Platform, run_dir: RunDir, clock: RunClock, events: EventLog,
                 history: HistoryWriter, progress: Progress):
        self.scenario, self.platform, self.run_dir = scenario, platform, run_dir
        self.clock, self.events, self.history, self.progress = clock, events, history, progress
        self.deployment: Deployment | None = None
        self.probe: Probe | None = None
        self.watcher: Watcher | None = None
        self.scraper: ExporterScraper | None = None
        self.nemesis: Nemesis | None = None
        self.drivers: list[LoadDriver] = []
        self._done = threading.Event()
        self._run_start_emitted = False
        self._deploy_done_mono: float | None = None

    def _deployed(self) -> Deployment:
        """The deployment, once deploy has returned one (every caller runs after it)."""
        if self.deployment is None:
            raise HarnessError("nothing is deployed yet")
        return self.deployment

    def emit_run_start(self, at_t: float = 0.0) -> None:
        """The run-start event, once: at t < 0 when the load started (the clock moved), else at t = 0."""
        if not self._run_start_emitted:
            self._run_start_emitted = True
            self.events.emit("runner", "run-start", t=round(at_t, 6), wall=self.clock.start_wall + at_t,
                             detail=self.scenario.name)

    def execute(self, run_id: str) -> None:
        scenario = self.scenario
        self.progress(f"deploying {scenario.topology.kind} on {scenario.platform}")
        deploy_start = time.monotonic()
        self.deployment = self.platform.deploy(scenario.topology, run_id, owner_pid=os.getpid(), progress=self.progress)
        self._deploy_done_mono = time.monotonic()
        deploy_s = round(self._deploy_done_mono - deploy_start, 3)
        self.progress(f"deployed and ready in {deploy_s:g}s")
        self.run_dir.update_meta(
            network=self.deployment.network, deploy_s=deploy_s, deploy_phases=self.deployment.extra.get("phases", {}),
            pods=_meta_pods(self.deployment),
        )
        if self.deployment.network == "loopback":
            self._degrade("not root: pods run on 127.x loopback addresses without network namespaces; "
                          "network faults are unavailable")
        self._start_components()
        self.progress(f"running for {scenario.duration_s:g}s")
        self._wait_duration()
        self._heal_and_settle()
        self._stop_scraper()
        if self.probe is not None:
            self.probe.stop()
            counts = self.probe.final_read(self.run_dir.final)
            self.events.emit("runner", "final-read", detail=counts)

    def _start_components(self) -> None:
        from harness.nemesis.schedule import Nemesis
        from harness.watch import Watcher
        from harness.workload.probe import Probe

        scenario, deployment = self.scenario, self._deployed()
        self.drivers = self._load_drivers()
        for driver in self.drivers:  # in-cluster Locust: its pods deployed and connected before t = 0
            driver.prepare()
        self._start_run_time()
        bound = scenario.duration_s + scenario.settle_s + 120  # every thread stops by itself, even if never told
        self.watcher = Watcher(deployment, self.events, max_duration_s=bound)
        self.watcher.start()
        self._start_scraper(bound)
        if scenario.workload.probe.enabled:
            self.probe = Probe(deployment, scenario.workload.probe, self.history, self.events, seed=scenario.seed,
                               max_duration_s=bound)
            self.probe.start()
        for driver in self.drivers:
            driver.start()
        self.events.emit("runner", "load-start")
        self.nemesis = Nemesis(self.platform, deployment, list(scenario.faults), self.events, self.clock,
                               seed=scenario.seed)
        self.nemesis.refuse_infeasible()
        self.nemesis.start()

    def _start_scraper(self, bound: float) -> None:
        """The metrics sidecars' replication figures into replication-lag.csv, when the platform has them."""
        from harness.exporter_scrape import ExporterScraper
        from harness.rundir import ReplicationLagWriter

        deployment = self._deployed()
        if deployment.extra.get("metrics_urls"):
            self.scraper = ExporterScraper(deployment, ReplicationLagWriter(self.run_dir.replication_lag), self.clock,
                                           max_duration_s=bound)
            self.scraper.start()
        elif deployment.extra.get("metrics"):
            self._degrade("the metrics sidecars run but are not scraped: their port is reached only with access "
                          "pod-ip or in-cluster, not through a port-forward")

    def _stop_scraper(self) -> None:
        """Stop scraping and say which exporters never answered (idempotent: teardown calls it again)."""
        scraper, self.scraper = self.scraper, None
        if scraper is None:
            return
        scraper.stop()
        scraper.writer.close()
        for pod, error in scraper.silent_pods().items():
            self._degrade(f"{pod}: its metrics sidecar never answered a scrape ({error})")

    def _start_run_time(self) -> None:
        """t = 0 now, as the load starts: the deploy's time moves to before it (meta.json keeps both
        zeros: `run_start_wall` the run's, `start_wall` / `start_mono_ns` the load's)."""
        run_start_wall = self.clock.start_wall
        setup_s = self.clock.restart()
        self.run_dir.update_meta(start_mono_ns=self.clock.start_mono_ns, start_wall=self.clock.start_wall,
                                 run_start_wall=run_start_wall, setup_s=round(setup_s, 3))
        self.emit_run_start(-setup_s)
        if self._deploy_done_mono is not None:
            since = time.monotonic() - self._deploy_done_mono
            self.events.emit("runner", "deploy-done", t=round(-since, 6), wall=time.time() - since,
                             detail=f"{len(self._deployed().pods)} pods")

    def _load_drivers(self) -> list:
        load = self.scenario.workload
        common: dict[str, Any] = dict(duration_s=self.scenario.duration_s, seed=self.scenario.seed)
        drivers: list[LoadDriver] = []
        if load.locust.enabled and load.locust.workers:  # Kubernetes only (the scenario's validation)
            from harness.platforms.kubernetes.load import InClusterLocust
            drivers.append(InClusterLocust(self.platform, self._deployed(), load.locust,  # type: ignore[arg-type]
                                           self.scenario.topology, self.run_dir, self.clock, self.events, **common))
        elif load.locust.enabled:
            from harness.workload.locust_driver import LocustDriver
            drivers.append(LocustDriver(self._deployed(), load.locust, self.run_dir, self.clock, self.events, **common))
        if load.redis_benchmark.enabled and load.redis_benchmark.in_cluster:  # Kubernetes only (validated)
            from harness.platforms.kubernetes.benchmark import InClusterBenchmark
            drivers.append(InClusterBenchmark(self.platform, self._deployed(), load.redis_benchmark,  # type: ignore[arg-type]
                                              self.scenario.topology, self.run_dir, self.clock, self.events, **common))
        elif load.redis_benchmark.enabled:
            from harness.workload.redis_benchmark import RedisBenchmarkDriver
            drivers.append(RedisBenchmarkDriver(self._deployed(), load.redis_benchmark, self.run_dir, self.clock,
                                                self.events, **common))
        if load.openloop.enabled and load.openloop.workers:  # Kubernetes only (validated)
            from harness.platforms.kubernetes.openloop import InClusterOpenLoop
            drivers.append(InClusterOpenLoop(self.platform, self._deployed(), load.openloop,  # type: ignore[arg-type]
                                             self.run_dir, self.clock, self.events, **common))
        elif load.openloop.enabled:
            from harness.workload.openloop_driver import OpenLoopDriver
            drivers.append(OpenLoopDriver(self._deployed(), load.openloop, self.run_dir, self.clock, self.events,
                                          **common))
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
        active = self.nemesis.active() if self.nemesis is not None else []
        if active:
            return f"faults active: {', '.join(active)}"
        upcoming = self.nemesis.next_firing(self.clock.t()) if self.nemesis is not None else None
        return f"no fault active (next: {upcoming})" if upcoming else "no fault active"

    def _heal_and_settle(self) -> None:
        if self.nemesis is not None:
            self.nemesis.stop()
        self.events.emit("runner", "heal-all")
        for driver in self.drivers:
            driver.wait(timeout=30)
        self.progress(f"healed; settling {self.scenario.settle_s:g}s before the final read")
        from harness.checker import convergence  # the checker package imports pandas: only when needed
        from harness.final_state import observe

        time.sleep(self.scenario.settle_s)  # the scenario's settle time is a duration, not a synchronisation
        state: dict = {}

        def converged() -> bool:
            state.update(observe(self._deployed()))
            return not convergence.problems(state)

        try:
            wait_until(converged, timeout=self.scenario.converge_timeout_s, interval=0.25,
                       what="the topology to converge")
            self.events.emit("runner", "settled")
        except PollTimeout:
            self.progress("topology did not converge: " + "; ".join(
                f"{p['pod']}: {p['why']}" for p in convergence.problems(state)))
        finally:
            self.run_dir.final_state.write_text(json.dumps(state, indent=2, default=str) + "\n")

    def _degrade(self, message: str) -> None:
        """Say what the run could not do, in meta.json's `degraded`; never raises (it runs in teardown,
        when the run directory may be gone: a full or cleaned disk)."""
        self.progress(message)
        try:
            self.run_dir.add_degraded(message)
        except (OSError, ValueError) as exc:
            self.progress(f"could not record that in meta.json: {exc}")

    def shutdown(self) -> None:
        """Every step runs whatever the steps before it did; the platform teardown always runs last."""
        steps = [("stop the nemesis", lambda: self.nemesis and self.nemesis.stop()),
                 ("stop the probe", lambda: self.probe and self.probe.stop()),
                 *[(f"stop the {d.name} driver", d.stop) for d in self.drivers],
                 ("stop the watcher", lambda: self.watcher and self.watcher.stop()),
                 ("stop the metrics scraper", self._stop_scraper),
                 ("keep the pods' logs", self._keep_logs),
                 ("tear down the platform", lambda: self.deployment and self.platform.teardown(self.deployment))]
        for what, step in steps:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - one failing step must not skip the ones after it
                self._degrade(f"teardown: could not {what}: {type(exc).__name__}: {exc}")

    def _keep_logs(self) -> None:
        """Each pod's server log into logs/<pod>.log: the checker times failovers from them. A platform
        whose logs are not files here (Kubernetes: the pod log API) writes them there in `collect_logs`."""
        if self.deployment is None:
            return
        try:
            self.platform.collect_logs(self.deployment, self.run_dir.logs_dir)
        except Exception as exc:  # noqa: BLE001 - missing logs cost precision, not the teardown
            self._degrade(f"could not collect the pods' logs: {exc}")
        failed = []
        for pod in self.deployment.pods:
            try:
                if pod.log and Path(pod.log).exists():
                    shutil.copy(pod.log, self.run_dir.logs_dir / f"{pod.name}.log")
            except OSError as exc:
                failed.append(f"{pod.name} ({exc.strerror or exc})")
        if failed:
            raise OSError(f"into {self.run_dir.logs_dir}: " + ", ".join(failed))


def _meta_pods(deployment: Deployment) -> list[dict]:
    """meta.json's pods; `aliases` lists the other "host:port" names a pod is known by (on Kubernetes,
    the DNS names Sentinel announces), so checkers can name the pod in what the servers report."""
    aliases: dict[str, list[str]] = {}
    for address, name in (deployment.extra.get("aliases") or {}).items():
        aliases.setdefault(name, []).append(address)
    return [{"name": p.name, "kind": p.kind, "host": p.host, "port": p.port, "shard": p.shard, "version": p.version,
             **({"aliases": sorted(aliases[p.name])} if p.name in aliases else {})} for p in deployment.pods]

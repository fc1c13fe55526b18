"""A capacity run: for each variant, deploy, preload, step the offered rate, tear down; then analyze.

It replaces the resilience run's middle (no probe, no Locust, no faults: the scenario model
refuses them next to a sweep) and keeps its rules: bad input and missing binaries are refused
before anything is deployed, every step's figures are on disk when the step ends, and each
variant's deployment is torn down on every exit path, Ctrl-C included.
"""

from __future__ import annotations

import os
import time

import yaml

from harness import __version__
from harness.binaries import resolve_server
from harness.rundir.capacity import CapacityFiles
from harness.capacity.preload import preload
from harness.capacity.placement import generator_placement
from harness.capacity.server import SOURCES, ServerSampler, cpu_source
from harness.errors import HarnessError, ScenarioError
from harness.platforms import make_platform
from harness.platforms.protocol import PlanningPlatform
from harness.roles import primaries
from harness.rundir import RunDir, fresh_run_path, new_run_id, refuse_used_run_dir
from harness.scenario import Scenario
from harness.signals import Interrupted, interrupts_deferred, interrupts_raise
from harness.store.fingerprint import load_per_cpu, machine_facts
from harness.tls import refuse_tls_unavailable
from harness.workload.openloop.engine import NS
from harness.workload.openloop.pool import GeneratorPool
from harness.workload.openloop.spec import OpenLoopLoad, Variant

SUSTAINED = 0.95  # achieved / offered at or above this, nothing dropped: the server kept up


def unsustained(offered_rate: float, achieved_rate: float, dropped: int) -> bool:
    return achieved_rate < SUSTAINED * offered_rate or dropped > 0


def run_capacity(scenario: Scenario, *, out_dir=None, reports_root=None, progress=None):
    from pathlib import Path

    from harness.runner import RunResult, exit_code_for, stderr_progress

    progress = progress or stderr_progress
    sweep = scenario.sweep
    assert sweep is not None
    platform = make_platform(scenario.platform)  # makes nothing yet: a Kubernetes client connects on first use
    if isinstance(platform, PlanningPlatform) and (problems := platform.refusals(scenario)):  # access, images
        raise ScenarioError("\n".join(problems))
    run_id = new_run_id(scenario.name)
    if out_dir is not None:
        refuse_used_run_dir(Path(out_dir))
    for variant, _ in sweep.variant_loads():  # a missing binary is refused before any deploy
        if scenario.platform == "local":  # (Kubernetes runs images: its refusals above name a server without one)
            resolve_server(scenario.variant_topology(variant).server)
    refuse_tls_unavailable(scenario, scenario.platform)  # ... and one without the TLS a variant asks for
    run_dir = RunDir(out_dir or fresh_run_path(Path(reports_root or "reports"), run_id)).create()
    run_dir.scenario.write_text(yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True), sort_keys=False))
    files = CapacityFiles(run_dir.path).create()
    machine = machine_facts()
    run_dir.update_meta(run_id=run_id, scenario=scenario.name, platform=scenario.platform, kind="capacity",
                        topology=scenario.topology.model_dump(mode="json"), harness_version=__version__,
                        start_wall=time.time(), status="running", error=None, degraded=[], machine=machine)
    status, error = "failed", None
    try:
        with interrupts_raise():
            for index, (variant, load) in enumerate(sweep.variant_loads()):
                _run_variant(scenario, platform, run_id, index, variant, load, files, run_dir, progress)
        status = "complete"
    except Interrupted as exc:
        status, error = "interrupted", f"interrupted by {exc}"
        progress(error)
    except HarnessError as exc:
        error = str(exc)
        progress(f"run failed: {error}")
    except Exception as exc:  # noqa: BLE001 - the steps so far are on disk; report them
        error = f"{type(exc).__name__}: {exc}"
        progress(f"run failed: {error}")
    finally:
        run_dir.update_meta(status=status, error=error, end_wall=time.time(),
                            machine={**machine, "load_per_cpu_end": load_per_cpu()})
    summary = None
    try:
        from harness.capacity.analysis import analyze_capacity
        from harness.capacity.report import build_capacity_report

        summary = analyze_capacity(run_dir.path)
        build_capacity_report(run_dir.path)
        progress(f"report: {run_dir.html}")
    except Exception as exc:  # noqa: BLE001 - raw data kept; `redis-harness report` can retry
        progress(f"analysis failed ({type(exc).__name__}: {exc}); raw data kept in {run_dir.path}")
    return RunResult(run_dir.path, status, summary, exit_code_for(status, summary))


def variant_name(variant: Variant | None, scenario: Scenario) -> str:
    return variant.name if variant else (scenario.topology.server if scenario.topology.server != "system" else "default")


def _run_variant(scenario: Scenario, platform, run_id: str, index: int, variant: Variant | None,
                 load: OpenLoopLoad, files: CapacityFiles, run_dir: RunDir, progress) -> None:
    sweep = scenario.sweep
    assert sweep is not None  # run_capacity runs only scenarios with a sweep
    name = variant_name(variant, scenario)
    topology = scenario.variant_topology(variant)
    progress(f"variant {name}: deploying {topology.kind} ({topology.server}) on {scenario.platform}")
    deployment = None
    try:
        deployment = platform.deploy(topology, f"{run_id}-v{index}", owner_pid=os.getpid(), progress=progress)
        pods = list(primaries(deployment).values())
        versions = sorted({p.version for p in deployment.redis_pods() if p.version})
        memory = {"server": topology.server, "version": ", ".join(versions), "network": deployment.network,
                  "generator": generator_placement(deployment, load), "server_cpu_source": SOURCES[cpu_source(pods)]}
        progress(f"variant {name}: generator on the {memory['generator']}; server CPU from {memory['server_cpu_source']}")
        if sweep.preload_keys:
            progress(f"variant {name}: preloading {sweep.preload_keys:,} keys of {load.max_value_size} B")
            memory |= preload(deployment, pods, sweep.preload_keys, load.max_value_size, sweep.memory_samples,
                              seed=scenario.seed)
        files.write_memory(name, memory)
        _steps(scenario, platform, deployment, pods, name, load, files, progress)
    finally:
        if deployment is not None:
            with interrupts_deferred():
                platform.teardown(deployment)


def _pool(platform, deployment, load: OpenLoopLoad, seed: int, steps: int, step_s: float):
    """The generator: processes here, or pods in the cluster (`load.workers`, Kubernetes only: validated)."""
    if load.workers:
        from harness.platforms.kubernetes.openloop import PodGeneratorPool
        return PodGeneratorPool(platform, deployment, load, seed=seed, steps=steps, step_s=step_s)
    return GeneratorPool(deployment, load, seed=seed)


def _steps(scenario: Scenario, platform, deployment, pods, name: str, load: OpenLoopLoad, files: CapacityFiles,
           progress) -> None:
    sweep = scenario.sweep
    assert sweep is not None
    streak = 0
    with _pool(platform, deployment, load, scenario.seed, len(sweep.rate_list()), sweep.step_s) as pool:
        pool.warm()
        for k, rate in enumerate(sweep.rate_list()):
            sampler = ServerSampler(deployment, pods, max_s=sweep.step_s + 30).start()
            try:
                step = pool.step(rate, sweep.step_s, sweep.warmup_s)
            finally:
                sampler.stop()
            server = sampler.window(step.start_mono_ns + int(sweep.warmup_s * NS),
                                    step.start_mono_ns + int(sweep.step_s * NS))
            files.append_step({"variant": name, "step": k, **step.row(), **server, "error_kinds": step.error_kinds},
                              step.per_second, step.hist)
            flag = " GENERATOR SATURATED: " + step.generator_why if step.generator_saturated else ""
            progress(f"variant {name} step {k + 1}: offered {rate:,.0f}/s achieved {step.achieved_rate:,.0f}/s "
                     f"p50 {_ms(step.p50_ms)} p99 {_ms(step.p99_ms)} p99.9 {_ms(step.p999_ms)} ms; "
                     f"late {step.late}, dropped {step.dropped}{flag}")
            streak = streak + 1 if unsustained(rate, step.achieved_rate, step.dropped) else 0
            if streak >= sweep.stop_after_saturated:
                progress(f"variant {name}: {streak} steps in a row not sustained: the rest of the sweep is skipped")
                break


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


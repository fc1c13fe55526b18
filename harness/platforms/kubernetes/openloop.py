"""The open-loop generator as pods in the run's namespace (`workers: N` on `workload.openloop` or on a
sweep's `load`): the harness's side of harness.workload.openloop.pod's protocol.

- `GeneratorPods`: creates openloop-0..N-1, follows each pod's log from its start (messages parsed as
  they arrive; a run's per-second rows appended to raw/openloop-seconds/openloop-seconds-<pod>.csv, the
  file a local generator process writes), writes each step into the pods' gates, deletes them.
- `InClusterOpenLoop`: a run's load driver. Before t = 0 the pods are up, connected and armed with the
  whole run as one step, and a gate exec per pod is open; at t = 0 each gate gets the run's zero (Unix
  time), so the schedule starts at the run's t = 0 and a request due while the message travelled is
  sent late and counted so, its latency from its due time. The series and the end are the local
  driver's (harness.workload.openloop_driver): the same files, merged the same way.
- `PodGeneratorPool`: a sweep's pool (harness.workload.openloop.pool.GeneratorPool's interface): each
  step is armed in every pod (connected), then its start, a moment ahead, goes through the gates; the
  pods' results merge as local processes' do.

Where the requests leave from, which is the point: next to the servers, dialing the pods by their DNS
names, each pod one process with the load image's CPU limit (REDIS_HARNESS_K8S_LOCUST_CPU).
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from harness.deployment import Deployment
from harness.errors import PlatformError
from harness.platforms.kubernetes.gate import Gate
from harness.platforms.kubernetes.objects import (
    OPENLOOP_GATE,
    REDIS_PORT,
    SENTINEL_PORT,
    TLS_MOUNT,
    openloop_pods,
)
from harness.platforms.kubernetes.platform import KubernetesPlatform, aliases_for, pod_fqdn
from harness.rundir import EventLog, RunClock, RunDir
from harness.scenario import OpenLoopRunLoad
from harness.workload.openloop import seconds
from harness.workload.openloop.engine import NS
from harness.workload.openloop.pod import parse
from harness.workload.openloop.pool import Step, client_shares, merge
from harness.workload.openloop.spec import OpenLoopLoad
from harness.workload.openloop_driver import DRIVER, GRACE_S, OpenLoopSeries

CONTAINER = "openloop"
STEP_WAIT_S = 900.0  # a pod waits this long for its next step, then ends
GO_AHEAD_S = 1.0  # a sweep step starts this long after its start is sent: the gates' writes (~0.1-0.5 s) come first
RESULT_GRACE_S = 30.0  # after a step's end: the engine's reply timeout, its result line, the log's delivery


def pod_view(platform: KubernetesPlatform, deployment: Deployment) -> dict[str, Any]:
    """The deployment as a pod in its namespace reaches it: every pod by its DNS name (a recreated pod
    keeps its name; the servers announce names and IPs, and pod IPs route in the cluster), the TLS
    Secret where the generator pods mount it, no password (the pod reads the Secret) and no state dir."""
    ns, domain = deployment.extra["namespace"], deployment.extra["cluster_domain"]
    pods = [replace(p, host=pod_fqdn(platform.k8s_name(deployment, p.name), ns, domain),
                    port=SENTINEL_PORT if p.kind == "sentinel" else REDIS_PORT, netns=None, pid=None)
            for p in deployment.pods]
    extra = {"namespace": ns, "cluster_domain": domain,
             "aliases": aliases_for(pods, ns, deployment.extra.get("pod_ips") or {}, domain)}
    if deployment.topology.get("tls"):
        extra["tls_mount"] = TLS_MOUNT
    view = Deployment(id=deployment.id, platform=deployment.platform,
                      topology={k: v for k, v in deployment.topology.items() if k != "password"}, pods=pods,
                      client_address="", network="kubernetes", state_dir="/nonexistent", extra=extra)
    return asdict(view)


class GeneratorPods:
    """The generator pods of one run or one sweep variant; `delete` (idempotent) ends them."""

    def __init__(self, platform: KubernetesPlatform, deployment: Deployment, spec: OpenLoopLoad, *,
                 deadline_s: float, seconds_dir: Path | None = None):
        self.platform, self.deployment, self.spec = platform, deployment, spec
        self.namespace: str = deployment.extra["namespace"]
        self.names = [f"openloop-{i}" for i in range(spec.workers or 1)]
        self.deadline_s, self.seconds_dir = deadline_s, seconds_dir
        self._messages: dict[tuple[str, str, int], dict[str, Any]] = {}
        self._other: dict[str, list[str]] = {name: [] for name in self.names}  # lines that are not messages
        self._ended: set[str] = set()  # pods whose log stream ended (the process exited)
        self._cond = threading.Condition()
        self._followers: list[threading.Thread] = []
        self._responses: list[Any] = []
        self._files: dict[str, seconds.SecondsFile] = {}
        self._deleted = False

    # ------------------------------------------------------------------ up
    def create(self) -> None:
        """Apply the pods; return once each runs its generator (said `ready` on its log)."""
        options = self.platform.run_options(self.deployment)
        spec_json = json.dumps(self.spec.model_dump(mode="json"), sort_keys=True)
        for obj in openloop_pods(len(self.names), pod_view(self.platform, self.deployment), spec_json, options,
                                 wait_s=STEP_WAIT_S, deadline_s=self.deadline_s):
            self.platform.apply(obj)
        for name in self.names:
            self.platform.wait_for(lambda name=name: self._started(name),  # type: ignore[misc]
                                   f"generator pod {name} to start", self.namespace, interval=0.2)
            thread = threading.Thread(target=self._follow, args=(name,), name=f"follow-{name}", daemon=True)
            thread.start()
            self._followers.append(thread)
        self.wait_all("ready", 0, self.platform.ready_timeout_s)

    def _started(self, name: str) -> bool:
        """Its container runs (or already ended: its log says why)."""
        pod = self.platform.api.core.read_namespaced_pod(name, self.namespace)
        return pod.status.phase in ("Running", "Succeeded", "Failed")

    def _follow(self, name: str) -> None:
        """The pod's log from its start, line by line, until the container ends or `delete`."""
        buffer = b""
        try:
            response = self.platform.api.core.read_namespaced_pod_log(name, self.namespace, container=CONTAINER,
                                                                      follow=True, _preload_content=False)
            self._responses.append(response)
            for chunk in iter(lambda: response.read1(65536), b""):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    self._line(name, line.decode(errors="replace"))
        except Exception as exc:  # noqa: BLE001 - a stream closed by delete(), or the API gone
            if not self._deleted:
                self._other[name].append(f"(its log stream failed: {exc})")
        finally:
            with self._cond:
                self._ended.add(name)
                self._cond.notify_all()

    def _line(self, name: str, line: str) -> None:
        message = parse(line)
        if message is None:
            self._other[name] = (self._other[name] + [line])[-40:]
            return
        if message["kind"] == "seconds" and self.seconds_dir is not None:
            if name not in self._files:
                self._files[name] = seconds.SecondsFile(self.seconds_dir / f"openloop-seconds-{name}.csv")
            self._files[name].write(message["rows"])
            return
        with self._cond:
            self._messages[(name, message["kind"], int(message["step"]))] = message
            self._cond.notify_all()

    # ------------------------------------------------------------------ steps
    def write_step(self, n: int, plans: list[dict[str, Any]]) -> None:
        """`<gate>/<n>.step` in every pod at once (an exec each, in parallel)."""
        def write(name: str, plan: dict[str, Any]) -> None:
            self._write(name, f"{OPENLOOP_GATE}/{n}.step", json.dumps(plan))

        with ThreadPoolExecutor(len(self.names)) as pool:
            list(pool.map(write, self.names, plans))

    def _write(self, name: str, path: str, text: str) -> None:
        self.platform.exec(self.deployment, name, CONTAINER,
                           ["sh", "-c", 'printf %s "$1" > "$2.tmp" && mv "$2.tmp" "$2"', "sh", text, path])

    def gates(self, n: int) -> list[Gate]:
        """An exec per pod waiting to write `<gate>/<n>.go` (opened before t = 0)."""
        return [Gate(self.platform.api.exec_core, self.namespace, name, CONTAINER, f"{OPENLOOP_GATE}/{n}.go")
                for name in self.names]

    def wait_all(self, kind: str, n: int, timeout: float) -> dict[str, dict[str, Any]]:
        """Each pod's `kind` message of step n; PlatformError naming the pods that ended or stayed silent."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = {name: self._messages[(name, kind, n)] for name in self.names if (name, kind, n) in self._messages}
                if len(got) == len(self.names):
                    return got
                gone = [name for name in self.names if name not in got and name in self._ended]
                left = deadline - time.monotonic()
                if gone or left <= 0:
                    missing = gone or [name for name in self.names if name not in got]
                    raise PlatformError(f"open-loop generator pod(s) {', '.join(missing)}: no `{kind}` for step {n} "
                                        f"({'their process ended' if gone else f'within {timeout:g}s'})\n"
                                        + self.problems(missing))
                self._cond.wait(min(left, 1.0))

    def results(self, n: int, timeout: float) -> tuple[list[dict[str, Any]], list[str]]:
        """The step's results that came, and a line for each pod whose did not."""
        try:
            return [m["result"] for m in self.wait_all("result", n, timeout).values()], []
        except PlatformError:
            with self._cond:
                parts = [self._messages[(name, "result", n)]["result"] for name in self.names
                         if (name, "result", n) in self._messages]
                missing = [name for name in self.names if (name, "result", n) not in self._messages]
            return parts, [f"generator pod {name} left no result for step {n}: {self.problems([name])}"
                           for name in missing]

    def said(self, kind: str) -> list[str]:
        """The pods' `error` (a crash) or `warning` (not connected before the start) messages, named."""
        with self._cond:
            return [f"{name}: {m['detail']}" for (name, k, _), m in sorted(self._messages.items()) if k == kind]

    def problems(self, names: list[str]) -> str:
        lines = []
        for name in names:
            tail = self._other.get(name) or []
            lines.append(f"  {name}'s last log lines:\n" + "\n".join(f"    {l}" for l in tail[-15:]) if tail
                         else f"  {name}: nothing in its log beyond the protocol")
        return "\n".join(lines)

    def alive(self) -> bool:
        return any(t.is_alive() for t in self._followers)

    # ------------------------------------------------------------------ down
    def stop(self) -> None:
        """Ask every pod to end its step now (its figures complete): `<gate>/stop`."""
        def touch(name: str) -> None:
            try:
                self._write(name, f"{OPENLOOP_GATE}/stop", "stop")
            except Exception:  # noqa: BLE001 - a pod already gone has nothing to stop
                pass

        with ThreadPoolExecutor(len(self.names)) as pool:
            list(pool.map(touch, self.names))

    def delete(self) -> None:
        """Delete the pods (idempotent; the namespace's teardown removes them anyway) and stop following."""
        if self._deleted:
            return
        self._deleted = True
        for name in self.names:
            try:
                self.platform.api.core.delete_namespaced_pod(name, self.namespace, grace_period_seconds=0)
            except Exception:  # noqa: BLE001 - never made, or gone already
                pass
        for response in self._responses:
            try:
                response.shutdown()
            except Exception:  # noqa: BLE001 - the stream ended by itself
                pass
        for thread in self._followers:
            thread.join(5)
        for file in self._files.values():
            file.close()


def _plans(spec: OpenLoopLoad, rate: float, duration_s: float, warmup_s: float, seed: int, **more: Any) -> list[dict]:
    """Each pod's share of a step: rate and connections split evenly, its own seed."""
    workers = spec.workers or 1
    return [{"rate": rate / workers, "duration_s": duration_s, "warmup_s": warmup_s, "clients": clients,
             "seed": seed + i, **more} for i, clients in enumerate(client_shares(spec.clients, workers))]


class InClusterOpenLoop(OpenLoopSeries):
    """The runner's LoadDriver for `workload.openloop.workers` on Kubernetes."""

    def __init__(self, platform: KubernetesPlatform, deployment: Deployment, spec: OpenLoopRunLoad, run_dir: RunDir,
                 clock: RunClock, events: EventLog, *, duration_s: float, seed: int = 0):
        super().__init__(deployment, spec, run_dir, clock, events, duration_s=duration_s, seed=seed)
        self.platform = platform
        self.pods = GeneratorPods(platform, deployment, spec, seconds_dir=self.dir,
                                  deadline_s=platform.ready_timeout_s + STEP_WAIT_S + duration_s + 2 * RESULT_GRACE_S)
        self._gates: list[Gate] = []
        self._missing: list[str] = []  # a line for each pod that left no result
        self._ready_note: tuple[float, str] | None = None
        self.go_t: tuple[float, float] | None = None  # run times the start was sent and written in every pod

    def prepare(self) -> None:
        """Pods up, connected and armed with the run as one step; a gate open per pod."""
        t0 = time.monotonic()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pods.create()
        self.pods.write_step(1, _plans(self.spec, self.spec.rate, self.duration_s, 0.0, self.seed * 1_000_003,
                                       seconds=True))
        self.pods.wait_all("armed", 1, self.platform.ready_timeout_s)
        self._gates = self.pods.gates(1)
        self._ready_note = (time.time(), f"{len(self.pods.names)} open-loop generator pod(s) connected and armed in "
                                         f"{time.monotonic() - t0:.1f}s")

    def start(self) -> None:
        """At t = 0: each pod's gate gets the run's zero (Unix time)."""
        if not self._gates:
            self.prepare()
        if self._ready_note is not None:
            wall, detail = self._ready_note
            self.events.emit("driver", "driver-ready", driver=DRIVER, t=round(self.clock.from_wall(wall), 6), wall=wall,
                             detail=detail)
        sent = self.clock.t()
        with ThreadPoolExecutor(len(self._gates)) as pool:
            list(pool.map(lambda gate: gate.open(repr(self.clock.start_wall)), self._gates))
        self.go_t = (sent, self.clock.t())
        self._started = True
        warnings = self.pods.said("warning")
        self.events.emit("driver", "driver-start", driver=DRIVER,
                         detail=f"open loop {self.spec.rate:g} ops/s from t=0 until t={self.duration_s:g}s, "
                                f"{self.spec.clients} connections per node, pipeline {self.spec.pipeline}, in "
                                f"{len(self.pods.names)} pod(s) ({', '.join(self.pods.names)}): start sent at "
                                f"t={sent:.3f}s, written in every pod by t={self.go_t[1]:.3f}s"
                                + (f"; before the start: {'; '.join(warnings)}" if warnings else ""))
        self._start_merging()

    def _alive(self) -> bool:
        return self.pods.alive()

    def wait(self, timeout: float | None = None) -> int:
        """Until every pod's result is in (their schedule ends at the run's end); past `timeout`, stopped."""
        if timeout is None:
            timeout = max(0.0, self.duration_s - self.clock.t()) + GRACE_S + RESULT_GRACE_S
        return self._end(timeout)

    def stop(self) -> int:
        """End every pod's schedule now (their figures complete), collect, delete the pods."""
        if self._started and not self._finished:
            self.pods.stop()
        return self._end(RESULT_GRACE_S if self._started else 0.0)

    def _end(self, timeout: float) -> int:
        if self._started and not self._finished:
            parts, missing = self.pods.results(1, timeout)
            self.parts, self._missing = parts, missing
        self.pods.delete()
        for gate in self._gates:
            gate.close()
        return self._finish()

    def _errors(self) -> list[str]:
        return [f"a generator pod said: {e}" for e in self.pods.said("error")] + self._missing


class PodGeneratorPool:
    """A sweep's generator as pods (GeneratorPool's interface); use as a context manager."""

    def __init__(self, platform: KubernetesPlatform, deployment: Deployment, spec: OpenLoopLoad, *, seed: int = 0,
                 steps: int = 1, step_s: float = 10.0):
        self.spec, self.seed = spec, seed
        self.pods = GeneratorPods(platform, deployment, spec,
                                  deadline_s=platform.ready_timeout_s + steps * (step_s + RESULT_GRACE_S + 5) + 60)
        self._steps = 0

    def __enter__(self) -> "PodGeneratorPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._steps:
            self.pods.stop()
        self.pods.delete()

    def warm(self) -> None:
        """The pods up, their generator imported."""
        self.pods.create()

    def step(self, rate: float, duration_s: float, warmup_s: float) -> Step:
        """One step in every pod: armed (connected) first, then started together a moment from then (Unix
        time: the pods' clocks), so a pod slow to connect does not start late."""
        self._steps += 1
        n = self._steps
        self.pods.write_step(n, _plans(self.spec, rate, duration_s, warmup_s, self.seed * 1_000_003 + n * 101))
        self.pods.wait_all("armed", n, RESULT_GRACE_S)
        start_wall, start_mono = open_gates(self.pods.gates(n), GO_AHEAD_S)
        parts, missing = self.pods.results(n, GO_AHEAD_S + duration_s + RESULT_GRACE_S)
        if missing:
            raise PlatformError("; ".join(missing))
        step = merge(rate, parts, warmup_s, duration_s)
        step.start_mono_ns = start_mono
        return step


def open_gates(gates: list[Gate], ahead_s: float) -> tuple[float, int]:
    """Write a start `ahead_s` from now (Unix time) through every gate at once; the start as Unix time
    and as this machine's CLOCK_MONOTONIC ns."""
    start_wall, start_mono = time.time() + ahead_s, time.monotonic_ns() + int(ahead_s * NS)
    with ThreadPoolExecutor(len(gates)) as pool:
        list(pool.map(lambda gate: gate.open(repr(start_wall)), gates))
    return start_wall, start_mono

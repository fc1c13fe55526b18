"""redis-benchmark in the cluster (`workload.redis_benchmark.in_cluster: true`): a Job in the run's
namespace running the real redis-benchmark of the run's Redis image, started on the run's clock, its
output parsed exactly as a local run's (harness.workload.redis_benchmark: `consume` and `record`).

The start: a Job's pod takes a second or more to be scheduled and started, so the Job is created
before t = 0 (`prepare`) with its container waiting at a gate (harness.platforms.kubernetes.objects,
BenchmarkControl); at the spec's `start_s` (0 by default) the harness writes `go` into the gate
through an exec opened before t = 0 (`Gate`), holding the seconds left until the run's end, which
bound redis-benchmark with timeout(1) in the pod. It then starts within one websocket message, the
write and one gate poll (measured: `driver-start` says when `go` was sent and written).

The figures: the pod's log is followed (`read_namespaced_pod_log(follow=True)`) and each chunk is
stamped with the run clock on arrival, like a local process's stdout; the Job turns redis-benchmark's
`\\r` into newlines (the container runtime's log keeps only whole lines), which the parser reads alike.
So series/redis-benchmark.csv, raw/redis-benchmark.csv and raw/redis-benchmark.out have a local
run's format (the raw output with `\\n` where a local one has `\\r`).

Bounds: timeout(1) in the pod at the run's end; the harness stops following once the pod has ended
after the run's end (the kubelet ends a finished container's log stream only up to 5 s later), or
at the run's end plus a grace, deleting the Job and its pod then; activeDeadlineSeconds on the Job;
and the Job goes with the namespace.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Iterator

from harness.deployment import Deployment
from harness.errors import PlatformError
from harness.platforms.kubernetes.objects import BENCHMARK_GATE, BenchmarkControl, redis_benchmark_job
from harness.platforms.kubernetes.gate import Gate
from harness.platforms.kubernetes.platform import KubernetesPlatform
from harness.poll import wait_until
from harness.roles import primaries
from harness.rundir import EventLog, RunClock, RunDir
from harness.scenario import RedisBenchmarkLoad, Topology
from harness.workload.redis_benchmark import DRIVER, STOP_GRACE_S, OutputParser, TestResult, consume, record

JOB = "redis-benchmark"
CONTAINER = "redis-benchmark"
LAST_LINES_S = 1.0  # after the pod has ended, how long its last log lines may take to arrive
TIMEOUT_RC = 124  # timeout(1)'s exit code when it ended redis-benchmark at the run's end


class InClusterBenchmark:
    """The redis-benchmark load driver of a run whose redis-benchmark runs as a Job (the runner's LoadDriver)."""

    name = DRIVER

    def __init__(self, platform: KubernetesPlatform, deployment: Deployment, spec: RedisBenchmarkLoad,
                 topology: Topology, run_dir: RunDir, clock: RunClock, events: EventLog, *, duration_s: float,
                 seed: int = 0):
        self.platform, self.deployment, self.spec, self.topology = platform, deployment, spec, topology
        self.run_dir, self.clock, self.events, self.duration_s = run_dir, clock, events, duration_s
        self.namespace: str = deployment.extra["namespace"]
        self.parser = OutputParser()
        self.table: list[TestResult] = []
        self.pod = ""
        self.go_t: tuple[float, float] | None = None  # run times `go` was sent and written in the pod
        self._ready: tuple[float, str] | None = None
        self._stopping = threading.Event()
        self._reader: threading.Thread | None = None
        self._opener: threading.Thread | None = None
        self._response: Any = None
        self._stop_reason: str | None = None
        self._error: Exception | None = None
        self._rc: int | None = None
        self._lock = threading.Lock()
        self._gate: Gate | None = None
        self._following = True

    # ------------------------------------------------------------------ before t = 0
    def prepare(self) -> None:
        """Create the Job; return once its container runs and waits at the gate."""
        t0 = time.monotonic()
        options = self.platform.run_options(self.deployment)
        control = BenchmarkControl.for_run(self._primary_host(), self.spec, ready_timeout_s=self.platform.ready_timeout_s,
                                           duration_s=self.duration_s, grace_s=STOP_GRACE_S)
        self.platform.apply(redis_benchmark_job(self.spec, self.topology, options, control=control))
        self.pod = str(self.platform.wait_for(self._running_pod, "the redis-benchmark Job's pod to run", self.namespace,
                                              interval=0.2))
        try:
            self._gate = Gate(self.platform.api.exec_core, self.namespace, self.pod, CONTAINER, f"{BENCHMARK_GATE}/go")
        except Exception as exc:  # noqa: BLE001 - the API's errors come in many types
            raise PlatformError(f"cannot open the redis-benchmark Job's gate in pod {self.pod}: {exc}") from None
        self._ready = (time.time(), f"redis-benchmark Job's pod {self.pod} waiting at its gate after "
                                    f"{time.monotonic() - t0:.1f}s")

    def _gate_exec(self) -> "Gate":
        if self._gate is None:
            raise RuntimeError("InClusterBenchmark.start() before prepare()")
        return self._gate

    def _primary_host(self) -> str:
        """The primary's stable name in the cluster, as the local driver aims at the primary (a sentinel
        topology's Job asks the sentinels instead, when it starts; a cluster's uses --cluster)."""
        if self.topology.kind in ("sentinel", "cluster"):
            return "redis"
        pod = primaries(self.deployment).get(None) or self.deployment.redis_pods()[0]
        return f"{self.platform.k8s_name(self.deployment, pod.name)}.redis-headless"

    def _running_pod(self) -> str | None:
        pods = self.platform.api.core.list_namespaced_pod(self.namespace, label_selector=f"job-name={JOB}").items
        for pod in pods:
            if pod.status.phase in ("Failed", "Succeeded"):
                raise PlatformError(f"the redis-benchmark Job's pod {pod.metadata.name} ended before its start:\n"
                                    f"{self._log(pod.metadata.name)}")
            if pod.status.phase == "Running":
                return pod.metadata.name
        return None

    # ------------------------------------------------------------------ t = 0 onwards
    def start(self) -> None:
        if self._ready is not None:
            wall, detail = self._ready
            self.events.emit("driver", "driver-ready", driver=DRIVER, t=round(self.clock.from_wall(wall), 6), wall=wall,
                             detail=detail)
        self._opener = threading.Thread(target=self._open_gate, name="redis-benchmark-gate", daemon=True)
        self._opener.start()

    def _open_gate(self) -> None:
        """At `start_s`: `go` with the seconds left to the run's end, then follow the pod's log."""
        if self._stopping.wait(max(0.0, self.spec.start_s - self.clock.t())):
            return
        try:
            sent = self.clock.t()
            self._gate_exec().open(str(max(1, math.ceil(self.duration_s - sent))))
            self.go_t = (sent, self.clock.t())
        except Exception as exc:  # noqa: BLE001 - reported through `record`
            self._error = exc
            return
        self.events.emit("driver", "driver-start", driver=DRIVER,
                         detail=f"redis-benchmark {' '.join(self._options())} in Job {JOB} (pod {self.pod}), until "
                                f"t={self.duration_s:g}s: `go` sent at t={sent:.3f}s, written at t={self.go_t[1]:.3f}s")
        self._reader = threading.Thread(target=self._follow, name="redis-benchmark-log", daemon=True)
        self._reader.start()

    def _options(self) -> list[str]:
        from harness.workload.redis_benchmark import benchmark_options

        return benchmark_options(self.spec)

    def _follow(self) -> None:
        consume(self._chunks(), self.parser, self.run_dir.redis_benchmark_out, self.clock)

    def _chunks(self) -> Iterator[bytes]:
        """The pod's log as it is written, until it ends or the harness stops following."""
        try:
            self._response = self.platform.api.core.read_namespaced_pod_log(
                self.pod, self.namespace, container=CONTAINER, follow=True, _preload_content=False)
            for chunk in iter(lambda: self._response.read1(65536), b""):  # whatever has arrived, at once
                yield chunk
                if not self._following:
                    return
        except Exception:  # noqa: BLE001 - a stream closed under it by _unfollow(): what arrived is kept
            if self._following:
                raise

    # ------------------------------------------------------------------ the end
    def wait(self, timeout: float | None = None) -> int:
        """After the run's end: the pod has ended (timeout(1) ends it there) and its output is parsed."""
        if timeout is None:
            timeout = max(0.0, self.duration_s - self.clock.t()) + STOP_GRACE_S
        deadline = time.monotonic() + timeout
        if self._opener is not None:
            self._opener.join(timeout)
        if self._reader is not None:
            while self._reader.is_alive() and time.monotonic() < deadline:
                self._reader.join(min(0.5, max(0.0, deadline - time.monotonic())))
                if self._reader.is_alive() and self.clock.t() >= self.duration_s and self._terminated():
                    # the kubelet notices a finished container's log ends only every 5 s: the pod has
                    # ended, so its last lines are here within a moment; stop following then
                    self._reader.join(LAST_LINES_S)
                    if self._reader.is_alive():
                        self._unfollow()
            if self._reader.is_alive():
                self.events.emit("driver", "driver-error", driver=DRIVER,
                                 detail=f"still running {timeout:g}s after wait() began; stopping it")
                return self.stop()
        return self._finish()

    def stop(self) -> int:
        """Stop following, and delete the Job if its pod still runs (idempotent; also before the start)."""
        self._stopping.set()
        if self._gate is not None:
            self._gate.close()
        if self._reader is not None and self._reader.is_alive():
            self._stop_reason = "harness"
            self._delete_job()
            self._unfollow()
            self._reader.join(10)
        return self._finish()

    def _finish(self) -> int:
        with self._lock:
            if self._rc is None:
                self._rc = self._exit_code()
                reason = self._stop_reason or ("run-end" if self._rc == TIMEOUT_RC else None)
                self.table = record(self.run_dir, self.events, self.parser, self._rc,
                                    reason=reason, error=self._error,
                                    never_started=None if self.go_t or self._error else
                                    f"stopped before its start at t={self.spec.start_s:g}s")
            return self._rc

    def _unfollow(self) -> None:
        self._following = False
        if self._response is not None:
            try:
                self._response.shutdown()  # unblocks the reader's read1
            except RuntimeError:
                # "already released to the pool": the stream ended by itself a moment ago (the pod ended at
                # the run's end, as timeout(1) makes it), so there is nothing left to unblock
                pass

    def _terminated(self) -> tuple[int] | None:
        """The container's exit code once it has ended (a tuple: exit code 0 is an answer, not "not yet")."""
        try:
            pod = self.platform.api.core.read_namespaced_pod(self.pod, self.namespace)
        except Exception:  # noqa: BLE001 - not known now: asked again, or the exit code is -1
            return None
        for status in pod.status.container_statuses or []:
            if status.state and status.state.terminated:
                return (int(status.state.terminated.exit_code),)
        return None

    def _exit_code(self) -> int:
        """The container's exit code once terminated (it is by the time its log ended); -1 if unknown."""
        if not self.pod or self.go_t is None:
            return 0 if self._error is None else 1
        if self._stop_reason == "harness":
            return -1  # its pod was deleted: no exit code to wait for
        try:
            (code,) = wait_until(self._terminated, timeout=10, interval=0.2, what="the redis-benchmark pod's exit code") or (-1,)
            return code
        except Exception:  # noqa: BLE001 - deleted, or the API gone: the output says what happened
            return -1

    def _delete_job(self) -> None:
        try:
            self.platform.api.batch.delete_namespaced_job(JOB, self.namespace, propagation_policy="Background")
            self.platform.api.core.delete_namespaced_pod(self.pod, self.namespace, grace_period_seconds=0)
        except Exception:  # noqa: BLE001 - already gone; the namespace goes at teardown anyway
            pass

    def _log(self, pod: str) -> str:
        try:
            return self.platform.api.core.read_namespaced_pod_log(pod, self.namespace, container=CONTAINER)
        except Exception as exc:  # noqa: BLE001
            return f"(no log: {exc})"

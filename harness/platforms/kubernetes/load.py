"""Locust in the cluster (`workload.locust.workers: N`): a master and N worker pods in the run's
namespace, driven on the run's clock, their figures collected into the run directory as a local
Locust run leaves them.

Why the master is not `--headless`: a headless master starts the moment its last worker connects,
which nothing can place at the run's t = 0. So the master and its workers are deployed and polled
until every worker has connected *before* t = 0 (`prepare`), and at t = 0 the harness starts the
load with the master's own REST call, POST /swarm (users, spawn rate, a run time that bounds the load
if the harness dies), passing the run's zero as Unix time (`--run-start-wall`, which Locust hands to
its workers with the spawn message). No one uses the web UI; the master is headless in all but name.

What lands in the run directory, in the formats a local Locust run writes (harness.rundir owns them):
- raw/locust-seconds/locust-seconds-<worker pod>.csv: each worker's per-second rows
  (harness.workload.persecond, the same file a local Locust process writes, named by its pod);
- series/locust.csv: their merge, exactly as the local driver merges its processes' files;
- raw/locust_stats.csv, _stats_history.csv, _failures.csv, _exceptions.csv: the master's own CSVs;
- raw/locust.log: the master's log (every Locust pod's log is in logs/ as well).

The time base: each worker converts the harness's zero (Unix time) to its own monotonic clock when
the test starts, so its seconds are the run's seconds to within the clocks' offset between the
harness's machine and the node (none on a single-node cluster on this machine; NTP's on a real one).
When the load began on that base is measured, not assumed: `driver-start` says when the swarm
request was answered, and the per-worker files say which second each worker's first request ended in.
"""

from __future__ import annotations

import json
import math
import time
import urllib.parse
import urllib.request
from typing import Any

from harness.deployment import Deployment
from harness.errors import PlatformError
from harness.platforms.kubernetes.objects import LOCUST_OUT, LOCUST_WEB_PORT, locust_objects
from harness.platforms.kubernetes.platform import KubernetesPlatform
from harness.platforms.kubernetes.portforward import Relay, kubernetes_connect
from harness.poll import PollTimeout, wait_until
from harness.rundir import EventLog, RunClock, RunDir
from harness.scenario import LocustLoad, Topology
from harness.workload import persecond
from harness.workload.locust_driver import DRIVER, collect_series, series_problem

MASTER, WORKER = "locust-master", "locust-worker"
MASTER_CSVS = ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv", "locust_exceptions.csv")
HTTP_TIMEOUT_S = 10.0
SETTLE_TIMEOUT_S = 15.0  # after the stop: workers report their last requests to the master every 3 s


class InClusterLocust:
    """The Locust load driver of a run whose Locust runs in the cluster (the runner's LoadDriver)."""

    name = DRIVER

    def __init__(self, platform: KubernetesPlatform, deployment: Deployment, spec: LocustLoad, topology: Topology,
                 run_dir: RunDir, clock: RunClock, events: EventLog, *, duration_s: float, seed: int = 0):
        if not spec.workers:
            raise ValueError("in-cluster Locust needs workload.locust.workers")
        self.platform, self.deployment, self.spec, self.topology = platform, deployment, spec, topology
        self.run_dir, self.clock, self.events = run_dir, clock, events
        self.duration_s, self.seed = duration_s, seed
        self.namespace: str = deployment.extra["namespace"]
        self.totals: dict[str, Any] = {}
        self._relay: Relay | None = None
        self._base_url = ""
        self._master_pod = ""
        self._ready: tuple[float, str] | None = None  # (wall time, what) once prepared
        self.swarm_t: tuple[float, float] | None = None  # run times the start was sent and answered
        self._started = False
        self._finished = False

    # ------------------------------------------------------------------ before t = 0
    def prepare(self) -> None:
        """Deploy the master and the workers; return once every worker has connected to the master."""
        options = self.platform.run_options(self.deployment)
        t0 = time.monotonic()
        for obj in locust_objects(self.spec, self.topology, options, seed=self.seed, controlled=True):
            self.platform.apply(obj)
        self._master_pod = self.platform.wait_for(self._ready_master, "the Locust master pod to be Ready", self.namespace,
                                                  interval=0.5)
        self._connect_master()
        workers = self.spec.workers
        self.platform.wait_for(lambda: self._ready_workers() >= (workers or 0),
                               f"{workers} Locust workers to connect to the master", self.namespace, interval=0.5)
        # said at start(), once the clock has moved to t = 0, so the event carries its (negative) run time
        self._ready = (time.time(), f"in-cluster Locust master and {workers} workers ready in "
                                    f"{time.monotonic() - t0:.1f}s")

    def _pods(self, component: str) -> list[Any]:
        return self.platform.api.core.list_namespaced_pod(
            self.namespace, label_selector=f"app.kubernetes.io/component={component}").items

    def _ready_master(self) -> str | None:
        self._refuse_crashed()
        for pod in self._pods(MASTER):
            if not pod.metadata.deletion_timestamp and any(
                    c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or [])):
                return pod.metadata.name
        return None

    def _connect_master(self) -> None:
        """The master's web port as the harness reaches pods (harness.platforms.kubernetes.platform)."""
        if self.deployment.extra.get("access") == "port-forward":
            self._relay = Relay(kubernetes_connect(self.platform.api.core, self.namespace, self._master_pod,
                                                   LOCUST_WEB_PORT))
            host, port = "127.0.0.1", self._relay.port
        else:
            pod = self.platform.api.core.read_namespaced_pod(self._master_pod, self.namespace)
            host, port = pod.status.pod_ip, LOCUST_WEB_PORT
        self._base_url = f"http://{host}:{port}"

    def _refuse_crashed(self) -> None:
        """A Locust container that exited (a locustfile that does not import, an unreachable master) restarts
        forever: say so at once, with its log, rather than after the readiness timeout."""
        for pod in self._pods(MASTER) + self._pods(WORKER):
            for status in pod.status.container_statuses or []:
                if status.restart_count:
                    raise PlatformError(f"in-cluster Locust: container {status.name} of pod {pod.metadata.name} "
                                        f"exited and was restarted\n{self.platform.diagnose(self.namespace)}")

    def _ready_workers(self) -> int:
        self._refuse_crashed()
        try:
            report = self._get("/stats/requests")
        except OSError:
            return 0
        return sum(1 for w in report.get("workers", []) if w.get("state") == "ready")

    # ------------------------------------------------------------------ t = 0 onwards
    def start(self) -> None:
        """Start the load now (t = 0): users, spawn rate, and a run time that ends it by itself at the
        run's end should the harness not stop it."""
        if self._ready is not None:
            wall, detail = self._ready
            self.events.emit("driver", "driver-ready", driver=DRIVER, t=round(self.clock.from_wall(wall), 6), wall=wall,
                             detail=detail)
        remaining = max(1.0, self.duration_s - self.clock.t())
        sent = self.clock.t()
        answer = self._post("/swarm", {"user_count": self.spec.users, "spawn_rate": f"{self.spec.spawn_rate:g}",
                                       "run_time": f"{math.ceil(remaining)}s",
                                       "run_start_wall": repr(self.clock.start_wall)})
        answered = self.clock.t()
        if not answer.get("success"):
            raise PlatformError(f"the in-cluster Locust master refused the start: {answer.get('message')}")
        self._started = True
        self.swarm_t = (sent, answered)
        self.events.emit("driver", "driver-start", driver=DRIVER, swarm_sent_t=round(sent, 6),
                         swarm_answered_t=round(answered, 6),
                         detail=f"in-cluster locust -u {self.spec.users} -r {self.spec.spawn_rate:g} until "
                                f"t={self.duration_s:g}s on {self.spec.workers} workers: POST /swarm sent at "
                                f"t={sent:.3f}s, answered at t={answered:.3f}s")

    def wait(self, timeout: float | None = None) -> int:
        """At the run's end (the runner calls this after the duration): stop and collect."""
        if timeout is None:
            timeout = max(0.0, self.duration_s - self.clock.t()) + SETTLE_TIMEOUT_S
        wait_until(lambda: self.clock.t() >= self.duration_s, timeout=timeout, interval=0.2, what="the run's end")
        return self.stop()

    def stop(self) -> int:
        """POST /stop (idempotent), then collect once; before the start there is nothing to collect."""
        if self._finished or not self._started:
            self._close()
            return 0
        self._finished = True
        rc = 0
        try:
            self._post("/stop", {})
        except OSError as exc:
            rc = 1
            self.events.emit("driver", "driver-error", driver=DRIVER, detail=f"POST /stop failed: {exc}")
        try:
            self._collect()
        finally:
            self._close()
        return rc

    # ------------------------------------------------------------------ collecting
    def _collect(self) -> None:
        self.run_dir.locust_seconds_dir.mkdir(parents=True, exist_ok=True)
        per_worker: dict[str, int] = {}
        master_count: list[int | None] = [None]

        def complete() -> bool:
            """Every worker's last second written, and the master's CSV counting all of them."""
            per_worker.clear()
            for pod in self._pods(WORKER):
                per_worker[pod.metadata.name] = self._copy_seconds(pod.metadata.name)
            self._copy_master_csvs()
            master_count[0] = self._master_csv_requests()
            return master_count[0] == sum(per_worker.values()) and master_count[0] is not None

        try:
            wait_until(complete, timeout=SETTLE_TIMEOUT_S, interval=1.0, what="the master to count every request")
        except PollTimeout:
            pass  # judged below: the totals disagree
        try:
            self.run_dir.locust_log.write_text(self.platform.api.core.read_namespaced_pod_log(
                self._master_pod, self.namespace, container="locust"))
        except Exception as exc:  # noqa: BLE001 - the log is evidence, not data
            self.run_dir.locust_log.write_text(f"(could not read the master's log: {exc})\n")
        self.totals = {**collect_series(self.run_dir, requests_locust=master_count[0]), "per_worker": per_worker}
        detail = json.dumps(self.totals)
        problem = series_problem(self.totals)
        if problem:
            self.events.emit("driver", "driver-error", driver=DRIVER, detail=f"{detail}; {problem}")
        self.events.emit("driver", "driver-end", driver=DRIVER, detail=detail)

    def _copy_seconds(self, pod: str) -> int:
        """The worker's per-second file(s) into raw/locust-seconds/, named by the pod; its request count."""
        listing = self.platform.exec(self.deployment, pod, "locust",
                                     ["sh", "-c", f"cd {LOCUST_OUT} && ls {persecond.FILE_GLOB} 2>/dev/null || true"])
        files = listing.stdout.split()
        requests = 0
        for index, name in enumerate(files):
            text = self.platform.exec(self.deployment, pod, "locust", ["cat", f"{LOCUST_OUT}/{name}"]).stdout
            suffix = f"-{index}" if len(files) > 1 else ""
            path = self.run_dir.locust_seconds_dir / f"locust-seconds-{pod}{suffix}.csv"
            path.write_text(text)
            requests += sum(second.requests for second in persecond.merge_files([path]).values())
        return requests

    def _copy_master_csvs(self) -> None:
        for name in MASTER_CSVS:
            proc = self.platform.exec(self.deployment, self._master_pod, "locust", ["cat", f"{LOCUST_OUT}/{name}"],
                                      check=False)
            if proc.returncode == 0:
                (self.run_dir.raw_dir / name).write_text(proc.stdout)

    def _master_csv_requests(self) -> int | None:
        """The master's own count of requests: its stats CSV's Aggregated row (rewritten every second)."""
        import csv

        path = self.run_dir.raw_dir / MASTER_CSVS[0]
        if not path.exists():
            return None
        for row in csv.DictReader(path.read_text().splitlines()):
            if row.get("Name") == "Aggregated":
                return int(row["Request Count"])
        return None

    # ------------------------------------------------------------------ HTTP
    def _get(self, path: str) -> dict:
        with urllib.request.urlopen(self._base_url + path, timeout=HTTP_TIMEOUT_S) as resp:
            return json.loads(resp.read())

    def _post(self, path: str, form: dict[str, Any]) -> dict:
        data = urllib.parse.urlencode(form).encode()
        with urllib.request.urlopen(urllib.request.Request(self._base_url + path, data=data, method="POST"),
                                    timeout=HTTP_TIMEOUT_S) as resp:
            return json.loads(resp.read())

    def _close(self) -> None:
        if self._relay is not None:
            self._relay.close()
            self._relay = None

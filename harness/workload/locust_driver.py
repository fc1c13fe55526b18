"""Run the bundled locustfile with Locust, headless, as a separate process; leave `series/locust.csv`.

Locust monkey-patches sockets with gevent, so it never runs (or is imported) in the harness
process. Its own CSVs (`raw/locust_stats.csv`, `raw/locust_stats_history.csv`, failures,
exceptions), final `raw/locust.json` and log (`raw/locust.log`) are kept as Locust writes them.

The per-second series is NOT derived from `_stats_history.csv`: there `Requests/s`,
`Failures/s` and the percentiles are sliding ~10 s window figures, and with `--processes` the
master only learns of its workers' requests every 3 s. Instead the locustfile's request
listener writes per-process per-second files (raw/locust-seconds/, see
harness.workload.persecond): completions bucketed by run second, acknowledged latencies in an
HDR histogram, merged here into exact per-second ok / fail counts and p50/p90/p99/max.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
from pathlib import Path

from harness.deployment import Deployment
from harness.rundir import EventLog, RunClock, RunDir, write_series
from harness.scenario import LocustLoad
from harness.workload import persecond
from harness.workload.child import ChildDriver, ChildProcess, RunBoundChild

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
DRIVER = "locust"
START_GRACE_S = 30.0  # imports, forking workers, spawning users: beyond -t, before the bound kills it


def locust_env(deployment: Deployment, spec: LocustLoad, *, seed: int, clock: RunClock | None,
               seconds_dir: Path | None) -> dict[str, str]:
    """The environment the locustfile reads (documented at its top)."""
    env = {"REDIS_HARNESS_WORKLOAD": spec.model_dump_json(), "REDIS_HARNESS_SEED": str(seed)}
    if deployment.state_file.exists():
        env["REDIS_HARNESS_DEPLOYMENT"] = str(deployment.state_file)
    else:
        kind = deployment.topology["kind"]
        pods = deployment.sentinel_pods() if kind == "sentinel" else deployment.redis_pods()
        env |= {"REDIS_HARNESS_MODE": kind, "REDIS_HARNESS_ADDRESSES": ",".join(p.address for p in pods)}
        if deployment.password:
            env["REDIS_HARNESS_PASSWORD"] = deployment.password
    if clock is not None:
        env["REDIS_HARNESS_RUN_START_MONO_NS"] = str(clock.start_mono_ns)
    if seconds_dir is not None:
        env["REDIS_HARNESS_SECONDS_DIR"] = str(seconds_dir)
    return env


def _free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def locust_argv(spec: LocustLoad, *, run_time_s: int, csv_prefix: Path) -> list[str]:
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "-u", str(spec.users), "-r", f"{spec.spawn_rate:g}", "-t", f"{run_time_s}s",
            "--csv", str(csv_prefix), "--csv-full-history", "--json-file", str(csv_prefix), "--only-summary",
            "--exit-code-on-error", "0", "--stop-timeout", "0"]
    if spec.processes > 1:  # master and workers talk over loopback only, on a port no other run uses
        port = str(_free_loopback_port())
        argv += ["--processes", str(spec.processes), "--master-bind-host", "127.0.0.1",
                 "--master-bind-port", port, "--master-host", "127.0.0.1", "--master-port", port]
    return argv


def locust_total_requests(stats_json: Path) -> int | None:
    """Locust's own final count of requests, from `--json-file` (written at shutdown; its `_stats.csv`
    is a snapshot up to a second older than the end)."""
    try:
        return sum(entry["num_requests"] for entry in json.loads(stats_json.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class LocustDriver(ChildDriver):
    name = DRIVER
    grace_s = START_GRACE_S

    def __init__(self, deployment: Deployment, spec: LocustLoad, run_dir: RunDir, clock: RunClock,
                 events: EventLog, *, duration_s: float, seed: int = 0):
        super().__init__(deployment, spec, run_dir, clock, events, duration_s=duration_s, seed=seed)
        self.seconds_dir = run_dir.locust_seconds_dir
        self.csv_prefix = run_dir.raw_dir / "locust"
        self.totals: dict[str, int | None] = {}

    def start(self) -> None:
        """Run Locust from now until the run's end (`duration_s` in run time)."""
        self.seconds_dir.mkdir(parents=True, exist_ok=True)
        remaining = max(1.0, self.duration_s - self.clock.t())
        argv = locust_argv(self.spec, run_time_s=math.ceil(remaining), csv_prefix=self.csv_prefix)
        inherited = {k: v for k, v in os.environ.items()  # a user's own REDIS_HARNESS_* must not redirect it
                     if not k.startswith("REDIS_HARNESS_") or k == "REDIS_HARNESS_STATE"}
        env = inherited | locust_env(self.deployment, self.spec, seed=self.seed, clock=self.clock,
                                     seconds_dir=self.seconds_dir)
        child = ChildProcess(argv, max_s=remaining + START_GRACE_S, env=env, cwd=self.run_dir.raw_dir,
                             log=self.run_dir.locust_log)
        self._run = RunBoundChild(child, ends_in_s=remaining)
        self._run.start()
        self.events.emit("driver", "driver-start", driver=DRIVER,
                         detail=f"locust -u {self.spec.users} -r {self.spec.spawn_rate:g} until t={self.duration_s:g}s "
                                f"--processes {self.spec.processes} (pid {child.pid})")

    def _collect(self, rc: int) -> None:
        self.totals = collect_series(self.run_dir, requests_locust=locust_total_requests(Path(f"{self.csv_prefix}.json")))
        how = {"run-end": " (stopped at the run's end)", "harness": " (stopped by the harness)"}
        reason = self._run.stop_reason if self._run is not None else None
        detail = f"exit code {rc}{how.get(reason or '', '')}; {json.dumps(self.totals)}"
        problem = series_problem(self.totals)
        if rc != 0 and reason != "harness":
            self.events.emit("driver", "driver-error", driver=DRIVER, detail=f"{detail}; see raw/locust.log")
        elif problem:
            self.events.emit("driver", "driver-error", driver=DRIVER, detail=f"{detail}; {problem}")
        self.events.emit("driver", "driver-end", driver=DRIVER, detail=detail)


def collect_series(run_dir: RunDir, *, requests_locust: int | None) -> dict[str, int | None]:
    """series/locust.csv from the per-process (or per-worker) files of raw/locust-seconds/; the totals
    beside Locust's own count of requests (`requests_locust`), which they must equal."""
    merged = persecond.merge_files(sorted(run_dir.locust_seconds_dir.glob(persecond.FILE_GLOB)))
    write_series(run_dir.series(DRIVER), persecond.series_rows(merged, DRIVER))
    return {"requests": sum(s.requests for s in merged.values()), "requests_locust": requests_locust,
            "ok": sum(s.ok for s in merged.values()), "fail": sum(s.fail for s in merged.values())}


def series_problem(totals: dict[str, int | None]) -> str | None:
    """What makes a Locust series not the load's whole story, or None."""
    if not totals["requests"]:
        return "no request completed (see raw/locust.log)"
    if totals["requests_locust"] not in (None, totals["requests"]):
        return ("the per-second series misses requests Locust counted (a Locust process was killed before "
                "writing its last second?)")
    return None

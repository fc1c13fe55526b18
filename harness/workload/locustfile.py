"""The bundled Locust locustfile: Redis users (redis-py) whose requests show in Locust's own stats.

Run by the harness (`LocustDriver`), or by hand against a topology from `redis-harness deploy`:

    REDIS_HARNESS_DEPLOYMENT=/tmp/redis-harness/<prefix>/deployment.json \\
        locust -f harness/workload/locustfile.py --headless -u 20 -r 20 -t 30s

It works unchanged with Locust's web UI, `--processes N`, and `--master` / `--worker`.

Environment variables (read once, when Locust imports this file):

- `REDIS_HARNESS_DEPLOYMENT`: path of a deployment.json (as saved by the platforms); gives the
  topology kind, addresses, password and, for a `topology.tls` deployment, its client certificate.
- or, where no deployment.json exists (e.g. in a Kubernetes pod):
  `REDIS_HARNESS_MODE` = `standalone` | `sentinel` | `cluster`, and
  `REDIS_HARNESS_ADDRESSES` = comma-separated `host:port` (the server; the sentinels; cluster
  seed nodes), `REDIS_HARNESS_PASSWORD` (optional), `REDIS_HARNESS_MASTER_NAME` (default
  `mymaster`), and for a `topology.tls` deployment `REDIS_HARNESS_TLS_DIR`: where its Secret is
  mounted (`ca.crt`, `tls.crt`, `tls.key`; harness.deployment.TlsFiles.mounted).
- `REDIS_HARNESS_WORKLOAD`: JSON of the scenario's `workload.locust` (harness.scenario.LocustLoad:
  mix, keyspace, key_distribution, zipf_skew, value_size, pipeline, rate_per_user, timeout_ms,
  error_backoff_ms); default: its defaults. users / spawn_rate / processes are Locust's own
  command-line options (-u, -r, --processes).
- `REDIS_HARNESS_SEED`: integer seed of the key, command and value draws (default 0); each
  user draws from (seed, Locust worker index, user number), so a run is repeatable.
- `REDIS_HARNESS_SECONDS_DIR`: when set, each Locust process writes its per-second figures
  there (harness.workload.persecond), bucketed by run second counted from
  `REDIS_HARNESS_RUN_START_MONO_NS` (CLOCK_MONOTONIC, same machine) or else
  `REDIS_HARNESS_RUN_START_WALL` (Unix time, any machine), or else this process's start. A
  master started before the run's zero is known (in-cluster Locust, harness.platforms.kubernetes.load)
  is given it with the start, `--run-start-wall` (Unix time) in its POST /swarm; Locust hands custom
  arguments to its workers with the spawn message, so each worker buckets from the harness's zero.

Behaviour worth knowing:

- One request = one Redis command (named by it: get, set, ...), except `pipeline`: N commands in
  one non-transactional pipeline, one request named `pipeline`, counted as N operations in the
  harness's series (Locust's own stats count it once). `lpush` also trims its list to 100
  entries every 100 pushes, so lists stay bounded; keys are `lt:s:` strings, `lt:c:` counters,
  `lt:h:` hashes (16 fields), `lt:l:` lists.
- redis-py's own retries are off: every failure is one failed request (exception set), never
  hidden. After a failure the user pauses `error_backoff_ms`; after 3 failures in a row it drops
  its client and connects afresh (re-asking the sentinels, re-reading the cluster slots), so the
  load goes on through a failover. Sentinel clients also follow a failover on their own.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gevent
import numpy as np
import redis
from locust import User, constant, constant_throughput, events, task
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

from harness.deployment import Deployment, SavedDeployment, TlsFiles
from harness.redisconn import tls_kwargs
from harness.scenario import LocustLoad
from harness.workload.draws import Draws
from harness.workload.persecond import SecondRecorder, recorder_path

REQUEST_TYPE = "redis"
LIST_KEEP = 100
HASH_FIELDS = [f"f{i}".encode() for i in range(16)]
DROP_CLIENT_AFTER = 3


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class RedisEndpoint:
    mode: str  # standalone | sentinel | cluster
    addresses: list[tuple[str, int]]
    password: str | None
    master_name: str
    dial: Callable[[str, int], tuple[str, int]] = lambda host, port: (host, port)  # reported -> reachable
    tls: TlsFiles | None = None  # a `topology.tls` deployment's client certificate (deployment.json, or a mounted Secret)


class _DialingSentinel(Sentinel):
    """Connects to the primary the sentinels name at the address the harness can reach (see RedisEndpoint.dial)."""

    def __init__(self, *args, dial: Callable[[str, int], tuple[str, int]], **kwargs):
        super().__init__(*args, **kwargs)
        self._dial = dial

    def discover_master(self, service_name):
        host, port = super().discover_master(service_name)
        return self._dial(host, int(port))


def _parse_addresses(text: str) -> list[tuple[str, int]]:
    out = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"REDIS_HARNESS_ADDRESSES: {item!r} is not host:port")
        out.append((host, int(port)))
    return out


def target_from_env(env: dict[str, str]) -> RedisEndpoint:
    if env.get("REDIS_HARNESS_DEPLOYMENT"):
        deployment = Deployment.load(env["REDIS_HARNESS_DEPLOYMENT"])
        mode = deployment.topology["kind"]
        service = deployment.extra.get("service") or {}
        if mode == "naive" and service.get("host"):  # its Service, as an application would be pointed at it
            return RedisEndpoint("standalone", [(str(service["host"]), int(service["port"]))], deployment.password,
                                 env.get("REDIS_HARNESS_MASTER_NAME", "mymaster"), tls=deployment.tls)
        pods = deployment.sentinel_pods() if mode == "sentinel" else deployment.redis_pods()
        return RedisEndpoint(mode, [(p.host, p.port) for p in pods], deployment.password,
                             env.get("REDIS_HARNESS_MASTER_NAME", "mymaster"),
                             SavedDeployment(env["REDIS_HARNESS_DEPLOYMENT"]).dial_address, deployment.tls)
    mode = env.get("REDIS_HARNESS_MODE", "")
    if mode not in ("standalone", "sentinel", "cluster"):
        raise ValueError(
            "set REDIS_HARNESS_DEPLOYMENT (a deployment.json), or REDIS_HARNESS_MODE "
            "(standalone | sentinel | cluster) and REDIS_HARNESS_ADDRESSES (host:port,...); "
            f"got REDIS_HARNESS_MODE={mode!r}"
        )
    addresses = _parse_addresses(env.get("REDIS_HARNESS_ADDRESSES", ""))
    if not addresses:
        raise ValueError("REDIS_HARNESS_ADDRESSES: needs at least one host:port")
    tls = TlsFiles.mounted(env["REDIS_HARNESS_TLS_DIR"]) if env.get("REDIS_HARNESS_TLS_DIR") else None
    return RedisEndpoint(mode, addresses, env.get("REDIS_HARNESS_PASSWORD") or None,
                         env.get("REDIS_HARNESS_MASTER_NAME", "mymaster"), tls=tls)


def workload_from_env(env: dict[str, str]) -> LocustLoad:
    raw = env.get("REDIS_HARNESS_WORKLOAD")
    return LocustLoad.model_validate(json.loads(raw)) if raw else LocustLoad()


def zero_ns_from_env(env: dict[str, str]) -> int:
    """CLOCK_MONOTONIC ns at which run second 0 began, for bucketing completions."""
    if env.get("REDIS_HARNESS_RUN_START_MONO_NS"):
        return int(env["REDIS_HARNESS_RUN_START_MONO_NS"])
    if env.get("REDIS_HARNESS_RUN_START_WALL"):
        return time.monotonic_ns() - round((time.time() - float(env["REDIS_HARNESS_RUN_START_WALL"])) * 1e9)
    return time.monotonic_ns()


TARGET = target_from_env(dict(os.environ))
SPEC = workload_from_env(dict(os.environ))
SEED = int(os.environ.get("REDIS_HARNESS_SEED", "0"))
ZERO_NS = zero_ns_from_env(dict(os.environ))
SECONDS_DIR = os.environ.get("REDIS_HARNESS_SECONDS_DIR")


# --------------------------------------------------------------------------- connections


def connect(target: RedisEndpoint, spec: LocustLoad) -> redis.Redis | RedisCluster:
    """A client with redis-py's retries off (cluster: one, to follow a MOVED), bounded by the timeout."""
    timeout = spec.timeout_ms / 1000
    common: dict[str, Any] = dict(password=target.password, socket_timeout=timeout, socket_connect_timeout=timeout,
                                  **tls_kwargs(target.tls))
    if target.mode == "standalone":
        host, port = target.addresses[0]
        return redis.Redis(host=host, port=port, retry=Retry(NoBackoff(), 0), single_connection_client=True,
                           **common)
    if target.mode == "sentinel":
        sentinel = _DialingSentinel(target.addresses, sentinel_kwargs=common, dial=target.dial)
        return sentinel.master_for(target.master_name, retry=Retry(NoBackoff(), 0), **common)
    return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in target.addresses],
                        retry=Retry(NoBackoff(), 1), address_remap=lambda a: target.dial(*a), **common)


# --------------------------------------------------------------------------- per-second figures

_recorder: SecondRecorder | None = None
_recorder_pid: int | None = None


def _recorder_here() -> SecondRecorder | None:
    """One recorder per process: with --processes, Locust forks after importing this file."""
    global _recorder, _recorder_pid
    if not SECONDS_DIR:
        return None
    if _recorder_pid != os.getpid():
        _recorder, _recorder_pid = SecondRecorder(recorder_path(Path(SECONDS_DIR)), ZERO_NS), os.getpid()
    return _recorder


@events.init_command_line_parser.add_listener
def _arguments(parser) -> None:
    parser.add_argument("--run-start-wall", type=str, default="", include_in_web_ui=False,
                        help="Unix time of the harness's run second 0 (redis-harness sets it with the start)")


@events.test_start.add_listener
def _run_zero(environment, **_kw):
    """A zero given with the start (see --run-start-wall) replaces the one read at import."""
    global ZERO_NS
    wall = getattr(environment.parsed_options, "run_start_wall", "") if environment.parsed_options else ""
    if wall:
        ZERO_NS = zero_ns_from_env({"REDIS_HARNESS_RUN_START_WALL": wall})


@events.request.add_listener
def _per_second(request_type, name, response_time, response_length, exception=None, context=None, **_kw):
    if request_type != REQUEST_TYPE:
        return
    recorder = _recorder_here()
    if recorder is not None:
        recorder.record(exception is None, (context or {}).get("ops", 1), response_time)


@events.test_stop.add_listener
def _flush_recorder(**_kw):
    """Users are stopped by now: their last requests are in the open second."""
    if _recorder is not None and _recorder_pid == os.getpid():
        _recorder.flush()


@events.quit.add_listener
def _close_recorder(**_kw):
    """`quit` fires after Locust has stopped its users (`quitting` fires before)."""
    if _recorder is not None and _recorder_pid == os.getpid():
        _recorder.close()


atexit.register(lambda: _close_recorder())


# --------------------------------------------------------------------------- the user

_user_numbers = itertools.count()


class RedisUser(User):
    """A Redis client issuing the scenario's command mix, one request at a time."""

    wait_time = constant_throughput(SPEC.rate_per_user) if SPEC.rate_per_user else constant(0)

    def on_start(self) -> None:
        worker = getattr(self.environment.runner, "worker_index", 0) or 0
        self.draws = Draws(SPEC, np.random.default_rng([SEED, max(worker, 0), next(_user_numbers)]))
        self.client: redis.Redis | RedisCluster | None = None
        self.failures_in_row = 0
        self.ops = {
            "get": self._get, "set": self._set, "incr": self._incr, "hset": self._hset, "hget": self._hget,
            "lpush": self._lpush, "lrange": self._lrange, "pipeline": self._pipeline,
        }

    def on_stop(self) -> None:
        self._drop_client()

    @task
    def request(self) -> None:
        name = next(self.draws.commands)
        op = self.ops[name]
        ops = SPEC.pipeline if name == "pipeline" else 1
        start = time.perf_counter()
        try:
            client = self.client or self._connect()
            op(client)
        except Exception as exc:  # noqa: BLE001 - every failure is a counted request, never a crash
            self._fire(name, start, ops, exc)
            self._after_failure()
        else:
            self._fire(name, start, ops, None)
            self.failures_in_row = 0

    def _fire(self, name: str, start: float, ops: int, exc: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE, name=name, response_time=(time.perf_counter() - start) * 1000,
            response_length=0, exception=exc, context={"ops": ops},
        )

    def _connect(self) -> redis.Redis | RedisCluster:
        self.client = connect(TARGET, SPEC)
        return self.client

    def _after_failure(self) -> None:
        self.failures_in_row += 1
        if self.failures_in_row >= DROP_CLIENT_AFTER:
            self._drop_client()
        if SPEC.error_backoff_ms:
            gevent.sleep(SPEC.error_backoff_ms / 1000)

    def _drop_client(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing a broken client may fail; it is gone either way
                pass

    # commands -------------------------------------------------------------
    def _get(self, c) -> None:
        c.get(f"lt:s:{next(self.draws.keys)}")

    def _set(self, c) -> None:
        c.set(f"lt:s:{next(self.draws.keys)}", next(self.draws.values))

    def _incr(self, c) -> None:
        c.incr(f"lt:c:{next(self.draws.keys)}")

    def _hset(self, c) -> None:
        c.hset(f"lt:h:{next(self.draws.keys)}", HASH_FIELDS[next(self.draws.keys) & 15], next(self.draws.values))

    def _hget(self, c) -> None:
        c.hget(f"lt:h:{next(self.draws.keys)}", HASH_FIELDS[next(self.draws.keys) & 15])

    def _lpush(self, c) -> None:
        key = f"lt:l:{next(self.draws.keys)}"
        if c.lpush(key, next(self.draws.values)) > 2 * LIST_KEEP:
            c.ltrim(key, 0, LIST_KEEP - 1)

    def _lrange(self, c) -> None:
        c.lrange(f"lt:l:{next(self.draws.keys)}", 0, 9)

    def _pipeline(self, c) -> None:
        pipe = c.pipeline(transaction=False)
        for i in range(SPEC.pipeline):
            key = f"lt:s:{next(self.draws.keys)}"
            pipe.set(key, next(self.draws.values)) if i % 2 == 0 else pipe.get(key)
        pipe.execute()

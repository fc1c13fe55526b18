"""Scenario files: YAML in, a validated `Scenario` out, or a ScenarioError naming file, field and problem.

Everything a run does is decided here, before anything is deployed: a bad file must never
cost a deployment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import ScenarioError
from harness.workload.openloop.spec import OpenLoopLoad, Sweep, positive_mix, value_size_range


class Model(BaseModel):
    """Unknown keys are errors: a typo in a scenario must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=False)


# --------------------------------------------------------------------------- topology


class Persistence(Model):
    mode: Literal["none", "rdb", "aof"] = "none"
    appendfsync: Literal["always", "everysec", "no"] = "everysec"
    save: str = "60 1"


class Topology(Model):
    kind: Literal["standalone", "sentinel", "cluster", "naive"] = Field(
        ..., description="naive: `instances` independent primaries behind one Service (the anti-pattern of "
                         "manifests/naive-deployment/, kept to be measured)")
    server: str = Field("system", description="system | redis-6.2 | valkey-9.1 | /path/to/redis-server")
    pod_servers: dict[str, str] = Field(default_factory=dict, description="per-pod override of `server`")
    replicas: int = Field(0, ge=0, le=16, description="sentinel: replicas of the primary; cluster: per shard")
    sentinels: int = Field(3, ge=1, le=9)
    quorum: int = Field(2, ge=1)
    shards: int = Field(3, ge=1, le=32)
    instances: int = Field(3, ge=2, le=16, description="naive: the Deployment's pods (each its own primary)")
    persistence: Persistence = Field(default_factory=Persistence)
    min_replicas_to_write: int = Field(0, ge=0)
    min_replicas_max_lag_s: int = Field(10, ge=1)
    maxmemory: str | None = None
    maxmemory_policy: str = "noeviction"
    password: str | None = None
    down_after_ms: int = Field(1000, ge=100)
    failover_timeout_ms: int = Field(5000, ge=500)
    cluster_node_timeout_ms: int = Field(2000, ge=100)
    persistent_volumes: bool = Field(False, description="pod-delete keeps data only with persistent volumes")
    prestop_failover: bool = Field(
        False, description="Kubernetes: a Redis primary pod that is deleted hands its role to a replica first "
                           "(preStop hook); off, a graceful delete measures the unassisted failover")
    extra_config: dict[str, str] = Field(default_factory=dict, description="more redis.conf directives")
    tls: bool = Field(False, description="every connection over TLS with client certificates: servers, replication, "
                                         "sentinels, the cluster bus and the harness's clients (certificates per deployment)")

    @model_validator(mode="after")
    def _shape(self) -> "Topology":
        if self.kind == "sentinel":
            if self.replicas < 1:
                raise ValueError("replicas: a sentinel topology needs replicas >= 1 (a replica to promote)")
            if self.quorum > self.sentinels:
                raise ValueError(f"quorum: quorum {self.quorum} is larger than the sentinel count {self.sentinels}")
        if self.kind == "cluster" and self.shards < 3:
            raise ValueError(f"shards: a Redis Cluster needs at least 3 shards (primaries), got {self.shards}")
        if self.kind in ("standalone", "naive") and self.replicas:
            raise ValueError(f"replicas: a {self.kind} topology has no replicas; use kind: sentinel")
        if self.min_replicas_to_write > self.replicas:
            raise ValueError(
                f"min_replicas_to_write: {self.min_replicas_to_write} exceeds replicas {self.replicas}: "
                "the primary would refuse every write"
            )
        if self.tls and self.kind == "naive":
            raise ValueError("tls: the naive topology's Service is measured without TLS (its certificates would need "
                             "the Service address as a name); use kind standalone, sentinel or cluster")
        if self.prestop_failover and self.kind == "standalone":
            raise ValueError("prestop_failover: a standalone server has no replica to hand its role to")
        unknown = set(self.pod_servers) - set(self.pod_names())
        if unknown:
            raise ValueError(f"pod_servers: names pods this topology lacks: {sorted(unknown)}; pods: {self.pod_names()}")
        return self

    # Pod naming is part of the model so that scenarios can address pods before deployment.
    def redis_pod_names(self) -> list[str]:
        if self.kind == "standalone":
            return ["redis-0"]
        if self.kind == "sentinel":
            return [f"redis-{i}" for i in range(1 + self.replicas)]
        if self.kind == "naive":
            return [f"redis-{i}" for i in range(self.instances)]
        return [f"redis-{i}" for i in range(self.shards * (1 + self.replicas))]

    def sentinel_pod_names(self) -> list[str]:
        return [f"sentinel-{i}" for i in range(self.sentinels)] if self.kind == "sentinel" else []

    def pod_names(self) -> list[str]:
        return self.redis_pod_names() + self.sentinel_pod_names()

    def shard_of(self, pod: str) -> int | None:
        """Initial shard of a cluster pod: pods are laid out shard by shard, primary first."""
        if self.kind != "cluster" or not pod.startswith("redis-"):
            return None
        return int(pod.split("-")[1]) // (1 + self.replicas)

    def server_for(self, pod: str) -> str:
        return self.pod_servers.get(pod, self.server)


# --------------------------------------------------------------------------- workload


class ProbeLoad(Model):
    enabled: bool = True
    clients: int = Field(3, ge=1, le=64)
    rate_per_client: float = Field(100.0, ge=0, description="writes/s per client; 0 = as fast as possible")
    timeout_ms: int = Field(500, ge=10)
    wait_replicas: int = Field(0, ge=0, description="WAIT numreplicas after each write (0 = off)")
    wait_timeout_ms: int = Field(100, ge=0)
    reads: bool = Field(True, description="read back each client's previous key between writes")


ZIPF_MAX_KEYSPACE = 10_000_000
BENCHMARK_TESTS = ("ping", "ping_inline", "ping_mbulk", "set", "get", "incr", "lpush", "rpush", "lpop", "rpop",
                   "sadd", "hset", "spop", "zadd", "zpopmin", "lrange", "lrange_100", "lrange_300", "lrange_500",
                   "lrange_600", "mset")


class LocustLoad(Model):
    enabled: bool = False
    users: int = Field(10, ge=1, le=10000)
    spawn_rate: float = Field(10.0, gt=0)
    processes: int = Field(1, ge=1, le=64)
    workers: int | None = Field(None, ge=1, le=64, description=(
        "Kubernetes only: run Locust in the cluster, a master and this many worker pods (load that outgrows "
        "the harness's machine); unset: Locust runs on the harness's machine"))
    mix: dict[Literal["get", "set", "incr", "hset", "hget", "lpush", "lrange", "pipeline"], float] = Field(
        default_factory=lambda: {"get": 8.0, "set": 2.0}  # type: ignore[arg-type,dict-item]
    )
    keyspace: int = Field(10000, ge=1)
    key_distribution: Literal["uniform", "zipfian"] = "uniform"
    zipf_skew: float = Field(0.99, gt=0)
    value_size: int | tuple[int, int] = 64
    pipeline: int = Field(10, ge=1, description="commands per pipeline for the `pipeline` entry of mix")
    rate_per_user: float | None = Field(None, gt=0, description="ops/s per user (constant_throughput pacing)")
    timeout_ms: int = Field(1000, ge=10)
    error_backoff_ms: int = Field(50, ge=0, le=10000, description="a user's pause after a failed request")

    _mix = field_validator("mix")(classmethod(lambda cls, mix: positive_mix(mix)))
    _size = field_validator("value_size")(classmethod(lambda cls, v: value_size_range(v)))

    @model_validator(mode="after")
    def _workers_alone(self) -> "LocustLoad":
        if self.workers is not None and not self.enabled:
            raise ValueError("workers: in-cluster Locust workers need the Locust load itself (enabled: true)")
        if self.workers is not None and self.processes > 1:
            raise ValueError(f"processes: each in-cluster worker pod runs one Locust process; scale with workers "
                             f"(got processes {self.processes} with workers {self.workers})")
        return self

    @model_validator(mode="after")
    def _zipf_table(self) -> "LocustLoad":
        if self.key_distribution == "zipfian" and self.keyspace > ZIPF_MAX_KEYSPACE:
            raise ValueError(f"keyspace: zipfian draws keep a table of every key's probability; "
                             f"use keyspace <= {ZIPF_MAX_KEYSPACE}, got {self.keyspace}")
        return self



class RedisBenchmarkLoad(Model):
    enabled: bool = False
    tests: list[str] = Field(default_factory=lambda: ["set", "get"])
    clients: int = Field(50, ge=1, le=10000)
    requests: int | None = Field(100000, ge=1, description="-n; null: loop until the scenario ends")
    pipeline: int = Field(1, ge=1)
    data_size: int = Field(3, ge=1)
    keyspace: int | None = Field(None, ge=1, description="-r")
    threads: int | None = Field(None, ge=1)
    loop: bool = Field(False, description="-l: repeat until the scenario ends")
    start_s: float = Field(0.0, ge=0)
    in_cluster: bool = Field(False, description=(
        "Kubernetes only: run redis-benchmark as a Job in the run's namespace (load from inside the cluster); "
        "false: it runs on the harness's machine"))

    @model_validator(mode="after")
    def _in_cluster_alone(self) -> "RedisBenchmarkLoad":
        if self.in_cluster and not self.enabled:
            raise ValueError("in_cluster: an in-cluster redis-benchmark Job needs the redis-benchmark load itself "
                             "(enabled: true)")
        return self

    @field_validator("tests")
    @classmethod
    def _known_tests(cls, tests: list[str]) -> list[str]:
        unknown = [t for t in tests if t.lower() not in BENCHMARK_TESTS]
        if not tests or unknown:  # redis-benchmark silently runs nothing for a name it does not know
            raise ValueError(f"unknown redis-benchmark test(s) {unknown}; known: {', '.join(BENCHMARK_TESTS)}")
        return [t.lower() for t in tests]


class OpenLoopRunLoad(OpenLoopLoad):
    """The open-loop generator as a run's load: `rate` ops/s on a fixed schedule from t = 0 to the run's
    end, each latency counted from its request's due time (what a closed loop hides in a failover);
    the generator's own fields as in a sweep's `load` (harness/workload/openloop/spec.py)."""

    enabled: bool = False
    rate: float = Field(1000.0, gt=0, le=5_000_000, description="offered ops/s, over all processes")


class Workload(Model):
    probe: ProbeLoad = Field(default_factory=ProbeLoad)
    locust: LocustLoad = Field(default_factory=LocustLoad)
    redis_benchmark: RedisBenchmarkLoad = Field(default_factory=RedisBenchmarkLoad)
    openloop: OpenLoopRunLoad = Field(default_factory=OpenLoopRunLoad)


# --------------------------------------------------------------------------- faults


class FaultTarget(Model):
    """Resolved when the fault fires: `role: primary` means whoever is primary at that moment."""

    role: Literal["primary", "replica", "sentinel", "any"] | None = None
    shard: int | None = Field(None, ge=0)
    pod: str | None = None
    pick: Literal["first", "random", "all"] = Field(
        "first", description="among the pods that match now: the first by name, one drawn from the seed, or all"
    )

    @model_validator(mode="after")
    def _one_way(self) -> "FaultTarget":
        if (self.role is None) == (self.pod is None):
            raise ValueError("a target names exactly one of `role` or `pod`")
        return self


class FaultBase(Model):
    target: FaultTarget
    at_s: float = Field(..., ge=0, description="seconds after the load starts (run time 0; deploy and readiness "
                                                "come before it and are timed on their own)")
    duration_s: float = Field(10.0, gt=0)
    every_s: float | None = Field(None, gt=0, description="repeat period")
    count: int = Field(1, ge=1, le=1000)
    allow_not_applied: bool = Field(
        False, description="a firing whose verification fails (or that cannot be applied) is reported as not "
                           "applied instead of failing the run")

    def firings(self) -> list[tuple[float, float]]:
        """(start, end) of each repetition, seconds since the load started."""
        period = self.every_s or 0.0
        return [(self.at_s + i * period, self.at_s + i * period + self.duration_s) for i in range(self.count)]


class PodKill(FaultBase):
    kind: Literal["pod-kill"]


class PodDelete(FaultBase):
    kind: Literal["pod-delete"]


class Pause(FaultBase):
    kind: Literal["pause"]
    method: Literal["sigstop", "debug-sleep"] = "sigstop"


class Partition(FaultBase):
    kind: Literal["partition"]
    target: FaultTarget | None = Field(  # type: ignore[assignment]  # optional here: split/one-way use groups
        None, description="isolate: the pod(s) cut off from every other pod")
    mode: Literal["isolate", "split", "one-way"] = "isolate"
    groups: list[list[FaultTarget]] | None = Field(None, description="split/one-way: [side A, side B]; one-way drops A -> B")
    client_side: Literal["both", "target", "rest"] = Field(
        "both", description="which side the harness's clients are on: with the target (side A) or the rest"
    )
    action: Literal["drop", "reject"] = "drop"

    @model_validator(mode="after")
    def _groups(self) -> "Partition":
        if self.mode in ("split", "one-way") and (not self.groups or len(self.groups) != 2):
            raise ValueError(f"groups: mode {self.mode!r} needs `groups`: exactly two lists of targets")
        if self.mode == "isolate" and self.target is None:
            raise ValueError("target: mode 'isolate' needs `target`: the pod(s) to cut off")
        if self.mode != "isolate" and self.target is not None:
            raise ValueError(f"target: mode {self.mode!r} takes its sides from `groups`; remove `target`")
        if self.mode == "isolate" and self.groups:
            raise ValueError("groups: mode 'isolate' cuts `target` off from every other pod; use mode split for groups")
        return self


class PacketLoss(FaultBase):
    kind: Literal["packet-loss"]
    percent: float = Field(..., ge=0, le=100)
    peers: list[FaultTarget] | None = Field(
        None, description="only packets between the target and these pods (default: all of the target's traffic)"
    )


class Latency(FaultBase):
    kind: Literal["latency"]
    delay_ms: float = Field(..., gt=0, le=60000)
    jitter_ms: float = Field(0.0, ge=0)


class Bandwidth(FaultBase):
    kind: Literal["bandwidth"]
    rate_kbit: int = Field(..., ge=8)
    direction: Literal["egress", "ingress", "both"] = Field("both", description="the pod's sending, receiving or both")


SERVER_SPECS = ("system", "redis-6.2", "valkey-9.1")


class Upgrade(FaultBase):
    """A rolling-upgrade drill: the steps its `strategy` names, run one after another from `at_s`
    (harness/nemesis/upgrade_plan.py says what each strategy does). `duration_s` is the drill's budget:
    the run's duration must leave room for it; a drill that runs out of it stops at the next step."""

    kind: Literal["upgrade"]
    target: FaultTarget | None = Field(  # type: ignore[assignment]  # optional here, as for Partition
        None, description="unused: a drill's steps pick their pods by role as they run")
    to: str = Field(..., description="the server every Redis pod moves to: system | redis-6.2 | valkey-9.1 | a path")
    strategy: Literal["replicas-first", "naive", "rollback"] = "replicas-first"
    naive_order: Literal["all-at-once", "primary-first"] = Field(
        "all-at-once", description="naive: every pod at once, or one by one starting with the primary")
    step_timeout_s: float = Field(30.0, gt=0, le=600, description="a step's wait for its pod to sync, at most")
    duration_s: float = Field(90.0, gt=0, description="the drill's time budget from at_s")

    @field_validator("to")
    @classmethod
    def _server(cls, to: str) -> str:
        if to not in SERVER_SPECS and "/" not in to:
            raise ValueError(f"unknown server {to!r}: use {', '.join(SERVER_SPECS)} or a path to a server binary")
        return to

    @model_validator(mode="after")
    def _once(self) -> "Upgrade":
        if self.count != 1 or self.every_s is not None:
            raise ValueError("count: an upgrade drill runs once (no count / every_s)")
        return self


Fault = Annotated[
    Union[PodKill, PodDelete, Pause, Partition, PacketLoss, Latency, Bandwidth, Upgrade], Field(discriminator="kind")
]


# --------------------------------------------------------------------------- SLOs and scenario


MIN_BASELINE_S = 3.0
"""The least load before a fault: the throughput checker drops each driver's first (partial) second
and needs whole seconds before the first fault starts (harness/checker/throughput.py)."""


class SLOs(Model):
    max_unavailable_s: float | None = Field(None, ge=0)
    max_lost_writes: int | None = Field(None, ge=0)
    max_missed_reads: int | None = Field(None, ge=0, description="acknowledged reads that found no value although "
                                         "the write of their key had been acknowledged")
    min_baseline_ops_per_s: float | None = Field(None, ge=0)
    min_recovered_ops_per_s: float | None = Field(None, ge=0)
    max_p99_ms: float | None = Field(None, gt=0)
    max_detection_s: float | None = Field(None, ge=0)

    def items(self) -> list[tuple[str, float]]:
        return [(k, v) for k, v in self.model_dump().items() if v is not None]


class Scenario(Model):
    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9.-]{0,40}$")  # dots: versions (upgrade-sentinel-6.2-to-7.0)
    description: str = ""
    platform: Literal["local", "kubernetes"] = "local"
    duration_s: float = Field(60.0, gt=0, le=86400)
    settle_s: float = Field(5.0, ge=0, le=600, description="wait after healing before the final read")
    converge_timeout_s: float = Field(60.0, gt=0, le=3600, description="after settle_s, how long the topology may "
                                      "take to converge (pods back, links up, offsets caught up) before the run fails")
    seed: int = 0
    topology: Topology
    workload: Workload = Field(default_factory=Workload)
    faults: list[Fault] = Field(default_factory=list)
    slos: SLOs = Field(default_factory=SLOs)
    sweep: Sweep | None = Field(None, description="a capacity study: open-loop steps of offered rate instead of "
                                                  "the workload and faults (docs/capacity.md)")

    @model_validator(mode="after")
    def _sweep_alone(self) -> "Scenario":
        if self.sweep is None:
            return self
        if self.faults:
            raise ValueError("faults: a sweep scenario runs no faults (its steps measure capacity); remove them")
        if self.workload.locust.enabled or self.workload.redis_benchmark.enabled or self.workload.openloop.enabled:
            raise ValueError("workload: a sweep scenario drives the load with its own open-loop generator "
                             "(sweep.load); disable locust, redis_benchmark and openloop")
        for i, variant in enumerate(self.sweep.variants):
            try:
                self.variant_topology(variant)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                raise ValueError(f"sweep.variants.{i}.topology: {where + ': ' if where else ''}"
                                 f"{err['msg'].removeprefix('Value error, ')}") from None
        return self

    def variant_topology(self, variant) -> Topology:
        """The topology a sweep variant deploys: the scenario's, with the variant's server and topology changes."""
        changes = dict(variant.topology or {}) if variant is not None else {}
        if variant is not None and variant.server:
            changes["server"] = variant.server
        return Topology.model_validate({**self.topology.model_dump(), **changes}) if changes else self.topology

    @model_validator(mode="after")
    def _workers_on_kubernetes(self) -> "Scenario":
        if self.workload.locust.workers is not None and self.platform != "kubernetes":
            raise ValueError(f"workload.locust.workers: Locust workers run as pods in a Kubernetes cluster; the "
                             f"{self.platform} platform runs Locust on this machine (use processes for more "
                             f"Locust processes here, or run with --platform kubernetes)")
        pods = ([("workload.openloop.workers", self.workload.openloop)] if self.workload.openloop.enabled else []) + [
            ("sweep.load.workers", load) for _, load in (self.sweep.variant_loads() if self.sweep else [])]
        for field, load in pods:
            if load.workers is not None and self.platform != "kubernetes":
                raise ValueError(f"{field}: generator pods run in a Kubernetes cluster; the {self.platform} platform "
                                 f"runs the generator on this machine (use processes for more of them here, or run "
                                 f"with --platform kubernetes)")
        return self

    @model_validator(mode="after")
    def _benchmark_job_on_kubernetes(self) -> "Scenario":
        if self.workload.redis_benchmark.in_cluster and self.platform != "kubernetes":
            raise ValueError(f"workload.redis_benchmark.in_cluster: the Job runs in a Kubernetes cluster; the "
                             f"{self.platform} platform runs redis-benchmark on this machine (leave in_cluster off, "
                             f"or run with --platform kubernetes)")
        if self.workload.redis_benchmark.in_cluster and self.topology.kind == "naive":
            raise ValueError("workload.redis_benchmark.in_cluster: not for the naive topology (its three primaries "
                             "behind one Service have no primary to aim at); leave in_cluster off")
        return self

    @model_validator(mode="after")
    def _prestop_on_kubernetes(self) -> "Scenario":
        if self.topology.prestop_failover and self.platform != "kubernetes":
            raise ValueError("topology.prestop_failover: a preStop hook runs only on Kubernetes; the local "
                             "platform has none (run with --platform kubernetes, or leave the switch off)")
        return self

    @model_validator(mode="after")
    def _faults_fit_topology(self) -> "Scenario":
        if self.topology.kind == "naive":
            for name in ("locust", "redis_benchmark", "openloop"):
                if getattr(self.workload, name).enabled:
                    raise ValueError(f"workload.{name}: a naive topology is measured with the probe only (its "
                                     f"drivers know no Service that spreads connections over independent primaries)")
        for i, fault in enumerate(self.faults):
            if fault.at_s < MIN_BASELINE_S:
                raise ValueError(
                    f"faults.{i}.at_s: {fault.at_s:g}s leaves less baseline than the throughput baseline needs: "
                    f"at least {MIN_BASELINE_S:g}s of load before the first fault (a driver's first second is "
                    f"partial and not counted, so whole seconds of baseline remain)"
                )
            for field_path, target in fault_targets(fault):
                problem = target_problem(self.topology, target)
                if problem:
                    raise ValueError(f"faults.{i}.{field_path}: {problem}")
            if isinstance(fault, Upgrade):
                problem = _drill_problem(self.topology, fault)
                if problem:
                    raise ValueError(f"faults.{i}.{problem}")
            last_end = fault.firings()[-1][1]
            if last_end > self.duration_s:
                raise ValueError(
                    f"faults.{i}.at_s: the fault's last firing ends at {last_end:g}s, after the run ends "
                    f"(duration_s {self.duration_s:g})"
                )
        return self


def fault_targets(fault: FaultBase) -> list[tuple[str, FaultTarget]]:
    """Every target selector a fault holds, with its field path (for messages)."""
    found = [("target", fault.target)] if fault.target is not None else []
    for g, side in enumerate(getattr(fault, "groups", None) or []):
        found += [(f"groups.{g}.{j}", t) for j, t in enumerate(side)]
    found += [(f"peers.{j}", t) for j, t in enumerate(getattr(fault, "peers", None) or [])]
    return found


def _drill_problem(topology: Topology, fault: "Upgrade") -> str | None:
    if topology.kind == "standalone" and fault.strategy != "naive":
        return (f"strategy: {fault.strategy!r} needs replicas to move traffic to; a standalone topology can only "
                "be upgraded in place (strategy: naive)")
    if fault.strategy != "rollback" and set(map(topology.server_for, topology.redis_pod_names())) == {fault.to}:
        return f"to: every Redis pod runs {fault.to!r} already: nothing to upgrade"
    if fault.strategy == "rollback" and len(set(map(topology.server_for, topology.redis_pod_names()))) != 1:
        return "strategy: rollback goes back to the one version the pods start with; pod_servers mixes versions"
    return None


def target_problem(topology: Topology, target: FaultTarget) -> str | None:
    if target.pod is not None and target.pod not in topology.pod_names():
        return f"target pod {target.pod!r} is not in this topology; pods: {topology.pod_names()}"
    if target.role == "sentinel" and topology.kind != "sentinel":
        return f"target role 'sentinel' but topology {topology.kind!r} has no sentinels"
    if target.role == "replica" and topology.replicas == 0:
        return f"target role 'replica' but topology {topology.kind!r} has no replicas"
    if target.shard is not None:
        if topology.kind != "cluster":
            return f"target shard {target.shard} but topology {topology.kind!r} has no shards"
        if target.shard >= topology.shards:
            return f"target shard {target.shard} but the cluster has shards 0..{topology.shards - 1}"
    return None


# --------------------------------------------------------------------------- loading


def load_scenario(path: str | Path, overrides: dict | None = None) -> Scenario:
    """Read and validate a scenario file; raise ScenarioError naming the file, field path and problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {yaml_problem(exc)}") from None
    except (IsADirectoryError, UnicodeDecodeError, PermissionError) as exc:
        why = getattr(exc, "strerror", None) or type(exc).__name__
        raise ScenarioError(f"{path}: not a readable scenario file ({why})") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario is a YAML mapping, got {type(raw).__name__}")
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value)
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(path, exc)) from None


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error on one line: where, and what (PyYAML's own text spans several lines)."""
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + (problem or " ".join(str(exc).split()))


def _set_dotted(raw: dict, dotted: str, value: object) -> None:
    """Set one field by its dotted path; a number indexes a list (`faults.0.at_s`), as pydantic names it."""
    node: object = raw
    *parents, leaf = dotted.split(".")
    for depth, key in enumerate(parents):
        node = _child(node, key, dotted, ".".join(parents[:depth]) or "the scenario", create=True)
    where = ".".join(parents) or "the scenario"
    if isinstance(node, list):
        index = _list_index(node, leaf, dotted, where)
        node[index] = value
    elif isinstance(node, dict):
        node[leaf] = value
    else:
        raise ScenarioError(f"--set {dotted}: {where} is a value, not a section")


def _child(node: object, key: str, dotted: str, where: str, *, create: bool) -> object:
    if isinstance(node, list):
        return node[_list_index(node, key, dotted, where)]
    if not isinstance(node, dict):
        raise ScenarioError(f"--set {dotted}: {where} is a value, not a section")
    return node.setdefault(key, {}) if create else node[key]


def _list_index(items: list, key: str, dotted: str, where: str) -> int:
    if not re.fullmatch(r"\d+", key):
        raise ScenarioError(f"--set {dotted}: {where} is a list; index it by number (e.g. {where}.0)")
    index = int(key)
    if index >= len(items):
        have = f"indices 0 to {len(items) - 1}" if items else "it is empty"
        raise ScenarioError(f"--set {dotted}: {where} has no entry {index} ({have})")
    return index


def format_validation_error(path: Path, exc: ValidationError) -> str:
    """One line (CI logs and terminals show one line per error): the file, then each field and problem."""
    problems = [_located(err) for err in exc.errors()]
    if len(problems) == 1:
        return f"{path}: invalid scenario: {problems[0]}"
    return f"{path}: invalid scenario ({len(problems)} problems): " + "; ".join(problems)


def _located(err: Any) -> str:
    """`field.path: problem` for one pydantic error."""
    loc = ".".join(str(p) for p in err["loc"] if not _is_union_tag(p)) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    located = re.match(r"^([a-z_]+(?:\.[a-z0-9_]+)*): (.*)$", msg, re.S)
    if err["type"] == "value_error" and located:  # a cross-field check names its own field
        loc = ".".join(p for p in (loc if err["loc"] else "", located.group(1)) if p)
        msg = located.group(2)
    if err["type"] == "extra_forbidden":
        msg = "unknown field (check the spelling; see docs/scenarios.md)"
    return f"{loc}: {msg}"


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and part in {
        "pod-kill", "pod-delete", "pause", "partition", "packet-loss", "latency", "bandwidth", "upgrade"
    }

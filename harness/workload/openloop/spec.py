"""The open-loop generator's and the sweep's scenario sections (validated before anything is deployed)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

OPENLOOP_COMMANDS = ("get", "set", "incr", "hset", "hget", "lpush")
OpenLoopCommand = Literal["get", "set", "incr", "hset", "hget", "lpush"]


def positive_mix(mix: dict[str, float]) -> dict[str, float]:
    """A command mix's check, shared with the Locust workload's."""
    if not mix or any(w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError("mix needs at least one command with a positive weight, and no negative weights")
    return mix


def value_size_range(v: int | tuple[int, int], most: int | None = None) -> int | tuple[int, int]:
    """A value size or [min, max]: 1 <= min <= max (<= most)."""
    lo, hi = (v, v) if isinstance(v, int) else v
    if lo < 1 or hi < lo or (most is not None and hi > most):
        bound = f" <= {most}" if most is not None else ""
        raise ValueError(f"value_size must be >= 1, or [min, max] with 1 <= min <= max{bound}; got {v}")
    return v


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _default_mix() -> dict[OpenLoopCommand, float]:
    return {"get": 8.0, "set": 2.0}


class OpenLoopLoad(_Model):
    """What the generator sends, and with how many connections and processes."""

    clients: int = Field(50, ge=1, le=10000, description="connections per target node, over all processes")
    processes: int = Field(1, ge=1, le=64, description="generator processes (one core each at most)")
    workers: int | None = Field(None, ge=1, le=64, description=(
        "Kubernetes: generator pods in the run's namespace, one process each, instead of processes on the "
        "harness's machine (requests leave next to the servers; more pods, more cores)"))
    pipeline: int = Field(1, ge=1, le=1024, description="commands in flight per connection, written together")
    mix: dict[OpenLoopCommand, float] = Field(default_factory=_default_mix)
    keyspace: int = Field(10000, ge=1)
    key_distribution: Literal["uniform", "zipfian"] = "uniform"
    zipf_skew: float = Field(0.99, gt=0)
    value_size: int | tuple[int, int] = 64
    timeout_ms: int = Field(1000, ge=10, description="a reply later than this counts as a timeout (outcome unknown)")
    late_ms: float = Field(5.0, gt=0, description="a request sent later than this after its intended time "
                                                  "is counted as not sent on time")
    max_backlog_ms: float = Field(1000.0, gt=0, description="a request still unsent this long after its intended "
                                                            "time is dropped and counted (like k6's dropped iterations)")
    tick_us: int = Field(200, ge=20, le=10000, description="the scheduler's tick: requests due are sent at the "
                                                           "next tick (latency still counts from the exact schedule)")

    _mix = field_validator("mix")(classmethod(lambda cls, mix: positive_mix(mix)))
    _size = field_validator("value_size")(classmethod(lambda cls, v: value_size_range(v, 64 * 1024 * 1024)))

    @model_validator(mode="after")
    def _enough_clients(self) -> "OpenLoopLoad":
        if self.workers is not None and self.processes > 1:
            raise ValueError(f"processes: each generator pod runs one process; scale with workers "
                             f"(got processes {self.processes} with workers {self.workers})")
        share = self.workers or self.processes
        if self.clients < share:
            raise ValueError(f"clients: {self.clients} connections cannot be shared by {share} "
                             f"{'pods' if self.workers else 'processes'} (each needs at least one)")
        return self

    @property
    def max_value_size(self) -> int:
        return self.value_size if isinstance(self.value_size, int) else self.value_size[1]


class Variant(_Model):
    """One curve of a comparison: a name and what it changes (server version, value size, ...)."""

    name: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,40}$")
    server: str | None = Field(None, description="system | redis-6.2 | valkey-9.1 | a path (a new deployment)")
    topology: dict[str, Any] | None = Field(None, description="topology fields this variant changes, e.g. "
                                                              "{kind: cluster, shards: 3} (checked like `topology`)")
    value_size: int | None = Field(None, ge=1)
    pipeline: int | None = Field(None, ge=1, le=1024)
    clients: int | None = Field(None, ge=1, le=10000)
    mix: dict[Literal["get", "set", "incr", "hset", "hget", "lpush"], float] | None = None


class Sweep(_Model):
    """Steps of offered rate, each held for step_s after warmup_s; optional variants compared on one chart."""

    rates: list[float] | None = Field(None, description="offered ops/s per step, in order")
    from_rate: float | None = Field(None, alias="from", gt=0)
    to_rate: float | None = Field(None, alias="to", gt=0)
    steps: int | None = Field(None, ge=2, le=200)
    step_s: float = Field(5.0, gt=0, le=3600)
    warmup_s: float = Field(1.0, ge=0, le=600, description="the first seconds of each step are not measured")
    load: OpenLoopLoad = Field(default_factory=OpenLoopLoad)
    preload_keys: int = Field(100_000, ge=0, le=50_000_000, description="keys written before the steps "
                                                                         "(memory per key; GETs then hit)")
    memory_samples: int = Field(200, ge=1, le=10000, description="keys sampled with MEMORY USAGE")
    slo_p99_ms: float = Field(1.0, gt=0, description="the latency SLO: max sustainable throughput keeps p99 under it")
    target_ops_per_s: float | None = Field(None, gt=0, description="a load you plan for: the report gives its headroom")
    stop_after_saturated: int = Field(2, ge=1, le=100, description="stop a variant's sweep after this many "
                                                                   "saturated steps in a row")
    variants: list[Variant] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _one_schedule(self) -> "Sweep":
        ranged = (self.from_rate, self.to_rate, self.steps)
        if self.rates is not None and any(x is not None for x in ranged):
            raise ValueError("rates: give either `rates` or `from`/`to`/`steps`, not both")
        if self.rates is None:
            if any(x is None for x in ranged):
                raise ValueError("rates: give `rates: [...]` or all of `from`, `to` and `steps`")
            if self.to_rate <= self.from_rate:  # type: ignore[operator]
                raise ValueError(f"to: {self.to_rate:g} must be larger than from ({self.from_rate:g})")
        elif not self.rates or any(r <= 0 for r in self.rates):
            raise ValueError("rates: needs at least one rate, every one > 0")
        if self.warmup_s >= self.step_s:
            raise ValueError(f"warmup_s: {self.warmup_s:g}s leaves nothing of a {self.step_s:g}s step to measure")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variants: names must differ, got {names}")
        self.variant_loads()  # a variant's load must be valid too (e.g. its clients against load.processes)
        return self

    def rate_list(self) -> list[float]:
        if self.rates is not None:
            return list(self.rates)
        lo, hi, n = self.from_rate, self.to_rate, self.steps
        assert lo is not None and hi is not None and n is not None  # _one_schedule: all three, or rates
        return [round(lo + (hi - lo) * i / (n - 1), 3) for i in range(n)]

    def variant_loads(self) -> list[tuple[Variant | None, OpenLoopLoad]]:
        """(variant, the load it runs) for each curve; one unnamed curve when there are no variants."""
        if not self.variants:
            return [(None, self.load)]
        out: list[tuple[Variant | None, OpenLoopLoad]] = []
        for v in self.variants:
            changes = {k: getattr(v, k) for k in ("value_size", "pipeline", "clients", "mix") if getattr(v, k) is not None}
            try:
                out.append((v, OpenLoopLoad.model_validate({**self.load.model_dump(), **changes})))
            except ValidationError as exc:
                problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
                raise ValueError(f"variants: {v.name}: {problem}") from None
        return out

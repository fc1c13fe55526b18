"""What the runner asks of a load driver (Locust here or in the cluster, redis-benchmark, the open-loop generator)."""

from __future__ import annotations

from typing import Protocol


class LoadDriver(Protocol):
    name: str

    def prepare(self) -> None:
        """Before the run's t = 0: whatever must be ready when the load starts (in-cluster pods)."""

    def start(self) -> None:
        """At t = 0: start the load, bounded by the run's end."""

    def wait(self, timeout: float | None = None) -> int:
        """After the run's end: the load ended (or was stopped) and its figures collected; an exit code."""

    def stop(self) -> int:
        """Stop now and collect (idempotent; also before start)."""

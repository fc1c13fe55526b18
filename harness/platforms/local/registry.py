"""Which deployment owns which prefix, machine-wide: `cleanup` must not sweep a live run's network.

A deployment's state file lives under its state root (`REDIS_HARNESS_STATE`), but its namespaces and
links are the machine's. A `cleanup` that judged liveness only by the state files under its own root
killed runs started with another root (another user, another checkout's tests). Each local
deployment therefore records its prefix here, pointing at its state file, before it creates anything.
"""

from __future__ import annotations

from pathlib import Path

REGISTRY = Path("/run/lock/redis-harness/deployments")


def register(prefix: str, state_file: Path) -> None:
    REGISTRY.mkdir(parents=True, exist_ok=True)
    (REGISTRY / prefix).write_text(str(Path(state_file).resolve()) + "\n")


def unregister(prefix: str) -> None:
    try:
        (REGISTRY / prefix).unlink()
    except FileNotFoundError:
        pass


def registered() -> dict[str, Path]:
    """prefix -> the state file its deployment recorded (which may since have gone)."""
    if not REGISTRY.is_dir():
        return {}
    found = {}
    for entry in REGISTRY.iterdir():
        try:
            found[entry.name] = Path(entry.read_text().strip())
        except OSError:
            continue
    return found

"""SIGINT and SIGTERM as one exception, so every exit path runs the same `finally` (heal, teardown)."""

from __future__ import annotations

import contextlib
import signal
from typing import Iterator


class Interrupted(BaseException):
    """Raised in the main thread on SIGINT/SIGTERM; BaseException so `except Exception` cannot swallow it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    def handler(signum, frame):  # noqa: ARG001
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[list[int]]:
    """Hold SIGINT/SIGTERM while cleaning up: a second Ctrl-C must not abort the heal half-way."""
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda s, f: received.append(s)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

"""Poll a condition instead of sleeping: the one way the harness waits for anything."""

from __future__ import annotations

import threading
import time
from typing import Callable, Sequence, TypeVar

from harness.errors import HarnessError

T = TypeVar("T")


class PollTimeout(TimeoutError):
    pass


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.05,
    what: str = "condition",
    describe_failure: Callable[[], str] | None = None,
) -> T:
    """Call `condition` until it returns a truthy value (returned) or `timeout` passes.

    Exceptions raised by `condition` count as "not yet"; the last one is quoted on timeout.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except HarnessError:
            raise  # a definite failure (the process died), not a "not yet"
        except Exception as exc:  # noqa: BLE001 - the condition's failures are the thing we wait out
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f"; last error: {last_error!r}" if last_error else ""
            extra = f"\n{describe_failure()}" if describe_failure else ""
            raise PollTimeout(f"timed out after {timeout:g}s waiting for {what}{detail}{extra}")
        time.sleep(interval)


def join_all(threads: Sequence[threading.Thread | None], timeout: float) -> list[str]:
    """Join threads against one shared deadline; returns the names of those still alive."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in threads if t is not None and t.is_alive()]

"""A load tool run as a separate, bounded process group that the harness can stop.

Locust and redis-benchmark run under `timeout(1)` in a new session: the tool ends by itself at
its bound even if the harness is SIGKILLed (nothing is left hammering a deployment), and a stop
that the tool does not obey within its grace kills every process of the group (Locust's
`--processes` workers too).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Callable

KILL_AFTER_S = 10  # timeout(1) sends SIGKILL this long after its own SIGTERM


class ChildProcess:
    def __init__(self, argv: list[str] | Callable[[], list[str]], *, max_s: float, env: dict[str, str] | None = None,
                 cwd: str | Path | None = None, log: Path | None = None, pipe_stdout: bool = False):
        """`argv` may be a function, called at start (a target resolved when the load starts, not before).
        `pipe_stdout`: stdout and stderr together on `stdout` for the caller to read; else both to `log`."""
        self._argv = argv
        self.argv: list[str] = [] if callable(argv) else list(argv)
        self.max_s = max_s
        self._env, self._cwd, self._log, self._pipe = env, cwd, log, pipe_stdout
        self._proc: subprocess.Popen | None = None
        self._log_file: IO | None = None

    @property
    def stdout(self) -> IO[bytes] | None:
        return self._proc.stdout if self._proc else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        # --foreground: timeout(1) signals only the tool's main process, which stops its own helpers
        # in order (Locust's master collects its workers' final stats); stop() kills the group if needed.
        self.argv = self._argv() if callable(self._argv) else self.argv
        bound = ["timeout", "--foreground", "-k", str(KILL_AFTER_S), f"{max(1.0, self.max_s):.0f}"]
        self._log_file = open(self._log, "ab") if self._log else None
        self._proc = subprocess.Popen(
            bound + self.argv, env=self._env, cwd=self._cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if self._pipe else (self._log_file or subprocess.DEVNULL),
            stderr=subprocess.STDOUT if self._pipe else (self._log_file or subprocess.DEVNULL),
            start_new_session=True,
        )

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait(self, timeout: float | None) -> int | None:
        """The exit code, or None if still running after `timeout` seconds."""
        if self._proc is None:
            return None
        try:
            return self._finished(self._proc.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace_s: float = 15.0) -> int | None:
        """SIGTERM to the tool (timeout(1) forwards it), then SIGKILL its whole group after `grace_s`."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)  # the leader is unreaped, so the group id is still ours
                self._proc.wait(timeout=10)
        return self._finished(self._proc.returncode)

    def _signal_group(self, sig: int) -> None:
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, sig)
        except ProcessLookupError:
            pass

    def _finished(self, rc: int) -> int:
        if self._log_file is not None and not self._log_file.closed:
            self._log_file.close()
        return rc


class RunBoundChild:
    """A ChildProcess that is also stopped (gracefully) when the run's duration is up.

    Tools' own duration options start counting late (Locust after its workers connect and users
    spawn), so the run's end is enforced here, on the run clock; `stop_reason` says who stopped it.
    """

    def __init__(self, child: ChildProcess, *, ends_in_s: float, start_in_s: float = 0.0,
                 on_start: Callable[[], None] = lambda: None):
        """`on_start` runs right after the tool started (in the caller's thread, or the lifetime thread)."""
        self.child = child
        self._on_start = on_start
        self.stop_reason: str | None = None  # None: ended by itself; "run-end"; "harness"
        self.error: Exception | None = None  # a delayed start that failed
        self._t0 = time.monotonic()
        self._ends_in_s, self._start_in_s = ends_in_s, start_in_s
        self._cancel = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._lifetime, name="load-lifetime", daemon=True)

    def start(self) -> None:
        """Start now (errors raise here), or from the lifetime thread after `start_in_s`."""
        self._t0 = time.monotonic()
        if self._start_in_s <= 0:
            self.child.start()
            self._started.set()
            self._on_start()
        self._thread.start()

    def _lifetime(self) -> None:
        if not self._started.is_set():
            try:
                if self._cancel.wait(self._start_in_s):
                    return
                self.child.start()
                self._on_start()
            except Exception as exc:  # noqa: BLE001 - reported by the driver through `error`
                self.error = exc
                return
            finally:
                self._started.set()
        remaining = self._ends_in_s - (time.monotonic() - self._t0)
        if not self._cancel.wait(max(0.0, remaining)) and self.child.running():
            self.stop_reason = self.stop_reason or "run-end"
            self.child.stop()

    @property
    def started(self) -> bool:
        return self.child.pid is not None

    def wait_started(self, timeout: float) -> bool:
        """True once the tool is running (or has run); False if cancelled, failed or not yet due."""
        return self._started.wait(timeout) and self.started

    def wait(self, timeout: float) -> int | None:
        """Exit code once the tool has ended (by itself or at the run's end); None past `timeout`."""
        deadline = time.monotonic() + timeout
        if not self._started.wait(timeout):
            return None
        if not self.started:
            return 0  # cancelled before it was due to start
        return self.child.wait(max(0.0, deadline - time.monotonic()))

    def stop(self) -> int | None:
        self._cancel.set()
        self._started.wait(5)
        if not self.started:
            return 0
        if self.child.running():
            self.stop_reason = self.stop_reason or "harness"
        rc = self.child.stop()
        self._thread.join(timeout=30)
        return rc


class ChildDriver:
    """What the load drivers share around their RunBoundChild: wait, stop, and collecting once.

    Subclasses set `name` and `grace_s`, create `self._run` in `start()`, and turn the tool's
    output into tables in `_collect(rc)`, which runs exactly once whichever way the tool ended.
    """

    name = "driver"
    grace_s = 30.0

    def __init__(self, deployment, spec, run_dir, clock, events, *, duration_s: float, seed: int = 0):
        self.deployment, self.spec, self.run_dir = deployment, spec, run_dir
        self.clock, self.events, self.duration_s, self.seed = clock, events, duration_s, seed
        self._run: RunBoundChild | None = None
        self._finish_lock = threading.Lock()
        self._rc: int | None = None

    def prepare(self) -> None:
        """Before the run's t = 0 (the load's start): nothing to make ready for a tool this machine starts."""

    def _started(self) -> RunBoundChild:
        """The child `start()` made (every caller runs after it)."""
        if self._run is None:
            raise RuntimeError(f"{type(self).__name__} used before start()")
        return self._run

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the tool to end (by itself, or at the run's end); past `timeout` (default: the
        run's end plus a grace) it is stopped and that is an error. Returns its exit code."""
        if self._run is None:
            raise RuntimeError(f"{type(self).__name__}.wait() before start()")
        if timeout is None:
            timeout = max(0.0, self.duration_s - self.clock.t()) + self.grace_s
        rc = self._run.wait(timeout)
        if rc is None:
            self.events.emit("driver", "driver-error", driver=self.name,
                             detail=f"still running {timeout:g}s after wait() began; stopping it")
            return self.stop()
        return self._finish(rc)

    def stop(self) -> int:
        """SIGTERM to the tool's process group (so it writes its final stats), SIGKILL if it lingers."""
        if self._run is None:
            return 0
        rc = self._run.stop()
        return self._finish(rc if rc is not None else -1)

    def _finish(self, rc: int) -> int:
        with self._finish_lock:
            if self._rc is None:
                self._rc = rc
                self._collect(rc)
            return self._rc

    def _collect(self, rc: int) -> None:
        raise NotImplementedError

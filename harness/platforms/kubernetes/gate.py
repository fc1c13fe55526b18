"""A line written into a pod's file at a moment the harness chooses, through an exec opened in advance."""

from __future__ import annotations

from typing import Any

from harness.errors import PlatformError


class Gate:
    """An exec into a pod, opened before t = 0 and waiting on its stdin: at the start one line crosses
    the open websocket and the exec writes it to `path` (atomically: the pod sees all of it or nothing),
    so the start costs one message rather than an exec's round trip (~60-160 ms on the fixture). The
    redis-benchmark Job's `go` and each open-loop generator pod's start (harness.platforms.kubernetes.openloop)."""

    def __init__(self, exec_core: Any, namespace: str, pod: str, container: str, path: str):
        from kubernetes.stream import stream

        self._ws = stream(exec_core.connect_get_namespaced_pod_exec, pod, namespace, container=container,
                          command=["sh", "-c", f'read s && echo "$s" > {path}.tmp && mv {path}.tmp {path}'],
                          stdin=True, stdout=True, stderr=True, tty=False, _preload_content=False)
        self.path = path

    def open(self, line: str) -> None:
        """Write `line`; returns once it is written."""
        self._ws.write_stdin(f"{line}\n")
        self._ws.run_forever(timeout=10)
        code, err = self._ws.returncode, self._ws.read_stderr()
        self._ws.close()
        if code != 0:
            raise PlatformError(f"opening the gate {self.path} failed (exit {code}): {err.strip()}")

    def close(self) -> None:
        self._ws.close()

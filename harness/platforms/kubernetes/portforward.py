"""Local TCP ports that reach pods: how the harness talks to Redis from outside the cluster.

Each accepted connection opens its own upstream (a Kubernetes port-forward stream to the pod by
name), so a pod that the StatefulSet recreated with a new IP is reached again without any
bookkeeping. The relay itself is plain sockets and threads; `connect` is the only Kubernetes part.
"""

from __future__ import annotations

import selectors
import socket
import threading
from typing import Any, Callable

BUFFER = 65536


class Relay:
    """Listen on host:port (0 = any free port) and pump bytes between each client and `connect()`."""

    def __init__(self, connect: Callable[[], Any], host: str = "127.0.0.1", port: int = 0):
        self._connect = connect
        self._listener = socket.create_server((host, port), reuse_port=False)
        self._listener.settimeout(0.2)
        self.host, self.port = self._listener.getsockname()[:2]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: set[Any] = set()
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"relay:{self.port}", daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            worker = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [worker]
            worker.start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = self._connect()
        except Exception:  # noqa: BLE001 - an unreachable pod looks like a refused connection to the client
            client.close()
            return
        with self._lock:
            self._open.update((client, upstream))
        try:
            self._pump(client, upstream)
        finally:
            with self._lock:
                self._open.difference_update((client, upstream))
            for s in (client, upstream):
                try:
                    s.close()
                except OSError:
                    pass

    def _pump(self, client: socket.socket, upstream: Any) -> None:
        peer = {client.fileno(): (client, upstream), upstream.fileno(): (upstream, client)}
        with selectors.DefaultSelector() as sel:
            for fd in peer:
                sel.register(fd, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    src, dst = peer[key.fd]
                    try:
                        data = src.recv(BUFFER)
                    except OSError:
                        return
                    if not data:
                        return
                    try:
                        dst.sendall(data)
                    except OSError:
                        return

    def close(self) -> None:
        """Stop accepting, cut every open connection, and wait for the threads (bounded)."""
        self._stop.set()
        self._listener.close()
        with self._lock:
            for s in list(self._open):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._acceptor.join(timeout=5)
        for t in self._threads:
            t.join(timeout=5)


def kubernetes_connect(core_api: Any, namespace: str, pod: str, port: int) -> Callable[[], Any]:
    """A `connect` for Relay: a fresh port-forward stream to the pod (by name) for each connection."""

    def connect() -> Any:
        from kubernetes.stream import portforward

        forward = portforward(core_api.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
        sock = forward.socket(port)
        sock.setblocking(True)
        return sock

    return connect

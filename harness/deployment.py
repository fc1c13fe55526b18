"""What a platform deploys, as plain data: the Deployment and its Pods, and where their state lives.

Both sides of the platform seam import this: the platforms (harness/platforms/) that make
deployments, and everything that uses one (nemesis, workloads, watchers, roles, the CLI). A
Deployment is saved as JSON, so `status`, `destroy`, Chaos Toolkit actions and `cleanup` can act
on a topology that another process deployed.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.procs import process_alive
from harness.scenario import Topology


def state_root() -> Path:
    """Where deployments keep configs, data dirs and their state file (override: REDIS_HARNESS_STATE).

    Absolute even when the variable is relative: servers start with their data dir as working
    directory and Locust with the run's raw/, so a relative conf or log path would point elsewhere.
    """
    return Path(os.environ.get("REDIS_HARNESS_STATE", "/tmp/redis-harness")).absolute()


_SAVE_LOCK = threading.Lock()
TLS_DIR = "tls"  # in the deployment's state dir: its CA, each pod's certificate and the clients' (harness/tls.py)
# a kubernetes.io/tls Secret's keys (the files where a pod mounts it), by TlsFiles field
SECRET_FILES = {"ca": "ca.crt", "cert": "tls.crt", "key": "tls.key"}


@dataclass(frozen=True)
class TlsFiles:
    """One TLS party's files: the deployment's CA certificate, and this party's certificate and key.

    `check_hostname` False on Kubernetes: there the pods share one certificate naming their DNS names
    (made before the pods, whose IPs nobody knows yet), while the harness dials pod IPs or 127.0.0.1
    (port-forward), and redis-py checks the name it dials (it has no separate server_hostname). The
    chain is still checked against the deployment's own CA, whose key was never written: only this
    deployment's pods hold a certificate it signed."""

    ca: str
    cert: str
    key: str
    check_hostname: bool = True

    @classmethod
    def mounted(cls, directory: str) -> "TlsFiles":
        """A Kubernetes pod's view of the deployment's Secret mounted at `directory`: the CA and the pods' shared
        certificate, which serves a client too (clientAuth: the servers present it to each other). Checked as
        every client on Kubernetes checks: the chain, not the name (above)."""
        return cls(**{field: f"{directory}/{name}" for field, name in SECRET_FILES.items()}, check_hostname=False)


@dataclass
class Pod:
    name: str
    kind: str  # "redis" | "sentinel"
    host: str  # address the harness reaches it on
    port: int
    shard: int | None = None
    initial_role: str = ""
    server: str = "system"
    version: str = ""
    netns: str | None = None  # local platform: the pod's network namespace
    pid: int | None = None  # local platform: the server process
    data_dir: str = ""
    conf: str = ""
    log: str = ""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class Deployment:
    id: str
    platform: str
    topology: dict
    pods: list[Pod]
    client_address: str  # the harness's own address on the pods' network
    network: str  # "netns" | "loopback" | "kubernetes"
    state_dir: str
    owner_pid: int | None = None  # a run owns its deployment; None = interactive (`deploy`)
    extra: dict = field(default_factory=dict)

    def kept_by_cleanup(self, everything: bool) -> bool:
        """`cleanup` leaves it alone: a run in progress (its owner process alive, and not the caller),
        or an interactive deployment (`redis-harness deploy`, no owner) unless `everything`."""
        if self.owner_pid is None:
            return not everything
        return self.owner_pid != os.getpid() and process_alive(self.owner_pid)

    @property
    def topo(self) -> Topology:
        return Topology.model_validate(self.topology)

    @property
    def password(self) -> str | None:
        return self.topology.get("password")

    @property
    def tls(self) -> TlsFiles | None:
        """What every client of a `topology.tls` deployment connects with (harness/redisconn.py); None without TLS."""
        return self._tls_files("client")

    def pod_tls(self, pod: Pod) -> TlsFiles | None:
        """A server's own certificate and key (its address as SAN), for its redis.conf / sentinel.conf."""
        return self._tls_files(pod.name)

    def _tls_files(self, party: str) -> TlsFiles | None:
        if not self.topology.get("tls"):
            return None
        if self.extra.get("tls_mount"):  # a pod's view (a generator pod): the deployment's Secret, mounted there
            return TlsFiles.mounted(self.extra["tls_mount"])
        directory = Path(self.state_dir) / TLS_DIR
        return TlsFiles(ca=str(directory / "ca.crt"), cert=str(directory / f"{party}.crt"),
                        key=str(directory / f"{party}.key"), check_hostname=self.platform != "kubernetes")

    def redis_pods(self) -> list[Pod]:
        return [p for p in self.pods if p.kind == "redis"]

    def sentinel_pods(self) -> list[Pod]:
        return [p for p in self.pods if p.kind == "sentinel"]

    def pod(self, name: str) -> Pod:
        for p in self.pods:
            if p.name == name:
                return p
        raise KeyError(f"no pod {name!r} in deployment {self.id}; pods: {[p.name for p in self.pods]}")

    def pod_by_address(self, host: str, port: int) -> Pod | None:
        """The pod at host:port; also by `extra["aliases"]` ("host:port" -> pod name), for platforms
        whose servers report addresses other than the one the harness dials (Kubernetes pod DNS names)."""
        pod = next((p for p in self.pods if p.host == host and p.port == port), None)
        if pod is None and f"{host}:{port}" in self.extra.get("aliases", {}):
            pod = self.pod(self.extra["aliases"][f"{host}:{port}"])
        return pod

    def dial_address(self, host: str, port: int) -> tuple[str, int]:
        """Where to connect to a server that another server reports as host:port: its pod's address (a
        Kubernetes pod DNS name -> the pod IP or port-forward the harness can reach); else unchanged."""
        pod = self.pod_by_address(host, port)
        return (pod.host, pod.port) if pod else (host, port)

    # ------------------------------------------------------------------ persistence
    @property
    def state_file(self) -> Path:
        return Path(self.state_dir) / "deployment.json"

    def save(self) -> None:
        """Atomic for readers in other processes; one writer at a time here (pods of an all-at-once upgrade
        step are restarted from parallel threads, each saving its new pid)."""
        with _SAVE_LOCK:
            Path(self.state_dir).mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(self), indent=2))
            tmp.replace(self.state_file)

    @classmethod
    def load(cls, path: str | Path) -> "Deployment":
        data = json.loads(Path(path).read_text())
        data["pods"] = [Pod(**p) for p in data["pods"]]
        return cls(**data)


class SavedDeployment:
    """A deployment as the harness saved it, for load processes of their own (Locust's, the open-loop
    generator's): re-read whenever the platform saves it again, because a recreated Kubernetes pod
    comes back at a new address (the platform's refresh saves it), and dialling the address a process
    read at its start would time out for the rest of the run."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._stamp: int | None = None
        self._current: Deployment | None = None

    def current(self) -> Deployment:
        try:
            stamp: int | None = self.path.stat().st_mtime_ns
        except OSError:
            stamp = self._stamp
        if self._current is None or stamp != self._stamp:
            try:
                self._current, self._stamp = Deployment.load(self.path), stamp
            except (OSError, ValueError, TypeError):
                if self._current is None:
                    raise
        return self._current

    def dial_address(self, host: str, port: int) -> tuple[str, int]:
        return self.current().dial_address(host, port)


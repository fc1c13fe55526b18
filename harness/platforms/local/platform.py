"""The embedded default platform: real redis-server / redis-sentinel processes on this machine.

As root each pod gets its own network namespace and address on a bridge, so network faults act
on real packets. Without root pods bind distinct 127.x addresses and network faults are refused.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Sequence

from harness.binaries import resolve_server, tls_missing
from harness.errors import CapabilityError, PlatformError
from harness.platforms.local import netns, registry, service
from harness.deployment import Deployment, Pod, state_root
from harness.poll import PollTimeout, wait_until
from harness.procs import process_alive
from harness.redisconn import pod_client
from harness.roles import sentinel_can_fail_over
from harness.platforms.local.start_role import replica_of
from harness.scenario import Topology
from harness.tls import make_certificates
from harness.pod_config import (
    REDIS_PORT,
    PodSpec,
    initial_primary,
    plan_pods,
    render_redis_conf,
    render_sentinel_conf,
)

READY_TIMEOUT_S = 30.0
STOP_GRACE_S = 15.0  # a pod stop's grace before SIGKILL (Redis waits up to shutdown-timeout, 10 s, for replicas)
CLUSTER_SLOTS = 16384


def tail(path: str | Path, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class LocalPlatform:
    name = "local"

    def __init__(self, root: Path | None = None, network: str | None = None):
        self.root = Path(root).absolute() if root else state_root()  # servers run with their data dir as cwd
        self.network = network or ("netns" if netns.is_root() else "loopback")

    # ------------------------------------------------------------------ capabilities
    def capabilities(self) -> dict[str, str | None]:
        no_net = None if self.network == "netns" else "network faults need root (pods run on loopback addresses)"
        caps = {"pod-kill": None, "pod-delete": None, "pause": None,
                "partition": no_net, "packet-loss": no_net, "bandwidth": no_net, "latency": no_net, "upgrade": None}
        if no_net is None and not shutil.which("iptables"):
            for kind in ("partition", "packet-loss", "latency"):
                caps[kind] = "iptables is not installed (apt-get install iptables)"
        if no_net is None and not shutil.which("tc"):
            caps["bandwidth"] = "tc is not installed (apt-get install iproute2)"
        return caps

    # ------------------------------------------------------------------ deploy
    def deploy(self, topology: Topology, deployment_id: str, *, owner_pid: int | None = None,
               progress=lambda msg: None) -> Deployment:
        # random too: two runs of one scenario started in the same second share a deployment id
        key = hashlib.sha1(f"{deployment_id}\0{secrets.token_hex(4)}".encode()).hexdigest()[:6]
        names = netns.Names(key)
        state_dir = self.root / names.prefix
        if state_dir.exists():
            raise PlatformError(f"deployment state {state_dir} exists already: run `redis-harness cleanup`")
        if topology.kind == "naive" and self.network != "netns":
            raise CapabilityError("a naive topology's Service (iptables DNAT in a namespace, like kube-proxy) needs "
                                  "root for network namespaces")
        specs = plan_pods(topology)
        for spec in specs:
            resolve_server(spec.server)  # fail on a missing binary before anything is made
            if topology.tls and tls_missing(spec.server):  # ... or one without TLS
                raise CapabilityError(f"topology.tls: server {spec.server!r} ({spec.name}): {tls_missing(spec.server)}")
        deployment = Deployment(
            id=deployment_id, platform=self.name, topology=topology.model_dump(mode="json"), pods=[],
            client_address="127.0.0.1", network=self.network, state_dir=str(state_dir), owner_pid=owner_pid,
            extra={"prefix": names.prefix},
        )
        state_dir.mkdir(parents=True)
        deployment.save()  # before any object exists, so `cleanup` can tell this deployment's owner is alive
        registry.register(names.prefix, deployment.state_file)  # ... whatever state root that cleanup uses
        try:
            progress(f"creating {len(specs)} pods ({self.network} network)")
            self._make_network(deployment, names, specs)
            if topology.tls:  # each pod's certificate names its address, known from here on
                make_certificates(state_dir, [(p.name, p.host) for p in deployment.pods])
            deployment.save()
            phases, mark = deployment.extra.setdefault("phases", {}), time.monotonic()
            self._start_all(deployment, topology, [s for s in specs if s.kind != "sentinel"])
            deployment.save()
            progress("waiting for readiness")
            self._wait_ready(deployment, topology)
            phases["redis_ready_s"], mark = round(time.monotonic() - mark, 3), time.monotonic()
            if topology.kind == "sentinel":
                self._start_all(deployment, topology, [s for s in specs if s.kind == "sentinel"])
                self._wait_sentinels_ready(deployment, topology)
                phases["sentinels_ready_s"] = round(time.monotonic() - mark, 3)
            if topology.kind == "cluster":
                progress("creating the cluster")
                self._create_cluster(deployment, topology)
            if topology.kind == "naive":
                progress("creating the Service (kube-proxy's DNAT rules)")
                subnet = deployment.client_address.rsplit(".", 1)[0]
                deployment.extra["service"] = {"netns": names.netns(service.SERVICE_POD)}  # teardown's, if it fails
                deployment.save()
                deployment.extra["service"] = service.create_service(
                    names, subnet, [p.host for p in deployment.redis_pods()], REDIS_PORT)
            deployment.save()
            return deployment
        except BaseException:
            self.teardown(deployment)
            raise

    def _make_network(self, deployment: Deployment, names: netns.Names, specs: list[PodSpec]) -> None:
        if self.network == "netns":
            deployment.extra["bridge"] = names.bridge
            subnet, deployment.client_address = netns.create_bridge_in_free_subnet(names)
            deployment.save()
            addresses = [f"{subnet}.{10 + i}" for i in range(len(specs))]
        else:
            base = int(names.key, 16)
            subnet = f"127.{1 + base % 250}.{base // 250 % 250}"
            addresses = [f"{subnet}.{10 + i}" for i in range(len(specs))]
        for index, (spec, address) in enumerate(zip(specs, addresses)):
            pod_dir = Path(deployment.state_dir) / "pods" / spec.name
            (pod_dir / "data").mkdir(parents=True)
            binary = resolve_server(spec.server)
            pod = Pod(
                name=spec.name, kind=spec.kind, host=address, port=spec.port, shard=spec.shard,
                initial_role=spec.initial_role, server=spec.server, version=f"{binary.product} {binary.version_str}",
                data_dir=str(pod_dir / "data"), conf=str(pod_dir / f"{spec.kind}.conf"), log=str(pod_dir / "server.log"),
            )
            if self.network == "netns":
                pod.netns = netns.create_pod_netns(names, spec.name, index, address)
            deployment.pods.append(pod)

    def _start_all(self, deployment: Deployment, topology: Topology, specs: list[PodSpec]) -> None:
        for spec in specs:
            pod = deployment.pod(spec.name)
            if spec.kind == "sentinel":
                announce = pod.host if self.network == "loopback" else None  # see _write_redis_conf
                conf = render_sentinel_conf(topology, bind=pod.host, data_dir=pod.data_dir, logfile=pod.log,
                                            primary_host=deployment.pod("redis-0").host, announce_ip=announce,
                                            tls=deployment.pod_tls(pod))
                Path(pod.conf).write_text(conf)
            else:
                primary = initial_primary(topology, spec)
                self._write_redis_conf(deployment, pod, replicaof=deployment.pod(primary).host if primary else None)
            self._spawn(deployment, pod)

    def _spawn(self, deployment: Deployment, pod: Pod) -> None:
        binary = resolve_server(pod.server)
        argv = binary.sentinel_argv(pod.conf) if pod.kind == "sentinel" else binary.server_argv(pod.conf)
        if pod.netns:
            argv = ["ip", "netns", "exec", pod.netns, *argv]
        with open(Path(pod.log).with_suffix(".stdout"), "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=pod.data_dir, start_new_session=True)
        pod.pid = proc.pid
        deployment.save()

    # ------------------------------------------------------------------ readiness
    def _describe(self, pod: Pod) -> str:
        text = f"last lines of {pod.name}'s log ({pod.log}):\n{tail(pod.log)}"
        stdout = Path(pod.log).with_suffix(".stdout")
        if stdout.exists() and stdout.stat().st_size:
            text += f"\nits output before the log opened:\n{tail(stdout)}"
        return text

    def wait_pod_answers(self, deployment: Deployment, pod: Pod, timeout: float = READY_TIMEOUT_S) -> None:
        def answers() -> bool:
            if not process_alive(pod.pid):
                raise PlatformError(f"pod {pod.name} exited during start-up\n{self._describe(pod)}")
            return bool(pod_client(deployment, pod, timeout=0.5).ping())

        try:
            wait_until(answers, timeout=timeout, what=f"{pod.name} to answer PING",
                       describe_failure=lambda: self._describe(pod))
        except PollTimeout as exc:
            raise PlatformError(str(exc)) from None

    def _wait_ready(self, deployment: Deployment, topology: Topology) -> None:
        """Every Redis pod answers and, under Sentinel, every replica's link is up.

        Sentinels are started only after this (see `_wait_sentinels_ready`): a sentinel learns the
        replicas from the primary's INFO, which it refreshes every 10 s; one started with the
        replicas is likely to read that INFO before they have connected, and then waited 10 s
        for the next refresh (deploys took ~2.3 s or ~10.3 s, nothing between).
        """
        for pod in deployment.redis_pods():
            self.wait_pod_answers(deployment, pod)
        if topology.kind != "sentinel":
            return
        for pod in deployment.redis_pods():
            if pod.initial_role == "replica":
                self._wait(lambda p=pod: pod_client(deployment, p).info("replication").get("master_link_status") == "up",
                           f"{pod.name}'s replication link to come up", pod)

    def _wait_sentinels_ready(self, deployment: Deployment, topology: Topology) -> None:
        """Every sentinel answers, knows every replica with a fresh INFO, and knows the other sentinels.

        A replica a sentinel has listed but not yet INFO'd (`info-refresh` unset) or sees as
        disconnected cannot be chosen for promotion, so a fault fired right after deploy would end
        in `-failover-abort-no-good-slave` and a retry only after failover-timeout.
        """
        for pod in deployment.sentinel_pods():
            self.wait_pod_answers(deployment, pod)
        for s in deployment.sentinel_pods():
            self._wait(lambda s=s: sentinel_can_fail_over(deployment, s, topology.replicas, topology.sentinels),
                       f"{s.name} to see {topology.replicas} replicas and {topology.sentinels - 1} sentinels", s)

    def _wait(self, condition, what: str, pod: Pod, timeout: float = READY_TIMEOUT_S) -> None:
        try:
            wait_until(condition, timeout=timeout, what=what, describe_failure=lambda: self._describe(pod))
        except PollTimeout as exc:
            raise PlatformError(str(exc)) from None

    def _create_cluster(self, deployment: Deployment, topology: Topology) -> None:
        """Slots spread evenly over the shard primaries, replicas attached by CLUSTER REPLICATE.

        Done with the cluster commands rather than `redis-cli --cluster create` so that the shard
        layout is the one the pod names promise (redis-cli picks replica placement itself).
        """
        pods = deployment.redis_pods()
        clients = {p.name: pod_client(deployment, p, timeout=2) for p in pods}
        primaries = [p for p in pods if p.initial_role == "primary"]
        per = CLUSTER_SLOTS // len(primaries)
        for i, p in enumerate(primaries):
            first, last = i * per, (CLUSTER_SLOTS - 1 if i == len(primaries) - 1 else (i + 1) * per - 1)
            clients[p.name].execute_command("CLUSTER", "ADDSLOTS", *range(first, last + 1))
        seed = pods[0]
        for p in pods[1:]:
            clients[p.name].execute_command("CLUSTER", "MEET", seed.host, seed.port)
        for p in pods:
            self._wait(lambda p=p: int(clients[p.name].cluster("info")["cluster_known_nodes"]) == len(pods),
                       f"{p.name} to know all {len(pods)} cluster nodes", p)
        ids = {p.name: clients[p.name].execute_command("CLUSTER", "MYID") for p in primaries}
        for p in pods:
            if p.initial_role == "replica":
                primary = primaries[p.shard or 0]
                self._wait(lambda p=p, primary=primary: clients[p.name].execute_command(
                    "CLUSTER", "REPLICATE", ids[primary.name]), f"{p.name} to replicate {primary.name}", p)
        for p in pods:
            self._wait(lambda p=p: clients[p.name].cluster("info")["cluster_state"] == "ok",
                       f"{p.name} to report cluster_state:ok", p)
            if p.initial_role == "replica":
                self._wait(lambda p=p: clients[p.name].info("replication").get("master_link_status") == "up",
                           f"{p.name}'s replication link to come up", p)

    # ------------------------------------------------------------------ pod primitives
    def run_in_pod_network(self, deployment: Deployment, pod: Pod, argv: Sequence[str], *, check: bool = True,
                           timeout: float = 30) -> subprocess.CompletedProcess:
        full = ["ip", "netns", "exec", pod.netns, *argv] if pod.netns else list(argv)
        proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise PlatformError(f"in {pod.name}'s network, `{' '.join(argv)}` failed: {proc.stderr.strip()}")
        return proc

    def kill_pod(self, deployment: Deployment, pod: Pod) -> None:
        if process_alive(pod.pid):
            os.kill(pod.pid, signal.SIGKILL)
            wait_until(lambda: not process_alive(pod.pid), timeout=10, what=f"{pod.name} to exit")
        _reap(pod.pid)

    def delete_pod(self, deployment: Deployment, pod: Pod) -> None:
        """A local pod-delete stops the server as a kill does; start_pod(wipe_data=True) empties its data."""
        self.kill_pod(deployment, pod)

    def start_pod(self, deployment: Deployment, pod: Pod, *, wipe_data: bool = False) -> None:
        if process_alive(pod.pid):
            return
        if wipe_data:
            data = Path(pod.data_dir)
            for child in data.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        if pod.kind == "redis" and deployment.topo.kind == "sentinel":
            self._write_redis_conf(deployment, pod, replicaof=replica_of(deployment, pod))
        self._spawn(deployment, pod)

    def server_log(self, deployment: Deployment, pod: Pod) -> str:
        """The pod's log file: every server it ran appends to it."""
        try:
            return Path(pod.log).read_text(errors="replace")
        except OSError:
            return ""

    def replace_server(self, deployment: Deployment, pod: Pod, server: str, *, replicaof: str | None) -> None:
        """An in-place upgrade of one pod: stop its server as a container stop does (SIGTERM, SIGKILL after
        STOP_GRACE_S), then start `server` on the same address and data dir with redis.conf rendered for
        that version (so no directive it rejects). `replicaof`: the primary it must follow (Sentinel
        topologies; a cluster node keeps its identity and primary in nodes.conf in the data dir)."""
        binary = resolve_server(server)
        self.stop_pod(deployment, pod)
        pod.server, pod.version = server, f"{binary.product} {binary.version_str}"
        self._write_redis_conf(deployment, pod, replicaof=replicaof)
        self._spawn(deployment, pod)

    def _write_redis_conf(self, deployment: Deployment, pod: Pod, *, replicaof: str | None) -> None:
        """redis.conf for the pod's server version, following `replicaof` (None: as a primary)."""
        # On loopback addresses a pod's outgoing connections come from 127.0.0.1, which is what a
        # replica or sentinel would announce: each announces its own address instead.
        announce = pod.host if self.network == "loopback" else None
        conf = render_redis_conf(deployment.topo, resolve_server(pod.server), bind=pod.host, data_dir=pod.data_dir,
                                 logfile=pod.log, replicaof=replicaof, announce_ip=announce,
                                 tls=deployment.pod_tls(pod))
        Path(pod.conf).write_text(conf)

    def stop_pod(self, deployment: Deployment, pod: Pod) -> None:
        """SIGTERM (the server's own shutdown: it may wait for replicas, and saves if persistence is on)."""
        if process_alive(pod.pid):
            os.kill(pod.pid, signal.SIGTERM)
            try:
                wait_until(lambda: not process_alive(pod.pid), timeout=STOP_GRACE_S, what=f"{pod.name} to exit")
            except PollTimeout:
                os.kill(pod.pid, signal.SIGKILL)
                wait_until(lambda: not process_alive(pod.pid), timeout=10, what=f"{pod.name} to exit")
        _reap(pod.pid)

    def pause_pod(self, deployment: Deployment, pod: Pod) -> None:
        if process_alive(pod.pid):
            os.kill(pod.pid, signal.SIGSTOP)

    def resume_pod(self, deployment: Deployment, pod: Pod) -> None:
        if process_alive(pod.pid):
            os.kill(pod.pid, signal.SIGCONT)

    def collect_logs(self, deployment: Deployment, logs_dir: Path) -> list[str]:
        """Nothing to write: local pods log to files (Pod.log), which the runner copies."""
        return []

    # ------------------------------------------------------------------ teardown
    def teardown(self, deployment: Deployment, *, keep_state: bool = False) -> list[str]:
        """Kill every pod process, delete namespaces and links, remove the state dir. Idempotent."""
        removed: list[str] = []
        for pod in deployment.pods:
            pids = {pod.pid} if pod.pid is not None and process_alive(pod.pid) else set()
            if pod.netns:
                pids.update(netns.netns_pids(pod.netns))  # helpers a fault started in the pod's network
            for pid in pids:
                kill_hard(pid)
                removed.append(f"process {pid} ({pod.name})")
        prefix = deployment.extra.get("prefix", "")
        for link in netns.list_links():
            if prefix and link.startswith(prefix):
                netns.delete_link(link)  # deleting the host end of a veth deletes the pod end too
                removed.append(f"link {link}")
        existing = netns.list_netns()
        service_ns = (deployment.extra.get("service") or {}).get("netns")
        for ns in [pod.netns for pod in deployment.pods] + [service_ns]:
            if ns and ns in existing:
                netns.delete_netns(ns)
                removed.append(f"netns {ns}")
        if not keep_state and Path(deployment.state_dir).exists():
            shutil.rmtree(deployment.state_dir, ignore_errors=True)
            removed.append(f"dir {deployment.state_dir}")
        if not keep_state and prefix:
            registry.unregister(prefix)
        return removed


def kill_hard(pid: int) -> None:
    for sig in (signal.SIGKILL, signal.SIGCONT):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
    deadline = time.monotonic() + 5
    while process_alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.01)
    _reap(pid)


def _reap(pid: int | None) -> None:
    """Collect our own exited children so they do not linger as zombies."""
    if not pid:
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass

"""The Kubernetes platform without a cluster, and with one when KUBECONFIG points at it.

- The pod scripts (plain sh over redis-cli) run here against real local pods: the sentinel
  start script's primary lookup, the readiness probe's stale-primary check, the cluster bootstrap
  and a wiped pod rejoining, the nodes.conf address update.
- The sidecar's iptables rules for a partition run in a real pod's network and cut replication.
- The port-forward relay carries real Redis traffic; role discovery works through it by aliases.
- Fault plans, capabilities and the dry run are data in, data out.
- On a real cluster (marked `kubernetes`): tests/test_kubernetes_e2e.py and tests/test_same_truth.py; those skip
  without KUBECONFIG and fail instead where
  REDIS_HARNESS_K8S_REQUIRED is set (tests/k8s/ci.sh; see tests/conftest.py).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import kubernetes_validate
import pytest
from pydantic import TypeAdapter
import redis
import yaml

from harness.errors import CapabilityError
from harness.nemesis import latency
from harness.platforms.kubernetes import faults
from harness.deployment import Deployment, Pod
from harness.platforms.kubernetes.plan import plan, resolve_initial
from harness.platforms.kubernetes.portforward import Relay
from harness.platforms.kubernetes.scripts import SCRIPTS
from harness.platforms.kubernetes.platform import KubernetesPlatform, aliases_for, capabilities_for, pod_fqdn
from harness.platforms.local.platform import LocalPlatform
from harness.poll import wait_until
from harness.redisconn import pod_client
from harness.roles import cluster_shards, current_roles, parse_cluster_nodes, primaries, sentinel_primary
from harness.scenario import Fault, Scenario, Topology, load_scenario
from tests.conftest import assert_gone, free_port, needs_redis, needs_root, unique_id

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scripts")
    for name, text in SCRIPTS.items():
        (folder / name).write_text(text)
    return folder


def run_script(scripts: Path, name: str, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    full = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "CLI_TIMEOUT_S": "3", "POD_NAMESPACE": "rh-test", **env}
    return subprocess.run(["sh", str(scripts / name), *args], env=full, capture_output=True, text=True, timeout=timeout)


def run_function(scripts: Path, call: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """Source redis-start.sh as a library and call one of its functions."""
    full = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "CLI_TIMEOUT_S": "3", "REDIS_START_LIB": "yes",
            "SCRIPTS_DIR": str(scripts), **env}
    return subprocess.run(["sh", "-c", f". {scripts}/redis-start.sh; {call}"], env=full, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def sentinel_deployment():
    """One real sentinel topology for the script and role tests of this module (primary redis-0)."""
    if os.geteuid() != 0 or shutil.which("redis-server") is None:
        pytest.skip("needs root and redis-server for a local sentinel deployment")
    platform = LocalPlatform()
    deployment = platform.deploy(Topology(kind="sentinel", replicas=2, sentinels=3, down_after_ms=1000,
                                          failover_timeout_ms=3000), unique_id("k8s-sentinel"), owner_pid=os.getpid())
    try:
        yield platform, deployment
    finally:
        platform.teardown(deployment)
        assert_gone(platform, deployment)


def sentinel_env(deployment: Deployment, pod: str, tmp: Path) -> dict[str, str]:
    (tmp / "data").mkdir(exist_ok=True)
    return {"TOPOLOGY": "sentinel", "SENTINEL_HOSTS": " ".join(p.host for p in deployment.sentinel_pods()),
            "POD_NAME": pod, "MY_HOST": deployment.pod(pod).host, "POD_IP": deployment.pod(pod).host,
            "DATA_DIR": str(tmp / "data"), "PRIMARY_WAIT_S": "2"}


# --------------------------------------------------------------------------- sentinel scripts on real pods


@needs_root
@needs_redis
def test_sentinel_start_script_asks_the_sentinels(sentinel_deployment, scripts, tmp_path):
    _, d = sentinel_deployment
    primary = d.pod("redis-0").host
    replica = run_script(scripts, "redis-start.sh", "decide", **sentinel_env(d, "redis-1", tmp_path))
    assert replica.stdout.strip() == f"replica {primary} 6379", replica.stderr

    # the primary pod came back empty while the sentinels still name it: it must wait, not start empty
    emptied = run_script(scripts, "redis-start.sh", "decide", **sentinel_env(d, "redis-0", tmp_path))
    assert emptied.returncode == 1 and emptied.stdout == ""
    assert "not starting empty" in emptied.stderr

    (tmp_path / "data" / "dump.rdb").write_bytes(b"REDIS0010")  # it kept its data (a PVC): it is the primary
    kept = run_script(scripts, "redis-start.sh", "decide", **sentinel_env(d, "redis-0", tmp_path))
    assert kept.stdout.strip() == "primary", kept.stderr

    sentinel = run_script(scripts, "sentinel-start.sh", "decide", POD_NAME="sentinel-0",
                          SENTINEL_HOSTS=" ".join(p.host for p in d.sentinel_pods()),
                          MY_SENTINEL_HOST=d.pod("sentinel-0").host)
    assert sentinel.stdout.strip() == f"{primary} 6379", sentinel.stderr


@needs_root
@needs_redis
def test_readiness_probe_refuses_a_stale_primary(sentinel_deployment, scripts, tmp_path):
    _, d = sentinel_deployment
    env = sentinel_env(d, "redis-0", tmp_path)
    assert run_script(scripts, "redis-probe.sh", "ready", PROBE_HOST=d.pod("redis-0").host, **env).returncode == 0
    replica_env = sentinel_env(d, "redis-1", tmp_path)
    wait_until(lambda: pod_client(d, d.pod("redis-1")).info("replication")["master_link_status"] == "up", timeout=30)
    assert run_script(scripts, "redis-probe.sh", "ready", PROBE_HOST=d.pod("redis-1").host, **replica_env).returncode == 0
    # a server that answers as primary while the sentinels name another pod: not ready
    stale = run_script(scripts, "redis-probe.sh", "ready", PROBE_HOST=d.pod("redis-0").host, **replica_env)
    assert stale.returncode == 1 and "stale primary" in stale.stderr
    assert run_script(scripts, "redis-probe.sh", "live", PROBE_HOST=d.pod("redis-0").host, **env).returncode == 0
    assert run_script(scripts, "sentinel-probe.sh", "ready", PROBE_HOST=d.pod("sentinel-0").host).returncode == 0


@needs_root
@needs_redis
def test_roles_through_port_forward_relays_and_aliases(sentinel_deployment):
    """A port-forward view of the deployment (every pod at 127.0.0.1:<relay>) still resolves roles:
    the servers report pod addresses, which the aliases map back to pod names."""
    _, d = sentinel_deployment
    relays = {p.name: Relay(lambda p=p: socket.create_connection((p.host, p.port), timeout=5)) for p in d.pods}
    try:
        view = Deployment(id=d.id, platform="kubernetes", topology=d.topology, network="kubernetes",
                          pods=[replace(p, host="127.0.0.1", port=relays[p.name].port) for p in d.pods],
                          client_address="127.0.0.1", state_dir=d.state_dir,
                          extra={"aliases": {f"{p.host}:{p.port}": p.name for p in d.pods}})
        assert sentinel_primary(view).name == "redis-0"
        assert primaries(view)[None].name == "redis-0"
        roles = {r.pod: r for r in current_roles(view)}
        assert roles["redis-0"].role == "primary"
        assert roles["redis-1"].role == "replica" and roles["redis-1"].primary == "redis-0"
    finally:
        for relay in relays.values():
            relay.close()


@needs_root
@needs_redis
def test_sidecar_partition_rules_cut_replication_and_heal(sentinel_deployment):
    """The exact shell the fault sidecar runs, here in the replica's own network namespace."""
    platform, d = sentinel_deployment
    replica = d.pod("redis-2")
    peers = faults.Peers(["redis-2"], [p.name for p in d.pods if p.name != "redis-2"],
                         {p.name: p.host for p in d.pods}, d.client_address, {p.name: p.port for p in d.pods})
    plan_ = faults.plan_partition_sidecar("7.0", peers, mode="isolate", client_side="both", action="drop", duration_s=5)
    assert [op.target for op in plan_.inject] == ["pods/redis-2"]
    client = pod_client(d, replica)
    wait_until(lambda: client.info("replication")["master_link_status"] == "up", timeout=30)
    client.config_set("repl-timeout", 2)  # a silent cut is noticed after repl-timeout (60 s by default)
    try:
        for op in plan_.inject:
            platform.run_in_pod_network(d, replica, op.params["argv"])
        wait_until(lambda: client.info("replication")["master_link_status"] == "down", timeout=30,
                   what="the cut replica to see its link down")
    finally:
        for op in plan_.heal:
            platform.run_in_pod_network(d, replica, op.params["argv"])
    wait_until(lambda: client.info("replication")["master_link_status"] == "up", timeout=30)
    client.config_set("repl-timeout", 60)
    rules = platform.run_in_pod_network(d, replica, ["iptables", "-S"]).stdout
    assert "RH7_0" not in rules


UDP_ECHO = ("import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 53)); "
            "s.settimeout(20)\nwhile True:\n d,a=s.recvfrom(512); s.sendto(d,a)")
UDP_ASK = ("import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1); "
           "s.sendto(b'q',(sys.argv[1],53)); print(s.recv(512).decode())")
TCP_ASK = ("import socket,sys\ntry:\n socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=1); print('open')\n"
           "except OSError as e:\n print(type(e).__name__)")


@needs_root
@needs_redis
def test_sidecar_partition_leaves_dns_alone(sentinel_deployment):
    """A partition cuts Redis and Sentinel traffic, not DNS: on the fixture the DNS server has the
    harness's own address, and cutting it kept the sentinels from resolving each other, so they never
    failed over (issue 13). Here a UDP server on port 53 of a cut peer still answers."""
    platform, d = sentinel_deployment
    cut, peer = d.pod("redis-2"), d.pod("sentinel-0")
    peers = faults.Peers(["redis-2"], [p.name for p in d.pods if p.name != "redis-2"],
                         {p.name: p.host for p in d.pods}, d.client_address, {p.name: p.port for p in d.pods})
    plan_ = faults.plan_partition_sidecar("7.1", peers, mode="isolate", client_side="rest", action="drop", duration_s=5)
    echo = subprocess.Popen(["ip", "netns", "exec", peer.netns, sys.executable, "-c", UDP_ECHO, peer.host])
    try:
        ask = lambda code, *args: platform.run_in_pod_network(d, cut, [sys.executable, "-c", code, *args],  # noqa: E731
                                                             check=False).stdout.strip()
        wait_until(lambda: ask(UDP_ASK, peer.host) == "q", timeout=10, what="the UDP echo on port 53")
        for op in plan_.inject:
            platform.run_in_pod_network(d, cut, op.params["argv"])
        assert ask(TCP_ASK, peer.host, str(peer.port)) == "TimeoutError"  # the cut holds for Sentinel...
        assert ask(UDP_ASK, peer.host) == "q"  # ...and DNS passes
    finally:
        for op in plan_.heal:
            platform.run_in_pod_network(d, cut, op.params["argv"])
        echo.kill()
        echo.wait()
    assert "RH7_1" not in platform.run_in_pod_network(d, cut, ["iptables", "-S"]).stdout


@needs_root
@needs_redis
def test_after_failover_a_returning_primary_becomes_replica(sentinel_deployment, scripts, tmp_path):
    """Runs last in this module: it moves the primary."""
    _, d = sentinel_deployment
    pod_client(d, d.sentinel_pods()[0]).execute_command("SENTINEL", "FAILOVER", "mymaster")
    new = wait_until(lambda: (p := sentinel_primary(d)) is not None and p.name != "redis-0" and p, timeout=60,
                     what="the sentinels to name a new primary")
    # every sentinel must agree before the script's majority answer is the new one
    wait_until(lambda: all(pod_client(d, s).execute_command("SENTINEL", "get-master-addr-by-name", "mymaster")[0]
                           == new.host for s in d.sentinel_pods()), timeout=60)
    old = run_script(scripts, "redis-start.sh", "decide", **sentinel_env(d, "redis-0", tmp_path))
    assert old.stdout.strip() == f"replica {new.host} 6379", old.stderr
    promoted = run_script(scripts, "redis-start.sh", "decide", **sentinel_env(d, new.name, tmp_path))
    assert promoted.returncode == 1  # empty data dir here, replicas with data exist: it waits, as designed
    sentinel = run_script(scripts, "sentinel-start.sh", "decide", POD_NAME="sentinel-2",
                          SENTINEL_HOSTS=" ".join(p.host for p in d.sentinel_pods()),
                          MY_SENTINEL_HOST=d.pod("sentinel-2").host)
    assert sentinel.stdout.strip() == f"{new.host} 6379"


# --------------------------------------------------------------------------- cluster scripts on real pods


@needs_root
@needs_redis
def test_cluster_bootstrap_and_wiped_pod_rejoins(deploy, local_platform, scripts):
    d = deploy(Topology(kind="cluster", shards=3, replicas=1, cluster_node_timeout_ms=1000), "k8s-cluster")
    pods = d.redis_pods()
    for pod in pods:  # undo the local platform's own cluster creation: six empty, unjoined nodes
        client = pod_client(d, pod, timeout=5)
        if client.info("replication")["role"] == "master":
            client.flushall()
    for pod in pods:
        pod_client(d, pod, timeout=5).execute_command("CLUSTER", "RESET", "HARD")
    hosts = " ".join(p.host for p in pods)

    created = run_script(scripts, "cluster-create.sh", CLUSTER_HOSTS=hosts, REPLICAS_PER_SHARD="1",
                         BOOTSTRAP_TIMEOUT_S="90")
    assert created.returncode == 0, created.stderr
    layout = {"redis-0": (0, "primary"), "redis-1": (0, "replica"), "redis-2": (1, "primary"),
              "redis-3": (1, "replica"), "redis-4": (2, "primary"), "redis-5": (2, "replica")}
    wait_until(lambda: cluster_shards(d) == layout, timeout=30, what=f"every node to agree on {layout}")
    again = run_script(scripts, "cluster-create.sh", CLUSTER_HOSTS=hosts, REPLICAS_PER_SHARD="1")
    assert again.returncode == 0 and "nothing to create" in again.stderr

    victim = d.pod("redis-2")  # shard 1's primary dies and comes back with an empty data dir
    local_platform.kill_pod(d, victim)
    wait_until(lambda: cluster_shards(d).get("redis-3", (None, ""))[1] == "primary", timeout=60,
               what="redis-3 to take over shard 1")
    local_platform.start_pod(d, victim, wipe_data=True)
    local_platform.wait_pod_answers(d, victim)
    joined = run_function(scripts, "cluster_join", TOPOLOGY="cluster", CLUSTER_HOSTS=hosts, MY_HOST=victim.host,
                          LOCAL_HOST=victim.host, POD_IP=victim.host, JOIN_WAIT_S="60")
    assert joined.returncode == 0, joined.stderr
    client = pod_client(d, victim)
    wait_until(lambda: client.info("replication").get("master_link_status") == "up", timeout=60)
    assert d.pod_by_address(client.info("replication")["master_host"], 6379).name == "redis-3"
    my_id = client.execute_command("CLUSTER", "MYID")
    wait_until(lambda: all(len(pod_client(d, p).execute_command("CLUSTER", "NODES").strip().splitlines()) == 6
                           for p in pods), timeout=30, what="every node to have forgotten the old node id")
    assert my_id in pod_client(d, d.pod("redis-0")).execute_command("CLUSTER", "NODES")
    ready = run_script(scripts, "redis-probe.sh", "ready", TOPOLOGY="cluster", PROBE_HOST=victim.host)
    assert ready.returncode == 0, ready.stderr


@needs_redis
def test_nodes_conf_address_update_is_loaded(scripts, tmp_path):
    """A pod restarted with a new IP: the start script rewrites its own line in nodes.conf; the server
    loads the file and reports the new address. (A lone node on loopback: no peers, no traffic.)"""
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data), "--cluster-enabled", "yes",
            "--save", "", "--appendonly", "no"]
    for attempt in range(2):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            client = redis.Redis(port=port, socket_timeout=2, decode_responses=True)
            wait_until(client.ping, timeout=20, what="the cluster node to answer")
            if attempt == 0:
                client.execute_command("CLUSTER", "ADDSLOTS", 0, 1, 2)
                client.execute_command("CLUSTER", "SAVECONFIG")
                my_id = client.execute_command("CLUSTER", "MYID")
            else:
                nodes = client.execute_command("CLUSTER", "NODES")
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        if attempt == 0:
            changed = run_function(scripts, f"update_nodes_conf {data}/nodes.conf 127.0.0.7")
            assert changed.returncode == 0, changed.stderr
            assert f" 127.0.0.7:{port}@{port + 10000}" in (data / "nodes.conf").read_text()
    myself = next(line for line in nodes.splitlines() if "myself" in line)
    assert myself.startswith(f"{my_id} 127.0.0.7:{port}@") and myself.endswith("0-2")


# --------------------------------------------------------------------------- the port-forward relay


@needs_redis
def test_relay_carries_redis_traffic_and_closes(tmp_path):
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    relay = Relay(lambda: socket.create_connection(("127.0.0.1", port), timeout=5))
    try:
        clients = [redis.Redis(port=relay.port, socket_timeout=5, decode_responses=True) for _ in range(4)]
        wait_until(clients[0].ping, timeout=20)
        for i, c in enumerate(clients):
            c.set(f"k{i}", "x" * 100_000)
        assert all(c.get(f"k{i}") == "x" * 100_000 for i, c in enumerate(clients))
        assert int(clients[0].info("clients")["connected_clients"]) >= 4
        relay.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", relay.port), timeout=5)
    finally:
        relay.close()
        proc.terminate()
        proc.wait(timeout=20)


def test_relay_refuses_when_the_pod_is_unreachable():
    def unreachable():
        raise OSError("pod gone")

    relay = Relay(unreachable)
    try:
        with socket.create_connection(("127.0.0.1", relay.port), timeout=5) as conn:
            conn.settimeout(5)
            assert conn.recv(1) == b""  # closed at once, as a refused port-forward looks to a client
    finally:
        relay.close()


# --------------------------------------------------------------------------- role discovery as data


def test_aliases_cover_what_servers_report():
    pods = [Pod("redis-0", "redis", "127.0.0.1", 40001), Pod("sentinel-0", "sentinel", "127.0.0.1", 40002)]
    aliases = aliases_for(pods, "rh-x", {"redis-0": "10.244.0.5", "sentinel-0": "10.244.0.6"}, "cluster.local")
    assert aliases["redis-0.redis-headless.rh-x.svc.cluster.local:6379"] == "redis-0"
    assert aliases["redis-0.redis-headless:6379"] == "redis-0"
    assert aliases["10.244.0.5:6379"] == "redis-0"
    assert aliases["sentinel-0.sentinel-headless.rh-x.svc.cluster.local:26379"] == "sentinel-0"
    assert pod_fqdn("sentinel-1", "ns") == "sentinel-1.sentinel-headless.ns.svc.cluster.local"


def test_cluster_nodes_with_hostnames_map_to_pods_by_alias():
    topology = Topology(kind="cluster", shards=3, replicas=1)
    pods = [Pod(f"redis-{i}", "redis", "127.0.0.1", 41000 + i) for i in range(6)]
    ips = {f"redis-{i}": f"10.244.1.{10 + i}" for i in range(6)}
    d = Deployment(id="x", platform="kubernetes", topology=topology.model_dump(mode="json"), pods=pods,
                   client_address="127.0.0.1", network="kubernetes", state_dir="/nonexistent",
                   extra={"aliases": aliases_for(pods, "ns", ips, "cluster.local")})
    host = "redis-{}.redis-headless.ns.svc.cluster.local"
    text = "\n".join([
        f"a 10.244.1.10:6379@16379,{host.format(0)} myself,master - 0 0 1 connected 0-5460",
        f"b 10.244.1.11:6379@16379,{host.format(1)} slave a 0 0 1 connected",
        f"c 10.244.1.12:6379@16379,{host.format(2)} master,fail - 0 0 2 connected",
        f"d 10.244.1.13:6379@16379,{host.format(3)} master - 0 0 4 connected 5461-10922",
        f"e 10.244.1.14:6379@16379,{host.format(4)} master - 0 0 3 connected 10923-16383",
        f"f 10.244.1.15:6379@16379,{host.format(5)} slave e 0 0 3 connected",
    ])
    assert parse_cluster_nodes(d, text) == {"redis-0": (0, "primary"), "redis-1": (0, "replica"),
                                           "redis-2": (None, "down"), "redis-3": (1, "primary"),
                                           "redis-4": (2, "primary"), "redis-5": (2, "replica")}


# --------------------------------------------------------------------------- fault planning as data


def peers_for(topology: Topology, side_a: list[str], client: str = "loopback") -> faults.Peers:
    names = topology.pod_names()
    return faults.Peers(side_a, [n for n in names if n not in side_a], {n: f"10.0.0.{i + 1}" for i, n in enumerate(names)},
                        client, {n: faults.server_port(n) for n in names})


SENTINEL3 = Topology(kind="sentinel", replicas=2, sentinels=3)


def test_pod_kill_and_delete_plans():
    kill = faults.plan_pod_kill("0.0", "redis-0")
    assert [(op.verb, op.target, op.params) for op in kill.inject] == [("delete", "pods/redis-0", {"gracePeriodSeconds": 0})]
    assert kill.inject[0].describe("ns") == "DELETE /api/v1/namespaces/ns/pods/redis-0?gracePeriodSeconds=0"
    assert kill.heal[0].verb == "wait"
    delete = faults.plan_pod_kill("1.0", "redis-1", graceful=True, delete_claim=True)
    assert [op.target for op in delete.inject] == ["persistentvolumeclaims/data-redis-1", "pods/redis-1"]
    assert delete.inject[1].params == {}


def test_backend_choice_and_refusals():
    assert faults.choose_backend("partition", sidecar=True, chaos_mesh=True) == "sidecar"
    assert faults.choose_backend("latency", sidecar=False, chaos_mesh=True) == "chaos-mesh"
    assert faults.choose_backend("partition", sidecar=False, chaos_mesh=False) == "networkpolicy"
    with pytest.raises(CapabilityError, match="sidecar"):
        faults.choose_backend("partition", sidecar=False, chaos_mesh=True, action="reject")
    with pytest.raises(CapabilityError, match="Chaos Mesh"):
        faults.choose_backend("latency", sidecar=False, chaos_mesh=False)
    with pytest.raises(CapabilityError, match="not installed"):
        faults.choose_backend("bandwidth", sidecar=True, chaos_mesh=False, preferred="chaos-mesh")
    caps = capabilities_for(sidecar=False, chaos_mesh=False)
    assert caps["pod-kill"] is None and caps["partition"] is None and "Chaos Mesh" in caps["packet-loss"]
    with_sidecar = capabilities_for(sidecar=True, chaos_mesh=False)
    assert all(v is None for v in with_sidecar.values())  # which upgrade drills: refusals (test_drill_refusals)
    # a sidecar image without the latency delayer: latency is refused (before deploying), the rest is not
    other = capabilities_for(sidecar=True, chaos_mesh=False, delayer=False)
    assert "redis-harness-delayer" in other["latency"] and "SIDECAR_IMAGE" in other["latency"], other
    assert [k for k, v in other.items() if v] == ["latency"]
    assert faults.choose_backend("latency", sidecar=True, chaos_mesh=True, delayer=False) == "chaos-mesh"
    assert faults.sidecar_ships_delayer("redis-harness-netfault:0.1.0")
    assert faults.sidecar_ships_delayer("registry.example:5000/team/redis-harness-netfault@sha256:00")
    assert faults.sidecar_ships_delayer("docker.io/redis-harness/netfault:1")
    assert not faults.sidecar_ships_delayer("nicolaka/netshoot:v0.13")


def test_latency_on_kubernetes_is_the_local_delayer_in_the_sidecar():
    """The same NFQUEUE delayer as the local platform (no sch_netem needed), started before its queue
    rule, stopped by its queue's command line; the seed is derived, so the dry run shows the live plan."""
    fault = TypeAdapter(Fault).validate_python({"kind": "latency", "delay_ms": 40, "jitter_ms": 5,
                                                "target": {"pod": "redis-0"}, "at_s": 1, "duration_s": 5})
    peers = peers_for(SENTINEL3, ["redis-0"])
    kinds = {p: ("sentinel" if p.startswith("sentinel") else "redis") for p in SENTINEL3.pod_names()}
    made = faults.plan_fault("3.0", fault, peers, pod_kinds=kinds, sidecar=True, chaos_mesh=False, preferred="auto",
                             namespace="ns")
    again = faults.plan_fault("3.0", fault, peers, pod_kinds=kinds, sidecar=True, chaos_mesh=False, preferred="auto",
                              namespace="ns")
    assert made == again and made.backend == "sidecar" and made.pods == ["redis-0"]
    script = made.inject[0].params["argv"][2]
    queue = latency.queue_number("3.0")
    assert script.index(f"redis-harness-delayer --queue={queue} --delay-ms=40 --jitter-ms=5") < \
        script.index(f"-j NFQUEUE --queue-num {queue} --queue-bypass")
    assert "--lifetime-s=65" in script and "netem" not in script
    heal = made.heal[0].params["argv"][2]
    assert f"redis-harness-delayer --queue={queue} " in heal and "kill -TERM" in heal
    assert "NFQUEUE" in made.checks[0].params["argv"][2]
    with pytest.raises(CapabilityError, match="redis-harness-delayer"):
        faults.plan_fault("3.0", fault, peers, pod_kinds=kinds, sidecar=True, chaos_mesh=False, preferred="auto",
                          namespace="ns", delayer=False)


def test_sidecar_partition_rules():
    peers = peers_for(SENTINEL3, ["redis-0"])
    isolate = faults.plan_partition_sidecar("0.1", peers, mode="isolate", client_side="target", action="drop",
                                            duration_s=12)
    by_pod = {op.target: op.params["argv"][2] for op in isolate.inject}
    assert set(by_pod) == {f"pods/{p}" for p in SENTINEL3.pod_names()}
    assert "-s 10.0.0.2 -j DROP" in by_pod["pods/redis-0"] and "-d 10.0.0.6 -j DROP" in by_pod["pods/redis-0"]
    # clients stay with the primary: port-forwarded clients are cut from every other pod, probes are not
    assert "-i lo -s 127.0.0.1 -d 127.0.0.1 -p tcp --dport 26379 -j DROP" in by_pod["pods/sentinel-0"]
    assert "-i lo" not in by_pod["pods/redis-0"]
    assert "(sleep 72;" in by_pod["pods/redis-0"]  # self-heal 60 s after the planned end
    assert all(op.params["container"] == "fault" for op in isolate.inject + isolate.heal)
    reject = faults.plan_partition_sidecar("0.2", peers, mode="one-way", client_side="both", action="reject",
                                           duration_s=5)
    assert {op.target for op in reject.inject} == {f"pods/{p}" for p in SENTINEL3.pod_names() if p != "redis-0"}
    assert "-s 10.0.0.1 -p tcp -j REJECT --reject-with tcp-reset" in reject.inject[0].params["argv"][2]
    assert "-d 10.0.0.1" not in reject.inject[0].params["argv"][2]


def test_plan_fault_covers_every_kind_and_round_trips():
    """One planner for the live run and the dry run: every kind plans, and the plan survives the plain
    data the nemesis keeps (so another process can heal it)."""

    from harness.scenario import Fault

    peers = peers_for(SENTINEL3, ["redis-0"])
    kinds = {p: ("sentinel" if p.startswith("sentinel-") else "redis") for p in SENTINEL3.pod_names()}
    specs = [{"kind": "pod-kill"}, {"kind": "pod-delete"}, {"kind": "pause"}, {"kind": "pause", "method": "debug-sleep"},
             {"kind": "partition", "action": "reject"}, {"kind": "packet-loss", "percent": 30},
             {"kind": "latency", "delay_ms": 40}, {"kind": "bandwidth", "rate_kbit": 800}]
    for spec in specs:
        fault = TypeAdapter(Fault).validate_python({**spec, "target": {"pod": "redis-0"}, "at_s": 1, "duration_s": 5})
        plan_ = faults.plan_fault("5.0", fault, peers, pod_kinds=kinds, sidecar=True, chaos_mesh=False, preferred="auto",
                                  namespace="ns")
        assert plan_.inject and plan_.heal, spec
        assert faults.FaultPlan.from_dict(plan_.as_dict()) == plan_
        if fault.kind in faults.NETWORK_KINDS:
            assert plan_.checks and all(op.params["container"] == "fault" for op in plan_.checks), spec
    loss = TypeAdapter(Fault).validate_python({"kind": "packet-loss", "percent": 50, "target": {"pod": "redis-0"},
                                               "peers": [{"pod": "redis-1"}], "at_s": 1, "duration_s": 5})
    only = faults.plan_fault("5.1", loss, faults.Peers(["redis-0"], ["redis-1"], peers.ips), pod_kinds=kinds,
                             sidecar=True, chaos_mesh=False, preferred="auto", namespace="ns")
    script = only.inject[0].params["argv"][2]
    assert f"-s {peers.ips['redis-1']} -m statistic" in script and f"-s {peers.ips['redis-2']}" not in script
    both = faults.plan_shaping_sidecar("5.2", "bandwidth", "redis-0", {"rate_kbit": 800, "direction": "both"}, 5)
    assert "type ifb" in both.inject[0].params["argv"][2] and "htb" in both.inject[0].params["argv"][2]
    egress = faults.plan_shaping_sidecar("5.3", "bandwidth", "redis-0", {"rate_kbit": 800, "direction": "egress"}, 5)
    assert "type ifb" not in egress.inject[0].params["argv"][2]


def test_networkpolicy_partition_objects_validate():
    for mode in ("isolate", "split", "one-way"):
        plan_ = faults.plan_partition_networkpolicy("3.0", peers_for(SENTINEL3, ["redis-0", "sentinel-0"]), mode=mode,
                                                    client_side="rest", namespace="rh-x", run_id="run-1")
        for op in plan_.inject:
            kubernetes_validate.validate(op.body, "1.25", strict=True)
            kubernetes_validate.validate(op.body, "1.30", strict=True)
        assert [op.verb for op in plan_.heal] == ["delete"] * len(plan_.inject)
        assert any("CNI" in note for note in plan_.notes)
    isolate = faults.plan_partition_networkpolicy("3.0", peers_for(SENTINEL3, ["redis-0"]), mode="isolate",
                                                  client_side="rest", namespace="rh-x")
    a = isolate.inject[0].body["spec"]
    assert a["podSelector"]["matchExpressions"][0]["values"] == ["redis-0"]
    assert a["ingress"] == [{"from": [{"podSelector": a["podSelector"]}]}]  # clients are on the other side


def test_chaos_mesh_objects():
    peers = peers_for(SENTINEL3, ["redis-1"])
    latency = faults.plan_chaos_mesh("2.0", "latency", peers, namespace="ns", duration_s=10,
                                     params={"delay_ms": 100, "jitter_ms": 10})
    body = latency.inject[0].body
    assert body["apiVersion"] == "chaos-mesh.org/v1alpha1" and body["kind"] == "NetworkChaos"
    assert body["spec"]["action"] == "delay" and body["spec"]["delay"]["latency"] == "100ms"
    assert body["spec"]["selector"] == {"pods": {"ns": ["redis-1"]}} and body["spec"]["duration"] == "70s"
    bandwidth = faults.plan_chaos_mesh("2.1", "bandwidth", peers, namespace="ns", duration_s=10, params={"rate_kbit": 800})
    assert bandwidth.inject[0].body["spec"]["bandwidth"]["rate"] == "100000bps"
    partition = faults.plan_chaos_mesh("2.2", "partition", peers, namespace="ns", duration_s=10, params={"mode": "isolate"})
    assert partition.inject[0].body["spec"]["target"]["selector"]["pods"]["ns"] == sorted(peers.side_b)
    assert partition.heal[0].describe("ns") == "DELETE /apis/chaos-mesh.org/v1alpha1/namespaces/ns/networkchaos/rh-fault-2-2"


def test_pause_plans():
    sleep = faults.plan_pause("4.0", "redis-0", duration_s=5, method="debug-sleep", kind="redis", sidecar=False)
    assert "DEBUG SLEEP 5" in sleep.inject[0].params["argv"][2] and sleep.inject[0].params["container"] == "redis"
    assert "REDISCLI_AUTH" in sleep.inject[0].params["argv"][2] and " -a " not in sleep.inject[0].params["argv"][2]
    with pytest.raises(CapabilityError):
        faults.plan_pause("4.1", "sentinel-0", duration_s=5, method="debug-sleep", kind="sentinel", sidecar=True)
    with pytest.raises(CapabilityError, match="sidecar"):
        faults.plan_pause("4.2", "redis-0", duration_s=5, method="sigstop", kind="redis", sidecar=False)
    stop = faults.plan_pause("4.3", "sentinel-0", duration_s=5, method="sigstop", kind="sentinel", sidecar=True)
    assert stop.inject[0].params["container"] == "fault" and "kill -STOP" in stop.inject[0].params["argv"][2]
    assert "kill -CONT" in stop.heal[0].params["argv"][2]


def _state_in_pid_namespace(script: str, *, with_server: bool, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run the sidecar's pause `script` (as `sh -c`, the way exec runs it) in a new PID namespace, as a
    pod sharing its process namespace is: a redis-server started there is the only server it can see.
    Prints the script's exit status and the server's process state (T = stopped) after it."""
    sock = tmp_path / "r.sock"
    server = (f"redis-server --port 0 --unixsocket {sock} --save '' --appendonly no >/dev/null 2>&1 & pid=$!; "
              f"i=0; until redis-cli -s {sock} ping >/dev/null 2>&1 || [ $i -ge 100 ]; do i=$((i+1)); sleep 0.05; done; ")
    inner = ((server if with_server else "") + 'sh -c "$SCRIPT"; echo "status=$?"; '
             + ('sleep 0.2; echo "state=$(cut -d" " -f3 /proc/$pid/stat)"; kill -KILL $pid' if with_server else ""))
    return subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", inner], env={**os.environ, "SCRIPT": script},
                          capture_output=True, text=True, timeout=60)


@needs_root
@needs_redis
def test_sidecar_sigstop_stops_the_server_with_sh_alone(tmp_path):
    """The fault sidecar signals through /proc with sh's own `kill` (no pkill in minimal images); with no
    server process visible (no shared process namespace) the pause fails loudly instead of doing nothing."""
    plan = faults.plan_pause("4.4", "redis-0", duration_s=5, method="sigstop", kind="redis", sidecar=True)
    stop, cont = plan.inject[0].params["argv"][2], plan.heal[0].params["argv"][2]
    stopped = _state_in_pid_namespace(stop, with_server=True, tmp_path=tmp_path)
    assert "status=0" in stopped.stdout and "state=T" in stopped.stdout, stopped.stdout + stopped.stderr
    resumed = _state_in_pid_namespace(stop + "\nsleep 0.2\n" + cont, with_server=True, tmp_path=tmp_path)
    assert "status=0" in resumed.stdout and re.search(r"state=[SR]", resumed.stdout), resumed.stdout + resumed.stderr
    nothing = _state_in_pid_namespace(stop, with_server=False, tmp_path=tmp_path)
    assert "status=3" in nothing.stdout and "shareProcessNamespace" in nothing.stderr, nothing.stdout + nothing.stderr


def test_platform_refuses_unknown_options_without_a_cluster():
    with pytest.raises(CapabilityError):
        KubernetesPlatform(access="telepathy")
    platform = KubernetesPlatform(kubeconfig="/nonexistent/kubeconfig", fault_sidecar=True)
    caps = platform.capabilities()  # no cluster: every fault says why
    assert set(caps) >= {"pod-kill", "partition", "latency"} and all(caps.values())


# --------------------------------------------------------------------------- dry run


def bundled_scenarios() -> list[Scenario]:
    files = sorted((ROOT / "scenarios").glob("*.yaml"))
    found = [load_scenario(p) for p in files]
    found.append(Scenario.model_validate({
        "name": "built-in-partition-reject", "duration_s": 30, "topology": {"kind": "sentinel", "replicas": 2},
        "workload": {"redis_benchmark": {"enabled": True}},
        "faults": [{"kind": "partition", "action": "reject", "target": {"role": "replica"}, "at_s": 5, "duration_s": 5},
                   {"kind": "latency", "delay_ms": 50, "target": {"role": "primary"}, "at_s": 12, "duration_s": 5},
                   {"kind": "pause", "method": "debug-sleep", "target": {"pod": "redis-1"}, "at_s": 20, "duration_s": 3,
                    "every_s": 4, "count": 2}]}))
    found.append(load_scenario(ROOT / "scenarios" / "sentinel-primary-kill.yaml",
                               {"name": "flagship-in-cluster-locust", "platform": "kubernetes",
                                "workload.locust.workers": 2}))
    found.append(load_scenario(ROOT / "scenarios" / "sentinel-primary-kill.yaml",
                               {"name": "flagship-benchmark-job", "platform": "kubernetes",
                                "workload.redis_benchmark": {"enabled": True, "in_cluster": True, "requests": None}}))
    return found


@pytest.mark.parametrize("scenario", bundled_scenarios(), ids=lambda s: s.name)
@pytest.mark.parametrize("version", ["1.20", "1.30"])
def test_dry_run_prints_a_complete_plan(scenario, version):
    text = plan(scenario, server_version=version)
    objects = [doc for doc in yaml.safe_load_all(text) if doc]
    kinds = [o["kind"] for o in objects]
    naive = scenario.topology.kind == "naive"  # the lesson: a Deployment and a Service, no PDB
    assert kinds[0] == "Namespace" and ("StatefulSet" in kinds) != naive
    pdb = {o["apiVersion"] for o in objects if o["kind"] == "PodDisruptionBudget"}
    assert pdb == (set() if naive else {"policy/v1beta1" if version == "1.20" else "policy/v1"})
    if version == "1.30":
        for obj in objects:
            kubernetes_validate.validate(obj, version, strict=True)
    firings = sum(len(f.firings()) for f in scenario.faults)
    assert len(re.findall(r"^# fault \d+\.\d+: ", text, flags=re.M)) == firings
    assert text.count("#   inject: ") + text.count("#   REFUSED: ") >= firings
    # Locust's master and workers are objects only in the cluster (workers); else it runs on the harness's machine
    assert ("Deployment" in kinds) == (bool(scenario.workload.locust.workers) or naive)
    assert text.rstrip().splitlines()[-1].startswith("# teardown: DELETE /api/v1/namespaces/rh-")


def test_dry_run_plans_in_cluster_locust_as_a_run_makes_it():
    """With workers: a master the harness starts at t = 0 (web port, no --headless, no run time of its
    own), N workers writing their per-second files, the fixture's image when the environment names it."""
    flagship = next(s for s in bundled_scenarios() if s.name == "flagship-in-cluster-locust")
    text = plan(flagship, locust_image="redis-harness/locust:1")
    objects = {o["metadata"]["name"]: o for o in yaml.safe_load_all(text) if o and o["kind"] == "Deployment"}
    master, worker = (objects[n]["spec"]["template"]["spec"]["containers"][0] for n in ("locust-master", "locust-worker"))
    assert "--headless" not in master["args"] and "--run-time" not in master["args"]
    assert {"name": "web", "containerPort": 8089, "protocol": "TCP"} in master["ports"]
    assert objects["locust-worker"]["spec"]["replicas"] == 2
    assert {"name": "REDIS_HARNESS_SECONDS_DIR", "value": "/out"} in worker["env"]
    assert master["image"] == worker["image"] == "redis-harness/locust:1"
    assert "# waits: " in text and "2 workers connected; at t=0 POST /swarm" in text
    harness_side = plan(load_scenario(ROOT / "scenarios" / "sentinel-primary-kill.yaml", {"platform": "kubernetes"}))
    assert "locust-master" not in harness_side and "# locust: runs on the harness's machine" in harness_side
    benchmark = plan(next(s for s in bundled_scenarios() if s.name == "built-in-partition-reject"))
    assert "kind: Job" not in benchmark and "# redis-benchmark: runs on the harness's machine" in benchmark


def test_dry_run_plans_the_redis_benchmark_job_as_a_run_makes_it():
    """With in_cluster: a Job that waits at its gate, asks the sentinels for the primary, loops (-l) with no
    --csv (its progress lines are the series), gets the password by -a, and is bounded (activeDeadlineSeconds);
    the shipped manifest's Job stays the plain one."""
    job_run = next(s for s in bundled_scenarios() if s.name == "flagship-benchmark-job")
    text = plan(job_run)
    jobs = [o for o in yaml.safe_load_all(text) if o and o["kind"] == "Job"]
    assert len(jobs) == 1 and jobs[0]["spec"]["activeDeadlineSeconds"] >= job_run.duration_s
    script = jobs[0]["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert "/gate/go" in script and "SENTINEL get-master-addr-by-name" in script and " -l" in script
    assert "--csv" not in script and '-a "$REDIS_PASSWORD"' in script and "tr '\\r' '\\n'" in script
    assert jobs[0]["spec"]["template"]["metadata"]["labels"]["redis-harness/client"] == "true"
    assert "Job redis-benchmark's pod Running at its gate" in text
    shipped = (ROOT / "manifests" / "load" / "job-redis-benchmark.yaml").read_text()
    assert "--csv" in shipped and "/gate" not in shipped


@pytest.mark.parametrize("changes, problem", [
    ({"workload.redis_benchmark.in_cluster": True}, "the local platform runs redis-benchmark on this machine"),
    ({"platform": "kubernetes", "workload.redis_benchmark": {"enabled": False, "in_cluster": True}},
     "needs the redis-benchmark load itself"),
])
def test_in_cluster_benchmark_refused_where_it_cannot_run(changes, problem):
    from harness.errors import ScenarioError

    with pytest.raises((ScenarioError, ValueError), match=problem):
        load_scenario(ROOT / "scenarios" / "standalone-capacity.yaml", changes)


def test_in_cluster_locust_image_and_cpu_from_the_environment():
    """REDIS_HARNESS_K8S_LOCUST_IMAGE / _LOCUST_CPU reach the Locust pods; a request never exceeds the limit;
    a CPU quantity that is none is refused when the platform is made, before anything is deployed."""
    from harness.errors import ScenarioError
    from harness.platforms.kubernetes.objects import locust_objects
    from harness.platforms.kubernetes.platform import options_from_env
    from harness.scenario import LocustLoad

    load, topology = LocustLoad(enabled=True, workers=2), Topology(kind="sentinel", replicas=2)
    for cpu, request in (("500m", "200m"), ("100m", "100m")):
        platform = KubernetesPlatform(**options_from_env({"REDIS_HARNESS_K8S_LOCUST_IMAGE": "loc:1",
                                                          "REDIS_HARNESS_K8S_LOCUST_CPU": cpu}))
        for obj in locust_objects(load, topology, platform.options, controlled=True)[1:]:
            container = obj["spec"]["template"]["spec"]["containers"][0]
            assert container["image"] == "loc:1"
            assert (container["resources"]["limits"]["cpu"], container["resources"]["requests"]["cpu"]) == (cpu, request)
    with pytest.raises(ScenarioError, match="not a CPU quantity: 'lots'"):
        KubernetesPlatform(locust_cpu="lots")


def test_dry_run_fault_operations():
    reject = next(s for s in bundled_scenarios() if s.name == "built-in-partition-reject")
    without = plan(reject)
    assert "#   REFUSED: partition on Kubernetes needs the fault sidecar (REJECT" in without
    assert "#   REFUSED: latency on Kubernetes needs the fault sidecar" in without
    assert "DEBUG SLEEP 3" in without and "# fault 2.1: pause at 24s until 27s" in without
    with_sidecar = plan(reject, fault_sidecar=True)
    assert "REFUSED" not in with_sidecar
    assert "--reject-with tcp-reset" in with_sidecar and "redis-harness-delayer --queue=" in with_sidecar
    assert "netem" not in with_sidecar
    netshoot = plan(reject, fault_sidecar=True, sidecar_image="nicolaka/netshoot:v0.13")
    assert "#   REFUSED: latency on Kubernetes needs the latency delayer in the fault sidecar" in netshoot
    kill = plan(load_scenario(ROOT / "scenarios" / "cluster-shard-primary-kill.yaml")) if \
        (ROOT / "scenarios" / "cluster-shard-primary-kill.yaml").exists() else None
    if kill:
        assert "pods/redis-2?gracePeriodSeconds=0" in kill  # shard 1's primary at deployment


def test_initial_target_resolution():
    cluster = Topology(kind="cluster", shards=3, replicas=1)
    from harness.scenario import FaultTarget

    assert resolve_initial(cluster, FaultTarget(role="primary", shard=2)) == ["redis-4"]
    assert resolve_initial(cluster, FaultTarget(role="replica", shard=0)) == ["redis-1"]
    assert resolve_initial(SENTINEL3, FaultTarget(role="sentinel")) == ["sentinel-0"]
    assert resolve_initial(SENTINEL3, FaultTarget(pod="redis-2")) == ["redis-2"]


# --------------------------------------------------------------------------- on a real cluster


# On a real cluster: deploying, serving and tearing down every topology, a primary pod killed and a
# replica promoted, and every fault kind are in tests/test_kubernetes_e2e.py and tests/test_same_truth.py
# (the bundled scenarios, as a user runs them).


def test_dry_run_plans_with_the_options_a_live_run_reads():
    """`run --dry-run` reads the same REDIS_HARNESS_K8S_* variables as a live run, so it prints the
    backend and the client rules the live run would use (the fixture's CI sets the fault sidecar)."""
    import sys

    def dry(**env: str) -> str:
        full = {k: v for k, v in os.environ.items() if not k.startswith("REDIS_HARNESS_K8S_")}
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "scenarios/sentinel-partition-split-brain.yaml",
                               "--platform", "kubernetes", "--dry-run"], cwd=ROOT, env={**full, **env},
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "#   backend: networkpolicy" in dry()
    sidecar = dry(REDIS_HARNESS_K8S_FAULT_SIDECAR="1", REDIS_HARNESS_K8S_ACCESS="pod-ip")
    assert "#   backend: sidecar" in sidecar and "-d <harness address> -j DROP" in sidecar
    assert "--dport 53 -j RETURN" in sidecar  # DNS stays up through the partition


def test_faults_a_cluster_cannot_make_are_refused_before_deploying():
    """Planned as the dry run plans them, before anything exists: SIGSTOP needs the sidecar, DEBUG SLEEP a
    Redis pod (no cluster is asked: these faults need no API discovery)."""
    from harness.runner import refuse_unsupported_faults as preflight

    scenario = Scenario.model_validate({
        "name": "refused", "duration_s": 30, "topology": {"kind": "sentinel", "replicas": 1, "sentinels": 3},
        "faults": [{"kind": "pause", "method": "sigstop", "target": {"role": "primary"}, "at_s": 5, "duration_s": 2},
                   {"kind": "pause", "method": "debug-sleep", "target": {"role": "sentinel"}, "at_s": 10,
                    "duration_s": 2},
                   {"kind": "pod-kill", "target": {"role": "primary"}, "at_s": 15, "duration_s": 2}]})
    k8s = KubernetesPlatform(fault_sidecar=False, access="pod-ip")
    found = k8s.refusals(scenario)
    assert [line.split(":")[0] for line in found] == ["faults.0 (pause)", "faults.1 (pause)"], found
    assert "needs the fault sidecar" in found[0] and "Redis pods only" in found[1], found
    assert KubernetesPlatform(fault_sidecar=True, access="pod-ip").refusals(scenario) == [found[1]]
    k8s.capabilities = lambda: {}  # no cluster here: the kind-level answer is not what is tested
    with pytest.raises(CapabilityError, match="faults.0 \\(pause\\)"):
        preflight(scenario, k8s)


def test_kubernetes_makes_the_sentinel_drill_and_refuses_the_others_before_deploying():
    """The replicas-first Sentinel drill with an image per version is made (no refusal); the Cluster drill,
    naive, rollback, one image for every server, or a server without an image are refused with the reason
    (the refusals need no cluster: an upgrade is not planned against API discovery)."""
    from harness.platforms.kubernetes.platform import parse_server_images

    images = parse_server_images("redis-6.2=redis-harness/redis:6.2.5-wheel, system=redis:7.0.15")
    assert images == {"redis-6.2": "redis-harness/redis:6.2.5-wheel", "system": "redis:7.0.15"}
    with pytest.raises(CapabilityError, match="SERVER_IMAGES: 'redis-6.2' is not SERVER=IMAGE"):
        parse_server_images("redis-6.2")
    drill = load_scenario(ROOT / "scenarios" / "upgrade-sentinel-6.2-to-7.0.yaml")
    k8s = KubernetesPlatform(access="pod-ip", server_images=images)
    assert k8s.refusals(drill) == []
    refused = {name: k8s.refusals(load_scenario(ROOT / "scenarios" / f"{name}.yaml"))
               for name in ("upgrade-naive", "upgrade-rollback", "upgrade-cluster-7.0-to-valkey-9.1")}
    assert "strategy naive: on Kubernetes only replicas-first" in refused["upgrade-naive"][0], refused
    assert "strategy rollback" in refused["upgrade-rollback"][0], refused
    assert "only the Sentinel drill is built" in refused["upgrade-cluster-7.0-to-valkey-9.1"][0], refused
    one_image = KubernetesPlatform(access="pod-ip", image="redis:7.0.15").refusals(drill)
    assert one_image and "image per version" in one_image[0], one_image
    to_a_path = drill.model_copy(update={"faults": [drill.faults[0].model_copy(update={"to": "/opt/redis-server"})]})
    assert "has no Kubernetes image" in k8s.refusals(to_a_path)[0]
    text = plan(drill, server_images=images)
    assert "#   image redis-harness/redis:6.2.5-wheel -> redis:7.0.15" in text and "REFUSED" not in text
    assert "/statefulsets/redis updateStrategy OnDelete" in text


def test_a_drill_step_patches_only_the_redis_container_image():
    from harness.platforms.kubernetes.upgrade import template_patch

    first = template_patch("redis:7.0.15", first=True)
    assert first["spec"]["updateStrategy"] == {"type": "OnDelete", "rollingUpdate": None}
    assert first["spec"]["template"] == {"spec": {"containers": [{"name": "redis", "image": "redis:7.0.15"}]}}
    assert "updateStrategy" not in template_patch("redis:7.0.15", first=False)["spec"]


def test_generator_pods_see_the_deployment_by_dns_names_with_the_mounted_secret_and_no_password(tmp_path):
    """What a generator pod is given (harness.platforms.kubernetes.openloop.pod_view, objects.openloop_pods):
    every pod by its DNS name and standard port (a recreated pod keeps its name; the harness's pod IPs or
    port-forwards mean nothing in the cluster), the TLS Secret where the pod mounts it, and the password
    only from the Secret: never in the pod spec."""
    import json

    from harness.deployment import Deployment, Pod
    from harness.platforms.kubernetes.objects import RenderOptions, openloop_pods
    from harness.platforms.kubernetes.openloop import pod_view

    deployment = Deployment(
        id="d", platform="kubernetes", network="kubernetes", state_dir=str(tmp_path), client_address="127.0.0.1",
        topology={"kind": "sentinel", "tls": True, "password": "s3cret"},
        pods=[Pod("redis-0", "redis", "127.0.0.1", 40001), Pod("sentinel-0", "sentinel", "127.0.0.1", 40002)],
        extra={"namespace": "rh-x", "cluster_domain": "cluster.local", "access": "port-forward",
               "pod_ips": {"redis-0": "10.244.0.5"}})
    deployment.save()  # the harness's saved deployment (its port-forwards): an engine on this machine re-reads it
    view = pod_view(KubernetesPlatform(), deployment)
    assert [(p["host"], p["port"]) for p in view["pods"]] == [
        ("redis-0.redis-headless.rh-x.svc.cluster.local", 6379), ("sentinel-0.sentinel-headless.rh-x.svc.cluster.local", 26379)]
    assert view["extra"]["aliases"]["10.244.0.5:6379"] == "redis-0" and "password" not in view["topology"]
    seen = Deployment(**{**view, "pods": [Pod(**p) for p in view["pods"]]})
    assert seen.tls is not None and seen.tls.ca == "/tls/ca.crt" and seen.tls.cert == "/tls/tls.crt"
    assert deployment.state_file.exists() and not seen.state_file.exists()  # a pod re-reads nothing: names stay
    (pod, _) = openloop_pods(2, view, "{}", RenderOptions(namespace="rh-x", tls_secret="redis-tls"), wait_s=60,
                             deadline_s=600)
    spec = pod["spec"]
    assert "s3cret" not in json.dumps(pod) and spec["restartPolicy"] == "Never" and spec["activeDeadlineSeconds"] == 600
    (container,) = spec["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["REDIS_HARNESS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "redis-auth"
    assert {"name": "tls", "mountPath": "/tls", "readOnly": True} in container["volumeMounts"]
    assert spec["securityContext"]["fsGroup"] == 1000  # the load image's user reads the Secret

"""The nemesis on real servers: each fault kind has its effect while it lasts, and leaves nothing when healed."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from pydantic import TypeAdapter

from harness.errors import CapabilityError
from harness.nemesis import network
from harness.nemesis.schedule import Nemesis
from harness.platforms.local import netns
from harness.platforms.local.platform import LocalPlatform, process_alive
from harness.poll import wait_until
from harness.redisconn import pod_client
from harness.roles import cluster_shards, primaries, redis_role
from harness.rundir import EventLog, RunClock
from harness.scenario import Fault, Topology
from tests.conftest import assert_gone, needs_redis, needs_root, reaped, unique_id

pytestmark = [needs_redis, needs_root]

FAULT = TypeAdapter(Fault)
REPO = Path(__file__).resolve().parents[1]


def fault(**spec) -> object:
    return FAULT.validate_python({"at_s": 0, **spec})


class Events:
    def __init__(self, path: Path):
        self.path = path

    def all(self) -> list[dict]:
        return [json.loads(line) for line in self.path.read_text().splitlines()] if self.path.exists() else []

    def of(self, type: str, fault_id: str | None = None) -> list[dict]:
        return [e for e in self.all() if e["type"] == type and fault_id in (None, e.get("fault_id"))]

    def wait(self, type: str, fault_id: str, timeout: float = 60) -> dict:
        return wait_until(lambda: next(iter(self.of(type, fault_id)), None), timeout=timeout, interval=0.05,
                          what=f"{type} of fault {fault_id}", describe_failure=lambda: "\n".join(map(str, self.all())))


@contextmanager
def nemesis_running(platform, deployment, faults: list, tmp_path: Path, seed: int = 0):
    clock = RunClock.start()
    path = tmp_path / f"events-{time.monotonic_ns()}.jsonl"
    log = EventLog(path, clock)
    nemesis = Nemesis(platform, deployment, faults, log, clock, seed=seed)
    nemesis.refuse_infeasible()
    nemesis.start()
    try:
        yield nemesis, Events(path)
    finally:
        assert nemesis.stop() == []
        log.close()


def client(deployment, name: str, timeout: float = 2.0) -> redis.Redis:
    return pod_client(deployment, deployment.pod(name), timeout=timeout)


def answers(deployment, name: str, timeout: float = 0.5) -> bool:
    try:
        return bool(client(deployment, name, timeout).ping())
    except (redis.RedisError, OSError):
        return False


def process_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0]


def assert_no_fault_left(platform, deployment) -> None:
    """No harness chain, qdisc, IFB device or delayer in any pod's network; no stopped server."""
    for pod in deployment.pods:
        rules = platform.run_in_pod_network(deployment, pod, ["iptables", "-S"]).stdout
        assert network.CHAIN_PREFIX not in rules, f"{pod.name} keeps rules:\n{rules}"
        qdiscs = platform.run_in_pod_network(deployment, pod, ["tc", "qdisc", "show"]).stdout
        assert "htb" not in qdiscs and "ingress" not in qdiscs, f"{pod.name} keeps qdiscs:\n{qdiscs}"
        links = platform.run_in_pod_network(deployment, pod, ["ip", "-o", "link", "show"]).stdout
        assert "rhifb" not in links, f"{pod.name} keeps an IFB device:\n{links}"
        assert set(netns.netns_pids(pod.netns)) <= {pod.pid}, f"{pod.name}'s network holds extra processes"
        assert process_state(pod.pid) not in "Tt", f"{pod.name} is still stopped"


def median_ping_ms(deployment, name: str, n: int = 15) -> float:
    c = client(deployment, name, timeout=5)
    c.ping()  # connect outside the measurement
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        c.ping()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


# ----------------------------------------------------------------------------------- pod-kill / pod-delete


def test_pod_kill_keeps_data_and_pod_delete_wipes_it(deploy, local_platform, tmp_path):
    d = deploy({"kind": "standalone", "persistence": {"mode": "rdb"}}, "kill")
    c = client(d, "redis-0")
    c.set("survivor", "yes")
    c.save()
    old_pid = d.pod("redis-0").pid
    with nemesis_running(local_platform, d, [fault(kind="pod-kill", target={"role": "primary"}, duration_s=2)],
                         tmp_path) as (_, events):
        events.wait("fault-start", "0.0")
        assert not process_alive(old_pid) and not answers(d, "redis-0")
        assert events.wait("fault-verified", "0.0")["ok"]
        events.wait("fault-end", "0.0")
        assert answers(d, "redis-0") and d.pod("redis-0").pid != old_pid and process_alive(d.pod("redis-0").pid)
    assert client(d, "redis-0").get("survivor") == "yes", "pod-kill keeps the data dir: the RDB is loaded again"

    with nemesis_running(local_platform, d, [fault(kind="pod-delete", target={"pod": "redis-0"}, duration_s=1)],
                         tmp_path) as (_, events):
        start = events.wait("fault-start", "0.0")
        assert start["params"]["wipe_data"] is True
        events.wait("fault-end", "0.0")
    assert client(d, "redis-0").get("survivor") is None, "pod-delete restarts with an empty data dir"


@needs_root
def test_a_failed_heal_is_reported_once_and_not_waited_out_again_at_the_end(deploy, local_platform, tmp_path):
    """The killed pod cannot start again (its config broken meanwhile): the heal fails, is reported, and
    stop() reports it without trying again. On Kubernetes each try waits out the Ready timeout (300 s):
    a 60 s run took 15 minutes, the scheduled heal and two more at the run's end."""
    d = deploy({"kind": "standalone"}, "healfail")
    clock = RunClock.start()
    log = EventLog(tmp_path / "events.jsonl", clock)
    nemesis = Nemesis(local_platform, d, [fault(kind="pod-kill", target={"pod": "redis-0"}, duration_s=1)], log, clock)
    events = Events(tmp_path / "events.jsonl")
    nemesis.start()
    try:
        events.wait("fault-start", "0.0")
        Path(d.pod("redis-0").conf).write_text("this-is-no-directive yes\n")
        events.wait("fault-error", "0.0")
    finally:
        errors = nemesis.stop()
        log.close()
    assert len(errors) == 1 and errors[0].startswith("0.0 pod-kill: "), errors
    assert len(events.of("fault-error", "0.0")) == 1, events.all()
    assert not events.of("fault-end", "0.0")


# ----------------------------------------------------------------------------------- pause


@pytest.mark.parametrize("method", ["sigstop", "debug-sleep"])
def test_paused_pod_does_not_answer_then_does(deploy, local_platform, tmp_path, method):
    d = deploy({"kind": "standalone"}, "pause")
    pause = fault(kind="pause", method=method, target={"pod": "redis-0"}, duration_s=3)
    with nemesis_running(local_platform, d, [pause], tmp_path) as (_, events):
        events.wait("fault-start", "0.0")
        with pytest.raises(redis.TimeoutError):
            client(d, "redis-0", timeout=0.5).ping()
        if method == "sigstop":
            assert process_state(d.pod("redis-0").pid) == "T"
        events.wait("fault-end", "0.0")
        assert client(d, "redis-0", timeout=2).ping()
    assert process_state(d.pod("redis-0").pid) != "T"


# ----------------------------------------------------------------------------------- partition


@pytest.mark.parametrize("action", ["drop", "reject"])
def test_partitioned_replica_link_goes_down_then_up(deploy, local_platform, tmp_path, action):
    # DROP is noticed only after repl-timeout; REJECT resets the connection at once.
    d = deploy({"kind": "sentinel", "replicas": 1, "sentinels": 1, "quorum": 1,
                "extra_config": {"repl-timeout": "2"}}, "part")
    cut = fault(kind="partition", target={"role": "replica"}, action=action, duration_s=30)

    def link(status: str) -> bool:
        return client(d, "redis-1").info("replication")["master_link_status"] == status

    with nemesis_running(local_platform, d, [cut], tmp_path) as (nemesis, events):
        start = events.wait("fault-start", "0.0")
        assert start["pod"] == ["redis-1"] and start["params"]["sides"] == [["redis-1"], ["redis-0", "sentinel-0"]]
        wait_until(lambda: link("down"), timeout=20, what="master_link_status:down on the cut replica")
        verified = wait_until(lambda: [e for e in events.of("fault-verified", "0.0") if "link" in e["detail"]],
                              timeout=20, what="the nemesis to check the replica's link")
        assert verified[0]["ok"] and verified[0]["detail"] == "redis-1: master_link_status:down", verified
        nemesis.stop()
        assert_no_fault_left(local_platform, d)
        wait_until(lambda: link("up"), timeout=30, what="master_link_status:up after the heal")
    assert len(events.of("fault-end", "0.0")) == 1


def test_one_way_partition_with_client_on_the_target_side(deploy, local_platform, tmp_path):
    """A -> B dropped only: B's pods refuse A's and the client's packets; A still hears B."""
    d = deploy({"kind": "sentinel", "replicas": 1, "sentinels": 1, "quorum": 1}, "oneway")
    cut = fault(kind="partition", mode="one-way", groups=[[{"pod": "sentinel-0"}], [{"pod": "redis-1"}]],
                client_side="target", action="reject", duration_s=30)
    with nemesis_running(local_platform, d, [cut], tmp_path) as (nemesis, events):
        events.wait("fault-start", "0.0")
        assert not answers(d, "redis-1"), "the client is on side A: its packets to B are cut"
        assert answers(d, "redis-0") and answers(d, "sentinel-0")
        nemesis.stop()
        assert answers(d, "redis-1")
    assert_no_fault_left(local_platform, d)


# ----------------------------------------------------------------------------------- packet loss


def failed_pings(deployment, name: str, n: int = 40, timeout: float = 0.15) -> int:
    """A bounded PING loop with short timeouts; a timed-out connection is dropped and remade."""
    c = client(deployment, name, timeout=timeout)
    failures = 0
    for _ in range(n):
        try:
            c.ping()
        except (redis.RedisError, OSError):
            failures += 1
    return failures


def test_packet_loss_raises_failures_and_zero_percent_does_not(deploy, local_platform, tmp_path):
    d = deploy({"kind": "standalone"}, "loss")
    measured, observed = {}, {}
    for percent in (0, 30):
        loss = fault(kind="packet-loss", target={"pod": "redis-0"}, percent=percent, duration_s=120)
        with nemesis_running(local_platform, d, [loss], tmp_path) as (nemesis, events):
            events.wait("fault-start", "0.0")
            measured[percent] = failed_pings(d, "redis-0")
            nemesis.stop()
            observed[percent] = events.wait("fault-end", "0.0")["observed"]
    measured["healed"] = failed_pings(d, "redis-0")
    print(f"\nfailed PINGs of 40 (timeout 150 ms): {measured}; packets the rules dropped: {observed}")
    assert observed[0]["dropped"] == 0 and observed[0]["packets"] > 0
    assert 0.2 <= observed[30]["dropped"] / observed[30]["packets"] <= 0.4, observed
    assert measured[30] >= measured[0] + 10, measured
    assert measured["healed"] <= measured[30] // 2, measured
    assert_no_fault_left(local_platform, d)


# ----------------------------------------------------------------------------------- latency


def test_latency_delays_the_faulted_pod_only(deploy, local_platform, tmp_path):
    d = deploy({"kind": "sentinel", "replicas": 1, "sentinels": 1, "quorum": 1}, "latency")
    before = {name: median_ping_ms(d, name) for name in ("redis-0", "redis-1")}
    slow = fault(kind="latency", target={"pod": "redis-1"}, delay_ms=100, jitter_ms=5, duration_s=120)
    with nemesis_running(local_platform, d, [slow], tmp_path) as (nemesis, events):
        events.wait("fault-start", "0.0")
        during = {name: median_ping_ms(d, name) for name in ("redis-0", "redis-1")}
        assert all(e["ok"] for e in events.of("fault-verified", "0.0"))
        nemesis.stop()
    after = median_ping_ms(d, "redis-1")
    print(f"\nmedian PING ms before {before}, during {during}, redis-1 after {after:.2f}")
    assert during["redis-1"] - before["redis-1"] >= 90
    assert during["redis-0"] - before["redis-0"] < 20
    assert after - before["redis-1"] < 20
    assert_no_fault_left(local_platform, d)


# ----------------------------------------------------------------------------------- bandwidth


def transfer_kbit_per_s(deployment, name: str, size: int) -> tuple[float, float]:
    """(write, read) rates of one `size`-byte value: the pod receiving, then sending."""
    c = redis.Redis(host=deployment.pod(name).host, port=6379, socket_timeout=30)  # bytes in, bytes out
    value = os.urandom(size)
    start = time.perf_counter()
    c.set("bulk", value)
    wrote = time.perf_counter() - start
    start = time.perf_counter()
    assert len(c.get("bulk")) == size
    read = time.perf_counter() - start
    return size * 8 / 1000 / wrote, size * 8 / 1000 / read


def test_bandwidth_caps_a_bulk_transfer_near_the_rate(deploy, local_platform, tmp_path):
    d = deploy({"kind": "standalone"}, "bw")
    size, rate = 1_000_000, 8000  # 1 MB at 8 Mbit/s: about one second each way
    free = transfer_kbit_per_s(d, "redis-0", size)
    capped = fault(kind="bandwidth", target={"pod": "redis-0"}, rate_kbit=rate, duration_s=120)
    with nemesis_running(local_platform, d, [capped], tmp_path) as (nemesis, events):
        events.wait("fault-start", "0.0")
        shaped = transfer_kbit_per_s(d, "redis-0", size)
        nemesis.stop()
    print(f"\nkbit/s (write, read): unshaped {free[0]:.0f}, {free[1]:.0f}; at {rate} kbit: "
          f"{shaped[0]:.0f}, {shaped[1]:.0f}")
    for got in shaped:
        assert 0.5 * rate <= got <= 1.25 * rate
    assert min(free) > 3 * rate, "without the cap the same transfer is much faster"
    assert_no_fault_left(local_platform, d)


# ----------------------------------------------------------------------------------- failovers


def test_sentinel_primary_kill_promotes_a_replica(deploy, local_platform, tmp_path):
    d = deploy({"kind": "sentinel", "replicas": 2, "sentinels": 3, "quorum": 2, "down_after_ms": 1000,
                "failover_timeout_ms": 5000}, "sentfail")
    kill = fault(kind="pod-kill", target={"role": "primary"}, duration_s=120)
    with nemesis_running(local_platform, d, [kill], tmp_path) as (nemesis, events):
        old = events.wait("fault-start", "0.0")["pod"]
        assert old == "redis-0"

        def promoted() -> str | None:
            current = primaries(d).get(None)
            return current.name if current and current.name != old and redis_role(d, current).role == "primary" else None

        new = wait_until(promoted, timeout=60, interval=0.2, what="Sentinel to promote a replica")
        nemesis.stop()
        # the restarted old primary comes back and Sentinel makes it a replica of the new one
        wait_until(lambda: redis_role(d, d.pod(old)).primary == new, timeout=60, interval=0.2,
                   what=f"{old} to rejoin as a replica of {new}")


def test_cluster_shard_primary_kill_hands_its_slots_to_the_replica(deploy, local_platform, tmp_path):
    d = deploy({"kind": "cluster", "shards": 3, "replicas": 1, "cluster_node_timeout_ms": 1000}, "clfail")
    survivor = d.pod("redis-0")

    def slot_owner(slot: int) -> str:
        for first, last, primary, *_ in client(d, survivor.name).execute_command("CLUSTER", "SLOTS"):
            if first <= slot <= last:
                return d.pod_by_address(primary[0], int(primary[1])).name
        return ""

    slot = 16384 // 3 + 10  # in shard 1
    assert slot_owner(slot) == "redis-2"
    kill = fault(kind="pod-kill", target={"role": "primary", "shard": 1}, duration_s=120)
    with nemesis_running(local_platform, d, [kill], tmp_path) as (nemesis, events):
        assert events.wait("fault-start", "0.0")["pod"] == "redis-2"
        wait_until(lambda: slot_owner(slot) == "redis-3", timeout=60, interval=0.2,
                   what="redis-3 to take shard 1's slots")
        assert cluster_shards(d)["redis-3"] == (1, "primary")
        nemesis.stop()


# ----------------------------------------------------------------------------------- repeat, overlap, interrupt


def test_repeating_and_overlapping_faults_each_start_and_end(deploy, local_platform, tmp_path):
    d = deploy({"kind": "standalone"}, "repeat")
    faults = [fault(kind="pause", target={"pod": "redis-0"}, duration_s=0.5, every_s=1.5, count=3),
              fault(kind="packet-loss", target={"pod": "redis-0"}, percent=5, at_s=0.2, duration_s=3.5)]
    with nemesis_running(local_platform, d, faults, tmp_path) as (nemesis, events):
        wait_until(nemesis.done, timeout=60, what="every firing to end")
    ids = ["0.0", "0.1", "0.2", "1.0"]
    for fid in ids:
        (start,) = events.of("fault-start", fid)
        (end,) = events.of("fault-end", fid)
        assert start["t"] < end["t"]
    starts = {e["fault_id"]: e["t"] for e in events.of("fault-start")}
    ends = {e["fault_id"]: e["t"] for e in events.of("fault-end")}
    assert starts["1.0"] < ends["0.1"] and starts["0.2"] < ends["1.0"], "the loss overlaps the pauses"
    assert_no_fault_left(local_platform, d)


NEMESIS_SCRIPT = textwrap.dedent("""
    import json, sys, threading
    from pathlib import Path
    from pydantic import TypeAdapter
    from harness.nemesis.schedule import Nemesis
    from harness.deployment import Deployment
    from harness.platforms.local.platform import LocalPlatform
    from harness.rundir import EventLog, RunClock
    from harness.scenario import Fault
    from harness.signals import Interrupted, interrupts_raise

    deployment = Deployment.load(sys.argv[1])
    faults = [TypeAdapter(Fault).validate_python(f) for f in json.loads(sys.argv[3])]
    clock = RunClock.start()
    events = EventLog(Path(sys.argv[2]), clock)
    nemesis = Nemesis(LocalPlatform(), deployment, faults, events, clock)
    code = 0
    with interrupts_raise():
        try:
            nemesis.refuse_infeasible()
            nemesis.start()
            threading.Event().wait(120)  # bounded: a forgotten script ends by itself
        except Interrupted:
            code = 130
        finally:
            errors = nemesis.stop()
            events.close()
    sys.exit(3 if errors else code)
""")


def test_sigint_mid_partition_heals_every_rule_and_paused_process(deploy, local_platform, tmp_path):
    d = deploy({"kind": "sentinel", "replicas": 1, "sentinels": 1, "quorum": 1}, "sigint")
    faults = [
        {"kind": "partition", "at_s": 0, "target": {"role": "primary"}, "client_side": "target", "duration_s": 100},
        # by name: once the primary's partition is in, the harness cannot ask redis-1 its role
        {"kind": "pause", "at_s": 0, "target": {"pod": "redis-1"}, "duration_s": 100},
        {"kind": "packet-loss", "at_s": 0, "target": {"pod": "sentinel-0"}, "percent": 20, "duration_s": 100},
        {"kind": "latency", "at_s": 0, "target": {"pod": "sentinel-0"}, "delay_ms": 50, "duration_s": 100},
        {"kind": "bandwidth", "at_s": 0, "target": {"pod": "redis-0"}, "rate_kbit": 1000, "duration_s": 100},
    ]
    events = Events(tmp_path / "events.jsonl")
    script = tmp_path / "run_nemesis.py"
    script.write_text(NEMESIS_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(d.state_file), str(events.path), json.dumps(faults)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with reaped(proc):
        for i in range(len(faults)):
            events.wait("fault-start", f"{i}.0")
        assert process_state(d.pod("redis-1").pid) == "T"
        assert network.CHAIN_PREFIX in local_platform.run_in_pod_network(d, d.pod("redis-0"), ["iptables", "-S"]).stdout
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=90)
    assert proc.returncode == 130, output
    assert sorted(e["fault_id"] for e in events.of("fault-end")) == [f"{i}.0" for i in range(len(faults))]
    assert_no_fault_left(local_platform, d)


# ----------------------------------------------------------------------------------- preflight


def test_preflight_refuses_what_the_platform_cannot_make(tmp_path):
    """Loopback pods (what a non-root user gets) cannot be partitioned; a role the topology lacks cannot be hit."""
    platform = LocalPlatform(network="loopback")
    d = platform.deploy(Topology(kind="standalone"), unique_id("preflight"), owner_pid=os.getpid())
    try:
        faults = [fault(kind="partition", target={"role": "primary"}),
                  fault(kind="latency", target={"role": "primary"}, delay_ms=10),
                  fault(kind="pod-kill", target={"role": "replica"}),
                  fault(kind="pause", target={"role": "sentinel"}),
                  fault(kind="pod-kill", target={"role": "primary"})]
        clock = RunClock.start()
        log = EventLog(tmp_path / "events.jsonl", clock)
        with pytest.raises(CapabilityError) as refused:
            Nemesis(platform, d, faults, log, clock).refuse_infeasible()
        log.close()
        message = str(refused.value)
        for line in ("faults.0 (partition): network faults need root", "faults.1 (latency): network faults need root",
                     "faults.2 (pod-kill): target: target role 'replica'", "faults.3 (pause): target: target role 'sentinel'"):
            assert line in message, message
        assert "faults.4" not in message
    finally:
        platform.teardown(d)
    assert_gone(platform, d)


# ----------------------------------------------------------------------------------- pure command building


def test_partition_rules_put_the_client_on_the_named_side():
    cuts = network.partition_cuts({"10.0.0.10", "10.0.0.1"}, {"10.0.0.11"}, "one-way")
    a_rules = network.cut_rules("RH-0-0", "10.0.0.10", cuts, "drop")
    b_rules = network.cut_rules("RH-0-0", "10.0.0.11", cuts, "reject")
    assert [r[r.index("-A"):] for r in a_rules] == [["-A", "RH-0-0", "-d", "10.0.0.11", "-j", "DROP"]]
    assert [r[r.index("-A"):] for r in b_rules] == [
        ["-A", "RH-0-0", "-s", "10.0.0.1", "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"],
        ["-A", "RH-0-0", "-s", "10.0.0.1", "-j", "REJECT"],
        ["-A", "RH-0-0", "-s", "10.0.0.10", "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"],
        ["-A", "RH-0-0", "-s", "10.0.0.10", "-j", "REJECT"],
    ]
    assert network.chain_name("12.3") == "RH-12-3" and len(network.ifb_name("ctk-12345678901")) <= 15
    loss = network.loss_rules("RH-1-0", 30, peers=["10.0.0.11"])
    assert [r[r.index("-A"):r.index("-m")] for r in loss] == [["-A", "RH-1-0", "-s", "10.0.0.11"],
                                                              ["-A", "RH-1-0", "-d", "10.0.0.11"]]
    assert all("0.300000" in r for r in loss)


def test_the_next_firing_is_named_until_it_has_begun(tmp_path):
    """The progress line's "no fault active (next: ...)": a firing is next until the scheduler takes it up, also
    past its start second (the flagship's line at 20 s said only "no fault active"); once taken up and until it
    has applied, it is active and "(starting)"."""
    clock = RunClock.start()
    faults = [fault(kind="pod-kill", target={"pod": "redis-0"}, at_s=20, duration_s=5, every_s=30, count=2),
              fault(kind="pause", target={"pod": "redis-1"}, at_s=35, duration_s=2)]
    log = EventLog(tmp_path / "events.jsonl", clock)
    nemesis = Nemesis(None, None, faults, log, clock)  # type: ignore[arg-type]  # nothing fires: no platform needed
    assert [nemesis.next_firing(t) for t in (0, 20, 20.5)] == ["pod-kill at 20s"] * 3
    first, pause, second = nemesis.firings
    nemesis._register(first)  # the scheduler took it up: it is applying
    assert nemesis.next_firing(20.5) == "pause at 35s" and nemesis.active() == ["0.0 pod-kill (starting)"]
    nemesis._slots[first.fault_id].record.healed = True
    nemesis._register(pause)
    assert nemesis.next_firing(50.1) == "pod-kill at 50s" and nemesis.active() == ["1.0 pause (starting)"]
    nemesis._register(second)
    assert nemesis.next_firing(50.1) is None
    log.close()

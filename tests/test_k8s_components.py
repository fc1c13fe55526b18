"""The network-policy, metrics and prometheus-operator components.

- The exporter sidecar's own settings, run here: Debian's prometheus-redis-exporter (the same
  program as the image's redis_exporter) reads REDIS_ADDR / REDIS_PASSWORD from the environment as
  the sidecar gives them, scrapes a real password-protected primary with a real replica, and every
  metric the PrometheusRules name is in what it serves. With TLS (the metrics-tls component, a run's
  sidecar with topology.tls) it reads the certificates' variables, presents the client certificate a
  TLS-only server requires, and checks the server's name: a name the certificate holds answers, an
  address it does not hold is refused. `kubectl kustomize` builds tls + metrics-tls into valid pods.
- The Prometheus Operator objects have no official schema: their shape is checked here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import jsonschema
import pytest
import redis

from harness.checker.replication_lag import replication_lag
from harness.deployment import Deployment
from harness.exporter_scrape import ExporterScraper
from harness.platforms.kubernetes import components as comp
from harness.platforms.kubernetes.objects import RenderOptions, topology_objects
from harness.platforms.kubernetes.plan import plan
from harness.platforms.kubernetes.platform import options_from_env
from harness.poll import wait_until
from harness.rundir import ReplicationLagWriter, RunClock, RunDir, read_replication_lag
from harness.scenario import Scenario, Topology
from harness.deployment import SECRET_FILES
from harness.tls import make_shared_certificates
from tests.test_kubernetes_manifests import MANIFESTS, SCHEMA_VERSIONS, free_port, needs_kubectl, validate, yaml_docs

needs_exporter = pytest.mark.skipif(shutil.which("prometheus-redis-exporter") is None or
                                    shutil.which("redis-server") is None,
                                    reason="needs redis-server and prometheus-redis-exporter (apt-get install "
                                           "prometheus-redis-exporter)")
PASSWORD = "exporter-pw"
SUMMARY_SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "docs" / "summary.schema.json").read_text())


def server(tmp_path: Path, name: str, *extra: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    work = tmp_path / name
    work.mkdir()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(work),
                             "--save", "", "--requirepass", PASSWORD, "--masterauth", PASSWORD,
                             "--logfile", str(work / "log"), *extra])
    return proc, port


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:  # loopback only
        return reply.read().decode()


@pytest.fixture
def exporters(tmp_path):
    """A password-protected primary with a replica, each with an exporter started from the sidecar's
    environment: ({"primary": exporter port, "replica": ...}, {"primary": redis port, "replica": ...})."""
    primary, primary_port = server(tmp_path, "primary", "--repl-diskless-sync-delay", "0")
    replica, replica_port = server(tmp_path, "replica", "--replicaof", "127.0.0.1", "0")
    procs: list[subprocess.Popen] = []
    try:
        client = redis.Redis(port=replica_port, password=PASSWORD, socket_timeout=2, decode_responses=True)
        wait_until(lambda: client.ping(), timeout=20, what="the replica to answer")
        client.replicaof("127.0.0.1", primary_port)
        wait_until(lambda: client.info("replication")["master_link_status"] == "up", timeout=30,
                   what="the replica's link")
        ports = {}
        for name, port in (("primary", primary_port), ("replica", replica_port)):
            env = {e["name"]: e.get("value", PASSWORD) for e in comp.exporter_container(port)["env"]}  # password: the Secret's
            assert env["REDIS_ADDR"] == f"redis://127.0.0.1:{port}"
            ports[name] = free_port()
            env["REDIS_EXPORTER_WEB_LISTEN_ADDRESS"] = f"127.0.0.1:{ports[name]}"
            procs.append(subprocess.Popen(["prometheus-redis-exporter"], env={"PATH": "/usr/bin:/bin", **env},
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield ports, {"primary": primary_port, "replica": replica_port}
    finally:
        for proc in [*procs, replica, primary]:
            proc.terminate()
            proc.wait(timeout=20)


@needs_exporter
def test_exporter_with_the_sidecars_environment_serves_the_rules_metrics(exporters):
    ports, _ = exporters
    served = {name: wait_until(lambda p=p: scrape(p), timeout=20, what=f"the {name} exporter's /metrics")
              for name, p in ports.items()}
    assert re.search(r"^redis_up 1$", served["primary"], re.M)  # it authenticated with the variable alone
    assert re.search(r'^redis_instance_info\{(?=.*redis_mode="standalone")(?=.*role="master")', served["primary"], re.M)
    assert re.search(r"^redis_connected_slave_lag_seconds\{", served["primary"], re.M)
    assert re.search(r"^redis_master_link_up\{[^}]*\} 1$", served["replica"], re.M)
    every = served["primary"] + served["replica"]
    for rule in comp.RULES:
        for metric in set(re.findall(r"\bredis_[a-z_]+\b(?!\s*=)", rule["expr"])):  # names, not labels
            assert re.search(rf"^{metric}[{{ ]", every, re.M), f"{rule['alert']}: {metric} is not exported"


@needs_exporter
def test_scraper_records_each_replicas_lag_from_the_primarys_exporter(exporters, tmp_path):
    """The run's recorder (harness/exporter_scrape.py) against real exporters: the primary's page gives
    one row for its replica (named by the deployment's aliases), the replica's page none; the rows land
    in replication-lag.csv as they come and the checker's summary shows the replica's largest lag."""
    ports, redis_ports = exporters
    for p in ports.values():
        wait_until(lambda p=p: scrape(p), timeout=20, what="the exporters' /metrics")
    deployment = Deployment(id="t", platform="kubernetes", topology={}, pods=[], client_address="127.0.0.1",
                            network="kubernetes", state_dir=str(tmp_path),
                            extra={"metrics_urls": {n: f"http://127.0.0.1:{p}/metrics" for n, p in
                                                    (("redis-0", ports["primary"]), ("redis-1", ports["replica"]))},
                                   "aliases": {f"127.0.0.1:{redis_ports['replica']}": "redis-1"}})
    run = RunDir(tmp_path / "run").create()
    writer = ReplicationLagWriter(run.replication_lag)
    scraper = ExporterScraper(deployment, writer, RunClock.start(), interval_s=0.2, max_duration_s=30)
    scraper.start()
    try:
        wait_until(lambda: scraper.answered.get("redis-0", 0) >= 3 and scraper.answered.get("redis-1", 0) >= 3,
                   timeout=20, what="three scrapes of each exporter")
        table = read_replication_lag(run.replication_lag).value  # read while the scraper still writes
        assert table is not None and len(table) >= 3
    finally:
        assert scraper.stop()
        writer.close()
    table = read_replication_lag(run.replication_lag).value
    assert set(table["pod"]) == {"redis-0"} and set(table["replica"]) == {"redis-1"}
    assert (table["state"] == "online").all() and (table["lag_bytes"] >= 0).all() and (table["lag_s"] >= 0).all()
    summary = replication_lag(table)
    jsonschema.validate(summary, SUMMARY_SCHEMA["properties"]["replication_lag"])
    assert summary is not None and summary["redis-1"]["samples"] == len(table)
    assert summary["redis-1"]["primaries"] == ["redis-0"] and scraper.silent_pods() == {}



@needs_exporter
def test_the_tls_sidecars_environment_scrapes_a_tls_only_server_checking_its_name(tmp_path):
    """A TLS-only server requiring client certificates, its certificate naming `localhost` (as the Kubernetes
    one names the pods' headless names) and not 127.0.0.1; exporters started from the TLS sidecar's
    environment with the Secret's files. Dialing the name (what $(POD_NAME).redis-headless is in a pod):
    redis_up 1 with the server's figures. Dialing the address: redis_up 0, the name is checked (which is why
    the sidecar dials a name, not 127.0.0.1)."""
    secret = tmp_path / "secret"  # the Secret as a pod mounts it: ca.crt, tls.crt, tls.key
    secret.mkdir()
    pem = make_shared_certificates(tmp_path / "state", ["localhost"])
    for field, name in SECRET_FILES.items():
        (secret / name).write_text(getattr(pem, field))
    port = free_port()
    proc, _ = server(tmp_path, "tls", "--port", "0", "--tls-port", str(port), "--tls-cert-file", str(secret / "tls.crt"),
                     "--tls-key-file", str(secret / "tls.key"), "--tls-ca-cert-file", str(secret / "ca.crt"),
                     "--tls-auth-clients", "yes", "--tls-protocols", "TLSv1.2")
    sidecar = comp.exporter_container(port, tls_mount={"name": "tls", "mountPath": str(secret), "readOnly": True})
    assert sidecar["volumeMounts"][0]["mountPath"] == str(secret)
    env = {e["name"]: e.get("value", PASSWORD) for e in sidecar["env"] if e["name"] != "POD_NAME"}
    assert env["REDIS_ADDR"] == f"rediss://$(POD_NAME).redis-headless:{port}"
    assert "REDIS_EXPORTER_SKIP_TLS_VERIFICATION" not in env
    procs: list[subprocess.Popen] = []
    ports = {}
    try:
        client = redis.Redis(host="localhost", port=port, password=PASSWORD, socket_timeout=2, ssl=True,
                             ssl_ca_certs=str(secret / "ca.crt"), ssl_certfile=str(secret / "tls.crt"),
                             ssl_keyfile=str(secret / "tls.key"))
        wait_until(lambda: client.ping(), timeout=20, what="the TLS server to answer")
        client.close()
        for name, address in (("by-name", f"rediss://localhost:{port}"), ("by-address", f"rediss://127.0.0.1:{port}")):
            ports[name] = free_port()
            procs.append(subprocess.Popen(
                ["prometheus-redis-exporter"],
                env={"PATH": "/usr/bin:/bin", **env, "REDIS_ADDR": address,
                     "REDIS_EXPORTER_WEB_LISTEN_ADDRESS": f"127.0.0.1:{ports[name]}"},
                stdout=subprocess.DEVNULL, stderr=(tmp_path / f"exporter-{name}.log").open("w")))
        def up_by_name() -> str | None:
            page = scrape(ports["by-name"])
            return page if re.search(r"^redis_up 1$", page, re.M) else None

        by_name = wait_until(up_by_name, timeout=20, what="the exporter dialing the name to reach its server",
                             describe_failure=lambda: (tmp_path / "exporter-by-name.log").read_text()[-2000:])
        assert re.search(r'^redis_instance_info\{(?=.*role="master")', by_name, re.M)
        by_address = wait_until(lambda: scrape(ports["by-address"]), timeout=20, what="the other exporter's /metrics")
        assert re.search(r"^redis_up 0$", by_address, re.M)  # the same server, answering the other one
    finally:
        for p in [*procs, proc]:
            p.terminate()
            p.wait(timeout=20)


@needs_kubectl
def test_kustomize_builds_the_tls_and_metrics_tls_components_into_valid_pods(tmp_path):
    """The shipped sentinel with `tls` and `metrics-tls` (instead of `metrics`): each exporter mounts the volume
    the tls component adds and dials its own pod's headless name on its server's port, over TLS."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    rel = lambda *parts: os.path.relpath(MANIFESTS.joinpath(*parts), overlay)  # noqa: E731 (kustomize: relative only)
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{rel('sentinel')}]\ncomponents: [{rel('components', 'tls')}, {rel('components', 'metrics-tls')}]\n")
    built = yaml_docs(subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True,
                                     timeout=120, check=True).stdout)
    sets = {o["metadata"]["name"]: o for o in built if o["kind"] == "StatefulSet"}
    for name, port in (("redis", 6379), ("sentinel", 26379)):
        spec = sets[name]["spec"]["template"]["spec"]
        server_c, exporter = spec["containers"]
        assert (server_c["name"], exporter["name"]) == (name, "metrics")
        assert {"name": "tls", "secret": {"secretName": "redis-tls", "defaultMode": 0o440}} in spec["volumes"]
        assert exporter["volumeMounts"] == [{"name": "tls", "mountPath": "/tls", "readOnly": True}]
        names = [e["name"] for e in exporter["env"]]
        assert names.index("POD_NAME") < names.index("REDIS_ADDR")
        env = {e["name"]: e.get("value") for e in exporter["env"]}
        assert env["REDIS_ADDR"] == f"rediss://$(POD_NAME).{name}-headless:{port}"
        assert env["REDIS_EXPORTER_TLS_CLIENT_CERT_FILE"] == "/tls/tls.crt"
    assert [o["metadata"]["name"] for o in built if o["kind"] == "Service" and "metrics" in o["metadata"]["name"]] \
        == ["redis-metrics"]
    for obj in built:
        validate(obj, SCHEMA_VERSIONS[-1])

def test_prometheus_operator_objects_have_their_shape():
    folder = MANIFESTS / "components" / "prometheus-operator"
    monitor, rule = (yaml_docs((folder / f).read_text())[0]
                     for f in ("servicemonitor-redis.yaml", "prometheusrule-redis.yaml"))
    service = yaml_docs((MANIFESTS / "components" / "metrics" / "service-redis-metrics.yaml").read_text())[0]
    assert monitor["apiVersion"] == rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [p["name"] for p in service["spec"]["ports"]]
    rules = rule["spec"]["groups"][0]["rules"]
    assert {"RedisPrimaryChanged", "RedisReplicationLag", "RedisReplicaLinkDown"} <= {r["alert"] for r in rules}
    for r in rules:
        assert set(r) <= {"alert", "expr", "for", "labels", "annotations"} and r["expr"].strip()


def test_network_policy_lets_the_instance_in_and_keeps_dns():
    policy = yaml_docs((MANIFESTS / "components" / "network-policy" / "networkpolicy-redis.yaml").read_text())[0]
    ports = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    assert ports == {6379, 26379, 16379, comp.METRICS_PORT}
    assert any(p == {"protocol": "UDP", "port": 53} for rule in policy["spec"]["egress"] for p in rule["ports"])
    # the overlay for chaos runs leaves it out: NetworkPolicy partitions would act on the same pods
    faults = (MANIFESTS / "examples" / "sentinel-with-faults" / "kustomization.yaml").read_text()
    assert "network-policy" not in yaml_docs(faults)[0]["components"].__str__()


def test_a_run_with_metrics_renders_the_exporter_beside_each_redis_container():
    """REDIS_HARNESS_K8S_METRICS=1 / _METRICS_IMAGE: the sidecar on the Redis pods (not the sentinels'),
    its password reference optional when the run has no password (no Secret then), required with one."""
    options = options_from_env({"REDIS_HARNESS_K8S_METRICS": "1", "REDIS_HARNESS_K8S_METRICS_IMAGE": "exp:1"})
    assert options == {"metrics": True, "metrics_image": "exp:1"}
    for password, optional in ((None, True), ("pw", False)):
        objects = topology_objects(Topology(kind="sentinel", replicas=1, password=password),
                                   RenderOptions(metrics=True, metrics_image="exp:1"))
        pods = {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in objects if o["kind"] == "StatefulSet"}
        assert [c["name"] for c in pods["sentinel"]["containers"]] == ["sentinel"]
        redis_c, exporter = pods["redis"]["containers"]
        assert exporter["image"] == "exp:1" and exporter["ports"][0]["containerPort"] == comp.METRICS_PORT
        ref = next(e for e in exporter["env"] if e["name"] == "REDIS_PASSWORD")["valueFrom"]["secretKeyRef"]
        assert ref["optional"] is optional
    plain = topology_objects(Topology(kind="sentinel", replicas=1), RenderOptions())
    assert all(len(o["spec"]["template"]["spec"]["containers"]) == 1 for o in plain if o["kind"] == "StatefulSet")
    scenario = Scenario.model_validate({"name": "m", "platform": "kubernetes", "topology": {"kind": "sentinel",
                                                                                           "replicas": 1}})
    assert "image: exp:1" in plan(scenario, metrics=True, metrics_image="exp:1")  # the dry run shows it too

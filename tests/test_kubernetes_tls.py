"""`topology.tls` on Kubernetes without a cluster: what `deploy` applies (the Secret before the pods that
mount it), the certificates it leaves for the harness's clients, what a TLS-less deployment renders
(unchanged), and what is refused before deploying. The real thing: tests/test_k8s_tls.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from harness.errors import CapabilityError, ScenarioError
from harness.platforms.kubernetes import tls as k8s_tls
from harness.platforms.kubernetes.objects import RenderOptions, topology_objects
from harness.platforms.kubernetes.plan import plan
from harness.platforms.kubernetes.platform import KubernetesPlatform
from harness.scenario import Topology, load_scenario
from harness.tls import tls_refusals

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = ROOT / "scenarios" / "sentinel-primary-kill.yaml"
TOPOLOGY = Topology(kind="sentinel", replicas=1, sentinels=3)


def deployed(monkeypatch, tmp_path: Path, topology: Topology, **options) -> tuple[KubernetesPlatform, list, object]:
    """`deploy` with the API calls recorded instead of made, and no waiting."""
    monkeypatch.setenv("REDIS_HARNESS_STATE", str(tmp_path))
    platform = KubernetesPlatform(kubeconfig="/nonexistent", access="pod-ip", **options)
    applied: list[dict] = []
    monkeypatch.setattr(platform, "server_version", lambda: "1.20")
    monkeypatch.setattr(platform, "apply", applied.append)
    for step in ("_wait_ready", "_describe_pods", "_wait_sentinels_can_fail_over"):
        monkeypatch.setattr(platform, step, lambda *args: None)
    monkeypatch.setattr(platform, "_delete_namespace", lambda ns: [])
    return platform, applied, platform.deploy(topology, "tls-unit")


def pod_templates(objects: list[dict]) -> list[dict]:
    return [o["spec"]["template"]["spec"] for o in objects if o["kind"] in ("StatefulSet", "Job")]


def test_a_tls_deployment_applies_its_secret_first_and_every_pod_mounts_it(monkeypatch, tmp_path):
    platform, applied, d = deployed(monkeypatch, tmp_path, TOPOLOGY.model_copy(update={"tls": True}))
    kinds = [o["kind"] for o in applied]
    assert kinds[:2] == ["Namespace", "Secret"] and kinds.count("StatefulSet") == 2
    secret = applied[1]
    assert secret["type"] == "kubernetes.io/tls" and secret["metadata"]["name"] == k8s_tls.SECRET_NAME
    assert set(secret["stringData"]) == {"tls.crt", "tls.key", "ca.crt"}
    ns = d.extra["namespace"]
    cert = x509.load_pem_x509_certificate(secret["stringData"]["tls.crt"].encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert {f"*.redis-headless.{ns}.svc.cluster.local", f"*.sentinel-headless.{ns}.svc.cluster.local",
            "*.redis-headless", f"sentinel.{ns}.svc"} <= set(names)
    for spec in pod_templates(applied):
        assert {"name": "tls", "secret": {"secretName": "redis-tls", "defaultMode": 0o440}} in spec["volumes"]
        container = spec["containers"][0]
        assert {"name": "tls", "mountPath": "/tls", "readOnly": True} in container["volumeMounts"]
        assert {"name": "REDIS_TLS", "value": "yes"} in container["env"]
    # the harness's clients: the CA and the client's pair, signed by it; the servers' key only in the Secret
    tls_dir = Path(d.state_dir) / "tls"
    assert sorted(p.name for p in tls_dir.iterdir()) == ["ca.crt", "client.crt", "client.key"]
    assert (tls_dir / "ca.crt").read_text() == secret["stringData"]["ca.crt"]
    client = x509.load_pem_x509_certificate((tls_dir / "client.crt").read_bytes())
    client.verify_directly_issued_by(x509.load_pem_x509_certificate((tls_dir / "ca.crt").read_bytes()))
    assert d.tls is not None and d.tls.cert == str(tls_dir / "client.crt") and not d.tls.check_hostname
    platform.teardown(d)
    assert not tls_dir.exists()


def test_without_tls_nothing_of_it_is_rendered(monkeypatch, tmp_path):
    _, applied, d = deployed(monkeypatch, tmp_path, TOPOLOGY)
    assert "Secret" not in [o["kind"] for o in applied] and d.tls is None
    for spec in pod_templates(applied):  # (the scripts in their ConfigMap know TLS; no pod asks for it)
        text = yaml.safe_dump(spec)
        assert "REDIS_TLS" not in text and "/tls" not in text and "redis-tls" not in text
    assert not (Path(d.state_dir) / "tls").exists()


def test_a_tls_topology_renders_only_with_its_secret():
    tls = TOPOLOGY.model_copy(update={"tls": True})
    with pytest.raises(ScenarioError, match="tls_secret"):
        topology_objects(tls, RenderOptions(namespace="rh-x"))
    # the ConfigMap's configs are the plaintext ones: the start scripts append the TLS lines (later lines win)
    with_secret = topology_objects(tls, RenderOptions(namespace="rh-x", tls_secret="redis-tls"))
    without = topology_objects(TOPOLOGY, RenderOptions(namespace="rh-x"))
    config = [o for o in with_secret if o["metadata"]["name"] == "redis-config"]
    assert config == [o for o in without if o["metadata"]["name"] == "redis-config"]


def test_what_cannot_run_with_tls_is_refused_before_deploying(monkeypatch, tmp_path):
    with pytest.raises(CapabilityError, match="its tls_secret"):
        deployed(monkeypatch, tmp_path, TOPOLOGY.model_copy(update={"tls": True}), tls_secret="operators")
    assert tls_refusals(load_scenario(FLAGSHIP, {"topology.tls": True, "platform": "kubernetes"}), "kubernetes") == []
    assert tls_refusals(load_scenario(FLAGSHIP, IN_CLUSTER_LOAD), "kubernetes") == []  # the load pods mount it



def test_the_metrics_sidecar_mounts_the_secret_and_dials_a_name_the_certificate_holds(monkeypatch, tmp_path):
    """With REDIS_HARNESS_K8S_METRICS the exporter beside each Redis container mounts the Secret, dials rediss://
    to the pod's own short headless name (the certificate names *.redis-headless; no skip of verification)
    with the Secret's CA and the pods' certificate as its client's; the sentinels have no exporter in a run."""
    platform, applied, d = deployed(monkeypatch, tmp_path, TOPOLOGY.model_copy(update={"tls": True}), metrics=True)
    sets = {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in applied if o["kind"] == "StatefulSet"}
    assert [c["name"] for c in sets["sentinel"]["containers"]] == ["sentinel"]
    exporter = next(c for c in sets["redis"]["containers"] if c["name"] == "metrics")
    env = [(e["name"], e.get("value")) for e in exporter["env"]]
    assert env[0] == ("POD_NAME", None)  # before REDIS_ADDR, which the kubelet expands it into
    assert exporter["env"][0]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    values = dict(env)
    assert values["REDIS_ADDR"] == "rediss://$(POD_NAME).redis-headless:6379"
    assert {k: values[k] for k in values if k.startswith("REDIS_EXPORTER_TLS")} == {
        "REDIS_EXPORTER_TLS_CA_CERT_FILE": "/tls/ca.crt", "REDIS_EXPORTER_TLS_CLIENT_CERT_FILE": "/tls/tls.crt",
        "REDIS_EXPORTER_TLS_CLIENT_KEY_FILE": "/tls/tls.key"}
    assert "REDIS_EXPORTER_SKIP_TLS_VERIFICATION" not in values
    assert exporter["volumeMounts"] == [{"name": "tls", "mountPath": "/tls", "readOnly": True}]
    secret = next(o for o in applied if o["kind"] == "Secret")
    cert = x509.load_pem_x509_certificate(secret["stringData"]["tls.crt"].encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert "*.redis-headless" in names  # what redis-N.redis-headless matches
    platform.teardown(d)
    # without TLS: the plaintext loopback address, nothing mounted
    _, plain, d = deployed(monkeypatch, tmp_path, TOPOLOGY, metrics=True)
    plain_exporter = next(c for o in plain if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "redis"
                          for c in o["spec"]["template"]["spec"]["containers"] if c["name"] == "metrics")
    assert [e["name"] for e in plain_exporter["env"]] == ["REDIS_ADDR", "REDIS_PASSWORD",
                                                          "REDIS_EXPORTER_WEB_LISTEN_ADDRESS"]
    assert plain_exporter["env"][0]["value"] == "redis://127.0.0.1:6379" and "volumeMounts" not in plain_exporter

IN_CLUSTER_LOAD = {"topology.tls": True, "platform": "kubernetes", "workload.locust.workers": 2,
                   "workload.redis_benchmark": {"enabled": True, "in_cluster": True}}
TLS_ARGS = "--tls --cacert /tls/ca.crt --cert /tls/tls.crt --key /tls/tls.key "


def test_the_in_cluster_load_mounts_the_secret_and_connects_with_it():
    """Locust's pods and the redis-benchmark Job mount the Secret as the servers do; the locustfile is told where
    (and its user may read it: fsGroup), redis-cli and redis-benchmark get the CA and the pods' certificate."""
    objects = [o for o in yaml.safe_load_all(plan(load_scenario(FLAGSHIP, IN_CLUSTER_LOAD))) if o]
    load = [o for o in objects if o["kind"] in ("Deployment", "Job")]
    assert sorted(o["metadata"]["name"] for o in load) == ["locust-master", "locust-worker", "redis-benchmark"]
    for spec in (o["spec"]["template"]["spec"] for o in load):
        assert {"name": "tls", "secret": {"secretName": "redis-tls", "defaultMode": 0o440}} in spec["volumes"]
        assert {"name": "tls", "mountPath": "/tls", "readOnly": True} in spec["containers"][0]["volumeMounts"]
        assert spec["securityContext"]["fsGroup"] == spec["securityContext"]["runAsUser"]
    for locust in (o for o in load if o["kind"] == "Deployment"):
        assert {"name": "REDIS_HARNESS_TLS_DIR", "value": "/tls"} in locust["spec"]["template"]["spec"]["containers"][0]["env"]
    script = next(o for o in load if o["kind"] == "Job")["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert script.count(TLS_ARGS) == 2  # the sentinels asked for the primary, and redis-benchmark itself
    plaintext = [o for o in yaml.safe_load_all(plan(load_scenario(FLAGSHIP, {**IN_CLUSTER_LOAD, "topology.tls": False})))
                 if o and o["kind"] in ("Deployment", "Job")]
    assert "/tls" not in yaml.safe_dump(plaintext)
    assert not [o for o in plaintext if o["kind"] == "Deployment" and "fsGroup" in yaml.safe_dump(o)]


def test_the_locustfile_connects_with_a_mounted_secret():
    """REDIS_HARNESS_TLS_DIR: the locustfile's clients trust the Secret's CA and present its certificate, checking
    the chain only (the pods share one certificate). In a subprocess: importing the locustfile patches for gevent."""
    code = ("from harness.workload.locustfile import TARGET; from harness.redisconn import tls_kwargs\n"
            "print(sorted(tls_kwargs(TARGET.tls).items()))\n")
    env = {**os.environ, "REDIS_HARNESS_MODE": "cluster", "REDIS_HARNESS_ADDRESSES": "redis-0.redis-headless:6379",
           "REDIS_HARNESS_TLS_DIR": "/tls"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(sorted(dict(
        ssl=True, ssl_ca_certs="/tls/ca.crt", ssl_certfile="/tls/tls.crt", ssl_keyfile="/tls/tls.key",
        ssl_cert_reqs="required", ssl_check_hostname=False).items()))


def test_the_dry_run_shows_the_secret_its_certificates_made_at_deploy():
    objects = [o for o in yaml.safe_load_all(plan(load_scenario(FLAGSHIP, {"topology.tls": True}))) if o]
    secret = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == "redis-tls")
    assert set(secret["stringData"].values()) == {"<made when the run deploys>"}
    assert [o["kind"] for o in objects].index("Secret") < [o["kind"] for o in objects].index("StatefulSet")

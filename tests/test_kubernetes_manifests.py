"""manifests/ and the objects the Kubernetes platform renders: valid against the official schemas for
several Kubernetes versions, accepted by kustomize, and every shipped config loaded by a real server.

No cluster is needed: schemas come from kubernetes-validate (it ships 1.25 and newer, so 1.20, the
version issue 8's test cluster runs, is covered by the API-version choice test and, on a cluster,
by the kubernetes-marked tests), kustomize from `kubectl kustomize` (offline), and the configs are
loaded by the redis-server installed here.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import redis
import yaml

from harness.platforms.kubernetes import manifests as k8s_manifests
from harness.platforms.kubernetes.objects import (
    RenderOptions,
    locust_objects,
    openloop_pods,
    pdb_api_version,
    rbac_objects,
    redis_benchmark_job,
    topology_objects,
)
from harness.platforms.kubernetes.scripts import SCRIPTS
from harness.poll import wait_until
from harness.scenario import LocustLoad, RedisBenchmarkLoad, Topology, load_scenario
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "manifests"
SCHEMA_VERSIONS = ["1.25", "1.30", kubernetes_validate.latest_version()]
needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (for `kubectl kustomize`) is not installed")


def yaml_docs(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def object_files() -> list[Path]:
    return sorted(p for p in MANIFESTS.rglob("*.yaml") if p.name != "kustomization.yaml")


def kustomize_dirs() -> list[Path]:
    return sorted(p.parent for p in MANIFESTS.rglob("kustomization.yaml")
                  if yaml.safe_load(p.read_text()).get("kind") == "Kustomization")


def validate(obj: dict, version: str) -> None:
    if obj["apiVersion"].startswith("monitoring.coreos.com/"):
        return  # the Prometheus Operator's CRDs have no official schema: tests/test_k8s_components.py
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        pytest.fail(f"{obj['kind']} {obj['metadata']['name']} invalid for Kubernetes {version} at {path}: {exc.message}")


def scenario_topologies(*, with_config: bool = False) -> dict[str, Topology]:
    """Every bundled scenario's topology and a few built here; `with_config`: only those whose pods read a
    redis.conf from the ConfigMap (the naive Deployment passes its few settings as arguments)."""
    found = {p.stem: load_scenario(p).topology for p in sorted((ROOT / "scenarios").glob("*.yaml"))}
    if with_config:
        found = {k: t for k, t in found.items() if t.kind != "naive"}
    found.update({f"bundled-{k}": t for k, t in k8s_manifests.BUNDLED.items()})
    found["cluster-pv-password"] = Topology(kind="cluster", shards=3, replicas=1, persistent_volumes=True, password="s3cret")
    return found


# --------------------------------------------------------------------------- the folders


def test_manifests_are_the_renderers_output():
    assert k8s_manifests.differences() == [], "run: python -m harness.platforms.kubernetes.manifests"


def test_every_folder_exists_with_its_kustomization():
    for folder in ("standalone", "sentinel", "cluster", "load", "rbac", "naive-deployment"):
        kustomization = yaml.safe_load((MANIFESTS / folder / "kustomization.yaml").read_text())
        for resource in kustomization["resources"]:
            assert (MANIFESTS / folder / resource).is_file(), f"{folder}: {resource} is listed but missing"
        listed = set(kustomization["resources"])
        present = {p.name for p in (MANIFESTS / folder).glob("*.yaml")} - {"kustomization.yaml"}
        assert listed == present, f"{folder}: files not in the kustomization: {present - listed}"


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_every_object_under_manifests_validates(version):
    count = 0
    for path in object_files():
        for obj in yaml_docs(path.read_text()):
            validate(obj, version)
            count += 1
    assert count >= 30


@needs_kubectl
@pytest.mark.parametrize("version", SCHEMA_VERSIONS[:2])
def test_kustomize_builds_validate(version):
    """`kubectl kustomize` (what `kubectl apply -k` runs) builds every folder, components included."""
    for folder in kustomize_dirs():
        proc = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"kubectl kustomize {folder}: {proc.stderr}"
        objects = yaml_docs(proc.stdout)
        assert objects, folder
        for obj in objects:
            validate(obj, version)


@needs_kubectl
def test_example_overlay_adds_sidecar_and_claims():
    built = yaml_docs(subprocess.run(["kubectl", "kustomize", str(MANIFESTS / "examples" / "sentinel-with-faults")],
                                     capture_output=True, text=True, timeout=120, check=True).stdout)
    sets = {o["metadata"]["name"]: o for o in built if o["kind"] == "StatefulSet"}
    for name in ("redis", "sentinel"):
        spec = sets[name]["spec"]["template"]["spec"]
        assert [c["name"] for c in spec["containers"]] == [name, "fault"]
        assert spec["shareProcessNamespace"] is True
        assert "NET_ADMIN" in spec["containers"][1]["securityContext"]["capabilities"]["add"]
    assert sets["redis"]["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    assert "data" not in [v["name"] for v in sets["redis"]["spec"]["template"]["spec"]["volumes"]]
    assert all(o["metadata"]["namespace"] == "redis-sentinel" for o in built)


def test_naive_deployment_is_three_independent_primaries():
    objs = {o["kind"]: o for p in (MANIFESTS / "naive-deployment").glob("*-*.yaml") for o in yaml_docs(p.read_text())}
    assert objs["Deployment"]["spec"]["replicas"] == 3
    container = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert "--replicaof" not in container.get("args", []) and "replicaof" not in str(container)
    assert objs["Service"]["spec"]["selector"] == objs["Deployment"]["spec"]["selector"]["matchLabels"]


# --------------------------------------------------------------------------- rendered objects


@pytest.mark.parametrize("version", [SCHEMA_VERSIONS[0], SCHEMA_VERSIONS[-1]])
@pytest.mark.parametrize("name", sorted(scenario_topologies()))
def test_rendered_objects_validate(name, version):
    topology = scenario_topologies()[name]
    for sidecar, tls in ((False, None), (True, "redis-tls")):
        options = RenderOptions(namespace="rh-test", server_version=version, fault_sidecar=sidecar, tls_secret=tls,
                                storage_class="standard", run_id="20261125T221000Z-" + name)
        objects = topology_objects(topology, options)
        objects += locust_objects(LocustLoad(enabled=True), topology, options)
        objects += locust_objects(LocustLoad(enabled=True, workers=2), topology, options, controlled=True)
        objects.append(redis_benchmark_job(RedisBenchmarkLoad(enabled=True, keyspace=1000), topology, options))
        objects += openloop_pods(2, {"pods": []}, "{}", options, wait_s=60, deadline_s=600)
        for obj in objects:
            validate(obj, version)
    for obj in rbac_objects():
        validate(obj, version)


def test_pdb_api_version_follows_the_server():
    """Kubernetes 1.20 serves PodDisruptionBudget only as policy/v1beta1; 1.21+ has policy/v1."""
    assert pdb_api_version("1.20") == "policy/v1beta1"
    assert pdb_api_version("v1.20.2") == "policy/v1beta1"
    assert pdb_api_version("1.21") == "policy/v1"
    assert pdb_api_version("1.30+") == "policy/v1"
    old = topology_objects(Topology(kind="sentinel", replicas=1), RenderOptions(server_version="1.20"))
    assert {o["apiVersion"] for o in old if o["kind"] == "PodDisruptionBudget"} == {"policy/v1beta1"}
    new = topology_objects(Topology(kind="sentinel", replicas=1), RenderOptions(server_version="1.30"))
    assert {o["apiVersion"] for o in new if o["kind"] == "PodDisruptionBudget"} == {"policy/v1"}
    for obj in old:  # the rest of a 1.20 rendering is the same API versions, valid with the oldest schemas here
        if obj["kind"] != "PodDisruptionBudget":
            validate(obj, "1.25")


def test_service_ports_spell_out_protocol():
    """Server-side apply on Service ports needs `protocol` written out (it is part of the list key)."""
    for topology in scenario_topologies().values():
        for obj in topology_objects(topology):
            if obj["kind"] == "Service":
                assert all(p["protocol"] == "TCP" for p in obj["spec"]["ports"]), obj["metadata"]["name"]
            if obj["kind"] in ("StatefulSet", "Job"):
                for c in obj["spec"]["template"]["spec"]["containers"]:
                    assert all(p["protocol"] == "TCP" for p in c.get("ports", [])), c["name"]


def test_no_password_in_configmaps():
    objects = topology_objects(Topology(kind="sentinel", replicas=1, password="hunter2-secret"))
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            assert "hunter2-secret" not in yaml.safe_dump(obj)
    secret = next(o for o in objects if o["kind"] == "Secret")
    assert secret["stringData"] == {"password": "hunter2-secret"}


def test_pods_run_as_non_root_with_probes_limits_and_anti_affinity():
    for topology in scenario_topologies().values():
        for obj in topology_objects(topology, RenderOptions(fault_sidecar=True)):
            if obj["kind"] != "StatefulSet":
                continue
            spec = obj["spec"]["template"]["spec"]
            assert spec["securityContext"]["runAsNonRoot"] is True
            assert spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
            server = spec["containers"][0]
            assert server["securityContext"]["readOnlyRootFilesystem"] is True
            assert server["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert {"readinessProbe", "livenessProbe", "startupProbe"} <= set(server)
            assert server["resources"]["limits"] and server["resources"]["requests"]
            sidecar = spec["containers"][1]
            assert sidecar["name"] == "fault" and spec["shareProcessNamespace"] is True


# --------------------------------------------------------------------------- configs in a real server


def write_scripts(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in SCRIPTS.items():
        (folder / name).write_text(text)
    return folder


def script_conf(tmp_path: Path, script: str, config: dict[str, str], env: dict[str, str]) -> str:
    """Run a start script in `conf` mode (what the pod runs, minus the exec) and return the config it wrote."""
    scripts = write_scripts(tmp_path / "scripts")
    conf_dir, run_dir, data_dir = tmp_path / "etc", tmp_path / "run", tmp_path / "data"
    for d in (conf_dir, run_dir, data_dir):
        d.mkdir(exist_ok=True)
    for name, text in config.items():
        (conf_dir / name).write_text(text)
    closed = str(free_port())  # "no sentinel answers": a loopback port nothing listens on
    full_env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "CONFIG_DIR": str(conf_dir), "RUN_DIR": str(run_dir),
                "DATA_DIR": str(data_dir), "POD_NAMESPACE": "rh-test", "SENTINEL_HOSTS": "127.0.0.1",
                "SENTINEL_PORT": closed, "CLI_TIMEOUT_S": "2", "INITIAL_PRIMARY_HOST": "127.0.0.1", **env}
    proc = subprocess.run(["sh", str(scripts / script), "conf"], env=full_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip()).read_text()


def serve(tmp_path: Path, conf: str, *, sentinel: bool = False, tls_args: list[str] | None = None,
          password: str | None = None) -> None:
    """Load `conf` into a real server on a free 127.0.0.1 port (port and bind overridden on the command
    line), PING, stop. `dir` is rewritten in the file: the server changes into it while reading the
    file, before command-line options apply, and /data does not exist here."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    conf_file = tmp_path / ("sentinel-loaded.conf" if sentinel else "redis-loaded.conf")
    conf_file.write_text("\n".join(f"dir {work}" if line.startswith("dir ") else line for line in conf.splitlines()) + "\n")
    port = free_port()
    ports = ["--port", "0", "--tls-port", str(port), *tls_args] if tls_args else ["--port", str(port)]
    argv = ["redis-server", str(conf_file), *(["--sentinel"] if sentinel else []), *ports, "--bind", "127.0.0.1",
            "--logfile", str(work / "server.log")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = redis.Redis(port=port, socket_timeout=2, password=password)

        def ping() -> bool:
            if not tls_args:
                return client.ping()
            # redis-cli, as the pods' own scripts use it, speaks TLS with the CA the pods mount
            tls = Path(tls_args[-1]).parent  # client certificates are required (tls-auth-clients yes)
            out = subprocess.run(["redis-cli", "--tls", "--cacert", tls_args[-1], "--cert", str(tls / "tls.crt"),
                                  "--key", str(tls / "tls.key"), "-p", str(port), "PING"],
                                 capture_output=True, text=True, timeout=10).stdout
            return out.strip() == "PONG"

        def answers() -> bool:
            if proc.poll() is not None:
                log = (work / "server.log").read_text() if (work / "server.log").exists() else ""
                pytest.fail(f"the server refused the config:\n{proc.stdout.read()}\n{log}\n--- config:\n{conf}")
            return ping()

        assert wait_until(answers, timeout=20, what="the server to answer PING")
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@needs_redis
@pytest.mark.parametrize("folder", ["standalone", "sentinel", "cluster"])
def test_shipped_redis_conf_is_accepted(tmp_path, folder):
    config = yaml_docs((MANIFESTS / folder / "configmap-redis-config.yaml").read_text())[0]["data"]
    env = {"TOPOLOGY": folder, "POD_NAME": "redis-1", "REDIS_PASSWORD": "pw-from-secret",
           "CLUSTER_ANNOUNCE_HOSTNAME": "yes" if folder == "cluster" else "no"}
    conf = script_conf(tmp_path, "redis-start.sh", config, env)
    assert 'requirepass "pw-from-secret"' in conf
    if folder == "sentinel":
        assert "replica-announce-ip redis-1.redis-headless.rh-test.svc.cluster.local" in conf
        assert "replicaof 127.0.0.1 6379" in conf
    if folder == "cluster":
        assert "cluster-announce-hostname redis-1.redis-headless.rh-test.svc.cluster.local" in conf
    serve(tmp_path, conf, password="pw-from-secret")


@needs_redis
def test_shipped_sentinel_conf_is_accepted(tmp_path):
    config = yaml_docs((MANIFESTS / "sentinel" / "configmap-redis-config.yaml").read_text())[0]["data"]
    conf = script_conf(tmp_path, "sentinel-start.sh", config,
                       {"POD_NAME": "sentinel-0", "REDIS_PASSWORD": "pw", "MY_SENTINEL_HOST": "sentinel-0.sentinel-headless"})
    assert "sentinel monitor mymaster 127.0.0.1 6379 2" in conf
    assert "sentinel announce-ip sentinel-0.sentinel-headless" in conf
    assert 'sentinel auth-pass mymaster "pw"' in conf
    assert 'requirepass "pw"' in conf and 'sentinel sentinel-pass "pw"' in conf  # the sentinels ask for it too
    serve(tmp_path, conf, sentinel=True, password="pw")


@needs_redis
@pytest.mark.parametrize("name", sorted(scenario_topologies(with_config=True)))
def test_rendered_confs_are_accepted(tmp_path, name):
    topology = scenario_topologies()[name]
    config = next(o for o in topology_objects(topology) if o["metadata"]["name"] == "redis-config")["data"]
    serve(tmp_path, script_conf(tmp_path, "redis-start.sh", config, {"TOPOLOGY": topology.kind, "POD_NAME": "redis-0"}))
    if "sentinel.conf" in config:
        serve(tmp_path, script_conf(tmp_path, "sentinel-start.sh", config, {"POD_NAME": "sentinel-1"}), sentinel=True)


@needs_redis
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_tls_conf_is_accepted_and_serves_tls(tmp_path):
    tls = tmp_path / "tls"
    tls.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tls / "tls.key"),
                    "-out", str(tls / "tls.crt")], check=True, capture_output=True, timeout=60)
    shutil.copy(tls / "tls.crt", tls / "ca.crt")
    config = yaml_docs((MANIFESTS / "standalone" / "configmap-redis-config.yaml").read_text())[0]["data"]
    conf = script_conf(tmp_path, "redis-start.sh", config, {"REDIS_TLS": "yes", "TLS_DIR": str(tls), "POD_NAME": "redis-0"})
    assert "tls-replication yes" in conf
    serve(tmp_path, conf, tls_args=["--tls-ca-cert-file", str(tls / "ca.crt")])


# --------------------------------------------------------------------------- scripts


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_scripts_parse(tmp_path, name):
    path = write_scripts(tmp_path)
    proc = subprocess.run(["sh", "-n", str(path / name)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed (apt-get install shellcheck)")
def test_scripts_pass_shellcheck(tmp_path):
    path = write_scripts(tmp_path)
    # SC2086/SC2046: word splitting of host lists and TLS options is intended; SC1091/SC2119: sourced helpers
    proc = subprocess.run(["shellcheck", "-s", "sh", "-e", "SC1091,SC2086,SC2046,SC2119", *sorted(str(p) for p in path.glob("*.sh"))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout

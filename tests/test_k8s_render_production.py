"""Production settings the renderer derives, without a cluster: maxmemory from the container's limit,
persistence from the volume, and the persistent-volumes component's config loaded by a real server."""

from __future__ import annotations

import pytest

from harness.errors import ScenarioError
from harness.platforms.kubernetes.objects import RenderOptions, maxmemory_for, memory_bytes, topology_objects
from harness.scenario import Persistence, Topology
from harness.pod_config import effective_persistence
from tests.conftest import needs_redis
from tests.test_kubernetes_manifests import MANIFESTS, script_conf, serve, yaml_docs


def redis_conf_of(topology: Topology, options: RenderOptions = RenderOptions()) -> str:
    return next(o for o in topology_objects(topology, options) if o["metadata"]["name"] == "redis-config")["data"][
        "redis.conf"]


def test_maxmemory_is_three_quarters_of_the_limit_unless_the_scenario_sets_it():
    standalone = Topology(kind="standalone")
    assert maxmemory_for(standalone, RenderOptions()) == "384mb"  # the default 512Mi limit
    assert "maxmemory 48mb" in redis_conf_of(standalone, RenderOptions(limits={"memory": "64Mi"}))
    assert maxmemory_for(Topology(kind="standalone", maxmemory="100mb"), RenderOptions()) == "100mb"
    assert maxmemory_for(standalone, RenderOptions(limits={"cpu": "1"})) is None  # no limit, no bound
    assert memory_bytes("1G") == 10**9 and memory_bytes("1.5Gi") == 3 * 2**29
    with pytest.raises(ScenarioError, match="not a memory quantity: '512MB'"):
        memory_bytes("512MB")


def test_a_volume_turns_persistence_on_as_the_scenario_says():
    none = Topology(kind="standalone")
    assert effective_persistence(none).mode == "none"  # an emptyDir dies with the pod anyway
    assert effective_persistence(none.model_copy(update={"persistent_volumes": True})).mode == "aof"
    rdb = Topology(kind="standalone", persistent_volumes=True, persistence=Persistence(mode="rdb", save="30 1"))
    conf = redis_conf_of(rdb)
    assert 'save "30 1"' in conf and "appendonly no" in conf
    assert "appendonly yes" in redis_conf_of(Topology(kind="sentinel", replicas=1, persistent_volumes=True))


@needs_redis
@pytest.mark.parametrize("persistence, line", [("aof", "appendonly yes"), ("rdb", "save 3600 1 300 100 60 10000")])
def test_persistent_volumes_component_config_is_accepted(tmp_path, persistence, line):
    """The component sets PERSISTENCE on the shipped StatefulSet; the start script turns it into config."""
    component = (MANIFESTS / "components" / "persistent-volumes" / "kustomization.yaml").read_text()
    assert "name: PERSISTENCE" in component and "value: aof" in component
    config = yaml_docs((MANIFESTS / "sentinel" / "configmap-redis-config.yaml").read_text())[0]["data"]
    assert "appendonly no" in config["redis.conf"] and "maxmemory 384mb" in config["redis.conf"]
    conf = script_conf(tmp_path, "redis-start.sh", config, {"TOPOLOGY": "sentinel", "POD_NAME": "redis-0",
                                                             "PERSISTENCE": persistence})
    assert line in conf.split("# added by redis-start.sh", 1)[1]
    serve(tmp_path, conf)

"""A topology with a password: the sentinels ask for it too (requirepass) and give it to each other
(sentinel-pass), and the harness's own clients still find the primary. On real local pods."""

from __future__ import annotations

import pytest
import redis

from harness.poll import wait_until
from harness.redisconn import pod_client
from harness.roles import sentinel_primary
from harness.scenario import Topology
from harness.workload.probe_client import sentinel_target
from tests.conftest import needs_redis, needs_root
from tests.test_kubernetes_manifests import MANIFESTS, script_conf, yaml_docs


@needs_root
@needs_redis
def test_sentinels_require_the_password_and_share_it(deploy):
    d = deploy(Topology(kind="sentinel", replicas=1, sentinels=3, password="s3cret-pw"), "auth-sentinel")
    sentinel = d.sentinel_pods()[0]
    anonymous = redis.Redis(host=sentinel.host, port=sentinel.port, socket_timeout=2)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.ping()
    assert sentinel_primary(d).name == "redis-0"  # the harness's role discovery authenticates
    assert d.pod_by_address(*sentinel_target(d, 1.0)._locate()).name == "redis-0"
    # each sentinel found the others: they authenticate to each other with sentinel-pass
    wait_until(lambda: all(len(pod_client(d, s).execute_command("SENTINEL", "sentinels", "mymaster")) == 2
                           for s in d.sentinel_pods()), timeout=30, what="every sentinel to know the other two")


def test_shipped_pods_refuse_to_start_without_the_secret(tmp_path):
    """The shipped manifests require the Secret (a missing one: CreateContainerConfigError naming it); an
    empty password stops the start scripts with a message that says what to create."""
    for name in ("sentinel/statefulset-redis.yaml", "sentinel/statefulset-sentinel.yaml", "cluster/statefulset-redis.yaml"):
        env = yaml_docs((MANIFESTS / name).read_text())[0]["spec"]["template"]["spec"]["containers"][0]["env"]
        password = next(e for e in env if e["name"] == "REDIS_PASSWORD")["valueFrom"]["secretKeyRef"]
        assert password == {"name": "redis-auth", "key": "password", "optional": False}, name
        assert {"name": "REQUIRE_AUTH", "value": "yes"} in env
    config = yaml_docs((MANIFESTS / "sentinel" / "configmap-redis-config.yaml").read_text())[0]["data"]
    for script in ("redis-start.sh", "sentinel-start.sh"):
        with pytest.raises(AssertionError, match="the Secret redis-auth .key password. is missing or empty"):
            script_conf(tmp_path, script, config, {"TOPOLOGY": "sentinel", "POD_NAME": "redis-0", "REQUIRE_AUTH": "yes"})

"""The role a restarted Redis pod of a Sentinel topology starts in, decided by the very start script
the Kubernetes pods run (`redis-start.sh decide`, harness/platforms/kubernetes/scripts.py).

One rule on both platforms, so one scenario tells one truth: a pod that comes back after a failover
starts as a replica of the primary the sentinels name, and a pod the sentinels still name as primary
but that lost its data waits for their failover instead of starting empty (its replicas would copy
the empty data set). Restarted with its first config instead, a killed primary came back as an empty
primary on this platform only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from harness.binaries import redis_tool
from harness.deployment import SECRET_FILES, Deployment, Pod
from harness.errors import PlatformError
from harness.platforms.kubernetes.scripts import SCRIPTS
from harness.pod_config import MASTER_NAME

PRIMARY_WAIT_S = 120  # the Kubernetes script's own default: how long an emptied primary waits for the failover
SCRIPTS_DIR = "pod-scripts"  # in the deployment's state dir


def replica_of(deployment: Deployment, pod: Pod) -> str | None:
    """The primary's host for `pod` to follow, or None to start as the primary.

    Blocks while the sentinels name this emptied pod as primary (at most PRIMARY_WAIT_S), as the
    pod's start script does on Kubernetes; raises PlatformError when that wait runs out."""
    folder = _scripts(deployment)
    done = subprocess.run(["sh", str(folder / "redis-start.sh"), "decide"], env=_env(deployment, pod, folder),
                          capture_output=True, text=True, timeout=PRIMARY_WAIT_S + 60)
    decision = done.stdout.split()
    if done.returncode != 0 or not decision:
        raise PlatformError(f"{pod.name} cannot start: redis-start.sh decide said {done.stderr.strip()[-500:]!r}")
    if decision[0] == "primary":
        return None
    if decision[0] == "replica" and len(decision) == 3:
        return decision[1]
    raise PlatformError(f"{pod.name}: redis-start.sh decide printed {done.stdout.strip()!r}")


def _scripts(deployment: Deployment) -> Path:
    """The pod scripts (and the client TLS files under the script's names), written once per deployment."""
    folder = Path(deployment.state_dir) / SCRIPTS_DIR
    if not folder.is_dir():
        staging = folder.with_name(f"{SCRIPTS_DIR}.{os.getpid()}")
        staging.mkdir(parents=True, exist_ok=True)
        for name, text in SCRIPTS.items():
            (staging / name).write_text(text)
        if tls := deployment.tls:
            (staging / "tls").mkdir()
            for field, name in SECRET_FILES.items():
                (staging / "tls" / name).symlink_to(getattr(tls, field))
        try:
            staging.rename(folder)
        except OSError:  # written meanwhile by another start
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def _env(deployment: Deployment, pod: Pod, folder: Path) -> dict[str, str]:
    """The pod's environment as the StatefulSet gives it, with this platform's addresses."""
    first = deployment.pod("redis-0")  # the initial primary on both platforms
    cli = Path(redis_tool("redis-cli")).parent
    env = {
        "PATH": f"{cli}:/usr/bin:/bin:/usr/sbin:/sbin", "TOPOLOGY": "sentinel", "SCRIPTS_DIR": str(folder),
        "POD_NAME": pod.name, "MY_HOST": pod.host, "POD_IP": pod.host, "REDIS_PORT": str(pod.port),
        "INITIAL_PRIMARY": first.name, "INITIAL_PRIMARY_HOST": first.host, "DATA_DIR": pod.data_dir,
        "SENTINEL_HOSTS": " ".join(s.host for s in deployment.sentinel_pods()), "MASTER_NAME": MASTER_NAME,
        "SENTINEL_PORT": str(deployment.sentinel_pods()[0].port), "PRIMARY_WAIT_S": str(PRIMARY_WAIT_S),
        "CLI_TIMEOUT_S": "3", "POD_NAMESPACE": "local",
    }
    if deployment.password:
        env["REDIS_PASSWORD"] = deployment.password
    if deployment.tls:
        env |= {"REDIS_TLS": "yes", "TLS_DIR": str(folder / "tls")}
    return env

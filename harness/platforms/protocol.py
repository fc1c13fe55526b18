"""The Platform protocol: what every platform (local, kubernetes) provides to the runner, the nemesis,
the workloads and the CLI. The runner's and the nemesis's platform are declared as this type, and
mypy checks both platforms against it (scripts/test).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from harness.deployment import Deployment, Pod
from harness.scenario import Topology

class Platform(Protocol):
    """What the runner, the nemesis, the workloads and the CLI need from a place that runs Redis pods."""

    name: str

    def deploy(self, topology: Topology, deployment_id: str, *, owner_pid: int | None = None,
               progress: Callable[[str], None] = ...) -> Deployment:
        """Make the pods and wait until the topology is ready (every sentinel can fail over)."""
        ...

    def teardown(self, deployment: Deployment) -> list[str]:
        """Remove everything the deployment made; idempotent; returns what it removed."""
        ...

    def run_in_pod_network(self, deployment: Deployment, pod: Pod, argv: Sequence[str], *, check: bool = True,
                           timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a command inside the pod's network (its namespace locally, an exec/sidecar on Kubernetes)."""
        ...

    def kill_pod(self, deployment: Deployment, pod: Pod) -> None:
        """SIGKILL the pod's server; it stays down until start_pod."""
        ...

    def delete_pod(self, deployment: Deployment, pod: Pod) -> None:
        """The pod-delete fault's stop (Kubernetes: delete with the pod's grace period; locally a kill,
        the data being wiped when it starts again)."""
        ...

    def start_pod(self, deployment: Deployment, pod: Pod, *, wipe_data: bool = False) -> None:
        """Start a killed pod again with the same address, like a container restart; a Sentinel topology's
        server in the role the pods' start script decides (it may wait for the sentinels' failover)."""
        ...

    def pause_pod(self, deployment: Deployment, pod: Pod) -> None: ...

    def replace_server(self, deployment: Deployment, pod: Pod, server: str, *, replicaof: str | None) -> None:
        """The upgrade drill's step: stop the pod's server, start `server` (a binaries spec) on the same
        address, identity and data dir with its config rendered for that version, following `replicaof` if
        given. A platform that cannot raises CapabilityError, and refuses the `upgrade` fault in its
        capabilities so that no run gets this far."""
        ...

    def wait_pod_answers(self, deployment: Deployment, pod: Pod, timeout: float = 30.0) -> None:
        """Until the pod answers PING; raises PlatformError (with its log) if it exits or times out."""
        ...

    def server_log(self, deployment: Deployment, pod: Pod) -> str:
        """The pod's server log so far, across the servers it ran (the upgrade drill reads resync kinds and
        RDB errors in it): text only ever appended to, so an offset into an earlier answer stays valid."""
        ...

    def resume_pod(self, deployment: Deployment, pod: Pod) -> None: ...

    def capabilities(self) -> dict[str, str | None]:
        """Fault capability -> None when available, else the reason it is not (shown to the user)."""
        ...

    def collect_logs(self, deployment: Deployment, logs_dir: Path) -> list[str]:
        """Write each pod's server log into logs_dir/<pod>.log where the logs are not files here
        (Kubernetes: the pod log API); returns the files written. A platform whose pods log to files
        (Pod.log) writes none: the runner copies those."""
        ...


@runtime_checkable
class PlanningPlatform(Platform, Protocol):
    """A platform that makes faults from plans of its own (Kubernetes: API operations, the same plan
    its dry run prints), instead of the nemesis making them from the primitives above."""

    def plan_fault(self, deployment: Deployment, fault: Any, fault_id: str, side_a: list[str],
                   side_b: list[str] | None = None) -> Any: ...

    def execute(self, deployment: Deployment, ops: Any) -> None: ...

    def verify_fault(self, deployment: Deployment, plan: Any) -> list[tuple[bool, str]]: ...

    def heal_fault(self, deployment: Deployment, plan: Any) -> list[str]: ...

    def refusals(self, scenario: Any) -> list[str]:
        """`faults.<i> (<kind>): <reason>` for each fault it cannot make, found before deploying."""
        ...

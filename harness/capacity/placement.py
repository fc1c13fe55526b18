"""Where the sweep's generator runs, and whether what it measures there is the server.

By default the generator runs in the harness's own processes. That measures the server only when the
path to it is a direct hop: the local platform's netns bridge (or loopback), or, on Kubernetes, a
harness on a node reaching pod IPs directly (access `pod-ip`; on a single-node cluster that is the
node's bridge, as locally). Through a port-forward every request would cross the API server and the
kubelet's stream and the sweep would measure that tunnel: the Kubernetes platform refuses it before
deploying (its `refusals`), unless the generator runs as pods in the cluster (`load.workers`:
harness.platforms.kubernetes.openloop), next to the servers, whatever the harness's access.
"""

from __future__ import annotations

from harness.deployment import Deployment
from harness.workload.openloop.spec import OpenLoopLoad


def generator_placement(deployment: Deployment, load: OpenLoopLoad) -> str:
    """One line for memory.json, summary.json and the report: where the requests left from."""
    if load.workers:
        return (f"{load.workers} generator pod(s) in the cluster (namespace {deployment.extra.get('namespace')}, one "
                f"process each), dialing the pods by their DNS names")
    if deployment.platform == "kubernetes":
        return ("harness machine (a cluster node), dialing pod IPs directly over the node's route to the pod network "
                "(access pod-ip, no tunnel)")
    if deployment.network == "netns":
        return "harness machine, dialing the pods over the local netns bridge"
    return f"harness machine, dialing the pods over {deployment.network}"

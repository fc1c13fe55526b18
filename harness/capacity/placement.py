"""Where the sweep's generator runs, and whether what it measures there is the server.

The generator runs in the harness's own processes. That measures the server only when the path to it
is a direct hop: the local platform's netns bridge (or loopback), or, on Kubernetes, a harness on a
node reaching pod IPs directly (access `pod-ip`; on a single-node cluster that is the node's bridge,
as locally). Through a port-forward every request crosses the API server and the kubelet's stream:
the sweep would measure that tunnel, so the Kubernetes platform refuses it before deploying, and
in-cluster access too (not tried yet): its `refusals`. Generator pods inside the cluster are not built.
"""

from __future__ import annotations

from harness.deployment import Deployment


def generator_placement(deployment: Deployment) -> str:
    """One line for memory.json, summary.json and the report: where the requests left from."""
    if deployment.platform == "kubernetes":
        return ("harness machine (a cluster node), dialing pod IPs directly over the node's route to the pod network "
                "(access pod-ip, no tunnel)")
    if deployment.network == "netns":
        return "harness machine, dialing the pods over the local netns bridge"
    return f"harness machine, dialing the pods over {deployment.network}"

"""`topology.tls` on Kubernetes: the deployment's certificates as the Secret its pods mount at /tls.

The Secret is made before the pods, so the server certificate cannot name pod IPs: one certificate,
shared by every Redis and Sentinel pod, names the pods' stable DNS names (wildcards of the headless
Services) and the client Services. Redis checks only the chain between pods (replication, sentinels,
the cluster bus); the harness's clients check the chain too, not the name (deployment.TlsFiles says
why). The CA is harness.tls's per-deployment one: its key is never written.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from harness.deployment import SECRET_FILES
from harness.errors import CapabilityError
from harness.platforms.kubernetes.objects import Obj, RenderOptions, object_labels
from harness.scenario import Topology
from harness.tls import ServerPem, make_shared_certificates

SECRET_NAME = "redis-tls"  # the name the shipped manifests' tls component mounts too
SERVICES = ("redis", "sentinel")  # each with a headless twin, <name>-headless, that names the pods


def dns_names(namespace: str, cluster_domain: str) -> list[str]:
    """Every name a client in the cluster may dial a Redis or Sentinel pod by, short and qualified."""
    names = []
    for service in SERVICES:
        for suffix in ("", f".{namespace}", f".{namespace}.svc", f".{namespace}.svc.{cluster_domain}"):
            names += [f"{service}{suffix}", f"*.{service}-headless{suffix}"]
    return names


def secret_name(options: RenderOptions) -> str:
    """The Secret a `topology.tls` deployment's pods mount (made by `deploy`); CapabilityError, before anything
    exists, for what cannot run with it: an operator's own tls_secret (the harness's clients need a certificate
    its CA signed). The metrics sidecar mounts it too and dials rediss:// to the pod's own headless name, which
    dns_names puts in the certificate (components.exporter_container)."""
    if options.tls_secret:
        raise CapabilityError(f"topology.tls: the platform makes the deployment's own certificates; its tls_secret "
                              f"option ({options.tls_secret!r}) is for pods without topology.tls")
    return SECRET_NAME


def with_secret(options: RenderOptions, topology: Topology) -> RenderOptions:
    """The options a `topology.tls` deployment's objects render with: every pod, the in-cluster load's too,
    mounts the Secret (secret_name's refusals apply); unchanged without TLS."""
    return replace(options, tls_secret=secret_name(options)) if topology.tls else options


def secret_object(pem: ServerPem, options: RenderOptions) -> Obj:
    """A kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt, as the pod scripts read them."""
    meta: Obj = {"name": SECRET_NAME, "labels": object_labels(options, "tls")}
    if options.namespace:
        meta["namespace"] = options.namespace
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta,
            "type": "kubernetes.io/tls",
            "stringData": {SECRET_FILES[field]: getattr(pem, field) for field in ("cert", "key", "ca")}}


def make_secret(state_dir: str | Path, options: RenderOptions) -> Obj:
    """Make the deployment's certificates (the client's and ca.crt into <state_dir>/tls) and its Secret."""
    if not options.namespace:
        raise ValueError("the TLS Secret names the pods' namespace: render with a namespace")
    return secret_object(make_shared_certificates(state_dir, dns_names(options.namespace, options.cluster_domain)),
                         options)

"""TLS for a deployment (`topology.tls: true`): its certificates, and what cannot run with them.

Why per deployment: a run's CA exists only for that run. Its private key is never written (only the
certificates it signed are), so nothing outside the deployment can be given a certificate its
servers trust; the files live in the deployment's state dir and go with it at teardown.

Locally, each server pod gets its own certificate with its address (and its pod name) as subject
alternative names, so a client that checks hostnames (redis-py does) accepts exactly that pod at that
address. On Kubernetes the pods share one certificate naming their DNS names, made before the pods
(`make_shared_certificates`, harness/platforms/kubernetes/tls.py), and clients check the chain only.
The servers require client certificates (`tls-auth-clients yes`): the harness's clients present
`client.crt`, and servers present their own certificate when they are the client (replication,
sentinels, the cluster bus), which is why the pod certificates carry both serverAuth and clientAuth.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.binaries import tls_missing
from harness.deployment import TLS_DIR
from harness.errors import CapabilityError
from harness.scenario import SERVER_SPECS

VALIDITY = datetime.timedelta(days=30)  # an interactive `deploy` may live a while; a run's ends with it
TLS_PLATFORMS = ("local", "kubernetes")
LEAF = [(x509.BasicConstraints(ca=False, path_length=None), True)]


@dataclass(frozen=True)
class ServerPem:
    """A server certificate, its key and the CA that signed it, as PEM text (a Kubernetes Secret's data)."""

    cert: str
    key: str
    ca: str


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "redis-harness"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _sign(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey,
          extensions: list[tuple[x509.ExtensionType, bool]]) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(directory: Path, party: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None) -> None:
    (directory / f"{party}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path = directory / f"{party}.key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))


def _san(name: str, host: str) -> x509.SubjectAlternativeName:
    try:
        address: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        address = x509.DNSName(host)
    return x509.SubjectAlternativeName([address, x509.DNSName(name)])


def _authority(state_dir: str | Path) -> tuple[Path, x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The deployment's CA: ca.crt written into <state_dir>/tls, its key returned and never written."""
    directory = Path(state_dir) / TLS_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = f"redis-harness CA {Path(state_dir).name}"[:64]  # X.509 caps a common name at 64
    ca = _sign(ca_subject, ca_key, _name(ca_subject), ca_key, [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                       key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                       decipher_only=False), True),
    ])
    _write(directory, "ca", ca, None)  # the CA key stays in memory: nothing else can be signed
    return directory, ca, ca_key


def _server(name: str, san: x509.SubjectAlternativeName, ca: x509.Certificate,
            ca_key: ec.EllipticCurvePrivateKey) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A server's certificate: serverAuth, and clientAuth for when it dials its peers (replication, sentinels)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return _sign(name, key, ca.subject, ca_key, [
        *LEAF, (san, False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False),
    ]), key


def _client(directory: Path, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    _write(directory, "client", _sign("redis-harness client", key, ca.subject, ca_key, [
        *LEAF, (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
    ]), key)


def make_certificates(state_dir: str | Path, pods: Iterable[tuple[str, str]]) -> Path:
    """Write ca.crt, <pod>.crt/.key for each (name, address) and client.crt/.key into <state_dir>/tls."""
    directory, ca, ca_key = _authority(state_dir)
    for name, host in pods:
        cert, key = _server(name, _san(name, host), ca, ca_key)
        _write(directory, name, cert, key)
    _client(directory, ca, ca_key)
    return directory


def make_shared_certificates(state_dir: str | Path, dns_names: list[str]) -> ServerPem:
    """Kubernetes: one server certificate for every pod, its SANs `dns_names` (wildcards of the headless
    Services, the Services), since a Secret is made before the pods, whose addresses nobody knows yet.
    Writes ca.crt and client.crt/.key into <state_dir>/tls; the server's key goes only into the returned
    PEMs (the Secret), not to disk."""
    directory, ca, ca_key = _authority(state_dir)
    san = x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names])
    cert, key = _server("redis-harness server", san, ca, ca_key)
    _client(directory, ca, ca_key)
    pem = serialization.Encoding.PEM
    return ServerPem(cert=cert.public_bytes(pem).decode(), ca=ca.public_bytes(pem).decode(),
                     key=key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()).decode())


def refuse_tls_unavailable(scenario: Any, platform: str) -> None:
    """Raise CapabilityError (exit 2) naming every reason of `tls_refusals`; before anything is deployed."""
    problems = tls_refusals(scenario, platform)
    if problems:
        raise CapabilityError("this topology cannot run with TLS here: " + "; ".join(problems))


def tls_refusals(scenario: Any, platform: str) -> list[str]:
    """`topology.tls: <reason>` for each reason the scenario's TLS cannot run on `platform`, before deploying:
    a platform without it, or a server binary built without TLS (the pods', a sweep variant's, or an
    upgrade drill's target)."""
    topologies = [("topology", scenario.topology)]
    if scenario.sweep is not None:
        topologies += [(f"sweep.variants.{i}.topology", scenario.variant_topology(v))
                       for i, v in enumerate(scenario.sweep.variants)]
    wanted = [(where, t) for where, t in topologies if t.tls]
    if not wanted:
        return []
    refused = platform_refusal(platform, wanted[0][0])
    if refused:
        return [refused]
    if platform == "kubernetes":  # the pods run images, not this machine's binaries; every pod mounts the Secret
        return []
    problems: list[str] = []
    for where, topology in wanted:
        servers = [(f"{where}.pod_servers.{pod}", server) for pod, server in topology.pod_servers.items()]
        if set(topology.pod_names()) - set(topology.pod_servers):
            servers.insert(0, (f"{where}.server", topology.server))
        servers += [(f"faults.{i}.to", f.to) for i, f in enumerate(scenario.faults) if f.kind == "upgrade"]
        for field, server in servers:
            why = tls_missing(server)
            if why:
                problems.append(f"{where}.tls: {field} {server!r}: {why}; servers with TLS here: "
                                f"{', '.join(servers_with_tls()) or 'none'}")
    return list(dict.fromkeys(problems))


def platform_refusal(platform: str, where: str = "topology") -> str | None:
    """Why `platform` cannot run a TLS topology, or None."""
    if platform in TLS_PLATFORMS:
        return None
    return (f"{where}.tls: TLS is built for the {' and '.join(TLS_PLATFORMS)} platforms only, not {platform} "
            "(run it on one of those, or without TLS)")


def servers_with_tls() -> list[str]:
    """The bundled server names whose binaries are installed here and built with TLS."""
    found = []
    for spec in SERVER_SPECS:
        try:
            if tls_missing(spec) is None:
                found.append(spec)
        except CapabilityError:  # not installed
            continue
    return found

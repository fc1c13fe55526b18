"""Cluster DNS for the test fixture cluster (tests/k8s/cluster): test scaffolding, not part of the product.

CoreDNS cannot be had on these machines, and the manifests rely on headless-service names. This
answers A queries for `cluster.local` from the API's Services and Endpoints, and nothing else: any
other name gets NXDOMAIN (it never forwards, so pods cannot reach a resolver outside the machine).

    <service>.<ns>.svc.<domain>             ClusterIP, or the ready endpoint IPs of a headless Service
    <hostname>.<service>.<ns>.svc.<domain>  the endpoint with that hostname (StatefulSet pods)

Run: python tests/k8s/dns.py --kubeconfig K --listen 10.244.0.1 [--port 53]
"""

from __future__ import annotations

import argparse
import threading
import time

from dnslib import QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer
from kubernetes import client, config

TTL = 1  # pods change IP on restart: answers must not outlive that
REFRESH_S = 1.0


class Records:
    """name -> IPs, rebuilt from the API every REFRESH_S by a thread of its own.

    A lookup never waits for the API: it answers from the last table built. Sentinel resolves
    hostnames synchronously in its event loop, so a lookup that waited on a slow API server (a
    busy 2-core machine, many namespaces) blocked the sentinels past Sentinel's 2 s TILT threshold:
    they entered TILT mode for 30 s and failed over late or not at all (seen: a primary paused at
    a run's 10 s was detected only when TILT ended, 4-5 s after the fault instead of ~2 s)."""

    def __init__(self, core: client.CoreV1Api, domain: str):
        self.core, self.domain = core, domain
        self._table: dict[str, list[str]] | None = None  # replaced whole, never changed in place

    def start(self) -> None:
        threading.Thread(target=self._refresh, name="records", daemon=True).start()

    def _refresh(self) -> None:
        while True:
            started = time.monotonic()
            try:
                self._table = self._build()
            except Exception as exc:  # noqa: BLE001 - the API is briefly unreachable: keep the last table
                print(f"dns: rebuilding from the API failed: {exc}", flush=True)
            time.sleep(max(0.0, REFRESH_S - (time.monotonic() - started)))

    def lookup(self, name: str) -> list[str] | None:
        table = self._table
        if table is None:
            raise LookupError("no table built from the API yet")
        return table.get(name.lower().rstrip("."))

    def _build(self) -> dict[str, list[str]]:
        table: dict[str, list[str]] = {}
        endpoints = {(e.metadata.namespace, e.metadata.name): e for e in self.core.list_endpoints_for_all_namespaces().items}
        for svc in self.core.list_service_for_all_namespaces().items:
            ns, name = svc.metadata.namespace, svc.metadata.name
            base = f"{name}.{ns}.svc.{self.domain}"
            ep = endpoints.get((ns, name))
            addresses = [a for s in (ep.subsets or []) for a in (s.addresses or [])] if ep else []
            not_ready = [a for s in (ep.subsets or []) for a in (s.not_ready_addresses or [])] if ep else []
            if svc.spec.cluster_ip and svc.spec.cluster_ip != "None":
                table[base] = [svc.spec.cluster_ip]
            else:
                table[base] = sorted({a.ip for a in addresses})
            publish_all = bool(svc.spec.publish_not_ready_addresses)
            for a in addresses + (not_ready if publish_all else []):
                if a.hostname:
                    table.setdefault(f"{a.hostname}.{base}", []).append(a.ip)
        return table


class Resolver(BaseResolver):
    def __init__(self, records: Records):
        self.records = records

    def resolve(self, request, handler):
        reply = request.reply()
        qname = str(request.q.qname)
        try:
            ips = self.records.lookup(qname)
        except LookupError:  # no table yet (the API has not answered since start): SERVFAIL, the client retries
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if ips is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype in (QTYPE.A, QTYPE.ANY):
            for ip in ips:
                reply.add_answer(RR(qname, QTYPE.A, rdata=A(ip), ttl=TTL))
        return reply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--domain", default="cluster.local")
    args = parser.parse_args()
    config.load_kube_config(config_file=args.kubeconfig)
    records = Records(client.CoreV1Api(), args.domain)
    records.start()
    resolver = Resolver(records)
    servers = [DNSServer(resolver, address=args.listen, port=args.port, tcp=tcp,
                         logger=DNSLogger("-request,-reply,-truncated,-recv,-send,-data")) for tcp in (False, True)]
    for server in servers:
        server.start_thread()
    while all(s.isAlive() for s in servers):
        time.sleep(1)


if __name__ == "__main__":
    main()

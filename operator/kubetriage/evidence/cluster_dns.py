"""The cluster DNS Service found by what the pods resolve through, not by its name.

A failed lookup makes the cluster DNS a callee (``dependencies.CLUSTER_DNS``, named
``kube-system/kube-dns`` by convention). Distributions name that Service differently (RKE2's
chart ``rke2-coredns-rke2-coredns``, a plain ``coredns``), so an SRE finds it as the pods do:
the Service whose ClusterIP is the nameserver the failing lookups name (Go's resolver writes
``lookup NAME on 10.96.0.10:53``), else the Service serving port 53 that selects the pods of
the cluster's DNS server (the kube-dns label every distribution keeps, a CoreDNS image:
``dns_clients.runs_dns_server``). Its pods, their nodes and their Corefile follow from it.

Pure: the builder passes the objects of its index, the dependency walk those it listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Final

from kubetriage.dns_errors import DNS_RESOLVER_FAILURE
from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.evidence.dns_clients import runs_dns_server
from kubetriage.models.objects import JsonDict, as_dict, as_list, dicts, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# The namespace the cluster's add-ons (its DNS server among them) run in.
ADDON_NAMESPACE: Final = "kube-system"
DNS_PORT: Final = 53
# The nameserver a Go resolver names in a failed lookup.
_LOOKUP_ON: Final = re.compile(r"\blookup \S+ on (?P<ip>\d{1,3}(?:\.\d{1,3}){3}):53\b")


def nameservers(lines: Iterable[str]) -> set[str]:
    """The nameserver addresses failed lookups in ``lines`` say they asked."""
    return {m["ip"] for line in lines for m in _LOOKUP_ON.finditer(line)}


def _cluster_ips(service: JsonDict) -> set[str]:
    spec = as_dict(service.get("spec"))
    return {str(ip) for ip in [spec.get("clusterIP"), *as_list(spec.get("clusterIPs"))] if ip}


def _serves_dns_port(service: JsonDict) -> bool:
    return any(p.get("port") == DNS_PORT for p in dicts(as_dict(service.get("spec")).get("ports")))


def cluster_dns_service(
    services: Sequence[JsonDict], pods: Sequence[JsonDict], asked: Iterable[str] = ()
) -> JsonDict | None:
    """The Service the cluster's DNS is served from (module doc): the one whose ClusterIP is a
    nameserver in ``asked``, else the one on port 53 selecting a DNS server pod of ``pods``
    (``kube-dns`` first, then by namespace and name); None when none does."""
    addresses = set(asked)
    by_address = [s for s in services if _cluster_ips(s) & addresses]
    if by_address:
        return by_address[0]
    servers = [p for p in pods if runs_dns_server(p)]
    selecting = [
        s
        for s in services
        if _serves_dns_port(s)
        and any(
            _ns(p) == _ns(s)
            and service_selects(as_dict(as_dict(s.get("spec")).get("selector")), _labels(p))
            for p in servers
        )
    ]
    ordered = sorted(selecting, key=lambda s: (_name(s) != "kube-dns", _ns(s), _name(s)))
    return ordered[0] if ordered else None


def resolver_first(hosts: list[ServiceHost], lines: Iterable[str]) -> list[ServiceHost]:
    """``hosts`` with the cluster DNS host first when the resolver itself fails to answer in
    ``lines`` (timeouts, "temporary failure"): the first suspect, before the hosts whose
    names it could not resolve."""
    if not any(DNS_RESOLVER_FAILURE.search(line) for line in lines):
        return hosts
    return [h for h in hosts if h.resolver] + [h for h in hosts if not h.resolver]


def with_cluster_dns(
    hosts: list[ServiceHost],
    services: Sequence[JsonDict],
    pods: Sequence[JsonDict],
    lines: Iterable[str] = (),
) -> list[ServiceHost]:
    """``hosts`` with the conventional cluster DNS host (``ServiceHost.resolver``) standing
    for the Service the DNS is found to be served from (``cluster_dns_service``), first when
    the resolver fails (``resolver_first``); unchanged when none is found."""
    if not any(h.resolver for h in hosts):
        return hosts
    said = list(lines)
    found = cluster_dns_service(services, pods, nameservers(said))
    if found is None:
        return hosts  # not in evidence: it is followed where the hosts name it
    named = [
        replace(h, name=_name(found), namespace=_ns(found)) if h.resolver else h for h in hosts
    ]
    return resolver_first(named, said)

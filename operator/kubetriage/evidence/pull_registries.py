"""The registry a pod's image is pulled through, for the dependency walk and the offline
builder alike. Pure.

A pod whose pull fails while the runtime talks to a registry served from inside the cluster
(the registry API URL in the kubelet's Failed event names a Service's ClusterIP or its
cluster DNS name: a pull-through cache or mirror the nodes' runtime is configured to use)
waits on that Service's pods to start at all. That Service is followed like a callee, named
by the failing event (``REGISTRY_SOURCE``), so its own trouble and its own words are read.
A registry host no Service answers to may be exposed through the cluster's ingress
controller: the Ingress whose rule serves that host leads to its backend for the registry
API, followed the same way, and its source names that Ingress and the TLS Secret it serves
the host with (the certificate the nodes' runtime verifies on every pull).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.evidence.host_routes import ingress_rule_backends
from kubetriage.evidence.node_plugins import served_by, served_hosts
from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.raw import dicts as _dicts
from kubetriage.evidence.summaries.ingress import host_matches
from kubetriage.models.base import ObjectRef
from kubetriage.models.naming import NamingSource, route_source
from kubetriage.models.objects import JsonDict
from kubetriage.models.relations import (
    REGISTRY_INGRESS,
    REGISTRY_SOURCE,
    REGISTRY_TLS_SECRET,
    DependencyRoute,
)

# The registry API a failed pull talked to, as containerd words it ("unexpected status from
# HEAD request to http://10.96.50.5:5000/v2/library/redis/manifests/7?ns=docker.io: 502").
_REGISTRY_API = re.compile(r"(?i)\bhttps?://(?P<host>[a-z0-9.-]+)(?::(?P<port>\d+))?/v2/")
_FAILED_PULL = re.compile(r"(?i)failed to pull image")


def pull_registries(
    lines: Iterable[tuple[NamingSource, str]],
) -> list[tuple[str, int | None, NamingSource]]:
    """(registry host, port, event source) of each registry a pod's failed pull talked to,
    as the kubelet's Warning events of the pod (``event_texts``) say; first source each."""
    found: dict[str, tuple[int | None, NamingSource]] = {}
    for source, line in lines:
        pod_event = source.kind == "event" and source.owner_kind == "Pod"
        if not pod_event or not _FAILED_PULL.search(line):
            continue
        for match in _REGISTRY_API.finditer(line):
            port = int(match["port"]) if match["port"] else None
            found.setdefault(match["host"].lower(), (port, source))
    return [(host, port, source) for host, (port, source) in found.items()]


def registry_hosts(
    lines: Iterable[tuple[NamingSource, str]],
    services: Iterable[JsonDict],
    ingresses: Iterable[JsonDict] = (),
) -> list[ServiceHost]:
    """The Services that serve, from inside the cluster, a registry the pods' failed pulls
    talked to (``pull_registries``: its ClusterIP or cluster DNS name, else a host an
    Ingress of the cluster serves: its backend for the registry API), each once, named by the
    first failing event. ``services`` and ``ingresses`` are of any namespace."""
    services, ingresses = list(services), list(ingresses)
    direct: list[tuple[str, int | None, NamingSource, DependencyRoute]] = []
    routed: list[ServiceHost] = []
    for host, port, source in pull_registries(lines):
        event = f"{source.owner_kind}/{source.owner} {source.reason}"
        named = f"{REGISTRY_SOURCE} {host} of {event}"
        served = None if served_by(host, services) else registry_route(host, ingresses)
        if served is None:
            route = DependencyRoute(kind="registry", host=host)
            direct.append((host, port, route_source(named), route))
            continue
        namespace, ingress, service, service_port, secret = served
        if any((h.namespace, h.name) == (namespace, service) for h in routed):
            continue
        tls = f" {REGISTRY_TLS_SECRET} {secret}" if secret else ""
        behind = DependencyRoute(
            kind="registry",
            host=host,
            ingress=ObjectRef(kind="Ingress", namespace=namespace, name=ingress),
            tls_secret=ObjectRef(kind="Secret", namespace=namespace, name=secret)
            if secret
            else None,
        )
        routed.append(
            ServiceHost(
                name=service,
                namespace=namespace,
                port=service_port,
                source=route_source(f"{named} {REGISTRY_INGRESS} {namespace}/{ingress}{tls}"),
                cluster_dns=True,
                route=behind,
            )
        )
    found = served_hosts(direct, services)
    return found + [
        h for h in routed if all((f.namespace, f.name) != (h.namespace, h.name) for f in found)
    ]


def _registry_backend(rule: JsonDict) -> tuple[str, int | None] | None:
    """The backend Service (name, port number) of an Ingress rule that serves the registry
    API: the path that covers ``/v2/`` (the longest), else the rule's first path."""
    chosen = ingress_rule_backends(rule, "/v2/") or ingress_rule_backends(rule, None)
    return (chosen[0][0], chosen[0][1] or None) if chosen else None


def registry_route(
    host: str, ingresses: Iterable[JsonDict]
) -> tuple[str, str, str, int | None, str | None] | None:
    """(namespace, Ingress, backend Service, its port, TLS Secret or None) of the Ingress
    whose rule serves the registry ``host`` (exact hosts before wildcards, then by namespace
    and name): a registry exposed through the cluster's ingress controller, whose TLS
    certificate is the one the nodes' runtime verifies when it pulls."""
    matches = []
    for ingress in ingresses:
        spec = _d(ingress.get("spec"))
        for rule in _dicts(spec.get("rules")):
            pattern = str(rule.get("host") or "")
            backend = _registry_backend(rule) if pattern and host_matches(pattern, host) else None
            if backend is None:
                continue
            secret = next(
                (
                    str(t["secretName"])
                    for t in _dicts(spec.get("tls"))
                    if t.get("secretName")
                    and any(host_matches(str(h), host) for h in t.get("hosts") or [])
                ),
                None,
            )
            meta = _d(ingress.get("metadata"))
            key = (pattern.startswith("*."), str(meta.get("namespace")), str(meta.get("name")))
            matches.append((key, (key[1], key[2], *backend, secret)))
    return min(matches, key=lambda m: m[0])[1] if matches else None

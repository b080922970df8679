"""Where the mesh sends a host the pods call: an Istio VirtualService bound to the sidecars
(``gateways`` absent or listing ``mesh``) whose ``hosts`` hold a host the pods name (in env,
args, ConfigMaps, log lines) routes those calls to its destinations. A destination that is
a Service of the cluster (the egress gateway that all calls to an outside API cross, a
proxy, another version of the callee) is the callee an SRE looks at next, not the outside
host the caller's errors name: a call to ``api.partner.example`` routed through
``istio-egressgateway.istio-system`` is as slow as that gateway.

Pure; the dependency walk (``kubetriage.evidence.dependency_walk``) and the builder's
dependency summary (``kubetriage.evidence.summaries.dependencies``) both call
``mesh_route_hosts``, so that live collection and replay follow the same hops.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.evidence.raw import as_dict, as_int, as_list, as_str, dicts
from kubetriage.models.naming import NamingSource, route_source
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# (group, version, kind, plural) the walk lists through the custom objects API.
VIRTUAL_SERVICE_API: Final = ("networking.istio.io", "v1", "VirtualService", "virtualservices")
VIRTUAL_SERVICE: Final = VIRTUAL_SERVICE_API[2]
# The gateway name that binds a VirtualService to every sidecar of the mesh.
_MESH: Final = "mesh"
# Route kinds of a VirtualService, each a list of rules with ``route[].destination``.
_ROUTE_KINDS: Final = ("http", "tls", "tcp")
# A destination spelled as a cluster Service: name, name.namespace, name.namespace.svc[...].
_SERVICE_DESTINATION = re.compile(
    r"^(?P<name>[a-z0-9]([a-z0-9-]*[a-z0-9])?)"
    r"(\.(?P<ns>[a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.svc(\.cluster\.local)?)?)?$"
)


def _named(host: str, texts: Iterable[tuple[NamingSource, str]]) -> NamingSource | None:
    """The source of the first text naming ``host`` as a whole host name, if any."""
    pattern = re.compile(rf"(?<![\w.-]){re.escape(host)}(?![\w-]|\.[\w-])", re.IGNORECASE)
    return next((source for source, text in texts if pattern.search(text)), None)


def _bound_to_sidecars(virtual_service: JsonDict) -> bool:
    gateways = as_list(as_dict(virtual_service.get("spec")).get("gateways"))
    return not gateways or _MESH in gateways


def _for_sidecars(rule: JsonDict) -> bool:
    """Whether a route rule applies to the sidecars: no match names gateways, or one names
    the mesh (a rule matched on another gateway serves that gateway's own traffic)."""
    named = [as_list(m.get("gateways")) for m in dicts(rule.get("match"))]
    return not any(named) or any(_MESH in gateways for gateways in named)


def _destinations(virtual_service: JsonDict) -> list[tuple[str, int | None]]:
    """(host, port) of every destination of the rules the sidecars apply, in rule order."""
    spec = as_dict(virtual_service.get("spec"))
    return [
        (host, as_int(as_dict(dest.get("port")).get("number")))
        for kind in _ROUTE_KINDS
        for rule in dicts(spec.get(kind))
        if _for_sidecars(rule)
        for route in dicts(rule.get("route"))
        if (host := as_str((dest := as_dict(route.get("destination"))).get("host")))
    ]


def mesh_route_hosts(
    virtual_services: Iterable[JsonDict], texts: Iterable[tuple[NamingSource, str]]
) -> list[ServiceHost]:
    """The cluster Services the sidecars route the hosts named in ``texts`` to, by the
    VirtualServices bound to them; each names its VirtualService and the text as its source.
    A destination that is one of the VirtualService's own hosts (the outside host itself) or
    not spelled as a Service is left out."""
    named = list(texts)
    found: list[ServiceHost] = []
    for vs in virtual_services:
        if not _bound_to_sidecars(vs):
            continue
        hosts = [h for h in as_list(as_dict(vs.get("spec")).get("hosts")) if isinstance(h, str)]
        called = next(((h, s) for h in hosts if "*" not in h and (s := _named(h, named))), None)
        if called is None:
            continue
        host, source = called
        for destination, port in _destinations(vs):
            match = _SERVICE_DESTINATION.match(destination.lower())
            if destination in hosts or match is None:
                continue
            service = ServiceHost(
                name=match["name"],
                namespace=match["ns"] or _ns(vs) or None,
                port=port,
                source=route_source(
                    f"VirtualService {_ns(vs)}/{_name(vs)} routes {host} ({source.text})"
                ),
                cluster_dns=match["ns"] is not None,
            )
            if service not in found:
                found.append(service)
    return found

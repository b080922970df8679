"""Gateway API routes (gateway.networking.k8s.io HTTPRoute, GRPCRoute): which route serves a
host a probe names or hangs off a Gateway an alert names, and whether its backendRefs
resolve, the way an SRE reads a gateway's 5xx: the route's backend Service must exist and
expose the port the route names, and the controller says so in the route's status
(ResolvedRefs=False, reason BackendNotFound).

Pure helpers over raw objects, shared by the collector (``ingress_walk.probed_ingress``),
the case replay (``replay.snapshot``) and the builder (``route_summaries``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from kubetriage.evidence.raw import as_dict, as_list, as_str, dicts
from kubetriage.evidence.summaries.ingress import host_matches
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.models.relations import GatewayRouteEvidence

# (group, version, kind, plural) of what the walk lists through the custom objects API.
ROUTE_APIS: Final = (
    ("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"),
    ("gateway.networking.k8s.io", "v1", "GRPCRoute", "grpcroutes"),
)
ROUTE_KINDS: Final = tuple(api[2] for api in ROUTE_APIS)
ISTIO_GATEWAY_API: Final = ("networking.istio.io", "v1", "Gateway", "gateways")
# Alert labels naming a Gateway (gateway controllers' metrics and the rules built on them).
_GATEWAY_LABELS: Final = ("gateway", "gateway_name")


def gateway_names(alerts: Iterable[Alert]) -> set[str]:
    """The Gateways the alerts' labels name."""
    return {v for a in alerts for k in _GATEWAY_LABELS if (v := a.labels.get(k))}


def route_hostnames(route: Mapping[str, object]) -> list[str]:
    return [h for h in as_list(as_dict(route.get("spec")).get("hostnames")) if isinstance(h, str)]


def route_gateways(route: Mapping[str, object]) -> list[tuple[str, str]]:
    """The (namespace, name) of the Gateways the route attaches to (its parentRefs of kind
    Gateway, the default; the namespace defaults to the route's)."""
    return [
        (as_str(p.get("namespace")) or _ns(route) or "", as_str(p.get("name")) or "")
        for p in dicts(as_dict(route.get("spec")).get("parentRefs"))
        if (as_str(p.get("kind")) or "Gateway") == "Gateway" and p.get("name")
    ]


def backend_refs(route: Mapping[str, object]) -> list[tuple[str, str, int | None]]:
    """(namespace, Service, port) of every backendRef to a core Service, in rule order."""
    found: list[tuple[str, str, int | None]] = []
    for rule in dicts(as_dict(route.get("spec")).get("rules")):
        for ref in dicts(rule.get("backendRefs")):
            if (as_str(ref.get("kind")) or "Service") != "Service" or as_str(ref.get("group")):
                continue
            name = as_str(ref.get("name"))
            port = ref.get("port")
            if name:
                namespace = as_str(ref.get("namespace")) or _ns(route) or ""
                found.append((namespace, name, port if isinstance(port, int) else None))
    return list(dict.fromkeys(found))


def unresolved(route: Mapping[str, object]) -> str | None:
    """The controller's ResolvedRefs=False condition on any parent, as "reason: message"."""
    for parent in dicts(as_dict(route.get("status")).get("parents")):
        for cond in dicts(parent.get("conditions")):
            if cond.get("type") == "ResolvedRefs" and cond.get("status") == "False":
                reason = as_str(cond.get("reason")) or "ResolvedRefs=False"
                message = as_str(cond.get("message"))
                return f"{reason}: {message}" if message else reason
    return None


def unresolved_reason(route: Mapping[str, object]) -> str | None:
    """The reason of the controller's ResolvedRefs=False condition on any parent."""
    for parent in dicts(as_dict(route.get("status")).get("parents")):
        for cond in dicts(parent.get("conditions")):
            if cond.get("type") == "ResolvedRefs" and cond.get("status") == "False":
                return as_str(cond.get("reason")) or "ResolvedRefs=False"
    return None


def detached(route: Mapping[str, object]) -> str | None:
    """The controller's Accepted=False condition ("reason: message") when every parent that
    reports on the route refuses it: the gateway then serves none of its rules. None when a
    parent accepts it or none has reported yet."""
    refused: list[str] = []
    for parent in dicts(as_dict(route.get("status")).get("parents")):
        for cond in dicts(parent.get("conditions")):
            if cond.get("type") != "Accepted":
                continue
            if cond.get("status") != "False":
                return None
            reason = as_str(cond.get("reason")) or "Accepted=False"
            message = as_str(cond.get("message"))
            refused.append(f"{reason}: {message}" if message else reason)
    return refused[0] if refused else None


def _service_ports(service: Mapping[str, object]) -> set[object]:
    return {p.get("port") for p in dicts(as_dict(service.get("spec")).get("ports"))}


def broken_backends(
    route: Mapping[str, object], services: Iterable[JsonDict], *, services_known: bool = True
) -> list[tuple[str, str, str | None]]:
    """(namespace, Service, port or None) of the backendRefs that cannot be resolved: the
    Service is missing (None; only when ``services_known``: the Services could be listed) or
    does not expose the port the route names."""
    by_key = {(_ns(s) or "", _name(s)): s for s in services}
    # Another namespace's Services are read only when something led there: a backend absent
    # from a namespace none of whose Services were read is unknown, not missing.
    listed = {_ns(route) or "", *(namespace for namespace, _ in by_key)}
    broken: list[tuple[str, str, str | None]] = []
    for namespace, name, port in backend_refs(route):
        service = by_key.get((namespace, name))
        if service is None:
            if services_known and namespace in listed:
                broken.append((namespace, name, None))
        elif port is not None and port not in _service_ports(service):
            broken.append((namespace, name, str(port)))
    return broken


def _service_ref(namespace: str, name: str) -> ObjectRef:
    return ObjectRef(kind="Service", namespace=namespace, name=name, api_version="v1")


def matching_routes(
    routes: Iterable[JsonDict], hosts: list[str], gateways: set[str]
) -> list[JsonDict]:
    """The routes serving one of ``hosts`` (by host, exact hostnames before wildcards), then
    those attached to one of the ``gateways`` the alerts name; each once."""
    listed = sorted(routes, key=lambda r: (_ns(r) or "", _name(r)))
    found = [
        r
        for host in hosts
        for exact in (True, False)
        for r in listed
        if any(
            (h.lower() == host.lower()) if exact else host_matches(h, host)
            for h in route_hostnames(r)
        )
    ]
    found += [r for r in listed if any(g[1] in gateways for g in route_gateways(r))]
    first: dict[tuple[str | None, str, object], JsonDict] = {}
    for route in found:
        first.setdefault((_ns(route), _name(route), route.get("kind")), route)
    return list(first.values())


def routed_service(
    routes: Iterable[JsonDict],
    services: Iterable[JsonDict],
    hosts: list[str],
    gateways: set[str],
) -> ObjectRef | None:
    """The backend Service of the route serving one of ``hosts`` or attached to one of the
    ``gateways`` the alerts name (``matching_routes``): a backend that does not resolve
    first (a missing Service, a port it does not expose, or any backend of a route whose
    controller reports ResolvedRefs=False); else, for a host, the route's first backend. A
    Gateway serves many routes, so a fine one is no lead there."""
    known = list(services)
    matched = matching_routes(routes, hosts, gateways)
    for route in matched:
        broken = broken_backends(route, known)
        if broken:
            return _service_ref(broken[0][0], broken[0][1])
        refs = backend_refs(route)
        if refs and unresolved(route) is not None:
            return _service_ref(refs[0][0], refs[0][1])
    by_host = matching_routes(matched, hosts, set())
    refs = [ref for route in by_host for ref in backend_refs(route)]
    return _service_ref(refs[0][0], refs[0][1]) if refs else None


def route_summaries(
    routes: Iterable[JsonDict],
    services: Iterable[JsonDict],
    *,
    services_known: bool,
    max_items: int,
) -> list[GatewayRouteEvidence]:
    """The routes, each with its backends and the ones that do not resolve."""
    known = list(services)
    summaries: list[GatewayRouteEvidence] = []
    for route in routes:
        broken = broken_backends(route, known, services_known=services_known)
        summaries.append(
            GatewayRouteEvidence(
                route=ObjectRef(
                    kind=as_str(route.get("kind")) or "HTTPRoute",
                    namespace=_ns(route),
                    name=_name(route),
                    api_version=as_str(route.get("apiVersion")),
                ),
                hostnames=route_hostnames(route)[:max_items],
                gateways=[f"{ns}/{n}" for ns, n in route_gateways(route)][:max_items],
                backends=[n for _, n, _ in backend_refs(route)][:max_items],
                unknown_ports={n: p for _, n, p in broken if p is not None},
                missing=[n for _, n, p in broken if p is None][:max_items],
                unresolved=unresolved(route),
                unresolved_reason=unresolved_reason(route),
                backend_namespaces={
                    n: ns for ns, n, _ in backend_refs(route)[:max_items] if ns != _ns(route)
                },
                detached=detached(route),
            )
        )
    return summaries


def is_istio_gateway(obj: Mapping[str, object]) -> bool:
    return obj.get("kind") == "Gateway" and (as_str(obj.get("apiVersion")) or "").startswith(
        "networking.istio.io/"
    )


def _server_hosts(server: Mapping[str, object]) -> list[str]:
    """An Istio Gateway server's hosts without their ``namespace/`` prefix."""
    return [h.rpartition("/")[2] for h in as_list(server.get("hosts")) if isinstance(h, str)]


def gateway_credentials(gateway: Mapping[str, object]) -> list[tuple[str, str]]:
    """(host, Secret) of each host an Istio Gateway serves with a TLS credential
    (``tls.credentialName``), in its servers' order."""
    return [
        (host, secret)
        for server in dicts(as_dict(gateway.get("spec")).get("servers"))
        if (secret := as_str(as_dict(server.get("tls")).get("credentialName")))
        for host in _server_hosts(server)
    ]


def served_credential(gateways: Iterable[JsonDict], hosts: list[str]) -> tuple[str, str] | None:
    """(namespace, Secret) of the TLS credential (``tls.credentialName``) an Istio Gateway
    serves the first of ``hosts`` with (exact hosts before wildcards, ``*`` last)."""
    listed = sorted(
        (g for g in gateways if is_istio_gateway(g)), key=lambda g: (_ns(g) or "", _name(g))
    )
    servers = [
        (_ns(g) or "", server, secret)
        for g in listed
        for server in dicts(as_dict(g.get("spec")).get("servers"))
        if (secret := as_str(as_dict(server.get("tls")).get("credentialName")))
    ]
    for host in hosts:
        for rank in range(3):
            for namespace, server, secret in servers:
                patterns = _server_hosts(server)
                if any(_host_rank(p, host) == rank for p in patterns):
                    return namespace, secret
    return None


def _host_rank(pattern: str, host: str) -> int | None:
    """0 for the exact host, 1 for a wildcard covering it, 2 for ``*``; None otherwise."""
    if pattern.lower() == host.lower():
        return 0
    if pattern == "*":
        return 2
    return 1 if host_matches(pattern, host) else None


def credential_target(certificates: Iterable[JsonDict], namespace: str, secret: str) -> ObjectRef:
    """The cert-manager Certificate writing ``secret`` in ``namespace`` (renewing it is the
    fix), else the Secret itself."""
    for cert in certificates:
        spec = as_dict(cert.get("spec"))
        if _ns(cert) == namespace and as_str(spec.get("secretName")) == secret:
            return ObjectRef(
                kind="Certificate",
                namespace=namespace,
                name=_name(cert),
                api_version=as_str(cert.get("apiVersion")),
            )
    return ObjectRef(kind="Secret", namespace=namespace, name=secret, api_version="v1")

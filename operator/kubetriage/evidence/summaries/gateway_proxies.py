"""The proxies of the Gateways in front of the incident's workload. Pure.

A Gateway API route (HTTPRoute, GRPCRoute) whose backendRefs name a Service selecting the
incident's pods carries their traffic through the Gateways it attaches to (its parentRefs),
and each Gateway's traffic through the proxy pods its controller runs for it: every request
to the workload crosses those pods first, so an SRE reads them when requests fail in front
of healthy backends. The controllers label those pods with the Gateway they serve: Envoy
Gateway with ``gateway.envoyproxy.io/owning-gateway-name`` and ``-namespace`` (the proxies
run in the controller's namespace), and the controllers that deploy a Gateway's proxies in
its own namespace (Istio, kgateway and others, Gateway API GEP-1762) with
``gateway.networking.k8s.io/gateway-name``.

An Istio ambient namespace (or Service) labelled ``istio.io/use-waypoint`` sends its
Services' traffic through that waypoint, a Gateway of class ``istio-waypoint`` in the
namespace (``istio.io/use-waypoint-namespace`` names another), whose proxy pods carry the
same ``gateway.networking.k8s.io/gateway-name`` label: ztunnel hands every request to the
Service to them first, so they are read the same way, with the Service as what binds them.

Shared by the collector (``kubetriage.evidence.ingress_walk.follow_gateway_proxies``) and the
builder (``gateway_proxies``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.dependency_summary import pod_trouble
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import as_dict, as_str, ref_of
from kubetriage.evidence.summaries.gateway_routes import ROUTE_KINDS, backend_refs, route_gateways
from kubetriage.evidence.summaries.ingress import MAX_CONTROLLER_PODS, owned_by
from kubetriage.models.base import ObjectRef
from kubetriage.models.gateway_proxies import GatewayProxyEvidence
from kubetriage.models.objects import JsonDict, annotations_of, dicts, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.models.quantity import parse_quantity

ENVOY_GATEWAY_NAME: Final = "gateway.envoyproxy.io/owning-gateway-name"
ENVOY_GATEWAY_NAMESPACE: Final = "gateway.envoyproxy.io/owning-gateway-namespace"
GATEWAY_NAME: Final = "gateway.networking.k8s.io/gateway-name"
USE_WAYPOINT: Final = "istio.io/use-waypoint"
AMBIENT_REDIRECTION: Final = "ambient.istio.io/redirection"
USE_WAYPOINT_NAMESPACE: Final = "istio.io/use-waypoint-namespace"
# The value that opts a Service out of its namespace's waypoint.
NO_WAYPOINT: Final = "none"
# Gateways followed to their proxies, at most.
MAX_GATEWAYS: Final = 3


def proxy_selectors(namespace: str, gateway: str) -> list[tuple[str | None, dict[str, str]]]:
    """Where (None: every namespace) and by which labels the proxies of Gateway
    ``namespace/gateway`` are listed."""
    return [
        (None, {ENVOY_GATEWAY_NAME: gateway, ENVOY_GATEWAY_NAMESPACE: namespace}),
        (namespace, {GATEWAY_NAME: gateway}),
    ]


def proxy_pods(pods: Iterable[JsonDict], namespace: str, gateway: str) -> list[JsonDict]:
    """The pods among ``pods`` serving Gateway ``namespace/gateway``, bounded."""
    found = [
        p
        for p in pods
        if any(
            where in (None, _ns(p)) and service_selects(labels, _labels(p))
            for where, labels in proxy_selectors(namespace, gateway)
        )
    ]
    return found[:MAX_CONTROLLER_PODS]


def served_gateways(
    routes: Iterable[JsonDict], services: Iterable[JsonDict], pods: Iterable[JsonDict]
) -> list[tuple[JsonDict, tuple[str, str]]]:
    """Each route with a backend Service selecting one of ``pods``, with each Gateway it
    attaches to (namespace, name), bounded to ``MAX_GATEWAYS`` Gateways."""
    pod_list = list(pods)
    by_name = {(_ns(s), _name(s)): s for s in services}
    found: list[tuple[JsonDict, tuple[str, str]]] = []
    for route in routes:
        selectors = [
            {str(k): str(v) for k, v in (service.get("spec") or {}).get("selector", {}).items()}
            for ns, name, _ in backend_refs(route)
            if (service := by_name.get((ns, name))) is not None
        ]
        if not any(service_selects(s, _labels(p)) for s in selectors for p in pod_list):
            continue
        for gateway in route_gateways(route):
            if gateway not in {g for _, g in found}:
                found.append((route, gateway))
    return found[:MAX_GATEWAYS]


def in_ambient_mesh(pod: JsonDict) -> bool:
    """Whether ztunnel redirects the pod's traffic (Istio's ambient CNI annotates it)."""
    return annotations_of(pod).get(AMBIENT_REDIRECTION) == "enabled"


def _waypoint_of(labels: dict[str, str], namespace: str) -> tuple[str, str] | None:
    name = labels.get(USE_WAYPOINT)
    if not name:
        return None
    return labels.get(USE_WAYPOINT_NAMESPACE) or namespace, name


def served_waypoints(
    namespaces: Iterable[JsonDict], services: Iterable[JsonDict], pods: Iterable[JsonDict]
) -> list[tuple[JsonDict, tuple[str, str]]]:
    """Each Service selecting one of ``pods`` with the waypoint (namespace, name) it sends
    its traffic through: its own ``istio.io/use-waypoint`` label, else its namespace's
    (``none`` opts out); bounded to ``MAX_GATEWAYS`` waypoints."""
    pod_list = list(pods)
    by_namespace = {_name(n): _labels(n) for n in namespaces}
    found: list[tuple[JsonDict, tuple[str, str]]] = []
    for service in services:
        namespace = _ns(service) or ""
        selector = {
            str(k): str(v) for k, v in (service.get("spec") or {}).get("selector", {}).items()
        }
        if not selector or not any(
            _ns(p) == namespace and service_selects(selector, _labels(p)) for p in pod_list
        ):
            continue
        own = _labels(service).get(USE_WAYPOINT)
        if own == NO_WAYPOINT:
            continue
        waypoint = _waypoint_of(_labels(service), namespace) or _waypoint_of(
            by_namespace.get(namespace, {}), namespace
        )
        if waypoint is not None and waypoint not in {w for _, w in found}:
            found.append((service, waypoint))
    return found[:MAX_GATEWAYS]


def cpu_limits(pod: JsonDict) -> dict[str, float]:
    """Container -> CPU limit in cores of ``pod``'s containers that set one."""
    found: dict[str, float] = {}
    for container in dicts((pod.get("spec") or {}).get("containers")):
        limit = parse_quantity(
            as_str(as_dict(as_dict(container.get("resources")).get("limits")).get("cpu"))
        )
        if limit is not None and (name := as_str(container.get("name"))):
            found[name] = limit
    return found


def gateway_proxies(
    index: ObjectIndex, namespace: str | None, pods: list[JsonDict], limits: EvidenceLimits
) -> list[GatewayProxyEvidence]:
    """For each Gateway a route of ``namespace`` serving ``pods`` attaches to: its proxies
    found in ``index`` (those the walk read)."""
    if namespace is None:
        return []
    routes = [r for kind in ROUTE_KINDS for r in index.in_namespace(kind, namespace)]
    services = index.kind("Service")
    summaries: list[GatewayProxyEvidence] = []
    served = served_gateways(routes, services, pods)
    served += served_waypoints(index.kind("Namespace"), services, pods)
    for route, (gateway_ns, gateway) in served:
        found = proxy_pods(index.kind("Pod"), gateway_ns, gateway)
        if not found:
            continue
        summaries.append(
            GatewayProxyEvidence(
                gateway=ObjectRef(kind="Gateway", namespace=gateway_ns, name=gateway),
                route=ref_of(route).model_copy(update={"api_version": None}),
                workload=owned_by(found[0]),
                pods=len(found),
                ready_pods=sum(1 for p in found if pod_trouble(p) is None),
                failing_pods=[t for p in found if (t := pod_trouble(p))][: limits.max_list_items],
                cpu_limits=cpu_limits(found[0]),
            )
        )
    return summaries

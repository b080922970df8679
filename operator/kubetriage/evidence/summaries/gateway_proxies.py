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

Shared by the collector (``kubetriage.evidence.ingress_walk.follow_gateway_proxies``) and the
builder (``gateway_proxies``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.dependency_summary import pod_trouble
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import ref_of
from kubetriage.evidence.summaries.gateway_routes import ROUTE_KINDS, backend_refs, route_gateways
from kubetriage.evidence.summaries.ingress import MAX_CONTROLLER_PODS, owned_by
from kubetriage.models.base import ObjectRef
from kubetriage.models.gateway_proxies import GatewayProxyEvidence
from kubetriage.models.objects import JsonDict, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

ENVOY_GATEWAY_NAME: Final = "gateway.envoyproxy.io/owning-gateway-name"
ENVOY_GATEWAY_NAMESPACE: Final = "gateway.envoyproxy.io/owning-gateway-namespace"
GATEWAY_NAME: Final = "gateway.networking.k8s.io/gateway-name"
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


def gateway_proxies(
    index: ObjectIndex, namespace: str | None, pods: list[JsonDict], limits: EvidenceLimits
) -> list[GatewayProxyEvidence]:
    """For each Gateway a route of ``namespace`` serving ``pods`` attaches to: its proxies
    found in ``index`` (those the walk read)."""
    if namespace is None:
        return []
    routes = [r for kind in ROUTE_KINDS for r in index.in_namespace(kind, namespace)]
    summaries: list[GatewayProxyEvidence] = []
    for route, (gateway_ns, gateway) in served_gateways(routes, index.kind("Service"), pods):
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
            )
        )
    return summaries

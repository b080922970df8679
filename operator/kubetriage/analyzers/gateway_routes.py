"""The Gateway API route rule: an HTTPRoute or GRPCRoute whose backendRef does not resolve
(a Service that does not exist, a port the Service does not expose): the gateway answers
the route's requests itself (500) whatever the backend pods do. The fix is at the Service
(restore the port, create it) or at the route; ``fix-network`` acts on Services and
NetworkPolicies only, so the finding names the backend Service and says which route names
it.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item, service_source
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.relations import GatewayRouteEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a route finding is, by the evidence that earns it."""

    # A route names a port its backend Service does not expose: the gateway cannot build
    # the route whatever the pods do, and rolling the pods back does not give the Service
    # its port back (as an Ingress naming a missing port, routing's 0.9).
    port_missing: float = 0.9
    # A route's backend Service does not exist: the same, one step further.
    service_missing: float = 0.88
    # A route sends to another namespace's Service and its controller refuses the reference
    # (ResolvedRefs=False, RefNotPermitted: no ReferenceGrant there allows it): the gateway
    # answers those requests itself whatever the backend pods do, as for a missing port.
    ref_not_permitted: float = 0.9
    # No parent Gateway accepts the route (Accepted=False: no listener allows its namespace
    # or kind, no hostname matches): the gateway serves none of its rules, and a rollout of
    # the backend, which never sees the requests, does not explain the errors.
    detached: float = 0.9


# The ResolvedRefs reason a controller gives a cross-namespace reference no ReferenceGrant
# allows (Gateway API, GEP-709).
REF_NOT_PERMITTED: Final = "RefNotPermitted"


CONFIDENCE: Final = _Confidence()


def _route_items(route: GatewayRouteEvidence, what: str) -> list[EvidenceItem]:
    source = f"{route.route.kind.lower()}/{route.route.namespace}/{route.route.name}"
    found = [item(source, what)]
    if route.unresolved is not None:
        found.append(item(source, f"ResolvedRefs=False {route.unresolved}"))
    return found


def _finding(
    route: GatewayRouteEvidence,
    service: str,
    problem: str,
    confidence: float,
    facts: list[EvidenceItem],
    fix: str,
) -> Finding:
    namespace = route.backend_namespaces.get(service, route.route.namespace)
    ref = ObjectRef(kind="Service", namespace=namespace, name=service)
    because = [prose.claim(f"{prose.obj(route.route)} sends traffic to {prose.obj(ref)}", facts[0])]
    because += [prose.claim(f"{problem}, so the gateway cannot route to it", *facts[1:])]
    return make_finding(
        "gateway-route",
        Category.NETWORK,
        confidence,
        prose.narrative(f"{prose.obj(route.route)}: {problem}", fix, because=because),
        facts,
        Action.FIX_NETWORK,
        ref,
        {"service": service, "route": route.route.name},
    )


def check_gateway_routes(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for route in evidence.gateway_routes:
        for service, port in route.unknown_ports.items():
            svc = next(
                (
                    s
                    for s in evidence.services
                    if s.name == service and s.namespace == route.route.namespace
                ),
                None,
            )
            facts = _route_items(route, f"backendRef Service {service} port {port}")
            if svc is not None:
                ports = ", ".join(svc.port_texts()) or "none"
                facts.insert(1, item(service_source(svc), f"ports {ports}"))
            findings.append(
                _finding(
                    route,
                    service,
                    f"Service {service} does not expose port {port}",
                    CONFIDENCE.port_missing,
                    facts,
                    f"restore port {port} on {service} or point the route at a port it has",
                )
            )
        for service in route.missing:
            findings.append(
                _finding(
                    route,
                    service,
                    f"Service {service} does not exist",
                    CONFIDENCE.service_missing,
                    _route_items(route, f"backendRef Service {service}"),
                    f"create Service {service} or point the route at an existing one",
                )
            )
        findings += _refused(route)
    return findings


def _refused(route: GatewayRouteEvidence) -> list[Finding]:
    """A route whose controller refuses a cross-namespace backend (no ReferenceGrant) or
    that no parent Gateway accepts: the backends are fine, the route is cut off from them."""
    if route.unresolved_reason == REF_NOT_PERMITTED:
        return [
            _finding(
                route,
                service,
                f"no ReferenceGrant in {namespace} admits its reference to Service {service}",
                CONFIDENCE.ref_not_permitted,
                _route_items(route, f"backendRef Service {namespace}/{service}"),
                f"restore the ReferenceGrant in {namespace}",
            )
            for service, namespace in route.backend_namespaces.items()
        ]
    if route.detached is None or not route.backends:
        return []
    source = f"{route.route.kind.lower()}/{route.route.namespace}/{route.route.name}"
    facts = [
        item(source, f"backendRef Service {route.backends[0]}"),
        item(source, f"Accepted=False {route.detached}"),
    ]
    gateway = f"Gateway {route.gateways[0]}" if route.gateways else "its Gateway"
    return [
        _finding(
            route,
            route.backends[0],
            f"no listener of {gateway} accepts it",
            CONFIDENCE.detached,
            facts,
            f"admit it there to reach Service {route.backends[0]}",
        )
    ]


GATEWAY_ROUTE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("gateway-route", (Category.NETWORK,), check_gateway_routes),
)

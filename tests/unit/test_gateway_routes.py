"""Gateway API routes: which route serves a probed host or hangs off the Gateway an alert
names, which of its backendRefs do not resolve (a missing Service, a port the Service does
not expose, the controller's ResolvedRefs=False), what the builder makes of them, and the
rule that sends the fix to the backend Service."""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.summaries.gateway_routes import (
    broken_backends,
    credential_target,
    detached,
    gateway_names,
    route_summaries,
    routed_service,
    served_credential,
    unresolved,
    unresolved_reason,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.relations import GatewayRouteEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, service_manifest
from tests.support.evidence import analyze, assert_leads


def _route(
    name: str,
    namespace: str,
    backend: str,
    port: int | None,
    *,
    hostnames: list[str] | None = None,
    gateway: str = "public",
    kind: str = "HTTPRoute",
    resolved: bool = True,
) -> dict[str, Any]:
    ref: dict[str, Any] = {"kind": "Service", "name": backend}
    if port is not None:
        ref["port"] = port
    status: dict[str, Any] = {"parents": []}
    if not resolved:
        status["parents"] = [
            {
                "parentRef": {"name": gateway, "namespace": "gw"},
                "conditions": [
                    {
                        "type": "ResolvedRefs",
                        "status": "False",
                        "reason": "BackendNotFound",
                        "message": f"Service {namespace}/{backend} not found",
                    }
                ],
            }
        ]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "parentRefs": [{"name": gateway, "namespace": "gw"}],
            "hostnames": hostnames or [],
            "rules": [{"backendRefs": [ref]}],
        },
        "status": status,
    }


def _service(name: str, namespace: str, port: int) -> dict[str, Any]:
    return service_manifest(name, namespace, {"app": name}, port=port, target_port="http")


def _ref(namespace: str, name: str) -> ObjectRef:
    return ObjectRef(kind="Service", namespace=namespace, name=name, api_version="v1")


def _alert(**labels: str) -> Alert:
    return Alert(labels={"alertname": "X", **labels})


def test_a_route_naming_a_port_its_service_lacks_is_broken() -> None:
    route = _route("catalog", "shop", "catalog", 8080)
    assert broken_backends(route, [_service("catalog", "shop", 80)]) == [
        ("shop", "catalog", "8080")
    ]
    assert broken_backends(route, [_service("catalog", "shop", 8080)]) == []
    assert broken_backends(route, []) == [("shop", "catalog", None)]
    assert broken_backends(route, [], services_known=False) == []


def test_the_controllers_resolved_refs_condition_is_read() -> None:
    assert unresolved(_route("a", "shop", "a", 80)) is None
    assert unresolved(_route("a", "shop", "a", 80, resolved=False)) == (
        "BackendNotFound: Service shop/a not found"
    )


def test_a_probed_host_leads_to_the_backend_service_of_its_route() -> None:
    routes = [
        _route("wild", "other", "fallback", 80, hostnames=["*.example.com"]),
        _route("api", "shop", "api", 80, hostnames=["api.example.com"]),
    ]
    services = [_service("api", "shop", 80), _service("fallback", "other", 80)]
    assert routed_service(routes, services, ["api.example.com"], set()) == _ref("shop", "api")
    assert routed_service(routes, services, ["www.example.com"], set()) == _ref("other", "fallback")
    assert routed_service(routes, services, ["api.example.org"], set()) is None


def test_a_gateway_alert_leads_only_to_a_route_that_does_not_resolve() -> None:
    fine = _route("cart", "cart", "cart", 80)
    renumbered = _route("catalog", "catalog", "catalog", 8080, kind="GRPCRoute")
    services = [_service("cart", "cart", 80), _service("catalog", "catalog", 80)]
    assert gateway_names([_alert(gateway="public")]) == {"public"}
    assert routed_service([fine], services, [], {"public"}) is None
    assert routed_service([fine, renumbered], services, [], {"public"}) == _ref(
        "catalog", "catalog"
    )
    assert routed_service([fine, renumbered], services, [], {"private"}) is None
    flagged = _route("cart", "cart", "cart", 80, resolved=False)
    assert routed_service([flagged], services, [], {"public"}) == _ref("cart", "cart")


def test_the_builder_summarises_the_namespace_routes() -> None:
    objects = [
        _route("catalog", "catalog", "catalog", 8080, resolved=False),
        _route("gone", "catalog", "missing", 80),
        _service("catalog", "catalog", 80),
    ]
    evidence = built(objects, ObjectRef(kind="Service", namespace="catalog", name="catalog"))
    by_name = {r.route.name: r for r in evidence.gateway_routes}
    assert by_name["catalog"].unknown_ports == {"catalog": "8080"}
    assert by_name["catalog"].gateways == ["gw/public"]
    assert (by_name["catalog"].unresolved or "").startswith("BackendNotFound")
    assert by_name["gone"].missing == ["missing"]
    summaries = route_summaries(objects[:1], [], services_known=False, max_items=5)
    assert summaries[0].missing == []


def _route_evidence(**fields: Any) -> GatewayRouteEvidence:
    fields.setdefault("backends", ["checkout"])
    return GatewayRouteEvidence(
        route=ObjectRef(kind="HTTPRoute", namespace="shop", name="checkout"), **fields
    )


def test_a_route_to_a_missing_port_is_fixed_at_its_service() -> None:
    found = analyze(
        make.checkout_evidence(
            services=[make.service("checkout", ready=1, matching=1, ports=[make.service_port(80)])],
            gateway_routes=[_route_evidence(unknown_ports={"checkout": "8080"})],
        )
    )
    finding = assert_leads(
        found,
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="Service", namespace="shop", name="checkout"),
    )
    assert any(e.source == "httproute/shop/checkout" for e in finding.evidence)
    assert "8080" in finding.summary


def test_a_route_to_a_missing_service_is_fixed_at_that_service() -> None:
    found = analyze(
        make.checkout_evidence(gateway_routes=[_route_evidence(missing=["checkout-v2"])])
    )
    assert_leads(
        found,
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="Service", namespace="shop", name="checkout-v2"),
    )


def test_a_resolved_route_makes_no_finding() -> None:
    found = analyze(make.checkout_evidence(gateway_routes=[_route_evidence()]))
    assert not [f for f in found.findings if f.analyzer == "gateway-route"]


def _istio_gateway(namespace: str, servers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "gw", "namespace": namespace},
        "spec": {"selector": {"istio": "ingressgateway"}, "servers": servers},
    }


def _tls_server(hosts: list[str], secret: str | None) -> dict[str, Any]:
    tls: dict[str, Any] = {"mode": "SIMPLE"}
    if secret is not None:
        tls["credentialName"] = secret
    return {"port": {"number": 443, "protocol": "HTTPS"}, "hosts": hosts, "tls": tls}


def test_an_istio_gateway_serves_a_probed_host_with_its_credential() -> None:
    gateways = [
        _istio_gateway("edge", [_tls_server(["*"], "default-tls")]),
        _istio_gateway("istio-ingress", [_tls_server(["*/*.example.com"], "wildcard-tls")]),
        _istio_gateway("shop", [_tls_server(["shop/shop.example.com"], "shop-tls")]),
        _istio_gateway("plain", [_tls_server(["api.example.com"], None)]),
    ]
    assert served_credential(gateways, ["shop.example.com"]) == ("shop", "shop-tls")
    assert served_credential(gateways, ["api.example.com"]) == ("istio-ingress", "wildcard-tls")
    assert served_credential(gateways, ["www.example.org"]) == ("edge", "default-tls")
    # A Gateway API Gateway is not an Istio one.
    other = {**gateways[2], "apiVersion": "gateway.networking.k8s.io/v1"}
    assert served_credential([other], ["shop.example.com"]) is None


def test_the_certificate_writing_the_credential_is_the_target() -> None:
    certificate = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "shop-cert", "namespace": "shop"},
        "spec": {"secretName": "shop-tls"},
    }
    assert credential_target([certificate], "shop", "shop-tls") == ObjectRef(
        kind="Certificate", namespace="shop", name="shop-cert", api_version="cert-manager.io/v1"
    )
    assert credential_target([certificate], "edge", "shop-tls") == ObjectRef(
        kind="Secret", namespace="edge", name="shop-tls", api_version="v1"
    )


def _with_condition(route: dict[str, Any], *parents: tuple[str, str, str]) -> dict[str, Any]:
    """``route`` with one status parent per (type, status, reason)."""
    route["status"] = {
        "parents": [
            {
                "parentRef": {"name": f"gw-{i}", "namespace": "gw"},
                "conditions": [{"type": t, "status": s, "reason": r, "message": f"{r} here"}],
            }
            for i, (t, s, r) in enumerate(parents)
        ]
    }
    return route


def test_a_cross_namespace_backend_is_missing_only_where_services_were_read() -> None:
    route = _route("checkout", "checkout", "pay", 8080)
    route["spec"]["rules"][0]["backendRefs"][0]["namespace"] = "payments"
    # The payments namespace was never read: the backend is unknown, not missing.
    assert broken_backends(route, [_service("web", "checkout", 80)]) == []
    assert broken_backends(route, [_service("other", "payments", 80)]) == [
        ("payments", "pay", None)
    ]
    summary = route_summaries([route], [], services_known=True, max_items=5)[0]
    assert summary.backend_namespaces == {"pay": "payments"}
    assert summary.missing == []


def test_a_route_is_detached_only_when_no_parent_accepts_it() -> None:
    refused = ("Accepted", "False", "NotAllowedByListeners")
    accepted = ("Accepted", "True", "Accepted")
    assert detached(_with_condition(_route("a", "shop", "a", 80), refused)) == (
        "NotAllowedByListeners: NotAllowedByListeners here"
    )
    # Near misses: another Gateway still serves it; the controller has not decided yet.
    assert detached(_with_condition(_route("a", "shop", "a", 80), refused, accepted)) is None
    pending = ("Accepted", "Unknown", "Pending")
    assert detached(_with_condition(_route("a", "shop", "a", 80), pending)) is None
    assert detached(_route("a", "shop", "a", 80)) is None
    route = _with_condition(
        _route("a", "shop", "a", 80), ("ResolvedRefs", "False", "RefNotPermitted")
    )
    assert unresolved_reason(route) == "RefNotPermitted"
    assert unresolved_reason(_route("a", "shop", "a", 80)) is None


def test_a_refused_cross_namespace_reference_is_fixed_at_the_backend_namespace() -> None:
    route = _route_evidence(
        backends=["payments"],
        backend_namespaces={"payments": "pay"},
        unresolved="RefNotPermitted: not allowed",
        unresolved_reason="RefNotPermitted",
    )
    finding = assert_leads(
        analyze(make.checkout_evidence(gateway_routes=[route])),
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="Service", namespace="pay", name="payments"),
    )
    assert "ReferenceGrant" in finding.summary


def test_a_refusal_without_a_cross_namespace_backend_makes_no_finding() -> None:
    route = _route_evidence(unresolved="RefNotPermitted: x", unresolved_reason="RefNotPermitted")
    found = analyze(make.checkout_evidence(gateway_routes=[route]))
    assert not [f for f in found.findings if f.analyzer == "gateway-route"]


def test_a_route_no_gateway_accepts_is_fixed_at_its_backend() -> None:
    route = _route_evidence(
        gateways=["gw/public"], detached="NotAllowedByListeners: namespace not selected"
    )
    finding = assert_leads(
        analyze(make.checkout_evidence(gateway_routes=[route])),
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="Service", namespace="shop", name="checkout"),
    )
    assert any("Accepted=False" in e.fact for e in finding.evidence)

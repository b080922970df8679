"""Checks the misplaced gateway credential rule: an Istio Gateway serves a host with a
``credentialName`` the gateway resolves in its own workload's namespace, and the gateway's
Envoy logs ``filter_chain_not_found`` for that host, with no Certificate writing that Secret
there: the Secret in the gateway's namespace is what to fix (config-missing, fix-config on
it). Near misses: a Certificate writes it there (a renewal problem, not this rule's), the
refused host is one no Gateway serves with a credential, no refusal is logged. Real: the
evidence builder's summaries of raw Gateway, Certificate, Deployment and Pod objects
(``tests/support/built``) and the analyzer registry; the objects and log lines are synthetic.
"""

from __future__ import annotations

from typing import Any

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built, deployment_manifest
from tests.support.evidence import analyze, by_category, log

_GATEWAY_NS = "edge"
_POD = "edge-gateway-6d8f7b9c4d-2xkqp"
_NO_CHAIN = (
    '[2026-11-20T09:59:40.301Z] "- - -" 0 NR filter_chain_not_found - "-" 0 0 0 - "-" "-" '
    '"-" "-" "-" - - 10.0.13.77:8443 10.0.2.15:38712 {host} -'
)
_SERVED = (
    '[2026-11-20T09:59:40.877Z] "GET /v1/orders HTTP/2" 200 - via_upstream - "-" 0 1822 31 30 '
    '"81.2.69.160" "okhttp/4.12.0" "c71b" "api.example.org" "10.0.44.18:8080" '
    "outbound|80||orders.api.svc.cluster.local"
)


def _gateway() -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "public", "namespace": _GATEWAY_NS},
        "spec": {
            "selector": {"istio": "edge"},
            "servers": [
                {
                    "port": {"number": 443, "name": "https-web", "protocol": "HTTPS"},
                    "hosts": ["web.example.org"],
                    "tls": {"mode": "SIMPLE", "credentialName": "web-cert"},
                },
                {
                    "port": {"number": 443, "name": "https-api", "protocol": "HTTPS"},
                    "hosts": ["*.example.org"],
                    "tls": {"mode": "SIMPLE", "credentialName": "wildcard-cert"},
                },
            ],
        },
    }


def _certificate(namespace: str, secret: str) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": secret, "namespace": namespace},
        "spec": {"secretName": secret, "dnsNames": ["web.example.org"]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": _POD, "namespace": _GATEWAY_NS, "labels": {"istio": "edge"}},
        "spec": {"containers": [{"name": "istio-proxy", "image": "istio/proxyv2:1.24.1"}]},
        "status": {"phase": "Running"},
    }


def _evidence(*extra: dict[str, Any], lines: list[str]) -> Evidence:
    gateway = deployment_manifest(
        "edge-gateway", _GATEWAY_NS, ("istio-proxy", "istio/proxyv2:1.24.1")
    )
    return built(
        [gateway, _pod(), _gateway(), *extra],
        ObjectRef(kind="Deployment", namespace=_GATEWAY_NS, name="edge-gateway"),
        logs=[log(_POD, "istio-proxy", "\n".join(lines), namespace=_GATEWAY_NS)],
    )


def test_a_host_without_a_filter_chain_points_at_its_credential_in_the_gateways_namespace() -> None:
    lines = [_NO_CHAIN.format(host="web.example.org"), _SERVED]
    result = analyze(_evidence(lines=lines))
    first = result.findings[0]
    assert (first.category, first.action) == (Category.CONFIG_MISSING, Action.FIX_CONFIG)
    assert first.target == ObjectRef(
        kind="Secret", namespace=_GATEWAY_NS, name="web-cert", api_version="v1"
    )


def test_a_wildcard_server_names_its_own_credential() -> None:
    lines = [_NO_CHAIN.format(host="shop.example.org")]
    found = by_category(analyze(_evidence(lines=lines)), Category.CONFIG_MISSING)
    assert [f.target.name for f in found if f.analyzer == "gateway-credential"] == ["wildcard-cert"]


def test_a_certificate_writing_it_there_is_not_this_rule() -> None:
    lines = [_NO_CHAIN.format(host="web.example.org")]
    result = analyze(_evidence(_certificate(_GATEWAY_NS, "web-cert"), lines=lines))
    assert [f for f in result.findings if f.analyzer == "gateway-credential"] == []


def test_a_certificate_in_another_namespace_does_not_serve_the_gateway() -> None:
    lines = [_NO_CHAIN.format(host="web.example.org")]
    result = analyze(_evidence(_certificate("web", "web-cert"), lines=lines))
    assert [f.target.name for f in result.findings if f.analyzer == "gateway-credential"] == [
        "web-cert"
    ]


def test_a_host_no_gateway_serves_or_no_refusal_is_not_this_rule() -> None:
    for lines in ([_NO_CHAIN.format(host="other.example.com")], [_SERVED]):
        result = analyze(_evidence(lines=lines))
        assert [f for f in result.findings if f.analyzer == "gateway-credential"] == []

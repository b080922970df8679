"""Checks the callers reached through a public host: a Deployment whose env names a host an
Ingress rule, a Traefik IngressRoute or an HTTPRoute of the callee's namespace sends to the
incident's Service (by host, then by the most specific path) is its caller, with its
rollouts; a host routed to another Service, a path another rule serves, a route in another
namespace and a host no rule serves are not. The registry walk reads an Ingress rule's
backends the same way.

Real: ``build_evidence`` (via ``tests.support.built``) over raw objects, and the pure helpers.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.host_routes import (
    host_rules,
    ingress_rule_backends,
    public_hosts,
    routed_services,
)
from kubetriage.models.base import ObjectRef
from tests.support.built import built, deployment_manifest, service_manifest

TARGET = ObjectRef(kind="Deployment", namespace="catalog", name="catalog-api")


def _client(name: str, address: str) -> dict[str, Any]:
    container = {"name": "app", "image": "c:1", "env": [{"name": "CATALOG_URL", "value": address}]}
    return deployment_manifest(name, "warehouse", container)


def _callee() -> list[dict[str, Any]]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "catalog-api-1", "namespace": "catalog", "labels": {"app": "api"}},
        "spec": {"containers": [{"name": "api", "image": "api:1"}]},
    }
    return [
        deployment_manifest("catalog-api", "catalog", ("api", "api:1"), labels={"app": "api"}),
        pod,
        service_manifest("catalog-api", "catalog", {"app": "api"}, port=8080),
        service_manifest("catalog-admin", "catalog", {"app": "admin"}, port=8080),
    ]


def _ingress(host: str, *paths: tuple[str, str], namespace: str = "catalog") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "catalog", "namespace": namespace},
        "spec": {
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": path,
                                "pathType": "Prefix",
                                "backend": {"service": {"name": svc, "port": {"number": 8080}}},
                            }
                            for path, svc in paths
                        ]
                    },
                }
            ]
        },
    }


def _ingress_route(match: str, service: str) -> dict[str, Any]:
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "IngressRoute",
        "metadata": {"name": "catalog", "namespace": "catalog"},
        "spec": {
            "entryPoints": ["websecure"],
            "routes": [{"kind": "Rule", "match": match, "services": [{"name": service}]}],
        },
    }


def _callers(route: dict[str, Any], address: str) -> list[str]:
    objects = [*_callee(), route, _client("sync", address)]
    return [c.ref.name for c in built(objects, TARGET).callers]


def test_a_client_of_the_ingress_host_is_a_caller_of_its_backend() -> None:
    route = _ingress("catalog.example.com", ("/", "catalog-api"))
    assert _callers(route, "https://catalog.example.com") == ["sync"]


def test_the_most_specific_path_decides_which_service_a_url_reaches() -> None:
    route = _ingress("catalog.example.com", ("/", "catalog-api"), ("/admin", "catalog-admin"))
    assert _callers(route, "https://catalog.example.com/v1/stock") == ["sync"]
    # Near miss: the admin path is another Service's.
    assert _callers(route, "https://catalog.example.com/admin/users") == []


def test_a_host_another_rule_serves_or_no_rule_serves_names_no_caller() -> None:
    route = _ingress("catalog.example.com", ("/", "catalog-admin"))
    assert _callers(route, "https://catalog.example.com") == []
    other = _ingress("catalog.example.com", ("/", "catalog-api"))
    assert _callers(other, "https://shop.example.com") == []


def test_an_ingress_of_another_namespace_does_not_route_to_the_callee() -> None:
    route = _ingress("catalog.example.com", ("/", "catalog-api"), namespace="edge")
    assert _callers(route, "https://catalog.example.com") == []


def test_a_traefik_ingress_route_sends_its_hosts_to_its_services() -> None:
    route = _ingress_route("Host(`catalog.example.com`) || Host(`cat.example.com`)", "catalog-api")
    assert _callers(route, "https://cat.example.com/v1/stock") == ["sync"]
    prefixed = _ingress_route("Host(`catalog.example.com`) && PathPrefix(`/admin`)", "catalog-api")
    assert _callers(prefixed, "https://catalog.example.com/v1/stock") == []


def test_an_http_route_sends_its_hostnames_to_its_backends() -> None:
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "catalog", "namespace": "catalog"},
        "spec": {
            "hostnames": ["*.example.com"],
            "rules": [{"backendRefs": [{"name": "catalog-api", "port": 8080}]}],
        },
    }
    assert _callers(route, "catalog.example.com:443") == ["sync"]
    # Near miss: a wildcard covers exactly one more label.
    assert _callers(route, "https://a.catalog.example.com") == []


def test_exact_hosts_come_before_wildcards() -> None:
    rules = host_rules(
        [
            _ingress("*.example.com", ("/", "catalog-admin")),
            _ingress("catalog.example.com", ("/", "catalog-api")),
        ]
    )
    assert routed_services("catalog.example.com", None, rules) == [
        ("catalog", "catalog-api"),
        ("catalog", "catalog-admin"),
    ]


def test_public_hosts_are_urls_or_whole_host_values() -> None:
    assert public_hosts("https://user@catalog.example.com:8443/v1/x?y=1") == [
        ("catalog.example.com", "/v1/x")
    ]
    assert public_hosts("catalog.example.com") == [("catalog.example.com", None)]
    assert public_hosts("--timeout=30s") == []
    assert public_hosts("see catalog.example.com for help") == []


def test_an_ingress_rules_backends_cover_a_path_by_its_elements() -> None:
    rule = _ingress("r.example.com", ("/", "web"), ("/v2", "registry"), ("/v", "other"))
    first = rule["spec"]["rules"][0]
    assert ingress_rule_backends(first, "/v2/") == [("registry", 8080), ("web", 8080)]
    assert [n for n, _ in ingress_rule_backends(first, None)] == ["web", "registry", "other"]

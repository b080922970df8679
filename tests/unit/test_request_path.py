"""Checks the request path in front of the alerted workload: the backend of an Ingress the
alert names, followed (an ExternalName as the in-cluster Service it aliases) to the workload
that serves it, is a hop whose throttling slows every request (``request-path-throttling``)
and dates the symptom's onset, so a release after that onset is not blamed while one
before it still is; a healthy hop, an Ingress the alert does not name and the workload's own
Service add nothing. A hop at its autoscaler's maximum is short of replicas
(``request-path-saturation``); one with replicas to spare adds nothing.

Real: ``kubetriage.evidence.request_path``, the pure builder (``tests.support.built``),
Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.request_path import request_path_hosts
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.incident import Alert
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.relations import DependencyEvidence, DependencyRoute
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import analyze, by_category, named, naming

SHOP = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
PROXY = ObjectRef(kind="Deployment", namespace="edge", name="edge-proxy")
CHECKOUT_INGRESS = ObjectRef(kind="Ingress", namespace="shop", name="checkout")
ALIAS = "edge-proxy.edge.svc.cluster.local"


def _ingress(backend: str, name: str = "checkout") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "rules": [
                {
                    "host": "shop.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": backend, "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }


def _external(name: str, alias: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"type": "ExternalName", "externalName": alias},
    }


def _raw_pod(name: str, namespace: str, labels: dict[str, str], owner: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "controller": True}
            ],
        },
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
        "status": {"phase": "Running"},
    }


SHOP_POD = _raw_pod("checkout-7d9f6c8b5-q2x7k", "shop", {"app": "checkout"}, "checkout-7d9f6c8b5")


def test_an_alerted_ingress_backend_aliasing_another_namespace_is_a_hop() -> None:
    hosts = request_path_hosts(
        [_ingress("edge")], [_external("edge", ALIAS)], [SHOP_POD], [{"ingress": "checkout"}]
    )
    assert [(h.name, h.namespace, h.cluster_dns) for h in hosts] == [("edge-proxy", "edge", True)]
    assert hosts[0].source == named("backend of Ingress shop/checkout (ExternalName edge)")
    # Named by its host instead of its name, and a plain backend Service in front of the app.
    proxy = service_manifest("proxy", "shop", {"app": "proxy"})
    hosts = request_path_hosts(
        [_ingress("proxy")], [proxy], [SHOP_POD], [{"host": "shop.example.com"}]
    )
    assert [(h.name, h.namespace) for h in hosts] == [("proxy", "shop")]


def test_the_apps_own_service_an_unnamed_ingress_and_an_outside_alias_are_no_hops() -> None:
    own = service_manifest("checkout", "shop", {"app": "checkout"})
    assert not request_path_hosts(
        [_ingress("checkout")], [own], [SHOP_POD], [{"ingress": "checkout"}]
    )
    assert not request_path_hosts(
        [_ingress("edge", name="other")],
        [_external("edge", ALIAS)],
        [SHOP_POD],
        [{"ingress": "checkout"}],
    )
    outside = _external("edge", "api.partner.example.net")
    assert not request_path_hosts(
        [_ingress("edge")], [outside], [SHOP_POD], [{"ingress": "checkout"}]
    )


def test_the_builder_follows_the_hop_to_the_workload_serving_it() -> None:
    proxy_labels = {"app": "edge-proxy"}
    objects = [
        deployment_manifest("checkout", "shop", ("app", "app:1")),
        SHOP_POD,
        _ingress("edge"),
        _external("edge", ALIAS),
        service_manifest("edge-proxy", "edge", proxy_labels),
        deployment_manifest("edge-proxy", "edge", ("proxy", "proxy:1"), labels=proxy_labels),
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": "edge-proxy-5f8c7b6d94",
                "namespace": "edge",
                "labels": proxy_labels,
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "edge-proxy",
                        "controller": True,
                    }
                ],
            },
            "spec": {"selector": {"matchLabels": proxy_labels}},
        },
        _raw_pod("edge-proxy-5f8c7b6d94-7mxq2", "edge", proxy_labels, "edge-proxy-5f8c7b6d94"),
    ]
    ev = built(
        objects,
        SHOP,
        alerts=[
            Alert(
                status="firing",
                labels={"alertname": "Slow", "namespace": "shop", "ingress": "checkout"},
            )
        ],
    )
    hops = [d for d in ev.dependencies if d.in_request_path()]
    assert [d.workload for d in hops] == [PROXY]


def _throttle(share: float, stepped_minutes_ago: float) -> MetricSummary:
    return make.metric(
        "sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total"
        '{namespace=~"edge"}[5m])) / sum by (namespace, pod, container) '
        '(rate(container_cpu_cfs_periods_total{namespace=~"edge"}[5m]))',
        name="callee_cpu_throttled_ratio",
        first=0.01,
        last=share,
        trend="rising",
        changed_minutes_ago=stepped_minutes_ago,
        labels={"namespace": "edge", "pod": "edge-proxy-5f8c7b6d94-7mxq2", "container": "proxy"},
    )


def _behind_proxy(
    share: float,
    *,
    stepped_minutes_ago: float = 45,
    rollout_minutes_ago: float | None = None,
    on_path: bool = True,
) -> Evidence:
    """checkout, healthy, behind the edge proxy an alerted Ingress sends to, whose container
    is throttled in ``share`` of its periods from ``stepped_minutes_ago``; with a release of
    checkout ``rollout_minutes_ago`` when given."""
    hop = DependencyEvidence(
        service=make.service("edge-proxy", "edge", ready=2, matching=2),
        named_by=naming(
            "backend of Ingress shop/checkout (ExternalName edge)"
            if on_path
            else "pod checkout env PROXY_URL"
        ),
        routes=[DependencyRoute(kind="backend", ingress=CHECKOUT_INGRESS)] if on_path else [],
        workload=PROXY,
        desired_replicas=2,
        ready_replicas=2,
        pods=2,
    )
    released: dict[str, Any] = {}
    if rollout_minutes_ago is not None:
        released = {
            "workload": make.deployment(revision=5),
            "revisions": make.rollout_revisions(
                5, {"app": "app:1.1"}, {"app": "app:1.0"}, minutes_ago=rollout_minutes_ago, ready=2
            ),
            "changes": [make.rollout_change(SHOP, 4, "image", minutes_ago=rollout_minutes_ago)],
        }
    return make.evidence(
        target=SHOP,
        pods=[make.app_pod("checkout-7d9f6c8b5-q2x7k", make.container("app", "app:1.1"))],
        alerts=[
            make.alert(alertname="CheckoutLatencyP99High", namespace="shop", ingress="checkout")
        ],
        dependencies=[hop],
        metrics=[_throttle(share, stepped_minutes_ago)],
        **({"workload": make.deployment()} | released),
    )


def test_a_throttled_hop_in_the_request_path_is_why_requests_are_slow() -> None:
    result = analyze(_behind_proxy(0.67))
    found = by_category(result, Category.CPU_THROTTLING)
    assert found
    assert found[0].analyzer == "request-path-throttling"
    assert found[0].target == PROXY
    assert found[0].action is Action.INCREASE_CPU


def test_a_healthy_hop_or_a_throttled_callee_off_the_path_adds_nothing() -> None:
    assert "request-path-throttling" not in analyze(_behind_proxy(0.05)).fired
    # The same throttled workload, called by the app (no failing calls): not in the path.
    off_path = _behind_proxy(0.67, on_path=False)
    assert "request-path-throttling" not in analyze(off_path).fired


def test_a_release_after_the_hop_began_throttling_is_not_blamed() -> None:
    result = analyze(_behind_proxy(0.67, stepped_minutes_ago=45, rollout_minutes_ago=20))
    assert "change-correlation" not in result.fired
    assert result.findings[0].target == PROXY


def test_a_release_before_the_hop_began_throttling_is_still_a_suspect() -> None:
    result = analyze(_behind_proxy(0.67, stepped_minutes_ago=10, rollout_minutes_ago=20))
    assert "change-correlation" in result.fired


def _hop_scaled(current: int, maximum: int, *, limited: bool = False) -> Evidence:
    """A hop that is not throttled, whose autoscaler runs ``current`` of ``maximum``."""
    hpa = autoscalers.hpa(PROXY, current=current, maximum=maximum, limited=limited)
    ev = _behind_proxy(0.02)
    hop = ev.dependencies[0].model_copy(update={"autoscalers": [hpa]})
    return ev.model_copy(update={"dependencies": [hop]})


def test_a_hop_at_its_autoscalers_maximum_is_short_of_replicas() -> None:
    found = by_category(analyze(_hop_scaled(3, 3, limited=True)), Category.RESOURCE_SATURATION)
    assert found
    assert found[0].analyzer == "request-path-saturation"
    assert found[0].target == PROXY
    assert found[0].action is Action.SCALE_OUT
    assert found[0].params["replicas"] == "6"


def test_a_hop_with_replicas_to_spare_adds_nothing() -> None:
    assert "request-path-saturation" not in analyze(_hop_scaled(2, 10)).fired

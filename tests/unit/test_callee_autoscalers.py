"""Checks a callee's autoscaler: the builder keeps the HorizontalPodAutoscalers scaling a
followed dependency's workload in its evidence (another workload's HPA is not kept), the
upstream cluster an Envoy proxy's alert names is followed as a callee, and the saturation
rule reads a callee's autoscaler that cannot read its metric while the caller got slower
(scale the callee out); an autoscaler that works adds nothing, an unnamed callee among
several is not blamed, and the caller's own blind autoscaler wins over its callee's.

Real: ``build_evidence`` over raw manifests, the Evidence factories and ``run_analyzers``.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.dependencies import alert_upstreams
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.incident import Alert
from kubetriage.models.object_evidence import AutoscalerEvidence, PodCondition
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import analyze, assert_leads, by_category

PROXY = ObjectRef(kind="Deployment", namespace="shop", name="proxy")
WEB = ObjectRef(kind="Deployment", namespace="shop", name="web")
CART = ObjectRef(kind="Deployment", namespace="shop", name="cart")

_BLIND = autoscalers.blind(
    "FailedGetResourceMetric",
    "the HPA was unable to compute the replica count: failed to get cpu utilization: "
    "missing request for cpu in container web of Pod web-7c9d-abcde",
)
_ACTIVE = PodCondition(
    type="ScalingActive",
    status="True",
    reason="ValidMetricFound",
    message="the HPA was able to successfully calculate a replica count from cpu resource "
    "utilization (percentage of request)",
)


def _hpa(target: ObjectRef, condition: PodCondition) -> AutoscalerEvidence:
    return autoscalers.hpa(target, current=1, minimum=1, maximum=6, conditions=[condition])


def _callee(workload: ObjectRef, *hpas: AutoscalerEvidence) -> DependencyEvidence:
    return DependencyEvidence(
        service=make.service(workload.name),
        ref=ObjectRef(kind="Service", namespace="shop", name=workload.name),
        workload=workload,
        desired_replicas=1,
        ready_replicas=1,
        pods=1,
        autoscalers=list(hpas),
    )


def _proxy(*dependencies: DependencyEvidence, **fields: Any) -> Evidence:
    """The proxy, healthy, alerting on latency to the upstream cluster ``web``."""
    fields.setdefault(
        "alerts", [make.alert(alertname="ProxyLatencyHigh", envoy_cluster_name="web")]
    )
    return make.evidence(
        target=PROXY,
        workload=make.deployment("proxy", replicas=1),
        pods=[make.app_pod("proxy-5f6c7d8b9-abcde", make.container("envoy"))],
        dependencies=list(dependencies),
        **fields,
    )


def test_a_callee_whose_autoscaler_cannot_read_cpu_is_scaled_out() -> None:
    ev = _proxy(_callee(WEB, _hpa(WEB, _BLIND)))
    finding = assert_leads(analyze(ev), Category.RESOURCE_SATURATION, Action.SCALE_OUT, WEB)
    assert finding.params == {"replicas": "2"}
    assert any("missing request for cpu" in e.fact for e in finding.evidence)
    assert "which the alert names" in finding.narrative.because[1].text  # type: ignore[union-attr]


def test_a_callee_autoscaler_that_works_adds_nothing() -> None:
    ev = _proxy(_callee(WEB, _hpa(WEB, _ACTIVE)))
    assert by_category(analyze(ev), Category.RESOURCE_SATURATION) == []


def test_a_blind_callee_autoscaler_with_nothing_slower_adds_nothing() -> None:
    ev = _proxy(_callee(WEB, _hpa(WEB, _BLIND)), alerts=[make.alert(alertname="ProxyDown")])
    assert by_category(analyze(ev), Category.RESOURCE_SATURATION) == []


def test_among_several_callees_only_the_one_the_alert_names_is_blamed() -> None:
    blind_cart = _callee(CART, _hpa(CART, _BLIND))
    ev = _proxy(_callee(WEB, _hpa(WEB, _ACTIVE)), blind_cart)
    assert by_category(analyze(ev), Category.RESOURCE_SATURATION) == []
    # The sole callee followed is the one waited on, named or not.
    alone = _proxy(blind_cart)
    assert_leads(analyze(alone), Category.RESOURCE_SATURATION, Action.SCALE_OUT, CART)


def test_the_callers_own_blind_autoscaler_wins_over_its_callees() -> None:
    ev = _proxy(
        _callee(WEB, _hpa(WEB, _BLIND)),
        autoscalers=[_hpa(PROXY, _BLIND)],
    )
    result = analyze(ev)
    assert_leads(result, Category.RESOURCE_SATURATION, Action.SCALE_OUT, PROXY)
    assert all(f.target != WEB for f in by_category(result, Category.RESOURCE_SATURATION))


def test_an_envoy_cluster_label_names_the_upstream_service() -> None:
    hosts = alert_upstreams(
        [
            {"envoy_cluster_name": "frontend"},
            {"envoy_cluster_name": "shop_cart_8080"},
            {"upstream_cluster": "Not A Name!"},
        ]
    )
    assert [(h.name, h.namespace, h.source and h.source.text) for h in hosts] == [
        ("frontend", None, "alert label envoy_cluster_name"),
        ("cart", "shop", "alert label envoy_cluster_name"),
    ]


def _hpa_manifest(name: str, target: str) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": 1,
            "maxReplicas": 6,
        },
        "status": {
            "currentReplicas": 1,
            "desiredReplicas": 1,
            "conditions": [
                {
                    "type": "ScalingActive",
                    "status": "False",
                    "reason": "FailedGetResourceMetric",
                    "message": _BLIND.message,
                }
            ],
        },
    }


def _pod(app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{app}-7c9d-abcde",
            "namespace": "shop",
            "labels": {"app": app},
            "ownerReferences": [{"kind": "ReplicaSet", "name": f"{app}-7c9d", "controller": True}],
        },
        "spec": {"containers": [{"name": app, "image": f"{app}:1"}]},
        "status": {"phase": "Running"},
    }


def _replica_set(app: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{app}-7c9d",
            "namespace": "shop",
            "labels": {"app": app},
            "ownerReferences": [{"kind": "Deployment", "name": app, "controller": True}],
        },
        "spec": {"template": {"metadata": {"labels": {"app": app}}}},
    }


def test_the_builder_keeps_the_followed_callees_autoscaler_named_by_the_alert() -> None:
    objects = [
        *(
            obj
            for app in ("proxy", "web", "cart")
            for obj in (
                deployment_manifest(app, "shop", (app, f"{app}:1")),
                _replica_set(app),
                _pod(app),
                service_manifest(app, "shop", {"app": app}),
            )
        ),
        _hpa_manifest("web", "web"),
        _hpa_manifest("cart", "cart"),
    ]
    alert = Alert(
        status="firing", labels={"alertname": "ProxyLatencyHigh", "envoy_cluster_name": "web"}
    )
    ev = built(objects, PROXY, alerts=[alert])
    [dependency] = ev.dependencies
    assert dependency.workload == WEB
    assert dependency.named_by_texts() == ["alert label envoy_cluster_name"]
    assert [(h.name, h.target) for h in dependency.autoscalers] == [
        ("web", ObjectRef(kind="Deployment", namespace="shop", name="web", api_version="apps/v1"))
    ]
    assert ev.autoscalers == []  # the proxy's own: it has none

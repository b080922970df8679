"""Checks the cloud-load-balancer-blocked rule (``analyzers.lb_health_sources``): a Service a
GKE load balancer reaches through network endpoint groups, whose pods' NetworkPolicies admit
none of Google's health-check ranges, is a policy to fix, above the rollout its NEG readiness
gate holds; a policy admitting those ranges, or a Service with no endpoint groups, is not.

Everything is real: Evidence models from ``tests.support.evidence``, policies parsed by
``kubetriage.networkpolicy`` and ``run_analyzers``.
"""

from __future__ import annotations

from typing import Any

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import PodCondition
from kubetriage.models.vocabulary import Action, Category
from kubetriage.networkpolicy import rules_of, selector_of
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD, analyze, assert_leads

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
POLICY = ObjectRef(kind="NetworkPolicy", namespace="shop", name="namespace-isolation")
NEG_STATUS = (
    '{"network_endpoint_groups":{"80":"k8s1-1a2b3c4d-shop-checkout-80-9f8e7d6c"},'
    '"zones":["europe-west1-b"]}'
)
SAME_NAMESPACE: list[dict[str, Any]] = [{"from": [{"podSelector": {}}]}]
HEALTH_CHECKERS: list[dict[str, Any]] = [
    {"from": [{"ipBlock": {"cidr": "130.211.0.0/22"}}, {"ipBlock": {"cidr": "35.191.0.0/16"}}]}
]


def _policy(ingress: list[dict[str, Any]]) -> Any:
    spec = {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": ingress}
    return make.network_policy(
        POLICY.name,
        "ingress from pods(*) all ports",
        selector=selector_of(spec["podSelector"]),
        ingress=rules_of(spec, "ingress"),
    )


def _evidence(
    ingress: list[dict[str, Any]], *, neg: bool = True, gate: str | None = "False"
) -> Evidence:
    annotations = {"cloud.google.com/neg-status": NEG_STATUS} if neg else {}
    conditions = [PodCondition(type="Ready", status="True")]
    if gate is not None:
        conditions.append(
            PodCondition(
                type="cloud.google.com/load-balancer-neg-ready",
                status=gate,
                reason="LoadBalancerNegNotReady",
                message="Waiting for pod to become healthy in at least one of the NEG(s)",
            )
        )
    return make.evidence(
        target=CHECKOUT,
        workload=make.deployment(),
        pods=[make.pod(CHECKOUT_POD, make.container("app"), conditions=conditions)],
        services=[make.service("checkout", ready=1, matching=1, annotations=annotations)],
        network_policies=[_policy(ingress)],
        changes=[make.rollout_change(CHECKOUT, 30, "image", minutes_ago=16)],
    )


def _blocked(evidence: Evidence) -> list[Any]:
    return [f for f in analyze(evidence).findings if f.analyzer == "lb-sources-blocked"]


def test_a_policy_admitting_no_health_check_range_blocks_the_load_balancer() -> None:
    finding = assert_leads(
        analyze(_evidence(SAME_NAMESPACE)), Category.NETWORK, Action.FIX_NETWORK, POLICY
    )
    assert finding.analyzer == "lb-sources-blocked"
    assert any("load-balancer-neg-ready=False" in e.fact for e in finding.evidence)


def test_without_the_load_balancers_word_on_the_pods_it_is_weaker() -> None:
    (held,) = _blocked(_evidence(SAME_NAMESPACE))
    (plain,) = _blocked(_evidence(SAME_NAMESPACE, gate=None))
    assert plain.confidence < held.confidence


def test_a_policy_admitting_the_health_check_ranges_is_innocent() -> None:
    assert not _blocked(_evidence([*SAME_NAMESPACE, *HEALTH_CHECKERS]))


def test_a_service_without_endpoint_groups_is_not_read() -> None:
    assert not _blocked(_evidence(SAME_NAMESPACE, neg=False))

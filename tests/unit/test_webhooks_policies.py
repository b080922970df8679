"""An admission webhook the API server cannot reach because a NetworkPolicy of the webhook's
namespace isolates its pods (``kubetriage.evidence.summaries.webhooks`` records where the call
lands and the policies selecting that pod; ``kubetriage.analyzers.webhooks`` decides), and a
webhook whose backend is killed for exceeding its memory limit."""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.summaries.network import network_policy_summary
from kubetriage.evidence.summaries.webhooks import failure_of
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import WebhookEvidence
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built
from tests.support.evidence import analyze, assert_leads, deployment, event, evidence, service

_POST = (
    'failed calling webhook "mutate.policy.example.io": failed to call webhook: '
    'Post "https://policy-webhook.policy.svc:443/mutate?timeout=10s": '
)
TIMEOUT = _POST + "context deadline exceeded"
SERVICE = ObjectRef(kind="Service", namespace="policy", name="policy-webhook")
BLOCKED = ObjectRef(kind="ReplicaSet", namespace="shop", name="checkout-7d9f6c8b5")
LABELS = {"app": "policy-webhook"}
DENY_ALL: dict[str, Any] = {"podSelector": {}, "policyTypes": ["Ingress"]}
METRICS_ONLY: dict[str, Any] = {
    "podSelector": {},
    "policyTypes": ["Ingress"],
    "ingress": [
        {
            "from": [{"namespaceSelector": {"matchLabels": {"team": "monitoring"}}}],
            "ports": [{"port": 8000, "protocol": "TCP"}],
        }
    ],
}


def _policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "policy"},
        "spec": spec,
    }


def _summary(name: str, spec: dict[str, Any]) -> NetworkPolicyEvidence:
    return network_policy_summary(_policy(name, spec), [LABELS], EvidenceLimits())


# --- the summary ------------------------------------------------------------------------------


def _objects(*policies: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "checkout", "namespace": "shop"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "checkout"}}},
            "status": {"replicas": 2, "readyReplicas": 2},
        },
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "checkout-7d9f6c8b5.1", "namespace": "shop"},
            "type": "Warning",
            "reason": "FailedCreate",
            "count": 7,
            "lastTimestamp": "2026-11-20T09:58:00Z",
            "message": "Error creating: Internal error occurred: " + TIMEOUT,
            "involvedObject": {"kind": "ReplicaSet", "namespace": "shop", "name": BLOCKED.name},
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "policy"},
            "webhooks": [
                {
                    "name": "mutate.policy.example.io",
                    "failurePolicy": "Fail",
                    "clientConfig": {
                        "service": {"name": "policy-webhook", "namespace": "policy", "port": 443}
                    },
                }
            ],
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "policy-webhook", "namespace": "policy"},
            "spec": {"selector": LABELS, "ports": [{"port": 443, "targetPort": "https"}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "policy-webhook-6d9c-x2x9k",
                "namespace": "policy",
                "labels": {**LABELS, "pod-template-hash": "6d9c"},
            },
            "spec": {
                "containers": [
                    {
                        "name": "webhook",
                        "ports": [
                            {"containerPort": 9443, "name": "https"},
                            {"containerPort": 8000, "name": "metrics"},
                        ],
                    }
                ]
            },
            "status": {"phase": "Running"},
        },
        *policies,
    ]


def test_the_summary_records_where_the_call_lands_and_the_policies_selecting_it() -> None:
    other = _policy("other-app", {"podSelector": {"matchLabels": {"app": "other"}}})
    objects = _objects(_policy("deny-all", DENY_ALL), _policy("metrics", METRICS_ONLY), other)
    target = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    (hook,) = built(objects, target).webhooks
    assert hook.failure == "timeout"
    assert (hook.backend_port, hook.backend_port_name) == (9443, "https")
    assert hook.backend_labels["app"] == "policy-webhook"
    assert sorted(p.name for p in hook.policies) == ["deny-all", "metrics"]


def test_no_landing_without_a_pod_of_the_webhooks_service() -> None:
    objects = [o for o in _objects(_policy("deny-all", DENY_ALL)) if o["kind"] != "Pod"]
    target = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    (hook,) = built(objects, target).webhooks
    assert (hook.backend_port, hook.policies) == (None, [])


# --- the analyzer -----------------------------------------------------------------------------


def _hook(*policies: NetworkPolicyEvidence, message: str = TIMEOUT) -> WebhookEvidence:
    return WebhookEvidence(
        name="mutate.policy.example.io",
        failure=failure_of(message),
        message=message,
        blocked=[BLOCKED],
        count=7,
        failure_policy="Fail",
        service=SERVICE,
        backend_labels=LABELS,
        backend_port=9443,
        backend_port_name="https",
        policies=list(policies),
    )


def _analyzed(hook: WebhookEvidence, *, ready: int = 2) -> Any:
    backend = DependencyEvidence(
        ref=SERVICE,
        service=service("policy-webhook", "policy", ready=ready, matching=2),
        workload=ObjectRef(kind="Deployment", namespace="policy", name="policy-webhook"),
    )
    ev = evidence(
        workload=deployment("checkout"),
        events=[event("FailedCreate", hook.message, name=BLOCKED.name, kind="ReplicaSet")],
        webhooks=[hook.model_copy(update={"backend": backend})],
    )
    return analyze(ev)


def test_a_policy_denying_the_api_server_is_the_webhooks_network_fault() -> None:
    hook = _hook(_summary("metrics", METRICS_ONLY), _summary("deny-all", DENY_ALL))
    assert_leads(
        _analyzed(hook),
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="NetworkPolicy", namespace="policy", name="deny-all"),
    )


@pytest.mark.parametrize(
    "admitting",
    [
        # A rule with no peers admits every source on its port.
        {"podSelector": {}, "ingress": [{"ports": [{"port": 9443}]}]},
        # ... and by the port's name.
        {"podSelector": {}, "ingress": [{"ports": [{"port": "https"}]}]},
        # An ipBlock may hold the API server's address: not known, so no blame.
        {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]},
    ],
)
def test_a_policy_that_may_admit_the_api_server_is_not_blamed(admitting: dict[str, Any]) -> None:
    hook = _hook(_summary("deny-all", DENY_ALL), _summary("webhook-in", admitting))
    assert_leads(_analyzed(hook), Category.DEPENDENCY_FAILURE, Action.ESCALATE, SERVICE)


def test_no_policy_is_blamed_while_the_webhook_has_no_ready_endpoint() -> None:
    result = _analyzed(_hook(_summary("deny-all", DENY_ALL)), ready=0)
    assert_leads(result, Category.DEPENDENCY_FAILURE, Action.ESCALATE, SERVICE)


def test_a_refused_call_is_not_a_policy_that_drops_packets() -> None:
    refused = _POST + "dial tcp 10.96.4.2:443: connect: connection refused"
    result = _analyzed(_hook(_summary("deny-all", DENY_ALL), message=refused))
    assert_leads(result, Category.DEPENDENCY_FAILURE, Action.ESCALATE, SERVICE)

"""Checks the aggregated-API rule when the API server cannot reach an APIService's backend
(a timeout, a refused call, no endpoint): the builder records where the call lands (the
backend pod's labels and port, the NetworkPolicies selecting it) and reads the aggregator's
MissingEndpoints words as no endpoint; the analyzer then names the backend's own cause, as
for an admission webhook (its pods OOM-killed, a policy keeping the API server out), and
stays silent when nothing in view explains the outage or the backend only crashes (the
blind-autoscaler answer, scale out by hand, stays then).

Real: ``build_evidence`` on API-shaped dicts, the NetworkPolicy summary and the analyzer
registry on Evidence models.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.summaries.network import network_policy_summary
from kubetriage.evidence.summaries.webhooks import failure_of
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import AggregatedApiEvidence
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support.built import built, service_manifest
from tests.support.evidence import analyze, assert_leads, deployment, evidence, naming, service

WEB = ObjectRef(kind="Deployment", namespace="shop", name="web")
SERVICE = ObjectRef(kind="Service", namespace="scaling", name="metrics-api")
BACKEND = ObjectRef(kind="Deployment", namespace="scaling", name="metrics-api")
LABELS = {"app": "metrics-api"}
BLIND = (
    "unable to get external metric shop/queue-depth: unable to fetch metrics from external "
    "metrics API: the server is currently unable to handle the request"
)
TIMEOUT = (
    "failing or missing response from https://10.0.62.17:6443/apis/external.metrics.k8s.io/"
    'v1beta1: Get "https://10.0.62.17:6443/apis/external.metrics.k8s.io/v1beta1": context '
    "deadline exceeded"
)
MISSING = 'endpoints for service/metrics-api in "scaling" have no addresses with port name "https"'
REFUSED = (
    "failing or missing response from https://10.0.62.17:6443/apis/external.metrics.k8s.io/"
    'v1beta1: Get "https://10.0.62.17:6443/apis/external.metrics.k8s.io/v1beta1": dial tcp '
    "10.0.62.17:6443: connect: connection refused"
)
DENY_ALL: dict[str, Any] = {"podSelector": {}, "policyTypes": ["Ingress"]}
SAME_NAMESPACE: dict[str, Any] = {
    "podSelector": {},
    "policyTypes": ["Ingress"],
    "ingress": [{"from": [{"podSelector": {}}]}],
}


def _policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "scaling"},
        "spec": spec,
    }


def _summary(name: str, spec: dict[str, Any]) -> NetworkPolicyEvidence:
    return network_policy_summary(_policy(name, spec), [LABELS], EvidenceLimits())


# --- the summary ------------------------------------------------------------------------------


def _objects(message: str, *policies: dict[str, Any]) -> list[dict[str, Any]]:
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 10,
        },
        "status": {
            "conditions": [
                {
                    "type": "ScalingActive",
                    "status": "False",
                    "reason": "FailedGetExternalMetric",
                    "message": BLIND,
                }
            ]
        },
    }
    api = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1beta1.external.metrics.k8s.io"},
        "spec": {
            "group": "external.metrics.k8s.io",
            "version": "v1beta1",
            "service": {"namespace": "scaling", "name": "metrics-api", "port": 443},
        },
        "status": {
            "conditions": [
                {"type": "Available", "status": "False", "reason": "X", "message": message}
            ]
        },
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "metrics-api-5c9f-x2x9k", "namespace": "scaling", "labels": LABELS},
        "spec": {
            "containers": [
                {
                    "name": "server",
                    "image": "metrics-api:1",
                    "ports": [{"containerPort": 6443, "name": "https"}],
                }
            ]
        },
        "status": {"phase": "Running"},
    }
    svc = service_manifest("metrics-api", "scaling", LABELS, port=443, target_port="https")
    web = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}},
    }
    return [web, hpa, api, svc, pod, *(_policy(f"p{i}", p) for i, p in enumerate(policies))]


def test_the_summary_records_where_the_api_servers_call_lands() -> None:
    (api,) = built(_objects(TIMEOUT, DENY_ALL), WEB).aggregated_apis
    assert (api.failure, api.backend_port, api.backend_port_name) == ("timeout", 6443, "https")
    assert api.backend_labels == LABELS
    assert [p.name for p in api.policies] == ["p0"]


def test_the_aggregators_missing_endpoints_words_are_no_endpoint() -> None:
    (api,) = built(_objects(MISSING), WEB).aggregated_apis
    assert (api.failure, api.policies) == ("no-endpoints", [])
    assert failure_of("failed calling webhook: no endpoints available for service x") == (
        "no-endpoints"
    )


# --- the analyzer -----------------------------------------------------------------------------


def _api(message: str, *policies: NetworkPolicyEvidence) -> AggregatedApiEvidence:
    return AggregatedApiEvidence(
        name="v1beta1.external.metrics.k8s.io",
        group="external.metrics.k8s.io",
        reason="FailedDiscoveryCheck",
        message=message,
        failure=failure_of(message),
        service=SERVICE,
        autoscalers=[ObjectRef(kind="HorizontalPodAutoscaler", namespace="shop", name="web")],
        backend_labels=LABELS,
        backend_port=6443,
        backend_port_name="https",
        policies=list(policies),
    )


def _backend(*, ready: int = 1, last: str | None = None) -> DependencyEvidence:
    trouble = PodTrouble(
        pod="metrics-api-5c9f-x2x9k",
        container="server",
        waiting="CrashLoopBackOff",
        restarts=14,
        last_terminated=last,
    )
    return DependencyEvidence(
        ref=SERVICE,
        named_by=naming("aggregated API"),
        service=service("metrics-api", "scaling", ready=ready, matching=1),
        workload=BACKEND,
        failing_pods=[trouble] if last else [],
    )


def _analyzed(api: AggregatedApiEvidence, backend: DependencyEvidence) -> Any:
    hpa = autoscalers.hpa(
        WEB, current=2, conditions=[autoscalers.blind("FailedGetExternalMetric", BLIND)]
    )
    ev = evidence(
        target=WEB,
        workload=deployment("web"),
        autoscalers=[hpa],
        aggregated_apis=[api.model_copy(update={"backend": backend})],
    )
    return analyze(ev)


def _aggregated(result: Any) -> list[Any]:
    return [f for f in result.findings if f.analyzer == "aggregated-api"]


def test_an_oom_killed_backend_with_no_endpoint_gets_more_memory() -> None:
    result = _analyzed(_api(MISSING), _backend(ready=0, last="OOMKilled"))
    found = assert_leads(result, Category.OOM_KILLED, Action.INCREASE_MEMORY, BACKEND)
    assert found.analyzer == "aggregated-api"


def test_a_backend_that_only_crashes_leaves_the_blind_autoscaler_answer() -> None:
    # Near miss: no endpoint and a crash, but nothing says why it crashes.
    assert _aggregated(_analyzed(_api(MISSING), _backend(ready=0, last="Error"))) == []


def test_no_endpoint_and_nothing_in_view_is_no_backend_finding() -> None:
    assert _aggregated(_analyzed(_api(MISSING), _backend(ready=0))) == []


def test_a_policy_keeping_the_api_server_out_of_a_ready_backend_is_the_network_fault() -> None:
    api = _api(TIMEOUT, _summary("same-namespace", SAME_NAMESPACE), _summary("deny", DENY_ALL))
    assert_leads(
        _analyzed(api, _backend()),
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="NetworkPolicy", namespace="scaling", name="deny"),
    )


@pytest.mark.parametrize(
    "admitting",
    [
        # A rule with no peers on the backend's port admits the API server.
        {"podSelector": {}, "ingress": [{"ports": [{"port": 6443}]}]},
        # An ipBlock may hold the API server's address: not known, so no blame.
        {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]},
    ],
)
def test_a_policy_that_may_admit_the_api_server_is_not_blamed(admitting: dict[str, Any]) -> None:
    api = _api(TIMEOUT, _summary("deny", DENY_ALL), _summary("apiserver-in", admitting))
    assert _aggregated(_analyzed(api, _backend())) == []


def test_a_refused_call_is_not_a_policy_that_drops_packets() -> None:
    api = _api(REFUSED, _summary("deny", DENY_ALL))
    assert _aggregated(_analyzed(api, _backend())) == []


def test_a_deny_policy_is_not_blamed_while_the_backend_has_no_ready_endpoint() -> None:
    api = _api(TIMEOUT, _summary("deny", DENY_ALL))
    assert _aggregated(_analyzed(api, _backend(ready=0))) == []

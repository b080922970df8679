"""Checks the reasoning for incidents around progressive delivery, where the change machinery
is loud and the cause lies elsewhere: the API server refusing an Argo Rollout's new pods over
a ResourceQuota (a blue-green preview next to the active stack) frees the quota, since the
Rollout is no workload the remediations act on, and its ReplicaSet is not mistaken for a
Deployment's; a caller's timeouts logged with their budget in a structured field, naming no
host, point at the one callee its env names when that callee runs its autoscaler's maximum;
a search client's exception quoting the callee's ``503`` status line is a failing call to
that callee, not a 503 the workload served (so a shared OpenSearch outage is escalated to
the Service, not blamed on a canary). With their near misses: a Deployment's ReplicaSet over
the same quota, a structured line with a budget but no timeout, two configured callees, an
access log of the workload's own 503.

Real: Evidence models from ``tests.support.evidence``, the log signatures and the whole
analyzer registry; pods, events, quotas and dependencies are written as the evidence
builder and the dependency walk summarise them.
"""

from __future__ import annotations

from kubetriage.analyzers.calls import failing_calls
from kubetriage.analyzers.log_signatures import ANSWER_TIMEOUT_LOG, DEPENDENCY_LOG
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    PodEvidence,
    QuotaEvidence,
    ServiceEvidence,
)
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, naming

# A blue-green Rollout: the active ReplicaSet's pods run, the preview one is refused.
_ACTIVE = "ledger-api-5b7c9d8f6c"
_PREVIEW = "ledger-api-6d8f7b9c5d"
_QUOTA = QuotaEvidence(
    name="ledger-compute",
    namespace="ledger",
    hard={"requests.cpu": "10"},
    used={"requests.cpu": "10"},
)
_REFUSED = (
    f'Error creating: pods "{_PREVIEW}-fq2d8" is forbidden: exceeded quota: ledger-compute, '
    "requested: requests.cpu=1, used: requests.cpu=10, limited: requests.cpu=10"
)
_QUOTA_REF = ObjectRef(kind="ResourceQuota", namespace="ledger", name="ledger-compute")


def _pod(replica_set: str, hash_label: str) -> PodEvidence:
    return make.pod(
        f"{replica_set}-x7k2p",
        make.container("ledger-api"),
        namespace="ledger",
        replica_set=replica_set,
        labels={"app": "ledger-api", hash_label: replica_set.rsplit("-", 1)[1]},
    )


def _refused_preview(hash_label: str, quota: QuotaEvidence = _QUOTA) -> Evidence:
    return make.evidence(
        pods=[_pod(_ACTIVE, hash_label)],
        quotas=[quota],
        events=[
            make.event(
                "FailedCreate", _REFUSED, name=_PREVIEW, kind="ReplicaSet", namespace="ledger"
            )
        ],
    )


def test_a_rollouts_pods_refused_over_a_quota_free_the_quota() -> None:
    finding = assert_leads(
        analyze(_refused_preview("rollouts-pod-template-hash")),
        Category.UNSCHEDULABLE,
        Action.FREE_CAPACITY,
        _QUOTA_REF,
    )
    assert "Rollout ledger/ledger-api" in finding.summary


def test_a_deployments_pods_refused_over_the_same_quota_free_capacity_for_it() -> None:
    assert_leads(
        analyze(_refused_preview("pod-template-hash")),
        Category.UNSCHEDULABLE,
        Action.FREE_CAPACITY,
        ObjectRef(kind="Deployment", namespace="ledger", name="ledger-api"),
    )


def test_a_rollouts_refusal_naming_a_quota_out_of_scope_is_not_pinned_on_a_quota() -> None:
    other = _QUOTA.model_copy(update={"name": "other-quota"})
    findings = analyze(_refused_preview("rollouts-pod-template-hash", other)).findings
    assert not any(f.target.kind == "ResourceQuota" for f in findings)


def test_a_structured_timeout_with_its_budget_is_an_answer_timeout() -> None:
    assert ANSWER_TIMEOUT_LOG.search(
        '{"level":"warn","msg":"recommendations call timed out","timeoutMs":800,"path":"/c/x"}'
    )
    assert ANSWER_TIMEOUT_LOG.search('level=warn msg="upstream timed out" timeout=5s')
    assert not ANSWER_TIMEOUT_LOG.search('{"msg":"order placed","timeoutMs":800}')


# A caller whose env names one callee, at its autoscaler's maximum and wanting more.
_RECO = ObjectRef(kind="Deployment", namespace="reco", name="recommendations")
_HOSTLESS = '{"level":"warn","msg":"recommendations call timed out","timeoutMs":800,"path":"/c"}'


def _callee(name: str, workload: ObjectRef) -> DependencyEvidence:
    hpa = autoscalers.hpa(workload, current=6, minimum=3, maximum=6, limited=True, name=name)
    return DependencyEvidence(
        service=ServiceEvidence(name=name, namespace=workload.namespace, selector={"app": name}),
        workload=workload,
        named_by=naming(f"pod checkout-1 env {name.upper()}_URL"),
        desired_replicas=6,
        ready_replicas=6,
        pods=6,
        autoscalers=[hpa],
    )


def _timing_out(*callees: DependencyEvidence) -> Evidence:
    return make.checkout_evidence(
        logs=[make.checkout_log(_HOSTLESS)],
        dependencies=list(callees),
        alerts=[make.alert(alertname="RolloutAnalysisRunFailed")],
    )


def test_hostless_timeouts_point_at_the_one_configured_callee_at_its_maximum() -> None:
    finding = assert_leads(
        analyze(_timing_out(_callee("recommendations", _RECO))),
        Category.RESOURCE_SATURATION,
        Action.SCALE_OUT,
        _RECO,
    )
    assert finding.analyzer == "dependency-at-maximum"


def test_hostless_timeouts_with_two_configured_callees_blame_neither_for_capacity() -> None:
    other = _callee("pricing", ObjectRef(kind="Deployment", namespace="pricing", name="pricing"))
    ev = _timing_out(_callee("recommendations", _RECO), other)
    assert not [f for f in analyze(ev).findings if f.analyzer == "dependency-at-maximum"]


# The OpenSearch Java client relaying the domain's answer, and the workload's own access log.
_RESPONSE_EXCEPTION = (
    "ERROR c.a.search.ProductSearchService : search failed: org.opensearch.client."
    "ResponseException: method [POST], host [https://opensearch.shop.svc.cluster.local:443], "
    "URI [/products-v7/_search], status line [HTTP/1.1 503 Service Unavailable] "
    '{"error":{"type":"cluster_manager_not_discovered_exception"},"status":503}'
)
_ACCESS_LOG = '10.0.0.7 - - "POST /v1/search HTTP/1.1" 503 112 "-" "okhttp/4.12.0" error'


def test_a_search_clients_status_line_is_a_failing_call_to_the_callee() -> None:
    tail = make.checkout_log(_RESPONSE_EXCEPTION)
    assert [h.line for h in failing_calls([tail])] == [_RESPONSE_EXCEPTION]
    assert not failing_calls([make.checkout_log(_ACCESS_LOG)])
    assert DEPENDENCY_LOG.search("status=503 cluster_manager_not_discovered_exception")
    domain = make.external_service("opensearch", "vpc-search.us-east-1.es.amazonaws.com")
    ev = make.checkout_evidence(logs=[tail], services=[domain])
    assert_leads(
        analyze(ev),
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="shop", name="opensearch"),
    )

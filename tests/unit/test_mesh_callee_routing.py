"""Checks two pieces of reasoning about a callee seen from its caller through a mesh or a
gateway. A callee Service in another namespace (a gateway route's backend, a Service named in
env) whose selector matches no pod and whose endpoints list none routes the caller's calls
nowhere: the Service is corrected (network), not its owner paged, since a callee whose pods
crash still lists them as endpoints. And a caller's failed calls answered 504 (a proxy's
"gateway timeout") that name no host, when its configuration names one callee only, are
calls waiting on that callee: at its autoscaler's maximum and wanting more, it is scaled
out. With their near misses: a callee Service that selects its pods or lists ready
endpoints, 504s when the caller names two callees in env, other 5xx statuses, and a callee
with room to scale.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry; the
dependencies are written as the dependency walk summarises them.
"""

from __future__ import annotations

from kubetriage.analyzers.dependency_saturated import GATEWAY_TIMEOUT
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, assert_ranks_below, naming

# --- a weighted route's second backend whose selector matches no pod -----------------------

CANARY = ServiceEvidence(
    name="billing-ui-canary",
    namespace="billing",
    selector={"app": "billing-ui", "track": "canary", "version": "4.3.0"},
    ready_endpoints=0,
    matching_pods=0,
)
CANARY_REF = ObjectRef(kind="Service", namespace="billing", name="billing-ui-canary")
NO_UPSTREAM = (
    '[2026-11-20T09:59:40.530Z] "GET /invoices/7 HTTP/2" 503 UH no_healthy_upstream - "-" 0 19 '
    '0 - "-" "Mozilla/5.0" "-" "billing.example" "-" '
    "outbound|80||billing-ui-canary.billing.svc.cluster.local - 10.42.7.9:443 -"
)


def _through_gateway(service: ServiceEvidence) -> Evidence:
    callee = DependencyEvidence(
        service=service, named_by=naming("log shop/checkout-1/istio-proxy"), pods=0
    )
    return make.checkout_evidence(
        logs=[make.checkout_log(NO_UPSTREAM)],
        dependencies=[callee],
        alerts=[make.alert(alertname="GatewayHigh5xxRatio")],
    )


def test_a_callee_in_another_namespace_that_selects_no_pod_is_a_selector_to_correct() -> None:
    result = analyze(_through_gateway(CANARY))
    leader = assert_leads(result, Category.NETWORK, Action.FIX_NETWORK, CANARY_REF)
    assert leader.analyzer == "network"
    assert_ranks_below(result, Category.DEPENDENCY_FAILURE, leader)


def test_a_callee_whose_selector_matches_its_pods_is_not_a_selector_to_correct() -> None:
    backed = CANARY.model_copy(update={"matching_pods": 1, "not_ready_endpoints": 1})
    network = [
        f for f in analyze(_through_gateway(backed)).findings if f.category is Category.NETWORK
    ]
    assert not network


def test_a_callee_with_ready_endpoints_is_not_said_to_select_no_pod() -> None:
    # Its pods were not read (matching 0), but its endpoints list one: something is behind it.
    unread = CANARY.model_copy(update={"ready_endpoints": 1})
    network = [
        f for f in analyze(_through_gateway(unread)).findings if f.category is Category.NETWORK
    ]
    assert not network


# --- 504s from a mesh proxy, naming no host, while the one configured callee is maxed out ---

SEARCH = ObjectRef(kind="Deployment", namespace="search", name="search")
SEARCH_SERVICE = ServiceEvidence(
    name="search", namespace="search", selector={"app": "search"}, matching_pods=8
)
FAILED_504 = '{"level":50,"msg":"search failed","status":504,"path":"/v1/search?q=boots"}'
FAILED_503 = '{"level":50,"msg":"search failed","status":503,"path":"/v1/search?q=boots"}'


def _search(*, current: int = 8, maximum: int = 8, limited: bool = True) -> DependencyEvidence:
    hpa = autoscalers.hpa(SEARCH, current=current, maximum=maximum, minimum=4, limited=limited)
    return DependencyEvidence(
        service=SEARCH_SERVICE,
        workload=SEARCH,
        named_by=naming("pod checkout-1 env SEARCH_URL"),
        desired_replicas=current,
        ready_replicas=current,
        pods=current,
        autoscalers=[hpa],
    )


def _other_callee() -> DependencyEvidence:
    return DependencyEvidence(
        service=ServiceEvidence(
            name="reviews", namespace="reviews", selector={"app": "reviews"}, matching_pods=2
        ),
        named_by=naming("pod checkout-1 env REVIEWS_URL"),
        desired_replicas=2,
        ready_replicas=2,
        pods=2,
    )


def _calling(line: str, *dependencies: DependencyEvidence) -> Evidence:
    return make.checkout_evidence(
        logs=[make.checkout_log(line)],
        dependencies=list(dependencies),
        alerts=[make.alert(alertname="NginxIngressHigh5xxRatio")],
    )


def _at_maximum(ev: Evidence) -> list[object]:
    return [f for f in analyze(ev).findings if f.analyzer == "dependency-at-maximum"]


def test_504s_naming_no_host_wait_on_the_one_configured_callee_at_its_maximum() -> None:
    result = analyze(_calling(FAILED_504, _search()))
    leader = assert_leads(result, Category.RESOURCE_SATURATION, Action.SCALE_OUT, SEARCH)
    assert leader.analyzer == "dependency-at-maximum"
    assert leader.params == {"replicas": "16", "hpa": "search"}


def test_504s_are_not_pinned_on_one_callee_when_the_caller_configures_two() -> None:
    assert not _at_maximum(_calling(FAILED_504, _search(), _other_callee()))


def test_other_5xx_statuses_are_no_timeout() -> None:
    assert not _at_maximum(_calling(FAILED_503, _search()))


def test_504s_with_a_callee_that_has_room_to_scale_are_left_to_other_rules() -> None:
    assert not _at_maximum(_calling(FAILED_504, _search(current=5, limited=False)))


def test_the_gateway_timeout_signature() -> None:
    for line in (
        '{"status":504}',
        "status=504 path=/x",
        "HTTP/1.1 504 Gateway Timeout",
        "upstream request timeout",
        "statusCode: 504",
    ):
        assert GATEWAY_TIMEOUT.search(line), line
    for line in ("took 504 ms", '{"status":503}', "order 15042 failed", "elapsed_ms=504"):
        assert not GATEWAY_TIMEOUT.search(line), line

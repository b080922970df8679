"""Checks the reasoning for incidents whose cause sits one or two hops below the alerting
service: a callee whose release preceded the caller's errors is rolled back rather than
escalated; a callee (however far down the request path) whose calls time out while it runs
its autoscaler's maximum and wants more is scaled out; and a Warning event that ended long
before the alert fired is an earlier episode, not the symptom's onset (so a change made
after it can still explain the alert). With their near misses: an old callee release, a
callee with room to scale, one short of ready replicas, calls refused rather than timed out,
an event that keeps recurring.

Real: Evidence models from ``tests.support.evidence``, the onset helpers and the whole
analyzer registry; the dependencies are written as the dependency walk summarises them.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.analyzers.onset import symptom_onset
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.object_evidence import (
    ChangeEvidence,
    EventEvidence,
    ServiceEvidence,
)
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, assert_ranks_below, naming

# A middle service the caller names, which rolled out or sits between the caller and a leaf.
CATALOG = ObjectRef(kind="Deployment", namespace="catalog", name="catalog-api")
CATALOG_SERVICE = ServiceEvidence(
    name="catalog-api", namespace="catalog", selector={"app": "catalog-api"}, ready_endpoints=2
)
CATALOG_FAILED = (
    "error: catalog-api GET http://catalog-api.catalog.svc.cluster.local:8000/v2/products/7 "
    "-> 500 Internal Server Error"
)


def _release(ref: ObjectRef, minutes_ago: float) -> ChangeEvidence:
    return ChangeEvidence(
        at=ago(minutes_ago),
        kind="rollout",
        object=ref,
        aspects=["image"],
        details=["revision 33 -> 34", "api image catalog-api:5.11.3 -> catalog-api:5.12.0"],
        from_revision=33,
        to_revision=34,
    )


def _middle(*changes: ChangeEvidence, logs: str = "") -> DependencyEvidence:
    return DependencyEvidence(
        service=CATALOG_SERVICE,
        workload=CATALOG,
        named_by=naming("pod checkout-1 env CATALOG_API_URL", "log shop/checkout-1/app"),
        desired_replicas=2,
        ready_replicas=2,
        pods=2,
        changes=list(changes),
        logs=[make.log("catalog-api-1", "api", logs, namespace="catalog", source="dependency")]
        if logs
        else [],
    )


def _calling(dependency: DependencyEvidence, *more: DependencyEvidence) -> Evidence:
    return make.checkout_evidence(
        logs=[make.checkout_log(CATALOG_FAILED)],
        dependencies=[dependency, *more],
        metrics=[make.error_ratio(first=0.001, last=0.4, changed_minutes_ago=15, trend="rising")],
    )


def test_a_callee_released_right_before_the_errors_is_rolled_back_not_escalated() -> None:
    # The callee's own log blames its cache; the cache is unchanged: the release is the change.
    callee = _middle(
        _release(CATALOG, 19),
        logs="redis.exceptions.ResponseError: unknown command `getex`, with args beginning "
        "with: `product:v2:7`",
    )
    result = analyze(_calling(callee))
    leader = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, CATALOG)
    assert_ranks_below(result, Category.DEPENDENCY_FAILURE, leader)


def test_a_callee_released_long_before_the_errors_is_escalated() -> None:
    # Seven hours on, the release is the steady state: the failing Service goes to its owner.
    result = analyze(_calling(_middle(_release(CATALOG, 7 * 60))))
    assert_leads(
        result,
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="catalog", name="catalog-api"),
    )


# A leaf two hops down: named only by the middle service's own log line.
RECO = ObjectRef(kind="Deployment", namespace="reco", name="recommendations")
RECO_SERVICE = ServiceEvidence(
    name="recommendations", namespace="reco", selector={"app": "recommendations"}
)
RECO_TIMEOUT = (
    'level=WARN msg="recommendations call failed" err="Get \\"http://recommendations.reco.svc.'
    'cluster.local:8080/v1/similar?sku=1204\\": context deadline exceeded (Client.Timeout '
    'exceeded while awaiting headers)"'
)
RECO_REFUSED = (
    'level=WARN msg="recommendations call failed" err="Get \\"http://recommendations.reco.svc.'
    'cluster.local:8080/v1/similar\\": dial tcp 10.12.30.7:8080: connect: connection refused"'
)


def _leaf(
    *, current: int = 4, maximum: int = 4, ready: int = 4, limited: bool = True
) -> DependencyEvidence:
    hpa = autoscalers.hpa(RECO, current=current, maximum=maximum, limited=limited)
    return DependencyEvidence(
        service=RECO_SERVICE,
        workload=RECO,
        named_by=naming("log catalog/catalog-api-1/api"),
        desired_replicas=current,
        ready_replicas=ready,
        pods=current,
        autoscalers=[hpa],
    )


def _slow_chain(leaf: DependencyEvidence, middle_says: str = RECO_TIMEOUT) -> Evidence:
    return make.checkout_evidence(
        logs=[make.checkout_log('warn slow upstream "catalog-api" ms=3120')],
        dependencies=[_middle(logs=middle_says), leaf],
        alerts=[make.alert(alertname="StorefrontLatencyP99High")],
    )


def _at_maximum(ev: Evidence) -> list[object]:
    return [f for f in analyze(ev).findings if f.analyzer == "dependency-at-maximum"]


def test_a_leaf_at_its_autoscalers_maximum_whose_calls_time_out_is_scaled_out() -> None:
    finding = assert_leads(
        analyze(_slow_chain(_leaf())), Category.RESOURCE_SATURATION, Action.SCALE_OUT, RECO
    )
    assert finding.analyzer == "dependency-at-maximum"
    assert finding.params == {"replicas": "8", "hpa": "recommendations"}


def test_a_leaf_with_room_to_scale_is_not_blamed_for_the_timeouts() -> None:
    assert not _at_maximum(_slow_chain(_leaf(current=3, maximum=8, limited=False)))


def test_a_leaf_short_of_ready_replicas_is_left_to_the_failure_rules() -> None:
    assert not _at_maximum(_slow_chain(_leaf(ready=1)))


def test_calls_refused_by_a_leaf_at_its_maximum_are_not_a_capacity_shortage() -> None:
    assert not _at_maximum(_slow_chain(_leaf(), RECO_REFUSED))


# The onset: a readiness probe that failed once hours before the alert, and not since.
def _probe_event(first_minutes_ago: float, last_minutes_ago: float) -> EventEvidence:
    return make.event(
        "Unhealthy", "Readiness probe failed: context deadline exceeded", name="checkout-1"
    ).model_copy(update={"first_seen": ago(first_minutes_ago), "last_seen": ago(last_minutes_ago)})


def _alerted(*events: EventEvidence) -> Evidence:
    alert = AlertEvidence(labels={"alertname": "ApiGatewayRoute5xxHigh"}, starts_at=ago(22))
    return make.checkout_evidence(events=list(events), alerts=[alert])


def test_a_warning_that_ended_hours_before_the_alert_is_not_the_onset() -> None:
    assert symptom_onset(_alerted(_probe_event(180, 180))) is None


def test_a_warning_that_keeps_recurring_until_the_alert_is_the_onset() -> None:
    onset = symptom_onset(_alerted(_probe_event(180, 2)))
    assert onset is not None
    assert make.NOW - onset[0] == timedelta(minutes=180)


def test_a_leafs_config_edit_explains_the_alert_despite_an_earlier_ended_warning() -> None:
    tax = ObjectRef(kind="Deployment", namespace="finance", name="tax-engine")
    rates = ObjectRef(kind="ConfigMap", namespace="finance", name="tax-engine-rates")
    leaf = DependencyEvidence(
        service=ServiceEvidence(name="tax-engine", namespace="finance", selector={"app": "tax"}),
        workload=tax,
        named_by=naming("log orders/orders-api-1/orders-api"),
        desired_replicas=2,
        ready_replicas=2,
        pods=2,
        config_changes=[ChangeEvidence(at=ago(26), kind="config", object=rates, aspects=["data"])],
    )
    ev = _alerted(_probe_event(180, 180)).model_copy(update={"dependencies": [leaf]})
    assert_leads(analyze(ev), Category.CONFIG_MISSING, Action.FIX_CONFIG, rates)

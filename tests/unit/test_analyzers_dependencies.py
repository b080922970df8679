"""Checks the dependency analyzers: a callee that rolled out right before the caller's
errors began is rolled back (the callee, not the caller); a callee whose pods fail or whose
Service has no ready endpoint is escalated to its owner; and the near misses (the caller
changed too, the callee's rollout is old, nothing stands behind the Service).

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.models import evidence as kinds
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, top

CALLEE = ObjectRef(kind="Deployment", namespace="shop", name="currencyservice")
CALLER = ObjectRef(kind="Deployment", namespace="shop", name="checkout")


def _rollout(ref: ObjectRef, minutes_ago: float) -> kinds.ChangeEvidence:
    return kinds.ChangeEvidence(
        at=ago(minutes_ago),
        kind="rollout",
        object=ref,
        aspects=["image"],
        details=["revision 5 -> 6", "server image currency:1 -> currency:2"],
        from_revision=5,
        to_revision=6,
    )


def _errors(step_minutes_ago: float) -> kinds.MetricSummary:
    return make.error_ratio(
        first=0.001, last=0.12, changed_minutes_ago=step_minutes_ago, trend="rising"
    )


def _callee(
    *changes: kinds.ChangeEvidence, named_by: str = "log shop/checkout-1/app"
) -> kinds.DependencyEvidence:
    return kinds.DependencyEvidence(
        workload=CALLEE,
        named_by=[named_by],
        desired_replicas=2,
        ready_replicas=2,
        pods=2,
        changes=list(changes),
    )


def test_errors_right_after_the_callees_rollout_roll_the_callee_back() -> None:
    ev = make.evidence(
        workload=make.deployment(),
        metrics=[_errors(20)],
        dependencies=[_callee(_rollout(CALLEE, 25))],
    )
    finding = top(ev)
    assert (finding.category, finding.action, finding.target) == (
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
        CALLEE,
    )
    assert finding.params == {"revision": "5"}


def test_a_caller_that_changed_after_the_callee_is_the_suspect() -> None:
    ev = make.evidence(
        workload=make.deployment(),
        metrics=[_errors(10)],
        changes=[_rollout(CALLER, 15)],
        dependencies=[_callee(_rollout(CALLEE, 25))],
    )
    assert not [f for f in analyze(ev).findings if f.analyzer == "dependency-change"]


def test_an_old_callee_rollout_is_not_what_changed() -> None:
    ev = make.evidence(
        workload=make.deployment(),
        metrics=[_errors(20)],
        dependencies=[_callee(_rollout(CALLEE, 60 * 24))],
    )
    assert not [f for f in analyze(ev).findings if f.analyzer == "dependency-change"]


def test_a_callee_named_only_in_env_is_not_blamed_for_a_rollout() -> None:
    ev = make.evidence(
        workload=make.deployment(),
        metrics=[_errors(20)],
        dependencies=[_callee(_rollout(CALLEE, 25), named_by="pod checkout-1 env CURRENCY_URL")],
    )
    assert not [f for f in analyze(ev).findings if f.analyzer == "dependency-change"]


def _service(ready: int) -> kinds.ServiceEvidence:
    return kinds.ServiceEvidence(
        name="auth-api", namespace="identity", selector={"app": "auth"}, ready_endpoints=ready
    )


def test_a_callee_with_no_ready_endpoint_is_a_dependency_failure_of_that_service() -> None:
    dep = kinds.DependencyEvidence(
        service=_service(0),
        named_by=["pod portal-1 env AUTH_URL"],
        pods=1,
        failing_pods=["auth-api-1: auth not ready"],
        warnings=["Pod/auth-api-1 Unhealthy: Readiness probe failed"],
    )
    failing = make.log(
        "portal-1", "app", "ERROR GET http://auth-api.identity/verify: 503 Service Unavailable"
    )
    finding = top(make.evidence(workload=make.deployment(), dependencies=[dep], logs=[failing]))
    assert (finding.category, finding.action, finding.target) == (
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="identity", name="auth-api"),
    )
    # A caller with no failing call has trouble of its own: the callee is not blamed.
    quiet = make.evidence(workload=make.deployment(), dependencies=[dep])
    assert not [f for f in analyze(quiet).findings if f.analyzer == "dependency-down"]


def test_a_service_with_nothing_behind_it_is_left_to_the_network_analyzer() -> None:
    dep = kinds.DependencyEvidence(
        service=_service(0), named_by=["pod portal-1 env AUTH_URL"], pods=0
    )
    ev = make.evidence(workload=make.deployment(), dependencies=[dep])
    assert not [f for f in analyze(ev).findings if f.analyzer == "dependency-down"]


def test_a_healthy_callee_is_not_blamed() -> None:
    dep = kinds.DependencyEvidence(
        service=_service(2), named_by=["pod portal-1 env AUTH_URL"], pods=2
    )
    ev = make.evidence(workload=make.deployment(), dependencies=[dep])
    assert not [f for f in analyze(ev).findings if f.analyzer == "dependency-down"]

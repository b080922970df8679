"""Checks the removed-service rule: a caller's lookups of a Service name answered "no such
name", no such Service, and the workload of that name healthy and rolled out right before the
errors: roll that release back (above escalating to the missing Service); a callee not ready,
a rollout long before the errors, or a resolver that fails to answer leave it silent. And the
summary: a named Service that does not exist is followed to the workload of its name, marked.

Real: the evidence builder (``tests.support.built``) and the analyzer registry over Evidence
models from ``tests.support.evidence``.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest
from tests.support.evidence import ago, analyze, naming

FX = ObjectRef(kind="Deployment", namespace="market-data", name="fx-rate")
HOST = "fx-rate.market-data.svc.cluster.local"
NO_SUCH_HOST = f"dial tcp: lookup {HOST} on 10.96.0.10:53: no such host"
TIMEOUT = f"dial tcp: lookup {HOST} on 10.96.0.10:53: i/o timeout"


def _evidence(line: str = NO_SUCH_HOST, rolled_minutes_ago: float = 40, ready: int = 3) -> Evidence:
    callee = DependencyEvidence(
        ref=FX,
        workload=FX,
        missing_service="fx-rate",
        named_by=naming("log shop/checkout-7d9f6c8b5-abcde/checkout"),
        desired_replicas=3,
        ready_replicas=ready,
        pods=3,
        changes=[
            ChangeEvidence(at=ago(rolled_minutes_ago), kind="rollout", object=FX, aspects=["image"])
        ],
    )
    errors = make.error_ratio(first=0.001, last=0.7, changed_minutes_ago=39, trend="rising")
    return make.checkout_evidence(
        logs=[make.checkout_log(f"{line}\n{line}")], dependencies=[callee], metrics=[errors]
    )


def _removed(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "removed-service"]


def test_a_release_that_removed_the_service_its_callers_use_is_rolled_back() -> None:
    top = analyze(_evidence()).findings[0]
    assert (top.category, top.action, top.target) == (Category.BAD_ROLLOUT, Action.ROLLBACK, FX)


def test_silent_for_a_callee_not_ready_an_old_rollout_or_a_resolver_failure() -> None:
    assert not _removed(_evidence(ready=0))
    assert not _removed(_evidence(rolled_minutes_ago=3 * 24 * 60))
    assert not _removed(_evidence(line=TIMEOUT))


def test_a_missing_service_is_followed_to_the_workload_of_its_name() -> None:
    app = {
        "name": "checkout",
        "image": "shop/checkout:1",
        "env": [{"name": "FX_URL", "value": f"http://{HOST}:80"}],
    }
    caller = deployment_manifest("checkout", "shop", app)
    callee = deployment_manifest("fx-rate", "market-data", ("fx", "fx:2"))
    ev = built([caller, callee], ObjectRef(kind="Deployment", namespace="shop", name="checkout"))
    followed = [d for d in ev.dependencies if d.workload == FX]
    assert [d.missing_service for d in followed] == ["fx-rate"]

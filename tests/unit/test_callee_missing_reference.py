"""Checks the callee-missing-reference rule: a dependency the workload calls is short of ready
replicas because the kubelet cannot create its pods' containers, saying a ConfigMap or Secret
they reference (or one of its keys) is missing; that object is what to correct (fix-config),
above escalating to the dependency's owner. A dependency whose replicas are all ready, or
whose warnings say something else, leaves it silent.

Real: the analyzer registry over Evidence models from ``tests.support.evidence``.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import analyze, evidence, log, naming

SERVICE = ObjectRef(kind="Service", namespace="billing", name="ledger")
WORKLOAD = ObjectRef(kind="Deployment", namespace="billing", name="ledger")
KEY = (
    "Pod/ledger-6c9f8d7b5-x2x9k Failed: Error: couldn't find key DSN in ConfigMap "
    "billing/ledger-env"
)
SECRET = 'Pod/ledger-6c9f8d7b5-x2x9k Failed: Error: secret "ledger-db" not found'


def _evidence(warning: str = KEY, ready: int = 0) -> Evidence:
    ledger = DependencyEvidence(
        service=ServiceEvidence(
            name="ledger", namespace="billing", selector={"app": "ledger"}, ready_endpoints=ready
        ),
        ref=SERVICE,
        workload=WORKLOAD,
        named_by=naming("pod web-7d9f6c8b5-a env LEDGER_URL"),
        desired_replicas=2,
        ready_replicas=ready,
        pods=2,
        failing_pods=[
            PodTrouble(
                pod="ledger-6c9f8d7b5-x2x9k",
                phase="Pending",
                container="ledger",
                waiting="CreateContainerConfigError",
            )
        ],
        warnings=[warning],
    )
    return evidence(
        logs=[log("web-7d9f6c8b5-a", "web", "GET http://ledger.billing:8080/v1/balance: 503")],
        dependencies=[ledger],
    )


def _found(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "callee-missing-reference"]


def test_a_callee_missing_a_configmap_key_names_that_configmap() -> None:
    top = analyze(_evidence()).findings[0]
    assert (top.category, top.action, top.target) == (
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        ObjectRef(kind="ConfigMap", namespace="billing", name="ledger-env"),
    )
    assert top.analyzer == "callee-missing-reference"
    assert "None" not in top.summary


def test_a_missing_secret_is_looked_for_in_the_callee_namespace() -> None:
    (found,) = _found(_evidence(SECRET))
    assert found.target == ObjectRef(kind="Secret", namespace="billing", name="ledger-db")


def test_a_callee_with_every_replica_ready_is_left_alone() -> None:
    assert _found(_evidence(ready=2)) == []


def test_other_warnings_are_left_alone() -> None:
    other = "Pod/ledger-6c9f8d7b5-x2x9k FailedScheduling: 0/3 nodes are available"
    assert _found(_evidence(other)) == []

"""Checks the uninjected-replicas rule: pods of one ReplicaSet of which some carry the mesh
proxy and some do not, only the bare ones logging failing calls, point at injection switched
off between their admissions: restart the workload (after restoring injection), ranked above
escalating to the callee. Replicas that all carry the proxy, bare replicas that do not fail, or
pods of two revisions leave it silent.

Real: the analyzer registry over Evidence models from ``tests.support.evidence``.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import WorkloadEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import analyze, container, evidence, log, pod

WORKLOAD = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
RESET = 'Get "http://pricing.pricing:8080/v1/p": read: connection reset by peer'


def _evidence(
    bare_fails: bool = True, meshed_fails: bool = False, second_rs: str | None = None
) -> Evidence:
    meshed = pod("checkout-7d9f6c8b5-a", container("checkout"), container("istio-proxy"))
    bare = pod(
        "checkout-7d9f6c8b5-b", container("checkout"), replica_set=second_rs or "checkout-7d9f6c8b5"
    )
    logs = [log("checkout-7d9f6c8b5-a", "checkout", RESET if meshed_fails else "GET /x 200")]
    logs.append(log("checkout-7d9f6c8b5-b", "checkout", RESET if bare_fails else "GET /x 200"))
    return evidence(
        target=WORKLOAD,
        workload=WorkloadEvidence(ref=WORKLOAD, desired_replicas=2, ready_replicas=2),
        pods=[meshed, bare],
        logs=logs,
    )


def _found(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "uninjected-replicas"]


def test_bare_replicas_failing_beside_meshed_ones_restart_the_workload() -> None:
    (found,) = _found(_evidence())
    assert (found.category, found.action, found.target) == (
        Category.NETWORK,
        Action.RESTART,
        WORKLOAD,
    )
    assert "None" not in found.summary


def test_silent_when_the_bare_replicas_serve_or_the_meshed_fail_too() -> None:
    assert _found(_evidence(bare_fails=False)) == []
    assert _found(_evidence(meshed_fails=True)) == []


def test_silent_for_pods_of_two_revisions() -> None:
    assert _found(_evidence(second_rs="checkout-5b8e6a7d49")) == []

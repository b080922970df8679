"""Checks that calls failing to a host no Service in the evidence matches (an external API
reached straight from the pods) name no dependency: the finding is ``unknown``, escalated to
the workload's owner with the failing lines quoted, not a dependency failure without a
dependency; and that the same failures naming a Service the evidence holds stay a dependency
failure escalated to that Service (the near miss).

Real: the analyzer registry and the combiner's category choice on Evidence models from
``tests.support.evidence``; the pods, Services and log lines are synthetic.
"""

from __future__ import annotations

from kubetriage.combine import combine
from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import LLMUsage
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

POD = "payout-worker-7c9d8f6b5-m7v4w"
WORKER = ObjectRef(kind="Deployment", namespace="shop", name="payout-worker")
RESET = (
    "ERROR payout failed after 3 attempts: requests.exceptions.ConnectionError: "
    "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer')) "
    "calling https://{host}/v2/payouts"
)


def _evidence(host: str, *services: str) -> Evidence:
    lines = "\n".join([RESET.format(host=host)] * 2)
    return make.app_evidence(
        POD,
        make.container("worker"),
        logs=lines,
        services=[make.service(name, ready=1, matching=1) for name in services],
    )


def test_failing_calls_to_a_host_no_service_matches_are_unknown_at_the_workload() -> None:
    finding = assert_leads(
        analyze(_evidence("api.partnerbank.example", "payout-worker")),
        Category.UNKNOWN,
        Action.ESCALATE,
        WORKER,
    )
    assert "connection resets" in finding.summary
    assert finding.evidence, "the failing lines are quoted for the owner"


def test_the_combined_diagnosis_is_unknown_and_escalates_to_the_workload() -> None:
    ev = _evidence("api.partnerbank.example", "payout-worker")
    diagnosis = combine(
        evidence=ev,
        findings=list(analyze(ev).findings),
        opinion=None,
        llm=LLMUsage(used=False, reason="not configured"),
        similar=[],
    )
    assert diagnosis.category is Category.UNKNOWN
    top = diagnosis.remediations[0]
    assert (top.action, top.target) == (Action.ESCALATE, WORKER)


def test_failing_calls_naming_a_service_in_the_evidence_stay_a_dependency_failure() -> None:
    assert_leads(
        analyze(_evidence("ledger.shop.svc.cluster.local", "payout-worker", "ledger")),
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        ObjectRef(kind="Service", namespace="shop", name="ledger"),
    )

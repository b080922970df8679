"""Checks where the hand-over goes when nothing matched a namespace-wide incident: to the one
workload its pods belong to, else to the workload of the service whose own telemetry raised
the alert (OpenTelemetry ``service_name``: the workload named so, or whose pods are labelled
so by ``app.kubernetes.io/name``); nowhere when the alert names no such service, a monitoring
job, or a service two workloads claim. And the same through ``combine``: the diagnosis of an
evidence no analyzer explains escalates to that workload.

Everything is real: Evidence models from ``tests.support.evidence``, ``default_target`` and
``analyze`` + ``combine``; no I/O.
"""

from __future__ import annotations

from kubetriage.combine import combine
from kubetriage.handover import default_target
from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import LLMUsage
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.vocabulary import Action
from tests.support import evidence as make

ASTRONOMY = ObjectRef(kind="Namespace", name="astronomy")
SHIPPING = ObjectRef(kind="Deployment", namespace="astronomy", name="shipping")


def _pods(*apps: tuple[str, str]) -> list[PodEvidence]:
    """One healthy pod per (ReplicaSet, app.kubernetes.io/name) pair, in ``astronomy``."""
    return [
        make.pod(
            f"{replica_set}-abcde",
            namespace="astronomy",
            replica_set=replica_set,
            labels={"app.kubernetes.io/name": name},
        )
        for replica_set, name in apps
    ]


def _evidence(service_name: str, *apps: tuple[str, str]) -> Evidence:
    alert = make.alert(alertname="QuoteErrors", namespace="astronomy", service_name=service_name)
    return make.evidence(target=ASTRONOMY, alerts=[alert], pods=_pods(*apps))


TWO_SERVICES = (("shipping-6f7d8c9b5", "shipping"), ("quote-7c8d9f6b4", "quote"))


def test_nothing_matched_hands_over_to_the_service_that_reports_it() -> None:
    assert default_target(Action.ESCALATE, _evidence("shipping", *TWO_SERVICES)) == SHIPPING


def test_the_reporter_is_found_by_its_name_label_as_well() -> None:
    apps = (("shipping-v2-6f7d8c9b5", "shipping"), ("quote-7c8d9f6b4", "quote"))
    expected = ObjectRef(kind="Deployment", namespace="astronomy", name="shipping-v2")
    assert default_target(Action.ESCALATE, _evidence("shipping", *apps)) == expected


def test_near_misses_hand_over_to_nobody() -> None:
    # The service the alert names runs no pod here.
    assert default_target(Action.ESCALATE, _evidence("payment", *TWO_SERVICES)) is None
    # A monitoring job's own series is no application's.
    monitoring = (*TWO_SERVICES, ("prometheus-5d6c7b8f9", "prometheus"))
    assert default_target(Action.ESCALATE, _evidence("prometheus", *monitoring)) is None
    # Two workloads claim the service: the alert cannot tell which.
    claimed = (*TWO_SERVICES, ("shipping-canary-5d6c7b8f9", "shipping"))
    assert default_target(Action.ESCALATE, _evidence("shipping", *claimed)) is None
    # Only the hand-over looks for the reporter, not a fix's target.
    assert default_target(Action.ROLLBACK, _evidence("shipping", *TWO_SERVICES)) is None


def test_one_workload_of_the_namespace_takes_it_whatever_the_alert_names() -> None:
    only = (("quote-7c8d9f6b4", "quote"),)
    expected = ObjectRef(kind="Deployment", namespace="astronomy", name="quote")
    assert default_target(Action.ESCALATE, _evidence("shipping", *only)) == expected


def test_the_diagnosis_escalates_to_the_reporter_when_no_analyzer_explains_it() -> None:
    evidence = _evidence("shipping", *TWO_SERVICES)
    findings = list(make.analyze(evidence).findings)
    diagnosis = combine(
        evidence=evidence,
        findings=findings,
        opinion=None,
        llm=LLMUsage(used=False, reason="not configured"),
        similar=[],
    )
    assert [(r.action, r.target) for r in diagnosis.remediations] == [(Action.ESCALATE, SHIPPING)]

"""Checks that a remediation names only a container the object it patches holds: an
executor container a Spark driver creates is not in the CronJob's template, so the command
names none; near misses: a container of the template is kept, and a target whose template
the evidence does not hold keeps the hint.

Real: the combiner and the command templates over Evidence models; no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kubetriage import prose
from kubetriage.combine import combine
from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import Diagnosis, LLMUsage
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import ContainerEvidence, WorkloadEvidence
from kubetriage.models.remediation import MemoryParameters
from kubetriage.models.vocabulary import Action, Category

CRONJOB = ObjectRef(kind="CronJob", namespace="ml", name="backfill")
JOB = ObjectRef(kind="Job", namespace="ml", name="backfill-29393190", api_version="batch/v1")
OTHER = ObjectRef(kind="Deployment", namespace="ml", name="feature-api")


def _evidence() -> Evidence:
    return Evidence(
        collected_at=datetime(2026, 11, 20, tzinfo=UTC),
        target=JOB,
        workload=WorkloadEvidence(
            ref=JOB,
            controller=CRONJOB,
            containers=[ContainerEvidence(name="driver", image="spark:3.5")],
        ),
    )


def _diagnosis(container: str, target: ObjectRef = CRONJOB) -> Diagnosis:
    fact = EvidenceItem(source="events", fact=f"container {container} OOMKilled")
    text = prose.narrative(
        f"{prose.obj(target)} is OOM-killed", "raise the limit", because=[prose.claim("x", fact)]
    )
    finding = Finding(
        analyzer="oom",
        category=Category.OOM_KILLED,
        confidence=0.9,
        summary=prose.narrative_summary(text),
        narrative=text,
        evidence=[fact],
        action=Action.INCREASE_MEMORY,
        target=target,
        params={"container": container, "memory": "8Gi"},
    )
    return combine(
        evidence=_evidence(),
        findings=[finding],
        opinion=None,
        llm=LLMUsage(used=False, reason="not configured"),
        similar=[],
    )


def test_a_container_the_patched_template_lacks_is_not_named() -> None:
    top = _diagnosis("executor").remediations[0]
    assert top.target == CRONJOB
    assert top.parameters == MemoryParameters(memory="8Gi")
    assert "executor" not in (top.command or "")
    assert "-c " not in (top.command or "")


def test_a_container_of_the_template_is_named() -> None:
    # Near miss: the driver is in the Job's template, which the CronJob stamps out.
    top = _diagnosis("driver").remediations[0]
    assert top.parameters == MemoryParameters(container="driver", memory="8Gi")
    assert "-c driver" in (top.command or "")


def test_a_target_whose_template_is_not_known_keeps_the_hint() -> None:
    # Near miss: the evidence holds no template of another workload, so nothing says the
    # container is absent there.
    top = _diagnosis("executor", OTHER).remediations[0]
    assert top.parameters == MemoryParameters(container="executor", memory="8Gi")

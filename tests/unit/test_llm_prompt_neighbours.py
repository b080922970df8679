"""The prompt shows the application's degraded sibling components (``[B1]``), the HPAs of a
followed callee's workload (``[D1H1]``, under its dependency) and the health of the operator
running the workload's scalers (under the ``[Z]`` section): present when the evidence has
them, absent otherwise, citable by the answer's evidence check, redacted with the rest of the
evidence and bounded by the prompt budget. Real: ``render_messages``, the citation ids and
the redaction rules.
"""

from __future__ import annotations

import re

from kubetriage.llm.citations import evidence_ids, unknown_ids
from kubetriage.llm.prompt import render_messages
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import ScalerEvidence, ScalerOperatorEvidence
from kubetriage.models.evidence import Evidence
from kubetriage.models.neighbours import SiblingEvidence
from kubetriage.models.object_evidence import (
    AutoscalerEvidence,
    ContainerEvidence,
    ContainerState,
    EventEvidence,
    PodCondition,
    PodEvidence,
    ServiceEvidence,
    WorkloadEvidence,
)
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.redaction import redact_evidence
from tests.support import autoscalers
from tests.support.evidence import naming
from tests.support.llm_samples import oom_evidence, oom_finding

INGESTER = ObjectRef(kind="StatefulSet", namespace="observability", name="mimir-ingester")
SIBLINGS_TITLE = "### Other components of its application, short of ready replicas"


def _body(evidence: Evidence, max_chars: int | None = None) -> str:
    options = {} if max_chars is None else {"max_chars": max_chars}
    messages = render_messages(evidence, [oom_finding()], [], **options)
    user = messages[1]["content"]
    match = re.search(r'<untrusted-data name="evidence">\n(.*?)\n</untrusted-data>', user, re.S)
    assert match is not None
    return match.group(1)


def _sibling(message: str = "0/6 nodes are available: 6 Insufficient memory.") -> SiblingEvidence:
    return SiblingEvidence(
        workload=WorkloadEvidence(
            ref=INGESTER,
            desired_replicas=3,
            ready_replicas=1,
            conditions=[PodCondition(type="Available", status="False", reason="NotReady")],
        ),
        application={"app.kubernetes.io/part-of": "mimir", "app.kubernetes.io/instance": "prod"},
        component="ingester",
        pods=[
            PodEvidence(
                name="mimir-ingester-2",
                namespace=INGESTER.namespace or "",
                phase="Pending",
                containers=[
                    ContainerEvidence(
                        name="ingester",
                        image="grafana/mimir:2.14.0",
                        ready=False,
                        state=ContainerState(state="waiting", reason="ContainerCreating"),
                    )
                ],
            )
        ],
        events=[
            EventEvidence(
                type="Warning",
                reason="FailedScheduling",
                message=message,
                involved=ObjectRef(kind="Pod", namespace="observability", name="mimir-ingester-2"),
                count=14,
            )
        ],
    )


def _callee(*autoscalers: AutoscalerEvidence) -> DependencyEvidence:
    return DependencyEvidence(
        service=ServiceEvidence(name="auth-api", namespace="identity", ready_endpoints=2),
        named_by=naming("pod portal-1 env AUTH_URL"),
        workload=ObjectRef(kind="Deployment", namespace="identity", name="auth-api"),
        desired_replicas=2,
        ready_replicas=2,
        autoscalers=list(autoscalers),
    )


def _hpa() -> AutoscalerEvidence:
    return autoscalers.hpa(
        ObjectRef(kind="Deployment", namespace="identity", name="auth-api"),
        current=2,
        conditions=[autoscalers.blind(message="missing request for cpu in container auth")],
    )


def test_siblings_reach_the_prompt_with_ids_the_answer_can_cite() -> None:
    evidence = oom_evidence().model_copy(update={"siblings": [_sibling()]})
    body = _body(evidence)
    assert SIBLINGS_TITLE in body
    assert (
        "[B1] StatefulSet/observability/mimir-ingester component=ingester "
        "application[app.kubernetes.io/part-of=mimir, app.kubernetes.io/instance=prod] "
        "ready=1/3 Available=False (NotReady)"
    ) in body
    assert (
        "  pod mimir-ingester-2 phase=Pending ingester waiting(ContainerCreating) restarts=0"
    ) in body
    assert "  warning FailedScheduling x14: 0/6 nodes are available" in body
    assert "B1" in evidence_ids(evidence)
    assert unknown_ids(["b1", "[B2]"], evidence) == ["B2"]


def test_no_sibling_section_without_siblings() -> None:
    evidence = oom_evidence()
    body = _body(evidence)
    assert SIBLINGS_TITLE not in body
    assert "[B1]" not in body
    assert unknown_ids(["B1"], evidence) == ["B1"]


def test_a_callees_autoscalers_reach_the_prompt_under_it_with_ids() -> None:
    evidence = oom_evidence().model_copy(update={"dependencies": [_callee(_hpa())]})
    body = _body(evidence)
    assert (
        "  [D1H1] hpa identity/auth-api target=Deployment/identity/auth-api min=2 max=10 "
        "current=2 desired=2 ScalingActive=False (FailedGetResourceMetric): missing request "
        "for cpu in container auth"
    ) in body
    assert "D1H1" in evidence_ids(evidence)
    assert unknown_ids(["d1h1", "D1H2", "D2H1"], evidence) == ["D1H2", "D2H1"]
    # A callee without autoscalers shows none and has no such id.
    bare = oom_evidence().model_copy(update={"dependencies": [_callee()]})
    assert "[D1H" not in _body(bare)
    assert unknown_ids(["D1H1"], bare) == ["D1H1"]


def test_the_scaler_operators_health_and_the_queues_reach_the_prompt() -> None:
    scaler = ScalerEvidence(
        ref=ObjectRef(kind="ScaledJob", namespace="media", name="transcode"),
        trigger="aws-sqs-queue",
        hosts=["sqs.eu-central-1.amazonaws.com"],
        queues=["transcode-requests"],
        reader_namespace="keda",
    )
    operator = ScalerOperatorEvidence(
        workload=ObjectRef(kind="Deployment", namespace="keda", name="keda-operator"),
        pods=1,
        troubles=[
            PodTrouble(pod="keda-operator-1", container="keda-operator", waiting="CrashLoopBackOff")
        ],
        unserved=['no matches for kind "HorizontalPodAutoscaler" in version "autoscaling/v2beta2"'],
    )
    evidence = oom_evidence().model_copy(update={"scalers": [scaler], "scaler_operator": operator})
    body = _body(evidence)
    assert "queues[transcode-requests] ready=unknown run by pods in keda" in body
    assert "  operator Deployment/keda/keda-operator ready pods=0/1" in body
    assert "  failing pod keda-operator-1: keda-operator waiting CrashLoopBackOff" in body
    assert '  operator log: no matches for kind "HorizontalPodAutoscaler"' in body
    # Without scalers the operator is not shown.
    alone = oom_evidence().model_copy(update={"scaler_operator": operator})
    assert "keda-operator" not in _body(alone)


def test_siblings_and_callee_autoscalers_are_redacted_and_bounded() -> None:
    leaked = "pull failed: https://deploy:Wint3r-mimir-2026@registry.example/v2/ " + "x" * 2000
    evidence = redact_evidence(
        oom_evidence().model_copy(
            update={
                "siblings": [_sibling(leaked)] * 30,
                "dependencies": [_callee(*[_hpa()] * 5)],
            }
        )
    )
    full = _body(evidence, max_chars=500_000)
    assert "Wint3r-mimir-2026" not in full
    assert "[B30] StatefulSet/observability/mimir-ingester" in full
    assert "[D1H5] hpa identity/auth-api" in full
    assert all(len(line) <= 400 for line in full.splitlines())
    messages = render_messages(evidence, [oom_finding()], [], max_chars=9_000)
    assert sum(len(m["content"]) for m in messages) <= 9_000

"""The diagnosis pipeline stage by stage and its degraded paths: analyzers alone, a model
that agrees, garbage answers, a model proposing objects outside the evidence, the evidence-
hash cache, Prometheus down, memory unavailable. Real: the evidence builder on a shared case,
the analyzers, redaction, the official openai client against a scripted server on 127.0.0.1,
the Prometheus collector against a closed port."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from kubetriage.app import LLMStage, MemoryStage, PrometheusStage
from kubetriage.evidence.prometheus import PrometheusEvidenceCollector
from kubetriage.llm.client import LLMClient
from kubetriage.models.case import Case
from kubetriage.models.incident import Condition, IncidentSpec
from kubetriage.pipeline import PipelineResult, Stages, diagnose
from kubetriage.redaction import redact_evidence
from kubetriage.replay.cases import load_case
from kubetriage.replay.snapshot import SnapshotEvidenceSource, alert_of
from kubetriage.settings import Settings
from tests.support.cases import EXAMPLES
from tests.support.oom_example import ANSWER
from tests.support.openai_server import ScriptedOpenAIServer, answer, text

SHARED = EXAMPLES
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
WORKLOAD = {"kind": "Deployment", "namespace": "exports", "name": "csv-exporter"}
AGREEING_SUMMARY = "exporter exceeds its 256Mi limit while loading the table"


@pytest.fixture
def oom_case() -> Case:
    case = load_case(SHARED / "example-oom-csv-exporter")
    key = next(iter(case.logs))
    # A credential in a log line: it must never reach the model.
    case.logs[key] += "DEBUG:db:connecting with password=hunter2-very-secret\n"
    return case


def _spec(case: Case) -> IncidentSpec:
    return IncidentSpec(
        title="KubePodCrashLooping", source="alertmanager", alerts=[alert_of(case, NOW)]
    )


def _run(stages: Stages, case: Case, **kwargs: Any) -> PipelineResult:
    async def once() -> PipelineResult:
        try:
            return await diagnose(
                _spec(case), namespace="exports", name="inc-1", stages=stages, now=NOW, **kwargs
            )
        finally:
            if isinstance(stages.model, LLMStage):
                await stages.model.aclose()

    return asyncio.run(once())


def _conditions(result: PipelineResult) -> dict[str, Condition]:
    return {c.type: c for c in result.conditions}


def _llm_stage(server: ScriptedOpenAIServer) -> LLMStage:
    settings = Settings(
        llm_base_url=server.base_url, llm_model="scripted", llm_timeout_seconds=5, llm_max_retries=0
    )
    return LLMStage(LLMClient(settings), settings)


def _model_stages(case: Case, server: ScriptedOpenAIServer) -> Stages:
    """The case's snapshot, redaction, and the scripted model."""
    return Stages(
        evidence=SnapshotEvidenceSource(case), redact=redact_evidence, model=_llm_stage(server)
    )


def _agreeing_answer(**overrides: Any) -> dict[str, Any]:
    """The model's answer agreeing with the analyzers on the OOM case, with its own
    summary (``AGREEING_SUMMARY``) and ``overrides``."""
    return {**ANSWER, "summary": AGREEING_SUMMARY, **overrides}


def test_analyzers_alone(oom_case: Case) -> None:
    stages = Stages(evidence=SnapshotEvidenceSource(oom_case), redact=redact_evidence)
    result = _run(stages, oom_case)
    assert result.diagnosis.category.value == "oom-killed"
    assert result.diagnosis.remediations[0].action.value == "increase-memory"
    assert result.diagnosis.llm.used is False
    conditions = _conditions(result)
    assert conditions["LLMUnavailable"].reason == "NotConfigured"
    assert conditions["MetricsAvailable"].reason == "NotConfigured"
    assert conditions["MemoryAvailable"].reason == "NotConfigured"
    assert conditions["EvidenceCollected"].status == "True"
    assert result.diagnosis.evidence_hash
    assert result.diagnosis.signature
    assert "OOMKilled" in result.diagnosis.signature


def test_model_answer_is_used_and_secrets_never_leave(oom_case: Case) -> None:
    with ScriptedOpenAIServer() as server:
        server.script(answer(_agreeing_answer()))
        stages = _model_stages(oom_case, server)
        result = _run(stages, oom_case)
        sent = str(server.chat_bodies)
    diagnosis = result.diagnosis
    assert diagnosis.llm.used is True
    assert diagnosis.llm.input_tokens
    assert diagnosis.llm.output_tokens
    assert diagnosis.summary == AGREEING_SUMMARY
    assert set(diagnosis.remediations[0].proposed_by) == {"analyzer", "llm"}
    assert _conditions(result)["LLMUnavailable"].status == "False"
    assert "hunter2" not in sent
    assert "csv-exporter" in sent


def test_garbage_answers_fall_back_to_analyzers(oom_case: Case) -> None:
    with ScriptedOpenAIServer() as server:
        server.script(text("I think it is DNS."), text('{"category": "gremlins"}'))
        stages = _model_stages(oom_case, server)
        result = _run(stages, oom_case)
    llm = _conditions(result)["LLMUnavailable"]
    assert llm.status == "True"
    assert llm.reason == "InvalidAnswer"
    assert result.diagnosis.llm.used is False
    assert result.diagnosis.category.value == "oom-killed"
    assert result.diagnosis.remediations[0].action.value == "increase-memory"


def test_model_cannot_send_us_to_objects_outside_the_evidence(oom_case: Case) -> None:
    hostile = _agreeing_answer(
        category="node-failure",
        confidence=1.0,
        remediations=[
            {
                "action": "drain-node",
                "target": {"kind": "Node", "namespace": None, "name": "prod-db-1"},
                "rationale": "x",
            }
        ],
    )
    with ScriptedOpenAIServer() as server:
        server.script(answer(hostile))
        stages = _model_stages(oom_case, server)
        result = _run(stages, oom_case)
    diagnosis = result.diagnosis
    assert diagnosis.category.value == "oom-killed"  # a 0.95 analyzer is not overruled
    # Healthy nodes: "node-failure" lacks its preconditions, so it is not even a contender.
    assert diagnosis.hypothesis
    assert all(r.target.name != "prod-db-1" for r in diagnosis.remediations)
    assert _conditions(result)["AnalyzerDisagreement"].status == "True"


def test_same_evidence_does_not_pay_for_a_second_call(oom_case: Case) -> None:
    with ScriptedOpenAIServer() as server:
        server.script(answer(_agreeing_answer()))
        stages = _model_stages(oom_case, server)
        first = _run(stages, oom_case)
        stages = _model_stages(oom_case, server)
        second = _run(stages, oom_case, previous=first.diagnosis)
        assert len(server.chat_bodies) == 1
    assert second.diagnosis.llm.cached is True
    assert second.diagnosis.category == first.diagnosis.category


def test_prometheus_down_degrades_with_a_condition(oom_case: Case) -> None:
    collector = PrometheusEvidenceCollector("http://127.0.0.1:9", timeout_seconds=1.0)
    stages = Stages(
        evidence=SnapshotEvidenceSource(oom_case),
        redact=redact_evidence,
        metrics=PrometheusStage(collector),
    )
    result = _run(stages, oom_case)
    metrics = _conditions(result)["MetricsAvailable"]
    assert metrics.status == "False"
    assert metrics.reason == "PrometheusUnavailable"
    assert "127.0.0.1:9" in metrics.message
    assert result.diagnosis.category.value == "oom-killed"


def test_memory_unavailable_degrades_with_a_condition(oom_case: Case) -> None:
    memory = MemoryStage(None, Settings(), unavailable="qdrant at http://127.0.0.1:9 refused")
    stages = Stages(
        evidence=SnapshotEvidenceSource(oom_case), redact=redact_evidence, memory=memory
    )
    result = _run(stages, oom_case)
    condition = _conditions(result)["MemoryAvailable"]
    assert condition.status == "False"
    assert condition.reason == "MemoryUnavailable"
    assert "refused" in condition.message
    assert result.diagnosis.category.value == "oom-killed"


def test_anonymised_names_never_reach_the_model_and_come_back_real(oom_case: Case) -> None:
    with ScriptedOpenAIServer() as server:
        # The model can only answer in the placeholders it was shown.
        server.script(
            answer(
                _agreeing_answer(
                    remediations=[
                        {
                            "action": "increase-memory",
                            "target": {
                                "kind": "Deployment",
                                "namespace": "ns-1",
                                "name": "workload-1",
                            },
                            "rationale": "workload-1 in ns-1 exceeds its limit",
                        }
                    ]
                )
            )
        )
        settings = Settings(
            llm_base_url=server.base_url,
            llm_model="scripted",
            llm_timeout_seconds=5,
            llm_max_retries=0,
            llm_anonymize=True,
        )
        stages = Stages(
            evidence=SnapshotEvidenceSource(oom_case),
            redact=redact_evidence,
            model=LLMStage(LLMClient(settings), settings),
        )
        result = _run(stages, oom_case)
        sent = str(server.chat_bodies)
    for real_name in ("csv-exporter", "exports", "demo-worker"):
        # As a name, not inside another word ("s3://example-exports" is a bucket).
        found = re.search(rf"(?<![A-Za-z0-9-]){real_name}(?![A-Za-z0-9-])", sent)
        assert found is None, sent[max(0, found.start() - 200) : found.end() + 50]
    assert "workload-1" in sent
    top = result.diagnosis.remediations[0]
    assert {top.target.kind, top.target.namespace, top.target.name} == {
        "Deployment",
        "exports",
        "csv-exporter",
    }
    assert "llm" in top.proposed_by


def test_a_confident_answer_without_its_preconditions_stays_a_hypothesis(oom_case: Case) -> None:
    # What SmolLM2 did on held-back cases: "unschedulable" with no Pending pod anywhere.
    guess = _agreeing_answer(
        category="unschedulable",
        confidence=0.97,
        summary="the pods cannot be scheduled on any node",
        remediations=[{"action": "free-capacity", "target": WORKLOAD, "rationale": "no room"}],
    )
    with ScriptedOpenAIServer() as server:
        server.script(answer(guess))
        stages = Stages(
            evidence=SnapshotEvidenceSource(oom_case),
            redact=redact_evidence,
            model=_llm_stage(server),
        )
        result = _run(stages, oom_case)
    diagnosis = result.diagnosis
    assert diagnosis.llm.used is True
    assert diagnosis.category.value == "oom-killed"
    assert diagnosis.hypothesis is not None
    assert diagnosis.hypothesis.startswith("Unconfirmed hypothesis from the model: unschedulable")
    assert all("llm" not in r.proposed_by for r in diagnosis.remediations)
    disagreement = _conditions(result)["AnalyzerDisagreement"]
    assert (disagreement.status, disagreement.reason) == ("True", "ModelUnconfirmed")

"""The LLM budget's ConfigMap when the Kubernetes API misbehaves, seen through the pipeline:
a saved state that is not a budget state refuses calls (``BudgetStateUnavailable``, naming
the ConfigMap) and is left as it was; the API failing on the read refuses that call and the
next one reads again; a failed save still lets the granted call through and says so in the
condition, and the next save carries the usage. Token usage is settled from what the
server counted. A replica idle for a minute reads the usage again, seeing what another
replica spent meanwhile.

Real: the emulator over HTTP with injected faults, the kubernetes client, the pipeline with
the evidence builder over a shared case, the analyzers, the official openai client against a
scripted OpenAI-compatible server on 127.0.0.1. The budget's clock is a fixed datetime."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from kubetriage.app import LLMStage
from kubetriage.kubeclient import api_client
from kubetriage.llm.budget import BudgetLimits, BudgetState, Grant, Limit, LLMBudget
from kubetriage.llm.budget_store import STATE_KEY, ConfigMapBudgetStore, PersistentBudget
from kubetriage.llm.client import LLMClient
from kubetriage.models.case import Case
from kubetriage.models.incident import Condition, IncidentSpec
from kubetriage.models.vocabulary import Severity
from kubetriage.pipeline import PipelineResult, Stages, diagnose
from kubetriage.redaction import redact_evidence
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import AuditRecord, EmulatorThread
from kubetriage.replay.snapshot import SnapshotEvidenceSource, alert_of
from kubetriage.settings import Settings
from tests.support.cases import EXAMPLES
from tests.support.oom_example import ANSWER
from tests.support.openai_server import ScriptedOpenAIServer, answer

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
NAMESPACE = "kubetriage"
NAME = "kubetriage-llm-budget"


@pytest.fixture(autouse=True)
def operator_namespace(emulator: EmulatorThread) -> None:
    emulator.emulator.load(
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}]
    )


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(default=answer(ANSWER)) as running:
        yield running


def _configmap(state: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "data": {STATE_KEY: state},
    }


def _is(verb: str) -> object:
    def match(record: AuditRecord) -> bool:
        return record.resource == "configmaps" and record.verb == verb

    return match


class Pipeline:
    """``diagnose`` of the OOM case with a model and a budget kept in the emulator."""

    def __init__(self, emulator: EmulatorThread, server: ScriptedOpenAIServer) -> None:
        self.case: Case = load_case(EXAMPLES / "example-oom-csv-exporter")
        self.settings = Settings(
            llm_base_url=server.base_url,
            llm_model="scripted",
            llm_timeout_seconds=5,
            llm_max_retries=0,
            llm_calls_per_minute=10,
            llm_tokens_per_hour=1_000_000,
        )
        self.client = api_client(emulator.kubeconfig_path)
        self.store = ConfigMapBudgetStore(self.client, namespace=NAMESPACE, name=NAME)
        self.budget = PersistentBudget(
            LLMBudget(BudgetLimits.from_settings(self.settings), lambda: NOW), self.store
        )

    async def run(self, times: int) -> list[PipelineResult]:
        model = LLMStage(LLMClient(self.settings), self.settings)
        stages = Stages(
            evidence=SnapshotEvidenceSource(self.case),
            redact=redact_evidence,
            model=model,
            budget=self.budget,
        )
        spec = IncidentSpec(title="OOM", alerts=[alert_of(self.case, NOW)])
        try:
            return [
                await diagnose(spec, namespace="exports", name="inc", stages=stages, now=NOW)
                for _ in range(times)
            ]
        finally:
            await model.aclose()

    def __call__(self, times: int = 1) -> list[PipelineResult]:
        return asyncio.run(self.run(times))


def _budget_condition(result: PipelineResult) -> Condition:
    return {c.type: c for c in result.conditions}["LLMBudgetExhausted"]


def test_a_state_that_is_not_a_budget_state_refuses_calls_and_is_kept(
    emulator: EmulatorThread, server: ScriptedOpenAIServer
) -> None:
    emulator.emulator.load([_configmap("{written by hand")])
    pipeline = Pipeline(emulator, server)
    (result,) = pipeline()
    assert server.chat_bodies == []
    assert result.diagnosis.llm.used is False
    assert result.diagnosis.llm.skipped == "budget-state-unavailable"
    assert result.diagnosis.category.value == "oom-killed"  # the analyzers' diagnosis
    condition = _budget_condition(result)
    assert (condition.status, condition.reason) == ("True", "BudgetStateUnavailable")
    assert f"ConfigMap {NAMESPACE}/{NAME} key {STATE_KEY} is not a budget state" in (
        condition.message
    )
    assert "delete it to start the budget afresh" in condition.message
    kept = emulator.emulator.get("configmaps", NAME, NAMESPACE)
    assert kept is not None
    assert kept["data"] == {STATE_KEY: "{written by hand"}

    emulator.emulator.delete("configmaps", NAME, NAMESPACE)
    (result,) = pipeline()
    assert result.diagnosis.llm.used is True
    assert len(server.chat_bodies) == 1


def test_an_api_failure_on_the_read_refuses_that_call_only(
    emulator: EmulatorThread, server: ScriptedOpenAIServer
) -> None:
    emulator.emulator.fail_requests(1, code=503, predicate=_is("get"))  # type: ignore[arg-type]
    pipeline = Pipeline(emulator, server)
    refused, served = pipeline(times=2)
    condition = _budget_condition(refused)
    assert (condition.status, condition.reason) == ("True", "BudgetStateUnavailable")
    assert "HTTP 503" in condition.message
    assert served.diagnosis.llm.used is True
    assert len(server.chat_bodies) == 1


def test_a_failed_save_lets_the_call_through_and_says_so(
    emulator: EmulatorThread, server: ScriptedOpenAIServer
) -> None:
    # The first save after the grant and the one after the call both fail.
    emulator.emulator.fail_requests(2, code=500, predicate=_is("patch"))  # type: ignore[arg-type]
    pipeline = Pipeline(emulator, server)
    (first,) = pipeline()
    assert first.diagnosis.llm.used is True
    condition = _budget_condition(first)
    assert (condition.status, condition.reason) == ("False", "WithinBudget")
    assert "usage not saved" in condition.message
    assert emulator.emulator.get("configmaps", NAME, NAMESPACE) is None

    (second,) = pipeline()
    assert "usage not saved" not in _budget_condition(second).message
    saved = emulator.emulator.get("configmaps", NAME, NAMESPACE)
    assert saved is not None
    state = BudgetState.model_validate_json(saved["data"][STATE_KEY])
    # Two calls taken from the bucket of 10; the hour charged with what the server counted.
    assert state.calls_available == pytest.approx(8.0)
    served = sum(u.prompt_tokens + u.completion_tokens for u in server.usages)
    assert state.hour_tokens == served
    assert json.loads(saved["data"][STATE_KEY])["hour_start"].startswith("2026-11-20T10:00")


async def test_a_replica_idle_for_a_minute_sees_what_another_one_spent(
    emulator: EmulatorThread,
) -> None:
    """Two replicas' budgets over one ConfigMap, as Kopf peering hands work from A to B and
    back: A reads the usage again before its next call, and only after being idle."""
    clock = {"now": NOW}
    limits = BudgetLimits(tokens_per_hour=100_000, call_estimate_tokens=10_000)
    with api_client(emulator.kubeconfig_path) as client:

        def replica() -> PersistentBudget:
            store = ConfigMapBudgetStore(client, namespace=NAMESPACE, name=NAME)
            return PersistentBudget(LLMBudget(limits, lambda: clock["now"]), store)

        def reads() -> int:
            return sum(
                r.resource == "configmaps" and r.verb == "get" for r in emulator.emulator.audit
            )

        a, b = replica(), replica()
        grant = await a.acquire(Severity.WARNING)
        assert isinstance(grant, Grant)
        await a.settle(grant, 10_000)
        clock["now"] += timedelta(seconds=10)  # A pauses; B works
        grant = await b.acquire(Severity.WARNING)
        assert isinstance(grant, Grant)
        await b.settle(grant, 50_000)
        assert reads() == 2

        clock["now"] += timedelta(seconds=70)  # A resumes after 80 s without a call
        grant = await a.acquire(Severity.WARNING)
        assert isinstance(grant, Grant)
        assert reads() == 3
        # 10k (A) + 50k (B) spent and 10k reserved, not the 20k A alone knew of.
        assert a.remaining() == {Limit.TOKENS_PER_HOUR: 30_000.0}
        await a.settle(grant, 5_000)
        grant = await a.acquire(Severity.WARNING)  # busy, not idle: no read
        assert isinstance(grant, Grant)
        assert reads() == 3

"""The operator with a model: the answer lands in the status with token counts; a garbage
model leaves an analyzers-only diagnosis with LLMUnavailable; and an operator that loses the
status write after the model answered does not pay for a second call (the answer is kept in
status.modelCache by evidence hash). Real: emulator over HTTP, Kopf, the operator, the
official openai client against a scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

from typing import Any

from kubetriage.replay.emulator import AuditRecord, EmulatorThread
from kubetriage.settings import Settings
from tests.support.oom_example import ANSWER, create, prepare
from tests.support.openai_server import ScriptedOpenAIServer, answer, text
from tests.support.operator import OperatorThread, scripted_model_settings
from tests.support.polling import wait_for


def _final(emulator: EmulatorThread) -> dict[str, Any]:
    return wait_for(
        lambda: emulator.emulator.get("incidents", "oom", "exports") or {},
        until=lambda body: (body.get("status") or {}).get("phase") in {"Diagnosed", "Failed"},
        what="exports/oom diagnosed",
    )


def _settings(server: ScriptedOpenAIServer, **extra: Any) -> Settings:
    return scripted_model_settings(server, retry_delay_seconds=0.2, **extra)


def test_model_answer_lands_in_the_status(emulator: EmulatorThread) -> None:
    prepare(emulator)
    with ScriptedOpenAIServer() as server:
        server.script(answer(ANSWER))
        with OperatorThread(emulator.kubeconfig_path, settings=_settings(server)):
            create(emulator, ["oom"])
            body = _final(emulator)
        assert len(server.chat_bodies) == 1
    llm = body["status"]["diagnosis"]["llm"]
    assert llm["used"] is True
    assert llm["model"]
    assert llm["inputTokens"] > 0
    assert llm["outputTokens"] > 0
    assert body["status"]["diagnosis"]["summary"] == ANSWER["summary"]
    conditions = {c["type"]: c for c in body["status"]["conditions"]}
    assert conditions["LLMUnavailable"]["status"] == "False"


def test_garbage_model_leaves_an_analyzer_diagnosis_and_says_so(emulator: EmulatorThread) -> None:
    prepare(emulator)
    with ScriptedOpenAIServer() as server:
        server.script(text("sorry, I cannot help"), text("{not json"))
        with OperatorThread(emulator.kubeconfig_path, settings=_settings(server)):
            create(emulator, ["oom"])
            body = _final(emulator)
            # Kopf posts events asynchronously: poll for the warning while the operator (and
            # its event poster) still runs; a stopped operator never flushes it.
            reasons = wait_for(
                lambda: {
                    e["reason"]
                    for e in emulator.emulator.objects("events", "exports")
                    if e["involvedObject"]["name"] == "oom"
                },
                until=lambda found: "LLMUnavailable" in found,
                what="an LLMUnavailable event",
                within=15,
            )
    status = body["status"]
    assert status["phase"] == "Diagnosed"
    assert status["diagnosis"]["category"] == "oom-killed"
    assert status["diagnosis"]["llm"]["used"] is False
    llm = {c["type"]: c for c in status["conditions"]}["LLMUnavailable"]
    assert llm["status"] == "True"
    assert llm["reason"] == "InvalidAnswer"
    assert "LLMUnavailable" in reasons


def test_lost_status_write_does_not_cost_a_second_model_call(emulator: EmulatorThread) -> None:
    prepare(emulator)
    status_patches = 0

    def third_status_patch(record: AuditRecord) -> bool:
        # 1: Investigating, 2: modelCache (right after the answer), 3: Diagnosed -> lost.
        nonlocal status_patches
        if (
            record.resource == "incidents"
            and record.subresource == "status"
            and record.verb == "patch"
        ):
            status_patches += 1
            return status_patches == 3
        return False

    emulator.emulator.fail_requests(1, code=500, predicate=third_status_patch)
    with ScriptedOpenAIServer() as server:
        server.script(answer(ANSWER))  # exactly one answer: a second call would get a 500
        with OperatorThread(emulator.kubeconfig_path, settings=_settings(server)):
            create(emulator, ["oom"])
            body = _final(emulator)
        assert len(server.chat_bodies) == 1
        assert server.unscripted == 0
    diagnosis = body["status"]["diagnosis"]
    assert body["status"]["phase"] == "Diagnosed"
    assert diagnosis["llm"]["used"] is True
    assert diagnosis["llm"]["cached"] is True
    assert body["status"]["modelCache"]["evidenceHash"] == diagnosis["evidenceHash"]

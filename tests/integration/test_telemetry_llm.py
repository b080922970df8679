"""LLM client telemetry: one ``chat`` span per request to the model, with ``error.type`` and
an ERROR status on failed attempts, the duration metric carrying the same ``error.type``,
and captured prompts redacted even when the caller sends a secret unredacted.

Real: the official openai client against a scripted OpenAI-compatible server on 127.0.0.1
(and a closed port), the OpenTelemetry SDK with in-memory exporter and reader.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from kubetriage.llm.client import LLMClient, LLMResult
from kubetriage.settings import Settings
from kubetriage.telemetry import Telemetry
from kubetriage.telemetry_config import TelemetryConfig
from tests.support.llm_samples import valid_answer
from tests.support.openai_server import ScriptedOpenAIServer, answer, server_error, text

SECRET = "hunter2"


class Recorded:
    def __init__(self, *, capture: bool) -> None:
        self.exporter = InMemorySpanExporter()
        self.reader = InMemoryMetricReader()
        self.telemetry = Telemetry.from_config(
            TelemetryConfig(capture_content=capture),
            span_exporter=self.exporter,
            metric_reader=self.reader,
        )

    @property
    def chat_spans(self) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if s.name.startswith("chat ")]

    def durations(self) -> list[HistogramDataPoint]:
        data = self.reader.get_metrics_data()
        assert data is not None
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == "gen_ai.client.operation.duration"
            for point in metric.data.data_points
            if isinstance(point, HistogramDataPoint)
        ]


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as running:
        yield running


async def _no_sleep(_: float) -> None:
    return None


def _client(base_url: str, recorded: Recorded, **overrides: Any) -> LLMClient:
    settings = Settings(
        llm_base_url=base_url,
        llm_model="gpt-test",
        llm_provider="openai",
        llm_timeout_seconds=5.0,
        **overrides,
    )
    return LLMClient(settings, telemetry=recorded.telemetry, sleep=_no_sleep)


async def _diagnose(client: LLMClient, messages: list[dict[str, str]]) -> LLMResult:
    async with client:
        return await client.diagnose(messages)


MESSAGES = [
    {"role": "system", "content": "You are an SRE."},
    {"role": "user", "content": "pod logs: connecting with password=hunter2 failed"},
]


async def test_each_attempt_is_its_own_span_with_its_error(server: ScriptedOpenAIServer) -> None:
    recorded = Recorded(capture=False)
    server.script(server_error(503), answer(valid_answer()))
    result = await _diagnose(_client(server.base_url, recorded, llm_max_retries=2), MESSAGES)
    assert result.ok
    assert result.attempts == 2
    failed, succeeded = recorded.chat_spans
    assert failed.name == succeeded.name == "chat gpt-test"
    assert failed.kind is SpanKind.CLIENT
    assert failed.status.status_code is StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "server_error"
    assert "gen_ai.response.id" not in (failed.attributes or {})
    assert succeeded.status.status_code is StatusCode.UNSET
    assert "error.type" not in (succeeded.attributes or {})
    assert (succeeded.attributes or {})["gen_ai.response.id"] == result.response_id
    by_error = {str((p.attributes or {}).get("error.type")): p.count for p in recorded.durations()}
    assert by_error == {"server_error": 1, "None": 1}


async def test_unusable_answers_mark_their_attempt_failed(server: ScriptedOpenAIServer) -> None:
    recorded = Recorded(capture=False)
    server.script(text("not json"), text("still not json"))
    result = await _diagnose(_client(server.base_url, recorded), MESSAGES)
    assert result.error_type == "invalid_answer"
    spans = recorded.chat_spans
    assert len(spans) == 2
    for span in spans:
        attributes = span.attributes or {}
        assert attributes["error.type"] == "invalid_answer"
        assert span.status.status_code is StatusCode.ERROR
        # The request itself succeeded: its usage is still reported.
        assert isinstance(attributes["gen_ai.usage.input_tokens"], int)


async def test_unreachable_server_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    recorded = Recorded(capture=False)
    result = await _diagnose(
        _client(f"http://127.0.0.1:{port}/v1", recorded, llm_max_retries=0), MESSAGES
    )
    assert result.error_type == "connection_error"
    [span] = recorded.chat_spans
    assert (span.attributes or {})["error.type"] == "connection_error"
    assert (span.attributes or {})["server.port"] == port
    [point] = recorded.durations()
    assert (point.attributes or {})["error.type"] == "connection_error"


async def test_captured_prompt_is_redacted_even_if_the_caller_did_not(
    server: ScriptedOpenAIServer,
) -> None:
    recorded = Recorded(capture=True)
    server.script(answer(valid_answer()))
    result = await _diagnose(_client(server.base_url, recorded), MESSAGES)
    assert result.ok
    assert SECRET in json.dumps(server.chat_bodies)  # the model did get it: not our redaction
    [span] = recorded.chat_spans
    inputs = json.loads(str((span.attributes or {})["gen_ai.input.messages"]))
    assert [m["role"] for m in inputs] == ["system", "user"]
    assert inputs[1]["parts"] == [
        {"type": "text", "content": "pod logs: connecting with password=[REDACTED:password] failed"}
    ]
    assert SECRET not in json.dumps(dict(span.attributes or {}))


async def test_content_is_not_captured_when_off(server: ScriptedOpenAIServer) -> None:
    recorded = Recorded(capture=False)
    server.script(answer(valid_answer()))
    await _diagnose(_client(server.base_url, recorded), MESSAGES)
    [span] = recorded.chat_spans
    attributes = json.dumps(dict(span.attributes or {}), default=str)
    assert "gen_ai.input.messages" not in attributes
    assert "gen_ai.output.messages" not in attributes
    assert "pod logs" not in attributes

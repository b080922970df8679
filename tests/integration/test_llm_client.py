"""``LLMClient`` through the real ``openai`` async client against the scripted
OpenAI-compatible HTTP server: parsing, validation retry, timeouts, backoff, json_schema
fallback, the circuit breaker, token accounting, Azure routing and what goes on the wire.
Real: HTTP, the SDK, the prompt renderer; only the model's replies are scripted."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from kubetriage.llm.client import LLMClient
from kubetriage.llm.prompt import render_messages
from kubetriage.llm.schema import SCHEMA_NAME, answer_json_schema
from kubetriage.models.vocabulary import Action, Category
from kubetriage.settings import Settings
from tests.support.llm_samples import oom_evidence, oom_finding, similar_incident, valid_answer
from tests.support.openai_server import (
    ScriptedOpenAIServer,
    answer,
    error,
    json_schema_rejected,
    rate_limited,
    server_error,
    slow,
    text,
)

MODEL = "gpt-test-mini"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeps:
    """Records backoff delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as running:
        yield running
        assert running.unscripted == 0, "the client sent more requests than the test scripted"


def make_settings(base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llm_base_url": base_url,
        "llm_model": MODEL,
        "llm_timeout_seconds": 5.0,
        "llm_max_retries": 2,
        "llm_max_output_tokens": 700,
    }
    values.update(overrides)
    return Settings(**values)


def make_client(
    server: ScriptedOpenAIServer, sleeps: Sleeps | None = None, **overrides: Any
) -> LLMClient:
    breaker = {
        key: overrides.pop(key) for key in ("breaker_threshold", "clock") if key in overrides
    }
    return LLMClient(
        make_settings(server.base_url, **overrides), sleep=sleeps or Sleeps(), **breaker
    )


def breaker_state(client: LLMClient) -> str:
    return client.breaker.state


def messages() -> list[dict[str, str]]:
    return render_messages(oom_evidence(), [oom_finding()], [similar_incident()])


async def test_valid_answer_is_parsed_and_accounted(server: ScriptedOpenAIServer) -> None:
    server.script(answer(valid_answer(), model="gpt-test-mini-2026-01-01"))
    async with make_client(server) as client:
        result = await client.diagnose(messages())

    assert result.ok
    assert result.answer is not None
    assert result.answer.category is Category.OOM_KILLED
    assert result.answer.remediations[0].action is Action.INCREASE_MEMORY
    assert result.model == "gpt-test-mini-2026-01-01"
    assert result.response_id == "chatcmpl-scripted-1"
    assert result.finish_reasons == ["stop"]
    assert result.attempts == 1
    assert result.response_format_used == "json_schema"
    assert result.error is None
    assert result.error_type is None
    [usage] = server.usages
    assert (result.input_tokens, result.output_tokens) == (
        usage.prompt_tokens,
        usage.completion_tokens,
    )
    assert result.input_tokens is not None
    assert result.input_tokens > 1000
    assert result.duration_ms >= 0


async def test_request_on_the_wire(server: ScriptedOpenAIServer) -> None:
    server.script(answer(valid_answer()))
    sent = messages()
    async with make_client(server, llm_temperature=0.2) as client:
        await client.diagnose(sent)

    [request] = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer unused"  # no key configured
    body = request.body
    assert body is not None
    assert body["model"] == MODEL
    assert body["messages"] == sent
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 700
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": answer_json_schema()},
    }


async def test_api_key_is_sent_as_bearer(server: ScriptedOpenAIServer) -> None:
    server.script(answer(valid_answer()))
    async with make_client(server, llm_api_key="sk-test-123") as client:
        await client.diagnose(messages())
    assert server.requests[0].headers["Authorization"] == "Bearer sk-test-123"


async def test_garbage_then_valid_retries_once_with_the_error(
    server: ScriptedOpenAIServer,
) -> None:
    server.script(text("I think the pod ran out of memory."), answer(valid_answer()))
    async with make_client(server) as client:
        result = await client.diagnose(messages())

    assert result.ok
    assert result.attempts == 2
    first, second = server.chat_bodies
    assert second["messages"][: len(first["messages"])] == first["messages"]
    assistant, correction = second["messages"][len(first["messages"]) :]
    assert assistant == {"role": "assistant", "content": "I think the pod ran out of memory."}
    assert correction["role"] == "user"
    assert "not valid" in correction["content"]
    assert "no JSON object" in correction["content"]


async def test_invalid_category_retry_names_the_field(server: ScriptedOpenAIServer) -> None:
    server.script(answer(valid_answer(category="memory-leak")), answer(valid_answer()))
    async with make_client(server) as client:
        result = await client.diagnose(messages())
    assert result.ok
    correction = server.chat_bodies[1]["messages"][-1]["content"]
    assert "category" in correction
    assert "oom-killed" in correction


async def test_garbage_twice_is_invalid_answer_with_tokens_summed(
    server: ScriptedOpenAIServer,
) -> None:
    server.script(text("no idea"), text('{"category": "oom-killed"'))
    async with make_client(server) as client:
        result = await client.diagnose(messages())

    assert not result.ok
    assert result.answer is None
    assert result.error_type == "invalid_answer"
    assert result.error is not None
    assert "truncated" in result.error
    assert result.attempts == 2
    assert result.finish_reasons == ["stop", "stop"]
    assert result.input_tokens == sum(u.prompt_tokens for u in server.usages)
    assert result.output_tokens == sum(u.completion_tokens for u in server.usages)
    assert len(server.usages) == 2


async def test_timeout_ends_each_attempt_as_a_timeout(server: ScriptedOpenAIServer) -> None:
    server.script(slow(10), slow(10))
    sleeps = Sleeps()
    async with make_client(server, sleeps, llm_timeout_seconds=0.3, llm_max_retries=1) as client:
        result = await client.diagnose(messages())

    # Each attempt was cut at the 0.3s timeout (the server answers only after 10s).
    assert result.error_type == "timeout"
    assert result.attempts == 2
    assert len(sleeps.delays) == 1
    assert result.input_tokens is None  # nothing was answered


async def test_rate_limit_then_success_backs_off(server: ScriptedOpenAIServer) -> None:
    server.script(rate_limited(), rate_limited(retry_after_seconds=1.5), answer(valid_answer()))
    sleeps = Sleeps()
    async with make_client(server, sleeps) as client:
        result = await client.diagnose(messages())

    assert result.ok
    assert result.attempts == 3
    first, second = sleeps.delays
    assert 0.25 <= first <= 0.5  # base 0.5s, jittered into [base/2, base]
    assert second == 1.5  # the server's Retry-After wins
    assert len(server.usages) == 1  # the 429s carried no usage


async def test_server_errors_exhaust_the_retry_budget(server: ScriptedOpenAIServer) -> None:
    server.script(server_error(500), server_error(503), server_error(502))
    sleeps = Sleeps()
    async with make_client(server, sleeps, llm_max_retries=2) as client:
        result = await client.diagnose(messages())

    assert result.error_type == "server_error"
    assert result.error is not None
    assert "HTTP 502" in result.error
    assert result.attempts == 3
    assert len(sleeps.delays) == 2
    assert sleeps.delays[1] > sleeps.delays[0] / 2  # exponential, even with jitter


async def test_client_errors_are_not_retried(server: ScriptedOpenAIServer) -> None:
    server.script(error(401, "Incorrect API key provided.", code="invalid_api_key"))
    async with make_client(server) as client:
        result = await client.diagnose(messages())
    assert result.error_type == "request_error"
    assert result.attempts == 1


async def test_schema_rejection_falls_back_to_json_object_and_remembers(
    server: ScriptedOpenAIServer,
) -> None:
    server.script(json_schema_rejected(), answer(valid_answer()), answer(valid_answer()))
    async with make_client(server) as client:
        first = await client.diagnose(messages())
        second = await client.diagnose(messages())

    assert first.ok
    assert second.ok
    assert first.response_format_used == "json_object"
    assert first.attempts == 2
    assert second.attempts == 1
    rejected, fallback, later = server.chat_bodies
    assert rejected["response_format"]["type"] == "json_schema"
    for body in (fallback, later):
        assert body["response_format"] == {
            "type": "json_object",
            "schema": answer_json_schema(bounded_strings=True),
        }
        system = body["messages"][0]["content"]
        assert system.startswith(rejected["messages"][0]["content"])
        assert "must validate against this JSON Schema" in system
        assert body["messages"][1:] == rejected["messages"][1:]


async def test_llama_cpp_style_rejection_falls_back(server: ScriptedOpenAIServer) -> None:
    # llama-cpp-python answers json_schema with a 500 naming the field.
    server.script(
        error(
            500,
            "1 validation error: ('body', 'response_format', 'type') Input should be 'text' "
            "or 'json_object'",
            type_="internal_server_error",
        ),
        answer(valid_answer()),
    )
    sleeps = Sleeps()
    async with make_client(server, sleeps) as client:
        result = await client.diagnose(messages())
    assert result.ok
    assert result.response_format_used == "json_object"
    assert sleeps.delays == []  # a fallback, not a retry


async def test_unprocessable_entity_falls_back(server: ScriptedOpenAIServer) -> None:
    server.script(error(422, "Unprocessable Entity"), answer(valid_answer()))
    async with make_client(server) as client:
        result = await client.diagnose(messages())
    assert result.ok
    assert result.response_format_used == "json_object"


async def test_forced_json_schema_reports_the_rejection(server: ScriptedOpenAIServer) -> None:
    server.script(json_schema_rejected())
    async with make_client(server, llm_response_format="json_schema") as client:
        result = await client.diagnose(messages())
    assert result.error_type == "schema_rejected"
    assert result.attempts == 1


async def test_configured_json_object_is_used_from_the_start(
    server: ScriptedOpenAIServer,
) -> None:
    server.script(answer(valid_answer()))
    async with make_client(server, llm_response_format="json_object") as client:
        result = await client.diagnose(messages())
    assert result.response_format_used == "json_object"
    assert server.chat_bodies[0]["response_format"]["type"] == "json_object"


async def test_max_completion_tokens_fallback(server: ScriptedOpenAIServer) -> None:
    server.script(
        error(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            param="max_tokens",
            code="unsupported_parameter",
        ),
        answer(valid_answer()),
    )
    async with make_client(server) as client:
        result = await client.diagnose(messages())
    assert result.ok
    retried = server.chat_bodies[1]
    assert retried["max_completion_tokens"] == 700
    assert "max_tokens" not in retried


async def test_circuit_breaker_opens_then_half_opens(server: ScriptedOpenAIServer) -> None:
    clock = FakeClock()
    server.script(server_error(503), server_error(503), answer(valid_answer()))
    async with make_client(server, llm_max_retries=0, breaker_threshold=2, clock=clock) as client:
        assert (await client.diagnose(messages())).error_type == "server_error"
        assert breaker_state(client) == "closed"
        assert (await client.diagnose(messages())).error_type == "server_error"
        assert breaker_state(client) == "open"

        blocked = await client.diagnose(messages())
        assert blocked.error_type == "circuit_open"
        assert blocked.attempts == 0
        assert len(server.chat_bodies) == 2  # nothing was sent

        clock.now += 61
        assert breaker_state(client) == "half-open"
        recovered = await client.diagnose(messages())
        assert recovered.ok
        assert breaker_state(client) == "closed"


async def test_failed_trial_reopens_the_breaker(server: ScriptedOpenAIServer) -> None:
    clock = FakeClock()
    server.script(server_error(500), server_error(500))
    async with make_client(server, llm_max_retries=0, breaker_threshold=1, clock=clock) as client:
        await client.diagnose(messages())
        clock.now += 61
        assert (await client.diagnose(messages())).error_type == "server_error"
        assert breaker_state(client) == "open"
        assert (await client.diagnose(messages())).error_type == "circuit_open"


async def test_invalid_answers_do_not_trip_the_breaker(server: ScriptedOpenAIServer) -> None:
    server.script(*[text("nope")] * 4)
    async with make_client(server, breaker_threshold=1) as client:
        for _ in range(2):
            assert (await client.diagnose(messages())).error_type == "invalid_answer"
        assert breaker_state(client) == "closed"


async def test_connection_refused_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    settings = make_settings(f"http://127.0.0.1:{port}/v1", llm_max_retries=1)
    async with LLMClient(settings, sleep=sleeps) as client:
        result = await client.diagnose(messages())
    assert result.error_type == "connection_error"
    assert result.attempts == 2
    assert len(sleeps.delays) == 1


async def test_azure_routes_to_the_deployment(server: ScriptedOpenAIServer) -> None:
    server.script(answer(valid_answer()))
    settings = make_settings(server.root_url, llm_api_version="2024-10-21", llm_api_key="azure-key")
    async with LLMClient(settings) as client:
        result = await client.diagnose(messages())
    assert result.ok
    [request] = server.requests
    assert request.path == f"/openai/deployments/{MODEL}/chat/completions"
    assert request.query == {"api-version": "2024-10-21"}
    assert request.headers["api-key"] == "azure-key"


async def test_unconfigured_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="not configured"):
        LLMClient(Settings(llm_base_url=None, llm_model=None))


async def test_concurrent_diagnoses_share_one_client(server: ScriptedOpenAIServer) -> None:
    server.script(*[answer(valid_answer())] * 4)
    async with make_client(server) as client:
        results = await asyncio.gather(*(client.diagnose(messages()) for _ in range(4)))
    assert all(r.ok for r in results)
    assert sorted(r.response_id or "" for r in results) == [
        f"chatcmpl-scripted-{i}" for i in range(1, 5)
    ]


async def test_usage_record_for_the_status(server: ScriptedOpenAIServer) -> None:
    server.script(text("garbage"), text("garbage"))
    async with make_client(server) as client:
        result = await client.diagnose(messages())
    usage = result.usage(provider="openai")
    assert usage.used is False
    assert usage.attempts == 2
    assert usage.reason is not None
    assert usage.reason.startswith("invalid_answer")
    assert json.loads(json.dumps(usage.dump_k8s()))["inputTokens"] == result.input_tokens


def test_scripted_server_serves_models_and_reports_unscripted() -> None:
    import urllib.request

    with ScriptedOpenAIServer(model="m1") as running:
        with urllib.request.urlopen(f"{running.base_url}/models", timeout=5) as response:
            assert json.load(response)["data"][0]["id"] == "m1"
        request = urllib.request.Request(
            f"{running.base_url}/chat/completions",
            data=b'{"model": "m1", "messages": []}',
            headers={"content-type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)
        caught.value.close()
        assert caught.value.code == 500
        assert running.unscripted == 1

"""One structured diagnosis from any OpenAI-compatible endpoint, with bounded retries.

``LLMClient`` is built once from ``Settings`` by the operator (and the CLI's ``diagnose`` /
``eval``) and shared by every diagnosis; the pipeline calls ``diagnose(messages)`` with the
output of ``kubetriage.llm.prompt.render_messages`` and gets an ``LLMResult`` back. It never
raises for model or server trouble: a failed result carries ``error_type`` and the caller
falls back to the analyzers.

What it does per diagnosis:

- asks for strict ``json_schema`` output; when the server rejects that (OpenAI-style 400
  naming response_format/json_schema, or a 422), switches to ``json_object`` with the schema
  sent along (llama.cpp reads it) and spelled out in the system message, and keeps using
  json_object on this instance;
- validates the answer (``kubetriage.llm.parsing``) and, once, asks again with the
  validation error appended;
- retries timeouts, 429 and 5xx with exponential backoff and jitter, counting attempts
  itself (the SDK's own retries are off so the bound is ours);
- keeps a circuit breaker (``kubetriage.llm.breaker``): after N consecutive failed diagnoses
  it answers ``circuit_open`` immediately for T seconds, then lets one trial through.

What a failed request means (retry, fall back, give up) is read by
``kubetriage.llm.server_errors``.

It works with OpenAI, Azure OpenAI (``llm_api_version`` set), Ollama, vLLM and llama.cpp.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from pydantic import BaseModel, ConfigDict

from kubetriage.llm.breaker import CircuitBreaker
from kubetriage.llm.parsing import InvalidAnswer, parse_answer
from kubetriage.llm.prompt import with_schema_instructions
from kubetriage.llm.schema import SCHEMA_NAME, LLMAnswer, answer_json_schema
from kubetriage.llm.server_errors import (
    MAX_ERROR_MESSAGE_CHARS,
    ErrorType,
    attempt_error_type,
    classify,
    error_text,
    rejects_max_tokens,
    rejects_response_format,
    retry_after_seconds,
)
from kubetriage.models.diagnosis import LLMUsage
from kubetriage.settings import Settings
from kubetriage.telemetry import Telemetry
from kubetriage.telemetry_genai import ChatCall, ChatEndpoint

log = logging.getLogger(__name__)

ResponseFormat = Literal["json_schema", "json_object"]

# The openai client insists on a key; local servers (Ollama, vLLM, llama.cpp) ignore it.
PLACEHOLDER_API_KEY = "unused"
# Echoing the whole bad answer back would waste context; the start shows what went wrong.
_MAX_ECHOED_ANSWER_CHARS = 2000
# Failures that say nothing about the server being unhealthy do not trip the breaker.
_HEALTHY_OUTCOMES: frozenset[str | None] = frozenset({None, "invalid_answer"})


class LLMResult(BaseModel):
    """The outcome of one ``diagnose`` call; ``answer`` is None exactly when it failed."""

    model_config = ConfigDict(frozen=True)

    answer: LLMAnswer | None = None
    model: str | None = None
    response_id: str | None = None
    finish_reasons: list[str] = []
    input_tokens: int | None = None
    output_tokens: int | None = None
    duration_ms: int = 0
    attempts: int = 0
    response_format_used: ResponseFormat | None = None
    error: str | None = None
    error_type: ErrorType | None = None

    @property
    def ok(self) -> bool:
        return self.answer is not None

    def usage(self, provider: str | None = None) -> LLMUsage:
        """The ``status.diagnosis.llm`` record of this call."""
        return LLMUsage(
            used=self.answer is not None,
            model=self.model,
            provider=provider,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            duration_ms=self.duration_ms,
            response_format=self.response_format_used,
            attempts=self.attempts,
            reason=None if self.error_type is None else f"{self.error_type}: {self.error}",
        )


@dataclass
class _Attempts:
    """What one ``diagnose`` call accumulated over its HTTP attempts."""

    count: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None
    response_id: str | None = None
    finish_reasons: list[str] = field(default_factory=list)

    def add(self, response: ChatCompletion) -> None:
        self.model = response.model or self.model
        self.response_id = response.id or self.response_id
        self.finish_reasons.extend(c.finish_reason for c in response.choices if c.finish_reason)
        if response.usage is not None:
            self.input_tokens = (self.input_tokens or 0) + response.usage.prompt_tokens
            self.output_tokens = (self.output_tokens or 0) + response.usage.completion_tokens


def build_openai_client(settings: Settings) -> openai.AsyncOpenAI:
    """The SDK client for ``settings``; Azure when ``llm_api_version`` is set."""
    if not settings.llm_base_url:
        raise ValueError("llm_base_url is not set")
    api_key = (
        settings.llm_api_key.get_secret_value() if settings.llm_api_key else PLACEHOLDER_API_KEY
    )
    if settings.llm_api_version:
        return openai.AsyncAzureOpenAI(
            azure_endpoint=settings.llm_base_url,
            api_version=settings.llm_api_version,
            api_key=api_key,
            timeout=settings.llm_timeout_seconds,
            max_retries=0,
        )
    return openai.AsyncOpenAI(
        base_url=settings.llm_base_url,
        api_key=api_key,
        timeout=settings.llm_timeout_seconds,
        max_retries=0,
    )


class LLMClient:
    """Structured diagnoses from one configured endpoint; safe to share across tasks."""

    def __init__(
        self,
        settings: Settings,
        *,
        breaker_threshold: int = 5,
        breaker_reset_seconds: float = 60.0,
        backoff_base_seconds: float = 0.5,
        backoff_max_seconds: float = 8.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        if not settings.llm_configured or settings.llm_model is None:
            raise ValueError("the LLM is not configured (llm_base_url and llm_model are required)")
        self._telemetry = telemetry or Telemetry.disabled()
        self._endpoint = ChatEndpoint(
            provider=settings.llm_provider,
            model=settings.llm_model,
            base_url=settings.llm_base_url,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_output_tokens,
        )
        self._sdk = build_openai_client(settings)
        self._model = settings.llm_model
        self._temperature = settings.llm_temperature
        self._max_output_tokens = settings.llm_max_output_tokens
        self._max_retries = settings.llm_max_retries
        self._can_fall_back = settings.llm_response_format == "auto"
        self._format: ResponseFormat = (
            "json_object" if settings.llm_response_format == "json_object" else "json_schema"
        )
        self._token_parameter = "max_tokens"
        self._backoff_base = backoff_base_seconds
        self._backoff_max = backoff_max_seconds
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.breaker = CircuitBreaker(breaker_threshold, breaker_reset_seconds, clock)

    @property
    def response_format(self) -> ResponseFormat:
        """The format the next request will ask for (json_object after a fallback)."""
        return self._format

    async def aclose(self) -> None:
        await self._sdk.close()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def diagnose(self, messages: Sequence[dict[str, str]]) -> LLMResult:
        """One diagnosis; never raises for model or server failures."""
        if not self.breaker.allow():
            return LLMResult(
                error=f"circuit breaker open; next try in {self.breaker.retry_in_seconds():.0f}s",
                error_type="circuit_open",
            )
        recorded = False
        try:
            result = await self._diagnose(list(messages))
            self.breaker.record(failed=result.error_type not in _HEALTHY_OUTCOMES)
            recorded = True
            return result
        finally:
            if not recorded:
                self.breaker.abandon()

    async def _diagnose(self, messages: list[dict[str, str]]) -> LLMResult:
        started = self._clock()
        attempts = _Attempts()
        conversation = messages
        transient_retries = 0
        asked_again = False
        fmt = self._format

        def finish(
            answer: LLMAnswer | None = None,
            error: str | None = None,
            error_type: ErrorType | None = None,
        ) -> LLMResult:
            return LLMResult(
                answer=answer,
                model=attempts.model,
                response_id=attempts.response_id,
                finish_reasons=attempts.finish_reasons,
                input_tokens=attempts.input_tokens,
                output_tokens=attempts.output_tokens,
                duration_ms=int((self._clock() - started) * 1000),
                attempts=attempts.count,
                response_format_used=fmt,
                error=error,
                error_type=error_type,
            )

        while True:
            fmt = self._format
            attempts.count += 1
            # One span per request to the model (the GenAI conventions' unit); the backoff
            # sleep stays outside it so the span measures the request alone.
            failure: openai.OpenAIError | None = None
            with self._telemetry.chat(self._endpoint) as call:
                try:
                    response = await self._complete(conversation, fmt, call)
                except openai.OpenAIError as exc:
                    call.failed(attempt_error_type(exc), error_text(exc))
                    failure = exc
                else:
                    attempts.add(response)
                    text = response.choices[0].message.content if response.choices else None
                    call.responded(
                        model=response.model,
                        response_id=response.id,
                        finish_reasons=[
                            c.finish_reason for c in response.choices if c.finish_reason
                        ],
                        input_tokens=response.usage.prompt_tokens if response.usage else None,
                        output_tokens=(
                            response.usage.completion_tokens if response.usage else None
                        ),
                        output_text=text,
                    )
                    try:
                        return finish(answer=parse_answer(text))
                    except InvalidAnswer as invalid:
                        refusal = response.choices[0].message.refusal if response.choices else None
                        reason = f"model refused: {refusal}" if refusal else str(invalid)
                        # The request succeeded but produced nothing usable: for a diagnosis
                        # that is this attempt failing.
                        call.failed("invalid_answer", reason)
            if failure is not None:
                error = failure
                if rejects_response_format(error):
                    if fmt == "json_schema" and self._can_fall_back:
                        log.info("server rejected json_schema, using json_object: %s", error)
                        self._format = "json_object"
                        continue
                    return finish(error=error_text(error), error_type="schema_rejected")
                if rejects_max_tokens(error) and self._token_parameter == "max_tokens":
                    self._token_parameter = "max_completion_tokens"
                    continue
                error_type, retryable = classify(error)
                if not retryable or transient_retries >= self._max_retries:
                    return finish(error=error_text(error), error_type=error_type)
                await self._sleep(self._backoff(transient_retries, error))
                transient_retries += 1
                continue

            if asked_again:
                return finish(error=reason[:MAX_ERROR_MESSAGE_CHARS], error_type="invalid_answer")
            asked_again = True
            conversation = [*messages, *_correction(text, reason)]

    def _backoff(self, retry_index: int, error: openai.OpenAIError) -> float:
        """Exponential backoff with jitter, or the server's Retry-After when it gives one."""
        retry_after = retry_after_seconds(error)
        if retry_after is not None:
            return min(max(retry_after, 0.0), self._backoff_max)
        ceiling = min(self._backoff_max, self._backoff_base * 2.0**retry_index)
        return ceiling * (0.5 + self._rng.random() / 2)

    async def _complete(
        self, conversation: list[dict[str, str]], fmt: ResponseFormat, call: ChatCall | None = None
    ) -> ChatCompletion:
        response_format: dict[str, Any]
        if fmt == "json_schema":
            response_format = {
                "type": "json_schema",
                "json_schema": {
                    "name": SCHEMA_NAME,
                    "strict": True,
                    "schema": answer_json_schema(),
                },
            }
            sent = conversation
        else:
            # OpenAI ignores "schema" here; llama.cpp compiles it into a grammar, where
            # maxLength also keeps a small model inside the output token limit.
            response_format = {
                "type": "json_object",
                "schema": answer_json_schema(bounded_strings=True),
            }
            sent = with_schema_instructions(conversation)
        if call is not None:
            call.sent(sent)
        # Passed as extra_body: the SDK's typed parameters know neither llama.cpp's
        # json_object+schema nor a token parameter chosen at run time.
        return await self._sdk.chat.completions.create(
            model=self._model,
            messages=cast("list[ChatCompletionMessageParam]", sent),
            temperature=self._temperature,
            extra_body={
                "response_format": response_format,
                self._token_parameter: self._max_output_tokens,
            },
        )


def _correction(bad_answer: str | None, reason: str) -> list[dict[str, str]]:
    """The turn that asks the model to fix its answer, naming what was wrong."""
    ask = {
        "role": "user",
        "content": (
            f"Your answer was not valid: {reason}\n"
            "Answer again with only the corrected JSON object, using only the categories "
            "and actions listed in the instructions."
        ),
    }
    if not bad_answer:
        # Some servers reject an empty assistant turn.
        return [ask]
    return [{"role": "assistant", "content": bad_answer[:_MAX_ECHOED_ANSWER_CHARS]}, ask]

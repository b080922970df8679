"""What an OpenAI-compatible server's failed request means, for the LLM client's loop.

``kubetriage.llm.client.LLMClient`` asks each failed request here: its low-cardinality error
type and whether the same request may succeed again (timeouts, 429 and 5xx are retried, a
request error is not); whether the server rejected the ``response_format`` asked for (an
OpenAI-style 400 naming response_format/json_schema, a 422, llama-cpp-python's 500), so the
client falls back to json_object; whether it wants ``max_completion_tokens`` instead of
``max_tokens`` (OpenAI's reasoning models); how long its Retry-After header says to wait; and
the error's text, bounded, for the result and the telemetry.
"""

from __future__ import annotations

import json
from typing import Literal

import openai

ErrorType = Literal[
    "timeout",
    "rate_limited",
    "server_error",
    "connection_error",
    "invalid_answer",
    "schema_rejected",
    "request_error",
    "circuit_open",
]

MAX_ERROR_MESSAGE_CHARS = 500


def error_text(error: openai.OpenAIError) -> str:
    if isinstance(error, openai.APIStatusError):
        text = f"HTTP {error.status_code}: {error.message}"
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:MAX_ERROR_MESSAGE_CHARS]


def classify(error: openai.OpenAIError) -> tuple[ErrorType, bool]:
    """The error type and whether retrying the same request may help."""
    if isinstance(error, openai.APITimeoutError):
        return "timeout", True
    if isinstance(error, openai.APIConnectionError):
        return "connection_error", True
    if isinstance(error, openai.RateLimitError):
        return "rate_limited", True
    if isinstance(error, openai.APIStatusError):
        if error.status_code == 408:
            return "timeout", True
        if error.status_code >= 500:
            return "server_error", True
    return "request_error", False


def attempt_error_type(error: openai.OpenAIError) -> ErrorType:
    """The ``error.type`` of one failed request (the client's own low-cardinality names)."""
    if rejects_response_format(error):
        return "schema_rejected"
    return classify(error)[0]


def _mentions(error: openai.OpenAIError, *words: str) -> bool:
    text = str(error)
    if isinstance(error, openai.APIStatusError):
        text += " " + json.dumps(error.body, default=str)
    text = text.lower()
    return any(word in text for word in words)


def rejects_response_format(error: openai.OpenAIError) -> bool:
    """Does this error say the server cannot do the requested ``response_format``?"""
    if not isinstance(error, openai.APIStatusError):
        return False
    if error.status_code == 422:
        return True
    # llama-cpp-python answers a json_schema request with a 500 naming response_format.
    return error.status_code in {400, 500} and _mentions(error, "response_format", "json_schema")


def rejects_max_tokens(error: openai.OpenAIError) -> bool:
    # OpenAI's reasoning models: "Unsupported parameter: 'max_tokens' ... Use
    # 'max_completion_tokens' instead."
    return (
        isinstance(error, openai.APIStatusError)
        and error.status_code == 400
        and _mentions(error, "max_completion_tokens")
    )


def retry_after_seconds(error: openai.OpenAIError) -> float | None:
    if not isinstance(error, openai.APIStatusError):
        return None
    value = error.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date; the exponential schedule is good enough

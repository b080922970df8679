"""The OpenTelemetry GenAI semantic conventions as kubetriage reports them (latest
experimental version: ``gen_ai.provider.name``, not the deprecated ``gen_ai.system``): the
operation names, attribute keys and the metrics' bucket boundaries, a chat model's fixed
request attributes (``ChatEndpoint``) and what one request to it reports onto its span
(``ChatCall``: the messages and answer only with content capture, always redacted), and an
embedder's provider name. ``kubetriage.telemetry`` opens the spans and records the metrics.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.trace import Span, Status, StatusCode

# The GenAI metrics spec's ExplicitBucketBoundaries.
TOKEN_USAGE_BUCKETS: tuple[float, ...] = tuple(float(4**i) for i in range(14))
OPERATION_DURATION_BUCKETS: tuple[float, ...] = tuple(0.01 * 2**i for i in range(14))

OP_CHAT = "chat"
OP_EMBEDDINGS = "embeddings"
OP_RETRIEVAL = "retrieval"

# Attribute keys (semantic conventions, plus kubetriage.* for our own).
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"


def server_attributes(base_url: str | None) -> dict[str, str | int]:
    """``server.address`` / ``server.port`` of an endpoint URL (port from the scheme when
    the URL has none)."""
    if not base_url:
        return {}
    parts = urlsplit(base_url)
    if not parts.hostname:
        return {}
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {SERVER_ADDRESS: parts.hostname, SERVER_PORT: port}


def error_type_of(error: BaseException) -> str:
    """The ``error.type`` of an exception: its class's qualified name."""
    return type(error).__qualname__


@dataclass(frozen=True)
class ChatEndpoint:
    """The fixed request attributes of one configured chat model."""

    provider: str
    model: str
    base_url: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None

    def attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            OPERATION_NAME: OP_CHAT,
            PROVIDER_NAME: self.provider,
            REQUEST_MODEL: self.model,
            **server_attributes(self.base_url),
        }
        if self.temperature is not None:
            attributes["gen_ai.request.temperature"] = self.temperature
        if self.max_tokens is not None:
            attributes["gen_ai.request.max_tokens"] = self.max_tokens
        return attributes


class ChatCall:
    """What one request to the model reports onto its span; see ``Telemetry.chat``."""

    def __init__(self, span: Span, capture: bool, redact: Callable[[str], str]) -> None:
        self._span = span
        self._capture = capture
        self._redact = redact
        self.error_type: str | None = None
        self.response_model: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None

    def sent(self, messages: Sequence[Mapping[str, str]]) -> None:
        """The messages as sent (recorded only when content capture is on)."""
        if not self._capture:
            return
        body = [
            {
                "role": str(message.get("role", "user")),
                "parts": [{"type": "text", "content": self._redact(message.get("content", ""))}],
            }
            for message in messages
        ]
        self._span.set_attribute("gen_ai.input.messages", json.dumps(body, ensure_ascii=False))

    def responded(
        self,
        *,
        model: str | None,
        response_id: str | None,
        finish_reasons: Sequence[str],
        input_tokens: int | None,
        output_tokens: int | None,
        output_text: str | None,
    ) -> None:
        self.response_model = model
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        attributes: dict[str, Any] = {"gen_ai.response.finish_reasons": list(finish_reasons)}
        if model:
            attributes[RESPONSE_MODEL] = model
        if response_id:
            attributes["gen_ai.response.id"] = response_id
        if input_tokens is not None:
            attributes["gen_ai.usage.input_tokens"] = input_tokens
        if output_tokens is not None:
            attributes["gen_ai.usage.output_tokens"] = output_tokens
        if self._capture:
            message = {
                "role": "assistant",
                "parts": [{"type": "text", "content": self._redact(output_text or "")}],
                "finish_reason": finish_reasons[0] if finish_reasons else "stop",
            }
            attributes["gen_ai.output.messages"] = json.dumps([message], ensure_ascii=False)
        self._span.set_attributes(attributes)

    def failed(self, error_type: str, description: str = "") -> None:
        """This request failed (transport, HTTP status or an unusable answer)."""
        self.error_type = error_type
        self._span.set_attribute(ERROR_TYPE, error_type)
        self._span.set_status(Status(StatusCode.ERROR, description[:500] or error_type))


def embedder_provider(model_id: str) -> str:
    """``gen_ai.provider.name`` of an embedder, from its model id."""
    return "openai" if model_id.startswith("openai:") else "onnxruntime"

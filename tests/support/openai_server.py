"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

Each test queues the replies it wants (a valid answer, garbage, an invalid category, a
slow reply, HTTP 429/5xx, OpenAI's 400 rejecting json_schema...) and afterwards reads what
the client sent: every request body and its headers are recorded, so a test can assert on
retries, the response_format used, or that a secret never left the process.

Served routes: ``POST /v1/chat/completions``, Azure's
``POST /openai/deployments/{deployment}/chat/completions`` and ``GET /v1/models``. Replies
carry realistic ``id``, ``model``, ``choices[].finish_reason`` and ``usage`` (token counts
derived from the text, about four characters a token, and recorded so sums can be checked).

Usage::

    with ScriptedOpenAIServer() as server:
        server.script(answer({...}), rate_limited(), text("not json"))
        settings = Settings(llm_base_url=server.base_url, llm_model="m")
        ...
        assert server.chat_bodies[1]["response_format"]["type"] == "json_object"

The server runs aiohttp on its own event loop in a daemon thread, so it serves both sync
and async tests; a reply queue that runs dry answers HTTP 500 and counts ``unscripted``,
unless a ``default`` reply is set (``ScriptedOpenAIServer(default=answer(...))`` or
``server.repeat(...)``): then every request the queue does not answer gets that reply, which
is what load tests and benchmarks need.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.http_server import ThreadedServer

CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Reply:
    """One scripted reply. A 200 with ``content`` becomes a chat completion; anything else
    is sent as ``body`` (JSON) or ``raw`` text with ``status``."""

    status: int = 200
    content: str | None = None
    body: Mapping[str, Any] | None = None
    raw: str | None = None
    delay_seconds: float = 0.0
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    model: str | None = None


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


def answer(obj: Mapping[str, Any], **kwargs: Any) -> Reply:
    """A 200 whose assistant message is ``obj`` as JSON."""
    return Reply(content=json.dumps(obj), **kwargs)


def text(content: str, **kwargs: Any) -> Reply:
    """A 200 whose assistant message is free text (garbage, fenced JSON, prose...)."""
    return Reply(content=content, **kwargs)


def error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """An error in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return Reply(status=status, body=body, headers=dict(headers or {}))


def rate_limited(retry_after_seconds: float | None = None) -> Reply:
    headers = {} if retry_after_seconds is None else {"retry-after": str(retry_after_seconds)}
    return error(
        429,
        "Rate limit reached for requests. Please try again later.",
        type_="requests",
        code="rate_limit_exceeded",
        headers=headers,
    )


def server_error(status: int = 500) -> Reply:
    message = {
        500: "The server had an error while processing your request.",
        502: "Bad gateway.",
        503: "The engine is currently overloaded, please try again later.",
    }.get(status, "Server error.")
    return error(status, message, type_="server_error")


def json_schema_rejected() -> Reply:
    """OpenAI's answer when a model does not support structured outputs."""
    return error(
        400,
        "Invalid parameter: 'response_format' of type 'json_schema' is not supported with "
        "this model. Learn more about supported models at the Structured Outputs guide: "
        "https://platform.openai.com/docs/guides/structured-outputs",
        param="response_format",
    )


def slow(seconds: float, then: Reply | None = None) -> Reply:
    """``then`` (a short valid-looking text by default) after ``seconds``."""
    base = then or text("{}")
    return Reply(
        status=base.status,
        content=base.content,
        body=base.body,
        raw=base.raw,
        delay_seconds=seconds,
        finish_reason=base.finish_reason,
        prompt_tokens=base.prompt_tokens,
        completion_tokens=base.completion_tokens,
        headers=base.headers,
        model=base.model,
    )


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // CHARS_PER_TOKEN)


def _prompt_text(body: Mapping[str, Any]) -> str:
    parts = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)


class ScriptedOpenAIServer(ThreadedServer):
    """Context manager running the scripted server; see the module docstring."""

    name = "scripted OpenAI server"

    def __init__(
        self, *, model: str | None = None, host: str = "127.0.0.1", default: Reply | None = None
    ) -> None:
        super().__init__(host)
        # None: echo the requested model, as most servers do.
        self._model = model
        # Served whenever the queue is empty; None keeps the strict "unscripted = 500".
        self._default = default
        self._queue: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._usages: list[Usage] = []
        self._unscripted = 0
        self._ids = itertools.count(1)

    # --- scripting and inspection (any thread) ---------------------------------------

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def repeat(self, reply: Reply | None) -> None:
        """Answer every request the queue does not with ``reply`` (None: back to HTTP 500)."""
        with self._lock:
            self._default = reply

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``.../v1``)."""
        return f"{self.root_url}/v1"

    @property
    def root_url(self) -> str:
        """The URL without ``/v1`` (Azure's ``azure_endpoint``)."""
        if not self.port:
            raise RuntimeError("the server is not running")
        return self.url

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def chat_bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies of chat completion requests, in arrival order."""
        return [
            r.body
            for r in self.requests
            if r.body is not None and r.path.endswith("/chat/completions")
        ]

    @property
    def usages(self) -> list[Usage]:
        """The ``usage`` of every successful completion served, in order."""
        with self._lock:
            return list(self._usages)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def unscripted(self) -> int:
        """Requests that arrived with no reply queued (answered HTTP 500)."""
        with self._lock:
            return self._unscripted

    # --- served routes -----------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)

    # --- handlers (server thread) ------------------------------------------------------

    async def _record(self, request: web.Request) -> dict[str, Any] | None:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    query=dict(request.query),
                    headers=dict(request.headers),
                    body=body if isinstance(body, dict) else None,
                )
            )
        return body if isinstance(body, dict) else None

    async def _models(self, request: web.Request) -> web.Response:
        await self._record(request)
        model = self._model or "scripted-model"
        return web.json_response(
            {
                "object": "list",
                "data": [{"id": model, "object": "model", "created": 0, "owned_by": "tests"}],
            }
        )

    async def _chat(self, request: web.Request) -> web.Response:
        body = await self._record(request) or {}
        with self._lock:
            reply = self._queue.popleft() if self._queue else self._default
            if reply is None:
                self._unscripted += 1
        if reply is None:
            reply = server_error(500)
        if reply.delay_seconds > 0:
            assert self._stopping is not None
            # Wake early on shutdown so a test's "slow" reply never holds up teardown.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), reply.delay_seconds)
        if reply.status != 200 or reply.content is None:
            if reply.raw is not None:
                return web.Response(status=reply.status, text=reply.raw, headers=reply.headers)
            return web.json_response(
                dict(reply.body or {}), status=reply.status, headers=reply.headers
            )
        usage = Usage(
            prompt_tokens=reply.prompt_tokens or _estimate_tokens(_prompt_text(body)),
            completion_tokens=reply.completion_tokens or _estimate_tokens(reply.content),
        )
        with self._lock:
            self._usages.append(usage)
        model = reply.model or self._model or str(body.get("model") or "scripted-model")
        return web.json_response(
            {
                "id": f"chatcmpl-scripted-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "fp_scripted",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.content},
                        "logprobs": None,
                        "finish_reason": reply.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": usage.prompt_tokens,
                    "completion_tokens": usage.completion_tokens,
                    "total_tokens": usage.prompt_tokens + usage.completion_tokens,
                },
            },
            headers=reply.headers,
        )

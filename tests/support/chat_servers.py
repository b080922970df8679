"""Local HTTP servers on 127.0.0.1 standing in for chat services in tests: a scripted Slack
Web API (``chat.postMessage``, ``chat.update``, ``conversations.history``, with scripted
429 + Retry-After, 5xx and slow answers) and a capture server for webhook sinks (Teams,
CloudEvents) that records every request and answers scripted statuses.

Each runs aiohttp on its own event loop in a daemon thread, so it serves the operator's
thread and the test alike. The Slack server keeps the messages it accepted per channel,
so a test asserts what a person would see: how many messages, their blocks, their thread.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.http_server import ThreadedServer


@dataclass(frozen=True)
class Fault:
    """A scripted answer for the next call of ``method`` (any method when None):
    ``status`` with ``headers``; or, with ``delay_seconds``, the call is carried out and its
    answer is sent only after the delay (an answer lost to a client timeout)."""

    method: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


def rate_limited(method: str | None = None, retry_after: int = 1) -> Fault:
    return Fault(method, 429, {"Retry-After": str(retry_after)})


def server_error(method: str | None = None, status: int = 500) -> Fault:
    return Fault(method, status)


def slow(method: str | None = None, seconds: float = 3.0) -> Fault:
    return Fault(method, delay_seconds=seconds)


@dataclass
class SlackMessage:
    channel: str
    ts: str
    text: str
    blocks: list[Any]
    metadata: dict[str, Any] | None
    thread_ts: str | None
    updates: int = 0


class ScriptedSlackServer(ThreadedServer):
    """``slack_api_url`` is ``server.api_url``; the bot token must be ``token``."""

    name = "scripted-slack"

    def __init__(self, token: str = "xoxb-test-token") -> None:
        super().__init__()
        self.token = token
        self._faults: deque[Fault] = deque()
        self._messages: list[SlackMessage] = []
        self._calls: list[tuple[str, int]] = []
        self._clock = 1_800_000_000

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def script(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    @property
    def messages(self) -> list[SlackMessage]:
        """Top-level messages (what the channel shows), oldest first."""
        with self._lock:
            return [m for m in self._messages if m.thread_ts is None]

    def replies(self, ts: str) -> list[SlackMessage]:
        with self._lock:
            return [m for m in self._messages if m.thread_ts == ts]

    @property
    def calls(self) -> list[tuple[str, int]]:
        """(method, HTTP status answered) for every call, in order."""
        with self._lock:
            return list(self._calls)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/{method}", self._call)

    def _fault_for(self, method: str) -> Fault | None:
        with self._lock:
            if self._faults and self._faults[0].method in (None, method):
                return self._faults.popleft()
        return None

    async def _call(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._answer(method, web.json_response({"ok": False, "error": "invalid_auth"}))
        body: dict[str, Any] = await request.json()
        fault = self._fault_for(method)
        if fault is not None and fault.status != 200:
            response = web.json_response(
                {"ok": False, "error": "ratelimited" if fault.status == 429 else "fatal_error"},
                status=fault.status,
                headers=fault.headers,
            )
            return self._answer(method, response)
        response = self._apply(method, body)
        if fault is not None and fault.delay_seconds:
            await asyncio.sleep(fault.delay_seconds)  # the answer is late; the work is done
        return self._answer(method, response)

    def _answer(self, method: str, response: web.Response) -> web.Response:
        with self._lock:
            self._calls.append((method, response.status))
        return response

    def _apply(self, method: str, body: dict[str, Any]) -> web.Response:
        with self._lock:
            if method == "chat.postMessage":
                self._clock += 1
                ts = f"{self._clock}.000100"
                message = SlackMessage(
                    channel=str(body["channel"]),
                    ts=ts,
                    text=str(body.get("text") or ""),
                    blocks=list(body.get("blocks") or []),
                    metadata=body.get("metadata"),
                    thread_ts=body.get("thread_ts"),
                )
                self._messages.append(message)
                return web.json_response({"ok": True, "channel": message.channel, "ts": ts})
            if method == "chat.update":
                for message in self._messages:
                    if message.channel == body["channel"] and message.ts == body["ts"]:
                        message.text = str(body.get("text") or "")
                        message.blocks = list(body.get("blocks") or [])
                        message.updates += 1
                        return web.json_response(
                            {"ok": True, "channel": message.channel, "ts": message.ts}
                        )
                return web.json_response({"ok": False, "error": "message_not_found"})
            if method == "conversations.history":
                found = [
                    {"ts": m.ts, "text": m.text, "metadata": m.metadata}
                    for m in reversed(self._messages)
                    if m.channel == body["channel"] and m.thread_ts is None
                ]
                return web.json_response({"ok": True, "messages": found})
        return web.json_response({"ok": False, "error": "unknown_method"})


@dataclass(frozen=True)
class Captured:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class CaptureServer(ThreadedServer):
    """Records every POST; answers the scripted statuses in order, then 200."""

    name = "capture-server"

    def __init__(self) -> None:
        super().__init__()
        self._statuses: deque[int] = deque()
        self._requests: list[Captured] = []

    def script(self, *statuses: int) -> None:
        with self._lock:
            self._statuses.extend(statuses)

    @property
    def requests(self) -> list[Captured]:
        with self._lock:
            return list(self._requests)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{tail:.*}", self._post)

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self._requests.append(Captured(request.path, dict(request.headers), body))
            status = self._statuses.popleft() if self._statuses else 200
        return web.Response(status=status, text="1" if status < 300 else "busy")

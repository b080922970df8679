"""Slack: the Block Kit message for a ``Notice`` (pure) and a small adapter over the
official ``slack_sdk`` ``AsyncWebClient`` with its retry handlers (429 with Retry-After,
500/503, connection errors), built once at startup.

One message per Incident: ``post`` once (with message metadata naming the Incident's uid,
so a post whose answer was lost can be found again instead of posted twice), ``update`` in
place, ``reply`` in its thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import ClientOSError, ServerConnectionError, ServerDisconnectedError
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from kubetriage.models.incident import Phase
from kubetriage.models.vocabulary import Category
from kubetriage.notify.content import Notice

ACTION_HELPFUL = "kubetriage.helpful"
ACTION_CATEGORY = "kubetriage.category"
ACTION_APPROVE = "kubetriage.approve"
METADATA_EVENT = "kubetriage_incident"
_SECTION_MAX = 2900
_HEADER_MAX = 150


class SlackError(RuntimeError):
    """Slack refused or could not be reached (after the SDK's bounded retries); ``code`` is
    Slack's error string when it answered (``missing_scope``, ``channel_not_found``...)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


def _escape(text: str) -> str:
    """Slack mrkdwn control characters (links and mentions cannot be injected)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, _SECTION_MAX)}}


def action_value(notice: Notice, **extra: str) -> str:
    """What a button carries back: the Incident (and its uid, so a button on a message for
    an Incident deleted and re-created under the same name does nothing)."""
    return json.dumps(
        {"namespace": notice.namespace, "name": notice.name, "uid": notice.uid, **extra},
        separators=(",", ":"),
    )


def headline(notice: Notice) -> str:
    state = "RESOLVED" if notice.phase == Phase.RESOLVED.value else notice.severity.upper()
    return _cut(f"[{state}] {notice.title}", _HEADER_MAX)


def render_blocks(notice: Notice, *, approvable: frozenset[str] = frozenset()) -> list[Any]:
    """The message's Block Kit blocks. ``approvable``: remediation actions a policy may let
    a Slack user approve (an "Approve" button each)."""
    facts = [f"*Phase* {notice.phase}", f"*Severity* {notice.severity}"]
    if notice.category is not None:
        facts.append(f"*Category* {notice.category}")
    if notice.confidence is not None:
        facts.append(f"*Confidence* {notice.confidence:.2f}")
    lines = [" · ".join(facts), f"*Incident* `{_escape(notice.ref)}`"]
    if notice.target:
        lines.append(f"*Target* `{_escape(notice.target)}`")
    if notice.reopened:
        lines.append(f"*Fired again* {notice.reopened} time(s) after resolution")
    blocks: list[Any] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline(notice)}},
        _section("\n".join(lines)),
    ]
    if notice.summary:
        blocks.append(_section(_escape(notice.summary)))
    for index, rem in enumerate(notice.remediations, start=1):
        blocks.append(
            _section(
                f"*{index}. {_escape(rem.title)}*  ({rem.risk} risk, {rem.action.value})\n"
                f"```{_escape(rem.command)}```"
            )
        )
    if notice.evidence:
        blocks.append(
            _section("*Evidence*\n" + "\n".join(f"• {_escape(e)}" for e in notice.evidence))
        )
    if notice.similar:
        blocks.append(
            _section(
                "*Similar past incidents*\n" + "\n".join(f"• {_escape(s)}" for s in notice.similar)
            )
        )
    notes = []
    if notice.feedback:
        notes.append(f"Feedback: {_escape(notice.feedback)}")
    if notice.approval:
        notes.append(f"Remediation: {_escape(notice.approval)}")
    if notice.links:
        notes.append(" · ".join(f"<{link.url}|{_escape(link.label)}>" for link in notice.links))
    if notes:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _cut(n, 2900)} for n in notes],
            }
        )
    if notice.category is not None:
        elements: list[Any] = [
            {
                "type": "button",
                "action_id": ACTION_HELPFUL,
                "text": {"type": "plain_text", "text": "Helpful"},
                "style": "primary",
                "value": action_value(notice),
            },
            {
                "type": "static_select",
                "action_id": ACTION_CATEGORY,
                "placeholder": {"type": "plain_text", "text": "Wrong category…"},
                "options": [
                    {
                        "text": {"type": "plain_text", "text": c.value},
                        "value": action_value(notice, category=c.value),
                    }
                    for c in Category
                    if c.value != notice.category
                ],
            },
        ]
        for rem in notice.remediations:
            if rem.action.value in approvable and notice.phase != Phase.RESOLVED.value:
                elements.append(
                    {
                        "type": "button",
                        "action_id": f"{ACTION_APPROVE}.{rem.id}",
                        "text": {"type": "plain_text", "text": _cut(f"Approve {rem.id}", 75)},
                        "style": "danger",
                        "value": action_value(notice, remediation=rem.id),
                        "confirm": {
                            "title": {"type": "plain_text", "text": "Approve remediation?"},
                            "text": {"type": "plain_text", "text": _cut(rem.command, 300)},
                            "confirm": {"type": "plain_text", "text": "Approve"},
                            "deny": {"type": "plain_text", "text": "Cancel"},
                        },
                    }
                )
        blocks.append({"type": "actions", "block_id": "kubetriage", "elements": elements})
    return blocks


def blocks_as_text(blocks: list[Any]) -> str:
    """A plain-text reading of Block Kit blocks: the notification's fallback ``text`` and
    how the README shows a message."""
    out: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in {"header", "section"}:
            out.append(block["text"]["text"])
        elif kind == "context":
            out.extend(element["text"] for element in block["elements"])
        elif kind == "actions":
            labels = []
            for element in block["elements"]:
                label = element.get("text") or element.get("placeholder") or {}
                labels.append(f"[{label.get('text', '')}]")
            out.append(" ".join(labels))
    return "\n".join(out)


@dataclass(frozen=True)
class PostedMessage:
    channel: str
    ts: str


class SlackClient:
    """The three calls the notifier makes, through one ``AsyncWebClient``."""

    def __init__(
        self, token: str, *, base_url: str, timeout_seconds: float, max_retries: int
    ) -> None:
        self._client = AsyncWebClient(
            token=token,
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=max(1, round(timeout_seconds)),
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(
                    max_retry_count=max_retries,
                    error_types=[ServerConnectionError, ServerDisconnectedError, ClientOSError],
                ),
                AsyncRateLimitErrorRetryHandler(max_retry_count=max_retries),
                AsyncServerErrorRetryHandler(max_retry_count=max_retries),
            ],
        )

    async def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._client.api_call(method, json=kwargs)
        except SlackApiError as error:
            data = cast("dict[str, Any]", error.response.data or {})
            status = error.response.status_code
            code = data.get("error")
            raise SlackError(f"{method}: {code or f'HTTP {status}'}", code) from error
        except TimeoutError as error:
            raise SlackError(f"{method}: no answer in time") from error
        except (OSError, ServerConnectionError) as error:
            raise SlackError(f"{method}: {type(error).__name__}: {error}") from error
        return cast("dict[str, Any]", response.data)

    async def post(self, channel: str, *, text: str, blocks: list[Any], uid: str) -> PostedMessage:
        data = await self._call(
            "chat.postMessage",
            channel=channel,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            metadata={"event_type": METADATA_EVENT, "event_payload": {"uid": uid}},
        )
        return PostedMessage(channel=str(data["channel"]), ts=str(data["ts"]))

    async def update(self, channel: str, ts: str, *, text: str, blocks: list[Any]) -> None:
        await self._call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)

    async def reply(self, channel: str, thread_ts: str, *, text: str) -> None:
        await self._call("chat.postMessage", channel=channel, thread_ts=thread_ts, text=text)

    async def find(self, channel: str, uid: str) -> PostedMessage | None:
        """A message this app already posted for the Incident ``uid`` (its metadata), among
        the channel's recent messages; used before posting after an attempt whose answer
        was lost, so Slack never shows two messages for one Incident."""
        data = await self._call(
            "conversations.history", channel=channel, limit=200, include_all_metadata=True
        )
        for message in data.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == METADATA_EVENT and payload.get("uid") == uid:
                return PostedMessage(channel=channel, ts=str(message["ts"]))
        return None

    async def aclose(self) -> None:
        session = self._client.session
        if session is not None and not session.closed:
            await session.close()

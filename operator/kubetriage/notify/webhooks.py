"""Sinks that POST one document per transition and cannot edit it afterwards: a Microsoft
Teams Adaptive Card (Workflows / incoming webhook) and a CloudEvent in structured JSON mode
(the ``cloudevents`` SDK). Rendering is pure; ``HttpPoster`` is the small I/O adapter with
bounded retries (429 and 5xx honour ``Retry-After``, capped)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp
from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.v1.event import CloudEvent

from kubetriage.models.incident import Phase
from kubetriage.notify.content import Notice, event_id
from kubetriage.notify.slack import headline

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
_RETRY_AFTER_CAP = 30.0


class DeliveryError(RuntimeError):
    """The endpoint refused or could not be reached after the bounded retries."""


def teams_card(notice: Notice) -> dict[str, Any]:
    """A message with one Adaptive Card (1.4) carrying the same content as the Slack
    message (no buttons)."""
    facts = [
        {"title": "Phase", "value": notice.phase},
        {"title": "Severity", "value": notice.severity},
        {"title": "Incident", "value": notice.ref},
    ]
    if notice.category is not None:
        facts.append({"title": "Category", "value": notice.category})
    if notice.confidence is not None:
        facts.append({"title": "Confidence", "value": f"{notice.confidence:.2f}"})
    if notice.target:
        facts.append({"title": "Target", "value": notice.target})
    if notice.reopened:
        facts.append({"title": "Fired again", "value": str(notice.reopened)})
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": headline(notice),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": "Good" if notice.phase == Phase.RESOLVED.value else "Attention",
        },
        {"type": "FactSet", "facts": facts},
    ]
    if notice.summary:
        body.append({"type": "TextBlock", "text": notice.summary, "wrap": True})
    for index, rem in enumerate(notice.remediations, start=1):
        body.append(
            {
                "type": "TextBlock",
                "text": f"{index}. {rem.title} ({rem.risk} risk, {rem.action.value})",
                "weight": "Bolder",
                "wrap": True,
            }
        )
        body.append(
            {"type": "TextBlock", "text": rem.command, "fontType": "Monospace", "wrap": True}
        )
    for heading, lines in (
        ("Evidence", notice.evidence),
        ("Similar past incidents", notice.similar),
    ):
        if lines:
            body.append({"type": "TextBlock", "text": heading, "weight": "Bolder"})
            body.append(
                {
                    "type": "TextBlock",
                    "text": "\n".join(f"- {line}" for line in lines),
                    "wrap": True,
                }
            )
    for note in (notice.feedback, notice.approval):
        if note:
            body.append({"type": "TextBlock", "text": note, "isSubtle": True, "wrap": True})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if notice.links:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": link.label, "url": link.url}
            for link in notice.links
        ]
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}],
    }


def cloud_event(notice: Notice, type_: str, *, source: str, now: datetime) -> CloudEvent:
    """The transition ``type_`` of ``notice`` as a CloudEvent with a stable id."""
    data = notice.model_dump(mode="json")
    return CloudEvent(
        attributes={
            "type": type_,
            "source": source,
            "id": event_id(notice, type_),
            "subject": notice.ref,
            "time": now.astimezone(UTC),
            "datacontenttype": "application/json",
        },
        data=data,
    )


def structured(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """Headers and body of the event in structured content mode (JSON)."""
    message = to_structured_event(event)
    return dict(message.headers), message.body


class HttpPoster:
    """POSTs bodies with bounded retries; one aiohttp session, opened on first use."""

    def __init__(self, *, timeout_seconds: float, max_attempts: int, retry_delay: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._attempts = max_attempts
        self._delay = retry_delay
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        last = ""
        for attempt in range(1, self._attempts + 1):
            wait = self._delay * attempt
            try:
                async with self._session.post(url, data=body, headers=headers) as response:
                    if response.status < 300:
                        return
                    last = f"HTTP {response.status}"
                    if response.status != 429 and response.status < 500:
                        raise DeliveryError(f"{last}: {(await response.text())[:200]}")
                    retry_after = response.headers.get("Retry-After", "")
                    if retry_after.isdigit():
                        wait = min(float(retry_after), _RETRY_AFTER_CAP)
            except (aiohttp.ClientError, TimeoutError) as error:
                last = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            if attempt < self._attempts:
                await asyncio.sleep(wait)
        raise DeliveryError(f"gave up after {self._attempts} attempts: {last}")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

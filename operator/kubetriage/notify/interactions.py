"""The Slack interactivity endpoint (``POST /slack/interactions``, served next to the
Alertmanager receiver): the message's buttons write back to the Incident.

Only requests Slack signed are honoured: slack-sdk's ``SignatureVerifier`` checks the HMAC
in constant time and the timestamp within five minutes; a signature seen before (a replay)
is refused too. Feedback is written to ``spec.feedback`` with a JSON merge patch, exactly as
``kubectl patch --type merge`` would, so memory learns the same way; an approval writes
``spec.approve`` and ``spec.approvedBy`` (``slack:<user id>``) only for Slack users listed
in the remediation policy's ``slackApprovers``, and the approve handler records that user as
the approver. Anything refused changes nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from kubernetes.client.exceptions import ApiException
from slack_sdk.signature import Clock, SignatureVerifier

from kubetriage.incidents import IncidentStore
from kubetriage.models.vocabulary import Category
from kubetriage.notify.slack import ACTION_APPROVE, ACTION_CATEGORY, ACTION_HELPFUL
from kubetriage.remediation.policy import PolicyError, load_policy

log = logging.getLogger(__name__)
PATH = "/slack/interactions"
WINDOW_SECONDS = 300
MAX_BODY = 256 * 1024


class _Clock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


@dataclass(frozen=True)
class Choice:
    """One button press, parsed."""

    user: str
    namespace: str
    name: str
    uid: str
    kind: str  # helpful | category | approve
    value: str | None = None


class InteractionError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_choice(payload: dict[str, Any]) -> Choice:
    """The Incident and what the user chose, from a ``block_actions`` payload."""
    if payload.get("type") != "block_actions":
        raise InteractionError(400, f"unsupported interaction type {payload.get('type')!r}")
    user = str((payload.get("user") or {}).get("id") or "")
    actions = payload.get("actions") or []
    if not user or not actions:
        raise InteractionError(400, "no user or no action in the payload")
    action = actions[0]
    action_id = str(action.get("action_id") or "")
    raw = (action.get("selected_option") or {}).get("value") or action.get("value") or ""
    try:
        value = json.loads(raw)
        ref = (str(value["namespace"]), str(value["name"]), str(value["uid"]))
    except (ValueError, KeyError, TypeError) as error:
        raise InteractionError(400, "the action's value does not name an Incident") from error
    if action_id == ACTION_HELPFUL:
        return Choice(user, *ref, kind="helpful")
    if action_id == ACTION_CATEGORY:
        category = str(value.get("category") or "")
        if category not in {c.value for c in Category}:
            raise InteractionError(400, f"unknown category {category!r}")
        return Choice(user, *ref, kind="category", value=category)
    if action_id.startswith(ACTION_APPROVE):
        remediation = str(value.get("remediation") or "")
        if not remediation:
            raise InteractionError(400, "approval without a remediation id")
        return Choice(user, *ref, kind="approve", value=remediation)
    raise InteractionError(400, f"unknown action {action_id!r}")


def spec_patch(choice: Choice) -> dict[str, Any]:
    """The merge patch ``kubectl patch inc NAME --type merge -p ...`` would send."""
    by = f"slack:{choice.user}"
    if choice.kind == "helpful":
        return {"spec": {"feedback": {"helpful": True, "by": by}}}
    if choice.kind == "category":
        return {"spec": {"feedback": {"helpful": False, "correctCategory": choice.value, "by": by}}}
    return {"spec": {"approve": choice.value, "approvedBy": by}}


class SlackInteractions:
    def __init__(
        self,
        signing_secret: str,
        incidents: IncidentStore,
        *,
        policy_file: Path | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._verifier = SignatureVerifier(signing_secret, clock=_Clock(clock))
        self._incidents = incidents
        self._policy_file = policy_file
        self._clock = clock
        # Signatures already honoured, by request timestamp: a replay within the window
        # is refused; older ones fail the timestamp check anyway.
        self._seen: dict[str, int] = {}

    def install(self, app: web.Application) -> None:
        app.router.add_post(PATH, self.handle)

    def _approvers(self) -> list[str]:
        if self._policy_file is None:
            return []
        try:
            return load_policy(self._policy_file.read_text(encoding="utf-8")).slack_approvers
        except (OSError, PolicyError) as error:
            log.error("remediation policy unusable for Slack approvals: %s", error)
            return []

    def _verify(self, body: bytes, headers: Any) -> None:
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        signature = headers.get("X-Slack-Signature", "")
        if not timestamp.isdigit() or not signature:
            raise InteractionError(401, "missing Slack signature headers")
        if not self._verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            raise InteractionError(401, "invalid signature or timestamp outside the window")
        now = self._clock()
        self._seen = {s: t for s, t in self._seen.items() if now - t <= WINDOW_SECONDS}
        if signature in self._seen:
            raise InteractionError(401, "replayed request")
        self._seen[signature] = int(timestamp)

    async def handle(self, request: web.Request) -> web.Response:
        try:
            if request.content_length is not None and request.content_length > MAX_BODY:
                raise InteractionError(413, "body too large")
            body = await request.content.read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                raise InteractionError(413, "body too large")
            self._verify(body, request.headers)
            form = parse_qs(body.decode("utf-8", "replace"))
            try:
                payload = json.loads((form.get("payload") or [""])[0])
            except ValueError as error:
                raise InteractionError(400, "payload is not JSON") from error
            if not isinstance(payload, dict):
                raise InteractionError(400, "payload is not an object")
            choice = parse_choice(payload)
            text = await self._apply(choice)
        except InteractionError as error:
            return web.json_response(
                {"response_type": "ephemeral", "text": str(error)}, status=error.status
            )
        return web.json_response(
            {"response_type": "ephemeral", "replace_original": False, "text": text}
        )

    async def _apply(self, choice: Choice) -> str:
        if choice.kind == "approve" and choice.user not in self._approvers():
            raise InteractionError(
                403,
                f"Slack user {choice.user} is not listed in the remediation policy's "
                "slackApprovers; nothing was approved",
            )
        try:
            current = await self._incidents.get(choice.namespace, choice.name)
        except ApiException as error:
            if error.status == 404:
                raise InteractionError(410, "this Incident no longer exists") from error
            raise InteractionError(503, f"the Kubernetes API failed: {error.reason}") from error
        if (current.get("metadata") or {}).get("uid") != choice.uid:
            raise InteractionError(410, "this message belongs to an Incident that was deleted")
        try:
            await self._incidents.patch(choice.namespace, choice.name, spec_patch(choice))
        except ApiException as error:
            raise InteractionError(503, f"the Kubernetes API refused: {error.reason}") from error
        ref = f"{choice.namespace}/{choice.name}"
        if choice.kind == "helpful":
            return f"Thanks: {ref} marked helpful."
        if choice.kind == "category":
            return f"Thanks: {ref} recorded as {choice.value}."
        return f"Approved {choice.value} on {ref}; the policy decides whether it runs."

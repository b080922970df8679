"""The notifier: after the operator has written an Incident's status, tell the people and
systems that want to know (Slack, Teams, CloudEvents), without ever delaying or failing a
diagnosis.

``handlers.py`` only calls ``enqueue`` (non-blocking); workers here read the Incident,
plan with ``kubetriage.notify.plan``, send, and record what was sent in
``status.notifications`` with a ``Notified`` condition (False, with the reason, when a sink
failed). Every write carries the resourceVersion it read, so a concurrent status write by
the diagnosis is never overwritten, and two replicas racing to post the first Slack message
cannot both win the claim that precedes the post.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from kubetriage.incidents import IncidentStore
from kubetriage.models.incident import Condition
from kubetriage.models.notify import NotificationsStatus, SentState, SlackState
from kubetriage.notify.content import Notice, NoticeError, build_notice, digest
from kubetriage.notify.plan import (
    Policy,
    Skip,
    channel_for,
    plan_cloudevent,
    plan_slack,
    plan_teams,
)
from kubetriage.notify.slack import (
    PostedMessage,
    SlackClient,
    SlackError,
    blocks_as_text,
    render_blocks,
)
from kubetriage.notify.webhooks import (
    DeliveryError,
    HttpPoster,
    cloud_event,
    structured,
    teams_card,
)
from kubetriage.receiver.queue import GroupQueue
from kubetriage.redaction import redact_text
from kubetriage.settings import Settings, secret_from
from kubetriage.status import condition, conditions_body, merge_conditions, parse_conditions

log = logging.getLogger(__name__)
_WRITE_ATTEMPTS = 5


@dataclass
class Sinks:
    """The configured sinks' adapters, built once at startup (``from_settings``)."""

    slack: SlackClient | None = None
    teams_url: str | None = None
    cloudevents_url: str | None = None
    poster: HttpPoster | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Sinks:
        token = secret_from(settings.slack_bot_token, settings.slack_bot_token_file)
        teams = secret_from(settings.teams_webhook_url, settings.teams_webhook_url_file)
        slack = (
            SlackClient(
                token.get_secret_value(),
                base_url=settings.slack_api_url,
                timeout_seconds=settings.notify_timeout_seconds,
                max_retries=settings.notify_max_attempts - 1,
            )
            if token is not None
            else None
        )
        teams_url = teams.get_secret_value() if teams is not None else None
        poster = (
            HttpPoster(
                timeout_seconds=settings.notify_timeout_seconds,
                max_attempts=settings.notify_max_attempts,
                retry_delay=settings.notify_retry_delay_seconds,
            )
            if teams_url or settings.cloudevents_url
            else None
        )
        return cls(slack, teams_url, settings.cloudevents_url, poster)

    @property
    def any(self) -> bool:
        return bool(self.slack or self.teams_url or self.cloudevents_url)

    async def aclose(self) -> None:
        if self.slack is not None:
            await self.slack.aclose()
        if self.poster is not None:
            await self.poster.aclose()


@dataclass
class _Pass:
    """What one notification pass did, for the status write."""

    updates: dict[str, Any] = field(default_factory=dict)
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)


def _dump(state: SlackState | SentState) -> dict[str, Any]:
    """A sink's state as a merge patch that replaces what is stored (nulls delete)."""
    return state.model_dump(by_alias=True, mode="json")


class Notifier:
    def __init__(
        self,
        settings: Settings,
        incidents: IncidentStore,
        sinks: Sinks,
        *,
        approvable: frozenset[str] = frozenset(),
        holder: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        workers: int = 2,
    ) -> None:
        self._settings = settings
        self._incidents = incidents
        self.sinks = sinks
        self._approvable = approvable
        self.holder = holder or f"{socket.gethostname()}-{secrets.token_hex(4)}"
        self._clock = clock
        self._policy = Policy(
            routes=list(settings.notify_routes),
            min_confidence=settings.notify_min_confidence,
            quiet_period=timedelta(seconds=settings.notify_quiet_period_seconds),
            max_attempts=settings.notify_max_attempts,
            retry_delay=timedelta(seconds=settings.notify_retry_delay_seconds),
            default_channel=settings.slack_channel,
        )
        self._queue: GroupQueue[None] = GroupQueue(100_000)
        self._worker_count = workers
        self._workers: list[asyncio.Task[None]] = []
        self._retries: set[asyncio.TimerHandle] = set()

    # ------------------------------------------------------------------ lifecycle

    def enqueue(self, namespace: str, name: str) -> None:
        """Look at this Incident soon; returns at once (called from Kopf handlers)."""
        if not self._workers:
            self._workers = [
                asyncio.create_task(self._work(), name=f"notifier-{i}")
                for i in range(self._worker_count)
            ]
        if not self._queue.offer(f"{namespace}/{name}", None):
            log.warning(
                "notifier queue full; %s/%s is notified on its next change", namespace, name
            )

    async def idle(self) -> None:
        """Wait until every queued Incident has been handled (tests, shutdown)."""
        await self._queue.join()

    async def aclose(self, drain_timeout: float = 10.0) -> None:
        for handle in self._retries:
            handle.cancel()
        self._retries.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle(), drain_timeout)
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        await self.sinks.aclose()

    async def _work(self) -> None:
        while True:
            key, _ = await self._queue.take()
            namespace, _, name = key.partition("/")
            try:
                await self.notify(namespace, name)
            except Exception:
                log.exception("notifying about Incident %s failed", key)
            finally:
                self._queue.done(key)

    def _retry_later(self, namespace: str, name: str) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._retries.discard(handle)
            self.enqueue(namespace, name)

        handle = loop.call_later(self._settings.notify_retry_delay_seconds, fire)
        self._retries.add(handle)

    # ------------------------------------------------------------------ one pass

    async def notify(self, namespace: str, name: str) -> None:
        """Read the Incident, send what its state calls for, record it. Safe to call any
        number of times: what was sent is in the status, so nothing is sent twice."""
        for _ in range(_WRITE_ATTEMPTS):
            try:
                body = await self._incidents.get(namespace, name)
            except ApiException as error:
                if error.status == 404:
                    return
                raise
            try:
                notice = build_notice(body, dashboard_url=self._settings.notify_dashboard_url)
            except NoticeError as error:
                log.warning("not notifying about %s/%s: %s", namespace, name, error)
                return
            done = await self._pass(notice, body)
            if done is not None:
                if done.failed:
                    self._retry_later(namespace, name)
                return
        log.warning("gave up notifying about %s/%s: the Incident kept changing", namespace, name)

    async def _pass(self, notice: Notice, body: dict[str, Any]) -> _Pass | None:
        """None when the Slack claim lost a race (read again and re-plan)."""
        status = body.get("status") or {}
        try:
            state = NotificationsStatus.model_validate(status.get("notifications") or {})
        except ValidationError:
            state = NotificationsStatus()
        now = self._clock()
        result = _Pass()
        version = str((body.get("metadata") or {}).get("resourceVersion") or "")
        if self.sinks.slack is not None:
            claimed = await self._slack(notice, state.slack or SlackState(), version, now, result)
            if claimed is None:
                return None
        if self.sinks.teams_url is not None:
            await self._teams(notice, state.teams or SentState(), now, result)
        if self.sinks.cloudevents_url is not None:
            await self._cloudevent(notice, state.cloud_events or SentState(), now, result)
        await self._record(notice, state, result, now)
        return result

    async def _slack(
        self, notice: Notice, state: SlackState, version: str, now: datetime, result: _Pass
    ) -> str | None:
        slack = self.sinks.slack
        assert slack is not None
        channel = state.channel or channel_for(notice, self._policy)
        if channel is None:
            result.skips.append(Skip("NoSlackChannel", "no Slack channel routes this Incident"))
            return version
        blocks = render_blocks(notice, approvable=self._approvable)
        blocks_digest = digest(blocks)
        plan = plan_slack(notice, state, blocks_digest, self._policy, now, holder=self.holder)
        if plan.skip is not None and plan.skip.reason:
            result.skips.append(plan.skip)
        if plan.action in ("none", "wait"):
            return version
        text = blocks_as_text(blocks)
        shown = {
            "digest": blocks_digest,
            "updated_at": now,
            "phase": notice.phase,
            "category": notice.category,
            "action": notice.top_action,
            "reopened": notice.reopened,
            "failures": 0,
            "failed_digest": None,
            "error": None,
            "error_at": None,
        }
        try:
            if plan.action == "post":
                # Claim first: a write that fails if anyone changed the Incident since we
                # read it, so of two replicas only one goes on to post.
                # A claim without a ts (ours from before a restart, or an abandoned one)
                # or a failed attempt may have posted after all: look before posting.
                lost_answer = state.failures > 0 or state.claimed_by is not None
                claimed = state.model_copy(update={"claimed_by": self.holder, "claimed_at": now})
                written = await self._write(
                    notice, {"notifications": {"slack": _dump(claimed)}}, version
                )
                if written is None:
                    return None
                version = written
                found = await self._find(slack, channel, notice.uid) if lost_answer else None
                posted = found or await slack.post(
                    channel, text=text, blocks=blocks, uid=notice.uid
                )
                if found is not None:
                    await slack.update(found.channel, found.ts, text=text, blocks=blocks)
                new = SlackState(
                    channel=posted.channel,
                    ts=posted.ts,
                    posted_at=now,
                    claimed_by=self.holder,
                    claimed_at=now,
                    **shown,
                )
                result.sent.append("slack: posted")
            else:
                assert state.channel is not None
                assert state.ts is not None
                await slack.update(state.channel, state.ts, text=text, blocks=blocks)
                replied = {}
                if plan.reply is not None:
                    await slack.reply(state.channel, state.ts, text=redact_text(plan.reply))
                    replied = {"replies": state.replies + 1, "last_reply_at": now}
                new = state.model_copy(update={**shown, **replied})
                result.sent.append("slack: updated" + (" and replied" if replied else ""))
        except SlackError as error:
            failures = state.failures + 1 if state.failed_digest == blocks_digest else 1
            new = state.model_copy(
                update={
                    "failures": failures,
                    "failed_digest": blocks_digest,
                    "error": redact_text(str(error))[:500],
                    "error_at": now,
                    "claimed_by": None,
                    "claimed_at": None,
                }
            )
            result.failed.append(("Slack", str(error)))
        result.updates["slack"] = _dump(new)
        return version

    @staticmethod
    async def _find(slack: SlackClient, channel: str, uid: str) -> PostedMessage | None:
        """The message an earlier attempt may have posted. Without the channels:history
        scope the post goes ahead (said in the log); any other failure to look is a failed
        attempt, retried later, because posting blind could show the message twice."""
        try:
            return await slack.find(channel, uid)
        except SlackError as error:
            if error.code != "missing_scope":
                raise
            log.warning("cannot look for an earlier Slack message: %s", error)
            return None

    async def _teams(self, notice: Notice, state: SentState, now: datetime, result: _Pass) -> None:
        plan = plan_teams(notice, state, self._policy, now)
        if plan.skip is not None and plan.skip.reason:
            result.skips.append(plan.skip)
        if not plan.send:
            return
        assert self.sinks.poster is not None
        assert self.sinks.teams_url is not None
        body = teams_card(notice)
        try:
            await self.sinks.poster.post(
                self.sinks.teams_url,
                json.dumps(body).encode(),
                {"Content-Type": "application/json"},
            )
        except DeliveryError as error:
            result.updates["teams"] = _dump(self._failed(state, plan.transition, error, now))
            result.failed.append(("Teams", str(error)))
            return
        result.updates["teams"] = _dump(SentState(transition=plan.transition, sent_at=now))
        result.sent.append("teams: card sent")

    async def _cloudevent(
        self, notice: Notice, state: SentState, now: datetime, result: _Pass
    ) -> None:
        plan = plan_cloudevent(notice, state, self._policy, now)
        if plan.skip is not None and plan.skip.reason:
            result.skips.append(plan.skip)
        if not plan.send or plan.event_type is None:
            return
        assert self.sinks.poster is not None
        assert self.sinks.cloudevents_url is not None
        event = cloud_event(
            notice, plan.event_type, source=self._settings.cloudevents_source, now=now
        )
        headers, payload = structured(event)
        try:
            await self.sinks.poster.post(self.sinks.cloudevents_url, payload, headers)
        except DeliveryError as error:
            result.updates["cloudEvents"] = _dump(self._failed(state, plan.transition, error, now))
            result.failed.append(("CloudEvents", str(error)))
            return
        result.updates["cloudEvents"] = _dump(
            SentState(transition=plan.event_type, event_id=plan.event_id, sent_at=now)
        )
        result.sent.append(f"cloudevents: {plan.event_type}")

    @staticmethod
    def _failed(state: SentState, key: str, error: Exception, now: datetime) -> SentState:
        failures = state.failures + 1 if state.failed_transition == key else 1
        return state.model_copy(
            update={
                "failures": failures,
                "failed_transition": key,
                "error": redact_text(str(error))[:500],
                "error_at": now,
            }
        )

    # ------------------------------------------------------------------ status

    def _condition(
        self, state: NotificationsStatus, result: _Pass, now: datetime
    ) -> Condition | None:
        if result.failed:
            sink, _ = result.failed[0]
            message = "; ".join(f"{s}: {e}" for s, e in result.failed)
            if result.sent:
                message += "; sent: " + ", ".join(result.sent)
            return condition("Notified", "False", f"{sink}Failed", redact_text(message), now=now)
        if result.sent:
            return condition("Notified", "True", "Sent", "; ".join(result.sent), now=now)
        nothing_sent_yet = not (state.slack or state.teams or state.cloud_events)
        reasons = [skip for skip in result.skips if skip.reason]
        if reasons and nothing_sent_yet:
            return condition("Notified", "False", reasons[0].reason, reasons[0].message, now=now)
        return None

    async def _record(
        self, notice: Notice, state: NotificationsStatus, result: _Pass, now: datetime
    ) -> None:
        notified = self._condition(state, result, now)
        if not result.updates and notified is None:
            return
        for _ in range(_WRITE_ATTEMPTS):
            body = await self._incidents.get(notice.namespace, notice.name)
            status = body.get("status") or {}
            patch: dict[str, Any] = {}
            if result.updates:
                patch["notifications"] = result.updates
            if notified is not None:
                existing = parse_conditions(status.get("conditions"))
                current = next((c for c in existing if c.type == "Notified"), None)
                if current is None or (current.status, current.reason, current.message) != (
                    notified.status,
                    notified.reason,
                    notified.message,
                ):
                    patch["conditions"] = conditions_body(merge_conditions(existing, [notified]))
            if not patch:
                return
            version = str(body["metadata"].get("resourceVersion") or "")
            if await self._write(notice, patch, version) is not None:
                return
        log.warning("could not record notifications of %s: the Incident kept changing", notice.ref)

    async def _write(self, notice: Notice, status: dict[str, Any], version: str) -> str | None:
        """A status patch that applies only at ``version``; the new resourceVersion, or None
        when someone wrote in between (409)."""
        try:
            written = await self._incidents.patch_status(
                notice.namespace, notice.name, status, resource_version=version or None
            )
        except ApiException as error:
            if error.status == 409:
                return None
            raise
        return str(written["metadata"]["resourceVersion"])

"""What to send for an Incident, decided from its ``Notice`` and what the notifier last
recorded in ``status.notifications``. Pure: routing (namespace, severity, category), the
minimum confidence, the quiet period, and the one-message-per-Incident rule for Slack."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from kubetriage.models.incident import Phase
from kubetriage.models.notify import NotifyRoute, SentState, SinkName, SlackState
from kubetriage.notify.content import Notice, event_id, event_type, transition

# A claim older than this is abandoned (its replica died between claiming and posting).
CLAIM_TTL = timedelta(minutes=2)
NOTIFIABLE = frozenset({Phase.DIAGNOSED.value, Phase.FAILED.value, Phase.RESOLVED.value})
EVERYTHING = NotifyRoute()


@dataclass(frozen=True)
class Policy:
    """The routing and noise settings, as the planner needs them."""

    routes: list[NotifyRoute]
    min_confidence: float
    quiet_period: timedelta
    max_attempts: int
    retry_delay: timedelta
    default_channel: str | None


def route_for(notice: Notice, routes: list[NotifyRoute]) -> NotifyRoute | None:
    """The first route matching the Incident; with no routes configured, everything goes
    everywhere configured."""
    if not routes:
        return EVERYTHING
    for route in routes:
        if not any(fnmatch.fnmatchcase(notice.namespace, g) for g in route.namespaces):
            continue
        if route.severities and notice.severity not in {s.value for s in route.severities}:
            continue
        if route.categories and notice.category not in {c.value for c in route.categories}:
            continue
        return route
    return None


@dataclass(frozen=True)
class Skip:
    """Nothing is sent, for a reason worth showing in the ``Notified`` condition (or not,
    when ``reason`` is empty)."""

    reason: str = ""
    message: str = ""


def gate(notice: Notice, policy: Policy, sink: SinkName, already_sent: bool) -> Skip | None:
    """Whether ``sink`` may say anything about ``notice`` at all. Once something was sent,
    routing and the confidence floor no longer hold back its updates (so a message is
    resolved even if the last re-diagnosis dropped below the floor)."""
    route = route_for(notice, policy.routes)
    if route is None:
        return Skip("NotRouted", "no notification route matches this Incident")
    if sink not in route.sinks:
        return Skip()
    if already_sent:
        return None
    if notice.phase not in NOTIFIABLE or notice.phase == Phase.RESOLVED.value:
        return Skip()
    floor = route.min_confidence if route.min_confidence is not None else policy.min_confidence
    if notice.phase == Phase.DIAGNOSED.value and (notice.confidence or 0.0) < floor:
        return Skip(
            "BelowMinConfidence",
            f"confidence {notice.confidence or 0.0:.2f} is below the notification floor "
            f"{floor:.2f}",
        )
    return None


def channel_for(notice: Notice, policy: Policy) -> str | None:
    route = route_for(notice, policy.routes)
    return (route.slack_channel if route else None) or policy.default_channel


def _gave_up(
    failures: int,
    failed_key: str | None,
    key: str,
    failed_at: datetime | None,
    policy: Policy,
    now: datetime,
) -> bool:
    if failed_key != key or failures == 0:
        return False
    if failures >= policy.max_attempts:
        return True
    return failed_at is not None and now - failed_at < policy.retry_delay


@dataclass(frozen=True)
class SlackPlan:
    action: Literal["post", "update", "none", "wait"]
    reply: str | None = None
    skip: Skip | None = None


def plan_slack(
    notice: Notice,
    state: SlackState,
    blocks_digest: str,
    policy: Policy,
    now: datetime,
    *,
    holder: str,
) -> SlackPlan:
    """Post once, then update in place; a re-fire or a changed diagnosis also gets one
    threaded reply (at most one per quiet period); "wait" while another replica holds a
    fresh claim."""
    skip = gate(notice, policy, "slack", already_sent=state.ts is not None)
    if skip is not None:
        return SlackPlan("none", skip=skip)
    if _gave_up(state.failures, state.failed_digest, blocks_digest, state.error_at, policy, now):
        return SlackPlan("none")
    if state.ts is None:
        if (
            state.claimed_by not in (None, holder)
            and state.claimed_at is not None
            and now - state.claimed_at < CLAIM_TTL
        ):
            return SlackPlan("wait")
        return SlackPlan("post")
    reply: str | None = None
    if notice.reopened > state.reopened:
        reply = f"Fired again after resolution ({notice.reopened} time(s)); investigating again."
    elif (
        notice.phase == Phase.DIAGNOSED.value
        and state.category is not None
        and (notice.category, notice.top_action) != (state.category, state.action)
    ):
        reply = (
            f"Diagnosis changed: {state.category}"
            + (f" ({state.action})" if state.action else "")
            + f" → {notice.category}"
            + (f" ({notice.top_action})" if notice.top_action else "")
            + (f": {notice.summary}" if notice.summary else "")
        )
    quiet = state.last_reply_at is not None and now - state.last_reply_at < policy.quiet_period
    if reply is not None and quiet:
        reply = None  # flapping: the message is updated, the thread stays quiet
    if blocks_digest == state.digest and reply is None:
        return SlackPlan("none")
    return SlackPlan("update", reply=reply)


@dataclass(frozen=True)
class SendPlan:
    send: bool
    transition: str = ""
    event_type: str | None = None
    event_id: str | None = None
    skip: Skip | None = None


def plan_teams(notice: Notice, state: SentState, policy: Policy, now: datetime) -> SendPlan:
    """One card per transition, at most one per quiet period except the resolution."""
    key = transition(notice)
    skip = gate(notice, policy, "teams", already_sent=state.transition is not None)
    if skip is not None:
        return SendPlan(False, key, skip=skip)
    if notice.phase not in NOTIFIABLE or key == state.transition:
        return SendPlan(False, key)
    if _gave_up(state.failures, state.failed_transition, key, state.error_at, policy, now):
        return SendPlan(False, key)
    quiet = state.sent_at is not None and now - state.sent_at < policy.quiet_period
    if quiet and notice.phase != Phase.RESOLVED.value:
        return SendPlan(False, key)
    return SendPlan(True, key)


def plan_cloudevent(notice: Notice, state: SentState, policy: Policy, now: datetime) -> SendPlan:
    """One event per transition; its id is stable, so a retried send is deduplicated by
    the receiver."""
    type_ = event_type(notice)
    if type_ is None:
        return SendPlan(False)
    key = event_id(notice, type_)
    skip = gate(notice, policy, "cloudevents", already_sent=state.event_id is not None)
    if skip is not None:
        return SendPlan(False, key, skip=skip)
    if key == state.event_id or _gave_up(
        state.failures, state.failed_transition, key, state.error_at, policy, now
    ):
        return SendPlan(False, key)
    return SendPlan(True, key, event_type=type_, event_id=key)

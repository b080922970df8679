"""Notification routing (settings) and what the notifier remembers in
``status.notifications`` (so a restarted or second replica never posts twice). Pure models;
the notifier is ``kubetriage.notify``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from kubetriage.models.base import K8sModel
from kubetriage.models.vocabulary import Category, Severity

SinkName = Literal["slack", "teams", "cloudevents"]
ALL_SINKS: tuple[SinkName, ...] = ("slack", "teams", "cloudevents")


class NotifyRoute(K8sModel):
    """Which incidents go to which sinks; the first matching route wins. An empty list of
    severities or categories matches all; namespaces are globs."""

    namespaces: list[str] = Field(default_factory=lambda: ["*"])
    severities: list[Severity] = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=list)
    sinks: list[SinkName] = Field(default_factory=lambda: list(ALL_SINKS))
    # Overrides KUBETRIAGE_SLACK_CHANNEL for incidents on this route.
    slack_channel: str | None = None
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)


class SlackState(K8sModel):
    """The one Slack message of an Incident and what it last showed."""

    channel: str | None = None
    ts: str | None = None
    # A replica about to post claims the message first (a write with a resourceVersion
    # precondition, so only one of two racing replicas wins).
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    posted_at: datetime | None = None
    updated_at: datetime | None = None
    digest: str | None = None  # of the last blocks posted or updated
    phase: str | None = None
    category: str | None = None
    action: str | None = None
    reopened: int = 0
    replies: int = 0
    last_reply_at: datetime | None = None
    failures: int = 0
    failed_digest: str | None = None
    error: str | None = None
    error_at: datetime | None = None


class SentState(K8sModel):
    """A sink that cannot edit what it sent (Teams, CloudEvents): the last transition sent."""

    transition: str | None = None
    event_id: str | None = None
    sent_at: datetime | None = None
    failures: int = 0
    failed_transition: str | None = None
    error: str | None = None
    error_at: datetime | None = None


class NotificationsStatus(K8sModel):
    slack: SlackState | None = None
    teams: SentState | None = None
    cloud_events: SentState | None = None

"""What every reaction to an Incident works with: the operator's context (settings, pipeline
stages, the Incident store, memory, metrics, notifier), the Incident as a handler sees it, and
how a reaction says that it failed. No Kopf here: ``kubetriage.handlers`` turns a ``Failure``
into Kopf's permanent or temporary error and posts the Events a reaction asks for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from kubernetes import client as k8s

from kubetriage.incidents import IncidentStore
from kubetriage.memory.records import MemoryRecord
from kubetriage.metrics import OperatorMetrics
from kubetriage.models.incident import Phase
from kubetriage.pipeline import Stages
from kubetriage.settings import Settings

# Phases after a diagnosis: a new generation seen in them is acknowledged, not diagnosed.
SETTLED_PHASES = frozenset({Phase.DIAGNOSED.value, Phase.FAILED.value, Phase.RESOLVED.value})
# Kopf hands each handler a logger whose warnings are also posted as Events.
Logger = logging.Logger | logging.LoggerAdapter[Any]


class MemoryWriter(Protocol):
    async def store(self, record: MemoryRecord, text: str) -> str: ...


class NotifyQueue(Protocol):
    """``kubetriage.notify.Notifier``: takes an Incident to look at and returns at once."""

    def enqueue(self, namespace: str, name: str) -> None: ...

    async def aclose(self) -> None: ...


class PostEvent(Protocol):
    """Posts a Kubernetes Event on the Incident being handled (Kopf's ``kopf.event``)."""

    def __call__(self, type: Literal["Normal", "Warning"], reason: str, message: str) -> None: ...


@dataclass(frozen=True)
class OperatorContext:
    settings: Settings
    stages: Stages
    incidents: IncidentStore
    api_client: k8s.ApiClient
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # Where resolved incidents with feedback are learned; None when memory is disabled.
    memory: MemoryWriter | None = None
    # Prometheus metrics of this operator (served on settings.metrics_port); None = off.
    metrics: OperatorMetrics | None = None
    # Slack / Teams / CloudEvents, after the status is written; None = no sink configured.
    notifier: NotifyQueue | None = None


@dataclass(frozen=True)
class Failure:
    """A reaction that did not succeed: ``message`` for Kopf's log, ``cause`` the error
    behind it, and ``retry_after`` seconds when it is worth another attempt (None: never)."""

    message: str
    cause: BaseException
    retry_after: float | None = None

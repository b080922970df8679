"""Writes one batch of notifications into its Incident through the Kubernetes API.

Called by the receiver's workers (``kubetriage.receiver.server``); the decisions are made by
the pure ``kubetriage.receiver.state.plan_write``, this module only does the I/O and the
retries:

- read the Incident (or reuse the body of our own last write to it); absent: create it
  (``409 AlreadyExists``: someone else created it first, read again and patch), then patch
  its status;
- present: patch spec and status as merge patches carrying the ``resourceVersion`` that was
  read (``409 Conflict``: read again, plan again). The plan is idempotent per batch, so a
  retry after a half-done write does not count a notification twice;
- transient API errors (5xx, 429, timeouts, connection errors) are retried with backoff.

Every call goes through ``kubetriage.incidents.IncidentStore``, the one Incident client (which
also keeps each status write within the Incident's size bound).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from kubetriage.incidents import IncidentStore
from kubetriage.receiver.state import (
    IncidentWrite,
    Notification,
    Placement,
    new_incident,
    placement,
    plan_write,
    should_create,
)
from kubetriage.tenancy import Tenancy

log = logging.getLogger(__name__)

MAX_CONFLICTS = 30
MAX_TRANSIENT = 8
RECENT_INCIDENTS = 1024  # last written Incidents kept to skip a read (LRU)
_TRANSIENT_STATUS = frozenset({0, 429, 500, 502, 503, 504})

Outcome = Literal["created", "updated", "unchanged", "skipped"]


class _Conflict(Exception):
    """Someone wrote the Incident between our read and our write: read again."""


@dataclass(frozen=True)
class WriteResult:
    outcome: Outcome
    namespace: str | None
    name: str
    transition: str | None = None


def _namespace_missing(error: ApiException) -> bool:
    try:
        details = json.loads(error.body or "{}").get("details") or {}
    except (ValueError, AttributeError):
        return False
    return error.status == 404 and details.get("kind") == "namespaces"


async def _unless_changed(write: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """A write carrying the resourceVersion we read; 409 (changed) or 404 (deleted) since
    that read is a ``_Conflict``: read again and plan again."""
    try:
        return await write
    except ApiException as error:
        if error.status in (404, 409):
            raise _Conflict from error
        raise


class IncidentWriter:
    def __init__(
        self,
        store: IncidentStore,
        *,
        incident_namespace: str,
        watched_namespaces: list[str],
        max_alerts: int,
        tenancy: Tenancy,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._incident_namespace = incident_namespace
        self._watched = watched_namespaces
        self._max_alerts = max_alerts
        self._tenancy = tenancy
        self._sleep = sleep
        self._recent: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()

    def place(self, notification: Notification) -> Placement:
        return placement(
            notification.payload,
            incident_namespace=self._incident_namespace,
            watched=self._watched,
        )

    async def apply(self, batch: list[Notification]) -> WriteResult:
        """Write ``batch`` (one group, oldest first); raises when retries are exhausted."""
        batch_id = uuid.uuid4().hex
        conflicts = transient = 0
        while True:
            try:
                return await self._attempt(batch, batch_id)
            except _Conflict:
                conflicts += 1
                if conflicts >= MAX_CONFLICTS:
                    raise
                await self._sleep(random.uniform(0, 0.01 * conflicts))
            except (ApiException, HTTPError, OSError, TimeoutError) as error:
                status = error.status if isinstance(error, ApiException) else 0
                transient += 1
                if status not in _TRANSIENT_STATUS or transient >= MAX_TRANSIENT:
                    raise
                delay = min(5.0, 0.1 * 2**transient) * random.uniform(0.5, 1.0)
                log.warning("retrying an Incident write in %.2fs: %s", delay, error)
                await self._sleep(delay)

    async def _attempt(self, batch: list[Notification], batch_id: str) -> WriteResult:
        where = self.place(batch[-1])
        found = self._recent.pop(where.name, None) or await self._find(where)
        if found is None:
            if not should_create(batch):
                return WriteResult("skipped", None, where.name)
            namespace, write, created = await self._create(where, batch, batch_id)
            written = await self._patch_status(namespace, where.name, write, created)
            self._remember(where.name, namespace, written)
            return WriteResult("created", namespace, where.name)
        namespace, current = found
        write = await self._plan(current, batch, batch_id, namespace)
        written = current
        if write.status_first:
            written = await self._patch_status(namespace, where.name, write, written)
        if write.spec_patch is not None:
            written = await _unless_changed(
                self._store.patch(
                    namespace, where.name, write.spec_patch, resource_version=_rv(written)
                )
            )
        if not write.status_first:
            written = await self._patch_status(namespace, where.name, write, written)
        self._remember(where.name, namespace, written)
        outcome: Outcome = "updated" if write.spec_patch or write.transition else "unchanged"
        return WriteResult(outcome, namespace, where.name, write.transition)

    async def _plan(
        self,
        existing: dict[str, Any] | None,
        batch: list[Notification],
        batch_id: str,
        namespace: str,
    ) -> IncidentWrite:
        """``plan_write`` in a thread: a group of a thousand alerts takes long enough to
        delay ``/healthz`` when planned on the event loop."""
        return await asyncio.to_thread(
            plan_write,
            existing,
            batch,
            batch_id=batch_id,
            max_alerts=self._max_alerts,
            scope=self._tenancy.scope(namespace),
        )

    def _remember(self, name: str, namespace: str, body: dict[str, Any]) -> None:
        """Keep what we last wrote, so the next batch of the group skips the read. If anyone
        wrote since (the operator's status, say), the resourceVersion no longer matches, the
        patch gets 409, and the retry reads afresh (the entry was popped when used)."""
        self._recent[name] = (namespace, body)
        self._recent.move_to_end(name)
        while len(self._recent) > RECENT_INCIDENTS:
            self._recent.popitem(last=False)

    async def _find(self, where: Placement) -> tuple[str, dict[str, Any]] | None:
        for namespace in where.namespaces:
            body = await self._store.find(namespace, where.name)
            if body is not None:
                return namespace, body
        return None

    async def _create(
        self, where: Placement, batch: list[Notification], batch_id: str
    ) -> tuple[str, IncidentWrite, dict[str, Any]]:
        for index, namespace in enumerate(where.namespaces):
            write = await self._plan(None, batch, batch_id, namespace)
            try:
                created = await self._store.create(
                    namespace, new_incident(where.name, namespace, write)
                )
            except ApiException as error:
                if error.status == 409:
                    raise _Conflict from error
                last = index == len(where.namespaces) - 1 or not where.create_fallback
                if _namespace_missing(error) and not last:
                    continue
                raise
            return namespace, write, created
        raise AssertionError("unreachable: the last namespace either returns or raises")

    async def _patch_status(
        self, namespace: str, name: str, write: IncidentWrite, read: dict[str, Any]
    ) -> dict[str, Any]:
        """The write's status patch, at the resourceVersion of ``read`` (what we last read
        or wrote)."""
        return await _unless_changed(
            self._store.patch_status(
                namespace, name, write.status_patch, resource_version=_rv(read)
            )
        )


def _rv(body: dict[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("resourceVersion", ""))

"""A stand-in for the list and read calls of ``kubetriage.evidence.reader.Reader``
(``list_of``, ``add_listed``, ``read``; every kind readable) over a fixed list of objects,
for unit tests of a live walk's follow-up reads without an apiserver. Objects are filtered
by kind, namespace (None: every namespace), field selector and label selector with the API
emulator's selector parsers (``kubetriage.replay.emulator.selectors``), so set-based terms
mean what the API says; every list request is recorded in ``asked``. Integration tests read
through the real reader instead. ``reconciler_reads``: what the reconciler walk reads
through it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.reconciler_walk import follow_reconcilers
from kubetriage.models.incident import Alert
from kubetriage.replay.emulator.selectors import field_selector, label_selector
from kubetriage.tenancy import Scope
from tests.support.evidence import NOW


class ListingReader:
    """Lists ``objects`` by kind, namespace and label selector, as the API does."""

    def __init__(self, objects: Iterable[dict[str, Any]]) -> None:
        self.objects = list(objects)
        # (kind, namespace, label selector) of each list request, in order.
        self.asked: list[tuple[str, str | None, str]] = []
        # (namespace, pod, container) of each log tail asked for, in order.
        self.tails: list[tuple[str, str, str]] = []

    async def list_of(
        self, run: CollectionRun, kind: str, namespace: str | None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        selector = kwargs.get("label_selector") or ""
        self.asked.append((kind, namespace, selector))
        matches, fields = label_selector(selector), field_selector(kwargs.get("field_selector"))
        return [
            o
            for o in self.objects
            if o["kind"] == kind
            and namespace in (None, o["metadata"].get("namespace"))
            and matches(o)
            and fields(o)
        ]

    def readable(self, kind: str) -> bool:
        return True

    def listable(self, kind: str) -> bool:
        return True

    def listable_everywhere(self, kind: str) -> bool:
        return True

    async def read(
        self, run: CollectionRun, kind: str, namespace: str | None, name: str, **kwargs: Any
    ) -> dict[str, Any] | None:
        """The object of ``kind`` named ``name`` (in ``namespace``), kept in ``run``."""
        for o in self.objects:
            meta = o["metadata"]
            if o["kind"] == kind and meta["name"] == name and meta.get("namespace") == namespace:
                return run.add(o)
        return None

    async def log(
        self, run: CollectionRun, namespace: str, pod: str, container: str, **kwargs: Any
    ) -> None:
        """Record the tail asked for (no log is served)."""
        self.tails.append((namespace, pod, container))

    async def add_listed(
        self, run: CollectionRun, kind: str, namespace: str | None, **kwargs: Any
    ) -> None:
        for obj in await self.list_of(run, kind, namespace, **kwargs):
            run.add(obj)


def reconciler_reads(
    read: Sequence[dict[str, Any]],
    cluster: Iterable[dict[str, Any]],
    scope: Scope,
    alerts: Sequence[Alert] = (),
) -> set[str]:
    """What ``follow_reconcilers`` reads beyond ``read`` (the objects the walk already
    holds) from ``cluster`` (listed through ``ListingReader``), as "Kind/namespace/name", at
    the shared test moment ``tests.support.evidence.NOW``."""
    run = CollectionRun(asyncio.Semaphore(1))
    for obj in read:
        run.add(obj)
    reader = ListingReader(cluster)
    asyncio.run(follow_reconcilers(reader, run, list(alerts), NOW, scope))  # type: ignore[arg-type]
    known = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in read}
    return {f"{k}/{ns}/{name}" for k, ns, name in run.objects if (k, ns, name) not in known}

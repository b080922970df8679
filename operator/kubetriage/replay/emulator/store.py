"""The object store: objects per group-resource, the global resourceVersion counter, the
bounded event history that watches replay from, and the live watch subscriptions.

Owned by ``KubeEmulator`` (``server.py``) and only touched from the server's event loop
(the thread-backed flavour marshals calls onto that loop). Stored objects are treated as
immutable: writers always store a fresh dict, so events can share them safely.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JsonObj = dict[str, Any]
ResourceKey = tuple[str, str]  # (group, plural)
ObjectKey = tuple[str, str]  # (namespace or "", name)


@dataclass(frozen=True)
class StoredEvent:
    """One change: the new object (for DELETED: the last state) and the previous one."""

    resource_version: int
    type: str
    key: ResourceKey
    obj: JsonObj
    old: JsonObj | None


@dataclass(eq=False)
class Subscription:
    """A live watch: events for one group-resource are queued for its handler."""

    key: ResourceKey
    queue: asyncio.Queue[StoredEvent | None] = field(default_factory=asyncio.Queue)

    def close(self) -> None:
        self.queue.put_nowait(None)


class Store:
    def __init__(self, history_limit: int = 10_000) -> None:
        self._objects: dict[ResourceKey, dict[ObjectKey, JsonObj]] = {}
        self._history: deque[StoredEvent] = deque()
        self._history_limit = history_limit
        self._revision = 0
        # Watches starting below this revision cannot be served: 410 Gone.
        self._compacted = 0
        self._subscriptions: set[Subscription] = set()

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def compacted(self) -> int:
        return self._compacted

    def next_revision(self) -> int:
        self._revision += 1
        return self._revision

    def get(self, key: ResourceKey, namespace: str, name: str) -> JsonObj | None:
        return self._objects.get(key, {}).get((namespace, name))

    def list_objects(self, key: ResourceKey, namespace: str | None = None) -> list[JsonObj]:
        bucket = self._objects.get(key, {})
        return [
            obj for (ns, _), obj in sorted(bucket.items()) if namespace is None or ns == namespace
        ]

    def put(self, key: ResourceKey, obj: JsonObj, event_type: str, old: JsonObj | None) -> None:
        meta = obj["metadata"]
        self._objects.setdefault(key, {})[(meta.get("namespace", ""), meta["name"])] = obj
        self._emit(StoredEvent(int(meta["resourceVersion"]), event_type, key, obj, old))

    def remove(self, key: ResourceKey, obj: JsonObj) -> None:
        meta = obj["metadata"]
        self._objects.get(key, {}).pop((meta.get("namespace", ""), meta["name"]), None)
        self._emit(StoredEvent(int(meta["resourceVersion"]), "DELETED", key, obj, obj))

    def drop_resource(self, key: ResourceKey) -> list[JsonObj]:
        return list(self._objects.pop(key, {}).values())

    def _emit(self, event: StoredEvent) -> None:
        self._history.append(event)
        while len(self._history) > self._history_limit:
            dropped = self._history.popleft()
            self._compacted = dropped.resource_version
        for sub in list(self._subscriptions):
            if sub.key == event.key:
                sub.queue.put_nowait(event)

    def compact(self) -> None:
        """Forget all history, like an etcd compaction at the current revision."""
        self._history.clear()
        self._compacted = self._revision

    def events_after(
        self, key: ResourceKey, revision: int, where: Callable[[StoredEvent], bool] | None = None
    ) -> list[StoredEvent]:
        return [
            e
            for e in self._history
            if e.key == key and e.resource_version > revision and (where is None or where(e))
        ]

    def subscribe(self, key: ResourceKey) -> Subscription:
        sub = Subscription(key)
        self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)

    def close_subscriptions(self) -> int:
        subs = list(self._subscriptions)
        for sub in subs:
            sub.close()
        return len(subs)

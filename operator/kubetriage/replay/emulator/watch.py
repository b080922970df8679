"""Watches: the initial list or the history since a resourceVersion, then live
events, bookmarks, 410 Gone for expired versions, as the real server streams them.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from . import tables
from .crud import Crud
from .errors import ApiError, gone
from .selectors import field_selector, label_selector
from .state import JsonObj, Target, truthy
from .store import StoredEvent


class Watch(Crud):
    """Watch streams over the store's event history."""

    async def _watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        query = request.query
        labels = label_selector(query.get("labelSelector"))
        fields = field_selector(query.get("fieldSelector"))
        rt = t.rt

        def matches(obj: JsonObj | None) -> bool:
            if obj is None:
                return False
            if t.namespace and obj["metadata"].get("namespace") != t.namespace:
                return False
            return labels(obj) and fields(obj)

        def translate(event: StoredEvent) -> JsonObj | None:
            """Selector-aware event typing: objects moving out of a selector are DELETED
            for this watcher, objects moving in are ADDED -- as the real watch cache does."""
            new_ok = matches(event.obj)
            old_ok = matches(event.old) if event.type == "MODIFIED" else new_ok
            if event.type == "MODIFIED" and new_ok != old_ok:
                kind = "ADDED" if new_ok else "DELETED"
            elif new_ok:
                kind = event.type
            else:
                return None
            return {"type": kind, "object": self._out(rt, event.obj)}

        raw_rv = query.get("resourceVersion", "")
        try:
            since = int(raw_rv) if raw_rv else 0
        except ValueError as exc:
            raise ApiError(400, f"invalid resource version: {raw_rv}") from exc
        try:
            timeout = float(query.get("timeoutSeconds", "1800"))
        except ValueError:
            timeout = 1800.0
        bookmarks = truthy(query.get("allowWatchBookmarks"))
        as_table = "as=Table" in request.headers.get("Accept", "")
        headers_sent = False

        def present(item: JsonObj) -> JsonObj:
            """``kubectl get -w`` asks for Tables: one row per event, column definitions
            only in the first event (later ones reuse them, as with the real server)."""
            nonlocal headers_sent
            if not as_table:
                return item
            table = tables.to_table(
                rt, [item["object"]], item["object"]["metadata"]["resourceVersion"]
            )
            if headers_sent:
                table["columnDefinitions"] = []
            headers_sent = True
            return {"type": item["type"], "object": table}

        # Subscribing and snapshotting happen without an await in between: nothing is
        # missed and nothing is sent twice.
        sub = self._store.subscribe(rt.key)
        sub_skip = self._store.revision
        backlog: list[JsonObj] = []
        expired: ApiError | None = None
        if self._expire_next_watches > 0:
            self._expire_next_watches -= 1
            expired = gone(since, self._store.revision)
        elif since and since < self._store.compacted:
            expired = gone(since, self._store.compacted)
        elif since == 0:
            backlog = [
                {"type": "ADDED", "object": self._out(rt, o)}
                for o in self._store.list_objects(rt.key, t.namespace or None)
                if matches(o)
            ]
        else:
            backlog = [e for e in map(translate, self._store.events_after(rt.key, since)) if e]

        response = web.StreamResponse(status=200)
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            if expired is not None:
                await self._send(response, {"type": "ERROR", "object": expired.status()})
                return response
            for item in backlog:
                await self._send(response, present(item))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                wait = min(remaining, self._bookmark_interval) if bookmarks else remaining
                try:
                    event = await asyncio.wait_for(sub.queue.get(), timeout=wait)
                except TimeoutError:
                    if bookmarks and deadline - loop.time() > 0:
                        await self._send(
                            response,
                            {
                                "type": "BOOKMARK",
                                "object": {
                                    "kind": rt.kind,
                                    "apiVersion": rt.api_version,
                                    "metadata": {"resourceVersion": str(self._store.revision)},
                                },
                            },
                        )
                    continue
                if event is None:
                    break
                if event.resource_version <= sub_skip:
                    continue
                translated = translate(event)
                if translated is not None:
                    await self._send(response, present(translated))
        except ConnectionResetError:
            pass  # the client went away; nothing to clean up beyond the subscription
        finally:
            self._store.unsubscribe(sub)
        return response

    @staticmethod
    async def _send(response: web.StreamResponse, item: JsonObj) -> None:
        await response.write(json.dumps(item).encode() + b"\n")

"""One request of the evidence collector to the API server, and its error policy.

``CollectionRun`` is what one ``collect`` call has gathered so far, with its request gate;
``ApiRequests`` makes each request through the official synchronous ``kubernetes`` client in
a worker thread (``asyncio.to_thread``), bounded by the run's gate, or takes the answer of
the same request another diagnosis made a moment ago (``ReadCache``), and parses the raw JSON
it returns. ``KubeReader`` (``kubetriage.evidence.reader``) reads every kind through it.

Errors: a failing optional call becomes a line in the run's ``errors`` and marks its kind
unavailable (its absence then means "unknown"); a ``core`` call (the target lookup) raises
``TemporaryCollectionError`` on 5xx, 429 and connection failures, so the operator retries.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from kubetriage.errors import RetryableError
from kubetriage.evidence.raw import obj_key
from kubetriage.evidence.readcache import ReadCache
from kubetriage.kubeclient import raw_body
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict


class TemporaryCollectionError(RetryableError):
    """The API server was unreachable or failing (5xx, 429, timeout); worth retrying."""


@dataclass
class CollectionRun:
    """What one ``collect`` call has gathered so far, and its request gate."""

    gate: asyncio.Semaphore
    objects: dict[tuple[str, str, str], JsonDict] = field(default_factory=dict)
    # Every tail read, each marked with why (``LogTail.source``), in the order read.
    logs: list[LogTail] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)
    unavailable: set[str] = field(default_factory=set)

    def add(self, obj: JsonDict | None) -> JsonDict | None:
        if obj is None:
            return None
        key = obj_key(obj)
        self.objects.setdefault(key, obj)
        return self.objects[key]

    def error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)


def _kept_error(error: BaseException) -> bool:
    """A failed read that is an answer worth sharing: the object or the resource type does not
    exist (404), the operator may not read it (403), or there is nothing to read (400: no
    previous container); not a failure worth retrying (5xx, 429, connection errors)."""
    return isinstance(error, ApiException) and error.status in {400, 403, 404}


class ApiRequests:
    """Raw API requests with the collector's error policy, for ``KubeReader`` to read through.
    ``shared``: the operator's ``ReadCache``, when concurrent diagnoses share their reads."""

    def __init__(self, *, request_timeout: float, shared: ReadCache | None) -> None:
        self._timeout = request_timeout
        self._shared = shared

    async def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        """One request in a worker thread, or the answer of the same request another
        diagnosis made a moment ago (``shared``)."""

        def call() -> Awaitable[bytes]:
            return asyncio.to_thread(raw_body, method, *args, timeout=self._timeout, **kwargs)

        if self._shared is None:
            return await call()
        key = (method.__name__, args, tuple(sorted(kwargs.items())))
        return await self._shared.read(key, call, keep_error=_kept_error)

    async def _get(
        self,
        run: CollectionRun,
        what: str,
        method: Callable[..., Any],
        *args: Any,
        core: bool = False,
        kind: str | None = None,
        **kwargs: Any,
    ) -> bytes | None:
        """One API call; None for 404 and for failures recorded in ``run``.

        ``core`` calls (the target lookup) raise TemporaryCollectionError on 5xx, 429 and
        connection failures; ``kind`` is marked unavailable when its lookup failed, so the
        builder treats its absence as unknown.
        """
        async with run.gate:
            try:
                return await self._call(method, *args, **kwargs)
            except ApiException as exc:
                status = int(exc.status or 0)
                if status == 404:
                    # A missing object, or a resource type this cluster does not serve.
                    if kind is not None:
                        run.unavailable.add(kind)
                    return None
                retryable = status == 0 or status == 429 or status >= 500
                if core and retryable:
                    raise TemporaryCollectionError(f"{what}: HTTP {status} {exc.reason}") from exc
                label = "forbidden" if status in {401, 403} else f"HTTP {status} {exc.reason}"
                run.error(f"{what}: {label}")
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if core:
                    raise TemporaryCollectionError(f"{what}: {type(exc).__name__}") from exc
                run.error(f"{what}: {type(exc).__name__}")
            if kind is not None:
                run.unavailable.add(kind)
            return None

    @staticmethod
    def _parse(
        run: CollectionRun, raw: bytes | None, kind: str, api_version: str
    ) -> JsonDict | None:
        if raw is None:
            return None
        try:
            body = json.loads(raw)
        except ValueError:
            run.error(f"unparseable {kind} response")
            return None
        if not isinstance(body, dict):
            return None
        body.setdefault("kind", kind)
        body.setdefault("apiVersion", api_version)
        return body

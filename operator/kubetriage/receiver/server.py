"""The Alertmanager webhook receiver: an aiohttp app served in the operator's event loop.

``kubetriage run`` (``kubetriage.commands.run``) starts a ``Receiver`` next to the Kopf
operator; tests and the replay tooling do the same. Routes:

- ``POST /alerts`` (also ``/``): a webhook payload version 4. Checks, in order: bearer token
  (401), content type (415), body size while reading (413), JSON and schema (400/422).
  Accepted notifications go into a bounded ``GroupQueue`` (202); a full queue answers 503
  with ``Retry-After`` so Alertmanager retries. Nothing about the input can produce a 500.
- ``GET /healthz``: the process serves HTTP. ``GET /readyz``: workers running and the
  operator (when a readiness check is given) is ready; the body also shows the queue.

The secure default: without ``webhook_token`` the receiver refuses to start unless
``webhook_allow_unauthenticated`` is explicitly true.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from kubernetes import client as k8s

from kubetriage.receiver.payload import PayloadError, parse_payload
from kubetriage.receiver.queue import GroupQueue
from kubetriage.receiver.state import Notification
from kubetriage.receiver.writer import IncidentWriter
from kubetriage.settings import Settings

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_JSON_TYPES = frozenset({"application/json"})


class ReceiverConfigError(RuntimeError):
    """The receiver cannot start with these settings (e.g. no token, not explicitly open)."""


@dataclass
class ReceiverStats:
    """Counters for tests, benchmarks and /readyz; not persisted."""

    accepted: int = 0
    rejected: dict[int, int] = field(default_factory=dict)
    busy: int = 0
    written: dict[str, int] = field(default_factory=dict)
    failed: int = 0

    def reject(self, status: int) -> None:
        self.rejected[status] = self.rejected.get(status, 0) + 1


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


def receiver_token(settings: Settings) -> str:
    """The bearer token to require, "" when explicitly unauthenticated; raises
    ``ReceiverConfigError`` when neither is configured (the secure default)."""
    token = settings.webhook_token.get_secret_value() if settings.webhook_token else ""
    if not token and not settings.webhook_allow_unauthenticated:
        raise ReceiverConfigError(
            "the Alertmanager receiver needs KUBETRIAGE_WEBHOOK_TOKEN; set "
            "KUBETRIAGE_WEBHOOK_ALLOW_UNAUTHENTICATED=true to accept unauthenticated "
            "webhooks, or KUBETRIAGE_WEBHOOK_ENABLED=false to run without the receiver"
        )
    return token


class Receiver:
    def __init__(
        self,
        settings: Settings,
        api_client: k8s.ApiClient,
        *,
        ready: Callable[[], bool] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        token = receiver_token(settings)
        self.settings = settings
        self._token = token.encode()
        self._ready = ready
        self._clock = clock
        self.stats = ReceiverStats()
        self.queue: GroupQueue[Notification] = GroupQueue(settings.webhook_queue_size)
        self.writer = IncidentWriter(
            api_client,
            incident_namespace=settings.incident_namespace,
            watched_namespaces=list(settings.namespaces),
            max_alerts=settings.webhook_max_alerts_per_incident,
            request_timeout=settings.kube_request_timeout_seconds,
        )
        self._workers: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.app = web.Application()
        self.app.router.add_post("/alerts", self._webhook)
        self.app.router.add_post("/", self._webhook)
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/readyz", self._readyz)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str | None = None, port: int | None = None) -> str:
        """Start the workers and serve; returns the base URL (port 0 picks a free one)."""
        self._workers = [
            asyncio.create_task(self._work(), name=f"receiver-worker-{i}")
            for i in range(self.settings.webhook_workers)
        ]
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner,
            host if host is not None else self.settings.webhook_host,
            port if port is not None else self.settings.webhook_port,
        )
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.url = f"http://{bound_host}:{bound_port}"
        log.info("Alertmanager receiver listening on %s", self.url)
        return self.url

    async def drain(self) -> None:
        """Wait until every accepted notification is written (or given up on)."""
        await self.queue.join()

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Stop accepting, give queued notifications ``drain_timeout`` to be written, stop."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), drain_timeout)
        if len(self.queue):
            log.error("receiver stopped with %d notifications unwritten", len(self.queue))
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    async def __aenter__(self) -> Receiver:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ workers

    async def _work(self) -> None:
        while True:
            key, batch = await self.queue.take()
            try:
                result = await self.writer.apply(batch)
                self.stats.written[result.outcome] = self.stats.written.get(result.outcome, 0) + 1
            except Exception:
                # Logged with the group so an operator can find it; the worker lives on.
                self.stats.failed += len(batch)
                log.exception("could not write the Incident for alert group %s", key[:200])
            finally:
                self.queue.done(key)

    # ------------------------------------------------------------------ HTTP

    def _authorized(self, request: web.Request) -> bool:
        if not self._token:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode(), self._token)

    async def _read_body(self, request: web.Request) -> bytes:
        limit = self.settings.webhook_max_body_bytes
        too_large = PayloadError(f"body exceeds the limit of {limit} bytes", status=413)
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        chunks: list[bytes] = []
        total = 0
        async for chunk in request.content.iter_chunked(_CHUNK):
            total += len(chunk)
            if total > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    async def _webhook(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            self.stats.reject(401)
            return _error(401, "missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})
        if request.content_type not in _JSON_TYPES:
            self.stats.reject(415)
            return _error(415, f"content type {request.content_type!r} is not supported; send JSON")
        try:
            payload = parse_payload(await self._read_body(request))
        except PayloadError as error:
            self.stats.reject(error.status)
            return _error(error.status, error.message)
        notification = Notification(
            payload=payload,
            received_at=self._clock(),
            traceparent=request.headers.get("traceparent"),
        )
        if not self.queue.offer(payload.group_key, notification):
            self.stats.busy += 1
            retry_after = str(self.settings.webhook_retry_after_seconds)
            return _error(
                503, "receiver queue is full; retry later", **{"Retry-After": retry_after}
            )
        self.stats.accepted += 1
        where = self.writer.place(notification)
        return web.json_response(
            {"status": "accepted", "incident": where.name, "alerts": len(payload.alerts)},
            status=202,
        )

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, _: web.Request) -> web.Response:
        workers = sum(1 for t in self._workers if not t.done())
        body: dict[str, Any] = {
            "workers": workers,
            "queued": len(self.queue),
            "capacity": self.queue.capacity,
            "operator": self._ready() if self._ready is not None else None,
        }
        # A full queue is not "unready": 503 on POST already pushes back, and leaving the
        # Service would turn that into connection errors for every Alertmanager replica.
        ok = workers > 0 and body["operator"] is not False
        return web.json_response(body, status=200 if ok else 503)

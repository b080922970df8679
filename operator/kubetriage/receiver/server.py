"""The Alertmanager webhook receiver: an aiohttp app served in the operator's event loop.

``kubetriage run`` (``kubetriage.commands.run``) starts a ``Receiver`` next to the Kopf
operator; tests and the replay tooling do the same. Routes:

- ``POST /alerts`` (also ``/``): a webhook payload version 4. Checks, in order: bearer token
  (401), content type (415), body size while reading (413), body within
  ``webhook_body_timeout_seconds`` (408), content encoding (400), JSON and schema (400/422).
  Every refusal is counted in ``kubetriage_receiver_rejected_total{reason}``.
- **Delivery guarantee**: the answer is 200 only once the Incident create/patch carrying
  the notification is stored in the API server. A full queue, a write that failed after its
  retries, or one not done within ``webhook_store_timeout_seconds`` answers 503 with
  ``Retry-After``, so Alertmanager keeps the notification and sends it again; an Incident
  the API server refuses (4xx) is a 422 with its message. A crash (kill -9, OOM) loses only
  notifications not yet answered, which Alertmanager therefore still holds. Nothing about
  the input can produce a 500.
- A client must send its request head within ``webhook_header_timeout_seconds`` of
  connecting; large bodies are parsed in a thread, so ``/healthz`` stays fast.
- ``GET /healthz``: the process serves HTTP. ``GET /readyz``: workers running and the
  operator (when a readiness check is given) is ready; the body also shows the queue.

The secure default: without ``webhook_token`` the receiver refuses to start unless
``webhook_allow_unauthenticated`` is explicitly true. ``stop`` stops accepting connections,
then answers every request already received (their writes finish) before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kubetriage.incidents import IncidentStore
from kubetriage.receiver.payload import PayloadError, parse_payload
from kubetriage.receiver.queue import GroupQueue
from kubetriage.receiver.state import Notification
from kubetriage.receiver.writer import IncidentWriter, WriteResult
from kubetriage.settings import Settings
from kubetriage.tenancy import Tenancy

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_JSON_TYPES = frozenset({"application/json"})
# Bodies larger than this are parsed in a thread, off the event loop.
_PARSE_INLINE_BYTES = 64 * 1024


class RejectionCounter(Protocol):
    def observe_rejected(self, reason: str) -> None: ...


class ReceiverConfigError(RuntimeError):
    """The receiver cannot start with these settings (e.g. no token, not explicitly open)."""


@dataclass
class ReceiverStats:
    """Counters for tests, benchmarks and /readyz; not persisted."""

    accepted: int = 0  # answered 200: stored
    rejected: dict[int, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    busy: int = 0  # answered 503 + Retry-After
    written: dict[str, int] = field(default_factory=dict)
    failed: int = 0

    def reject(self, status: int, reason: str) -> None:
        self.rejected[status] = self.rejected.get(status, 0) + 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


@dataclass(frozen=True)
class _Pending:
    """A notification waiting to be written, and the answer its request waits for."""

    notification: Notification
    stored: asyncio.Future[WriteResult]


class _HeadDeadline(asyncio.Protocol):
    """Wraps aiohttp's protocol for one connection: closes it when no request has reached
    the handler within ``timeout`` seconds of connecting (a half-sent head). Delegates the
    public ``asyncio.Protocol`` interface only."""

    def __init__(self, inner: asyncio.Protocol, timeout: float, started: set[int]) -> None:
        self._inner = inner
        self._timeout = timeout
        self._started = started
        self._timer: asyncio.TimerHandle | None = None
        self._key = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._key = id(transport)
        self._inner.connection_made(transport)

        def expire() -> None:
            if id(transport) not in self._started and not transport.is_closing():
                transport.close()

        self._timer = asyncio.get_running_loop().call_later(self._timeout, expire)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._started.discard(self._key)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


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
        metrics: RejectionCounter | None = None,
    ) -> None:
        token = receiver_token(settings)
        self.settings = settings
        self._token = token.encode()
        self._ready = ready
        self._clock = clock
        self._metrics = metrics
        self.stats = ReceiverStats()
        self.queue: GroupQueue[_Pending] = GroupQueue(settings.webhook_queue_size)
        self.writer = IncidentWriter(
            IncidentStore.from_settings(api_client, settings),
            incident_namespace=settings.incident_namespace,
            watched_namespaces=list(settings.namespaces),
            max_alerts=settings.webhook_max_alerts_per_incident,
            tenancy=Tenancy.from_settings(settings),
        )
        self._workers: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        # Connections (by transport id) whose request head arrived; see _HeadDeadline.
        self._started: set[int] = set()
        self.url = ""
        self.app = web.Application(middlewares=[self._mark_started])
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
        self._runner = web.AppRunner(self.app, access_log=None, keepalive_timeout=15.0)
        await self._runner.setup()
        server = self._runner.server
        assert server is not None  # set by setup()
        timeout = self.settings.webhook_header_timeout_seconds

        def protocol() -> asyncio.Protocol:
            return _HeadDeadline(server(), timeout, self._started)

        self._server = await asyncio.get_running_loop().create_server(
            protocol,
            host if host is not None else self.settings.webhook_host,
            port if port is not None else self.settings.webhook_port,
        )
        bound_host, bound_port = self._server.sockets[0].getsockname()[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        log.info("Alertmanager receiver listening on %s", self.url)
        return self.url

    async def drain(self) -> None:
        """Wait until every accepted notification is written (or given up on)."""
        await self.queue.join()

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Stop accepting connections; answer the requests already received (their writes
        finish, within ``drain_timeout``), then stop."""
        if self._server is not None:
            self._server.close()
            self._server = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), drain_timeout)
        if self._runner is not None:
            # Waits for the handlers, which now hold their answers, to send them.
            await self._runner.cleanup()
            self._runner = None
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
                result = await self.writer.apply([p.notification for p in batch])
                self.stats.written[result.outcome] = self.stats.written.get(result.outcome, 0) + 1
                for pending in batch:
                    if not pending.stored.done():
                        pending.stored.set_result(result)
            except Exception as error:
                # Logged with the group so an operator can find it; each request is answered
                # from the error, and the worker lives on.
                self.stats.failed += len(batch)
                log.exception("could not write the Incident for alert group %s", key[:200])
                for pending in batch:
                    if not pending.stored.done():
                        pending.stored.set_exception(error)
            finally:
                self.queue.done(key)

    # ------------------------------------------------------------------ HTTP

    @web.middleware
    async def _mark_started(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self._started.add(id(request.transport))
        response: web.StreamResponse = await handler(request)
        return response

    def _reject(self, status: int, reason: str, message: str, **headers: str) -> web.Response:
        self.stats.reject(status, reason)
        if self._metrics is not None:
            self._metrics.observe_rejected(reason)
        return _error(status, message, **headers)

    def _busy(self, message: str) -> web.Response:
        self.stats.busy += 1
        retry_after = str(self.settings.webhook_retry_after_seconds)
        return _error(503, message, **{"Retry-After": retry_after})

    def _authorized(self, request: web.Request) -> bool:
        if not self._token:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        # Header bytes that are not UTF-8 arrive as surrogate escapes: compare them as the
        # bytes they were, so they are just a wrong token.
        sent = credentials.strip().encode("utf-8", "surrogateescape")
        return hmac.compare_digest(sent, self._token)

    async def _read_body(self, request: web.Request) -> bytes:
        limit = self.settings.webhook_max_body_bytes
        too_large = PayloadError(
            f"body exceeds the limit of {limit} bytes; set max_alerts in the Alertmanager "
            f"webhook_config (or raise KUBETRIAGE_WEBHOOK_MAX_BODY_BYTES)",
            status=413,
            reason="too_large",
        )
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        chunks: list[bytes] = []
        total = 0
        try:
            async with asyncio.timeout(self.settings.webhook_body_timeout_seconds):
                async for chunk in request.content.iter_chunked(_CHUNK):
                    total += len(chunk)
                    if total > limit:
                        raise too_large
                    chunks.append(chunk)
        except TimeoutError as error:
            raise PayloadError(
                f"the body was not received within {self.settings.webhook_body_timeout_seconds}s",
                status=408,
                reason="body_timeout",
            ) from error
        except PayloadError:
            raise
        except (
            web.RequestPayloadError,
            HttpProcessingError,
            ClientPayloadError,
            ValueError,
            EOFError,
        ) as error:
            # A body whose Content-Encoding does not match it (gzip that is not gzip).
            raise PayloadError(
                f"the body cannot be decoded: {type(error).__name__}: {str(error)[:200]}",
                reason="bad_encoding",
            ) from error
        return b"".join(chunks)

    async def _parse(self, body: bytes) -> Any:
        limit = self.settings.webhook_max_alerts_per_notification
        if len(body) <= _PARSE_INLINE_BYTES:
            return parse_payload(body, max_alerts=limit)
        return await asyncio.to_thread(parse_payload, body, max_alerts=limit)

    async def _webhook(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._reject(
                401,
                "unauthorized",
                "missing or wrong bearer token",
                **{"WWW-Authenticate": "Bearer"},
            )
        if request.content_type not in _JSON_TYPES:
            return self._reject(
                415,
                "unsupported_media_type",
                f"content type {request.content_type!r} is not supported; send JSON",
            )
        try:
            payload = await self._parse(await self._read_body(request))
        except PayloadError as error:
            return self._reject(error.status, error.reason, error.message)
        notification = Notification(
            payload=payload,
            received_at=self._clock(),
            traceparent=request.headers.get("traceparent"),
        )
        stored: asyncio.Future[WriteResult] = asyncio.get_running_loop().create_future()
        # Retrieve an outcome nobody waits for any more (the request timed out or left).
        stored.add_done_callback(lambda f: f.cancelled() or f.exception())
        if not self.queue.offer(payload.group_key, _Pending(notification, stored)):
            return self._busy("receiver queue is full; retry later")
        try:
            result = await asyncio.wait_for(
                asyncio.shield(stored), self.settings.webhook_store_timeout_seconds
            )
        except TimeoutError:
            return self._busy("the Incident was not stored in time; retry later")
        except ApiException as error:
            # 400/422: the Incident itself is invalid, and sending it again cannot help.
            # Anything else (403 from a broken RBAC, 5xx) is ours to fix: Alertmanager
            # keeps the notification and retries.
            if error.status in (400, 422):
                return self._reject(
                    422,
                    "api_refused",
                    f"the API server refused the Incident: {error.status} "
                    f"{str(error.body or error.reason)[:500]}",
                )
            return self._busy(f"the Incident could not be stored ({error.status}); retry later")
        except Exception as error:
            return self._busy(f"the Incident could not be stored ({type(error).__name__})")
        self.stats.accepted += 1
        return web.json_response(
            {
                "status": "stored" if result.namespace is not None else "skipped",
                "outcome": result.outcome,
                "incident": result.name,
                "namespace": result.namespace,
                "alerts": len(payload.alerts),
                "truncated": payload.truncated_alerts,
            },
            status=200,
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

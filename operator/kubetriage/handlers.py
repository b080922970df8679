"""Kopf handlers for Incidents: the only module that imports Kopf.

Each handler is thin: it turns Kopf's arguments into plain data, calls the kopf-free reaction
in ``kubetriage.reactions`` that does the work, and turns what comes back into Kopf's terms
(Events through ``kopf.event``, a ``Failure`` into a permanent or temporary error).
``build_registry`` wires them to a fresh ``kopf.OperatorRegistry`` around an
``OperatorContext``, so there is no global registry and no module state; ``configure`` holds
every Kopf setting the operator changes; ``run_operator`` runs Kopf, logged in through the
sessions of ``ApiConnections``, and returns once their sockets are closed
(``AssembledOperator.run`` is what ``kubetriage run``, replay and the tests call).

Phase machine: Pending -> Investigating -> Diagnosed | Failed; Resolved is set from outside
(the receiver on a resolved alert, or a person). Status writes do not retrigger handlers,
because Kopf's diff ignores ``.status``; spec changes other than ``feedback``/``approve``/
``approvedBy`` re-diagnose. Setting ``spec.approve`` runs the ``approve`` handler, which
executes that remediation only if the remediation policy allows it
(``kubetriage.remediation.actions``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import aiohttp
import kopf
from kubernetes import client as k8s

from kubetriage.models.incident import GROUP, PLURAL, VERSION, IncidentView, Phase
from kubetriage.reactions.approval import approve_remediation
from kubetriage.reactions.bookkeeping import (
    acknowledge_generation,
    index_incident,
    notify_change,
)
from kubetriage.reactions.context import (
    Failure,
    Logger,
    OperatorContext,
    PostEvent,
)
from kubetriage.reactions.diagnosis import diagnose_incident, settled
from kubetriage.reactions.learning import learn_incident
from kubetriage.remediation.actions import Outcome
from kubetriage.settings import Settings

if TYPE_CHECKING:
    from aiohappyeyeballs import AddrInfoType

# Attempts of the approve handler (see build_registry).
APPROVAL_RETRIES = 3
# Why the operator refuses to start without the Incident CRD: Kopf scans the served
# resources once, when the start-up handlers are done, and then ignores the initial listing
# of its CRD watch, so a CRD installed after that scan is never served until a restart.
CRD_MISSING = (
    f"the Incident API ({PLURAL}.{GROUP}/{VERSION}) is not served: install the CRD first "
    f"(kubectl apply -f crds/{PLURAL}.{GROUP}.yaml; the Helm chart installs crds/ before "
    "the operator), then start the operator again"
)
# Spec fields whose change is not a reason to diagnose again.
NON_DIAGNOSTIC_FIELDS = frozenset({"feedback", "approve", "approvedBy"})
# How long a stopped operator lets its API connections finish closing before it shuts their
# sockets down (ApiConnections.aclose), and how often it looks.
CLOSE_GRACE_SECONDS = 1.0
CLOSE_POLL_SECONDS = 0.01


class LastHandledConfiguration(kopf.AnnotationsDiffBaseStorage):
    """Kopf's diff-base in an annotation, built from only what it keeps.

    On every watch event Kopf builds the object's essence (spec, labels, annotations) to
    diff it with the last handled one, starting from a deep copy of the whole body and then
    dropping ``status`` and most of ``metadata``: for a Diagnosed Incident that is a copy of
    the diagnosis and of the managed fields that list its every path, thrown away at once.
    Here the copy starts from the parts the essence is made of, so the essence (and so every
    diff and every stored annotation) is the same, without the copying. Handlers that ask for
    extra fields (``field=``; none of ours) get Kopf's own build."""

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None
    ) -> kopf.BodyEssence:
        fields = list(extra_fields or ())
        if fields:
            return super().build(body=body, extra_fields=fields)
        kept = {key: value for key, value in body.items() if key not in ("metadata", "status")}
        meta = body.get("metadata") or {}
        kept["metadata"] = {
            key: meta[key] for key in ("labels", "annotations", "ownerReferences") if key in meta
        }
        return super().build(body=kopf.Body(cast("kopf.RawBody", kept)))


def configure(kopf_settings: kopf.OperatorSettings, settings: Settings) -> None:
    """Every Kopf setting the operator changes from Kopf's defaults, in one place."""
    # Progress and diff-base live in annotations: the CRD's status schema is structural
    # and would prune Kopf's own status fields.
    kopf_settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix="kubetriage.io"
    )
    kopf_settings.persistence.diffbase_storage = LastHandledConfiguration(
        prefix="kubetriage.io", key="last-handled-configuration"
    )
    # `concurrency` bounds the diagnoses (the `diagnoses` gate in build_registry), not Kopf's
    # per-object workers: a worker keeps its slot while it idles after its object's last
    # event (idle_timeout) and while it waits for its own patch to come back, so one slot
    # per diagnosis kept a burst well below `concurrency` diagnoses at once. The workers
    # stay bounded, with room for those idle tails, so that a burst's events are taken
    # in waves and the watch keeps up (Kopf re-runs a handler when its own patch does not
    # come back within persistence.consistency_timeout).
    kopf_settings.queueing.worker_limit = 4 * settings.concurrency
    # A per-object worker holds its worker_limit slot until it has been idle this long
    # (Kopf's default is 5s): with the default, a burst of Incidents was diagnosed at
    # only `concurrency` per 5s, however fast each diagnosis was.
    kopf_settings.queueing.idle_timeout = 0.5
    # Only our own events are posted; Kopf's INFO chatter stays in the log.
    kopf_settings.posting.level = logging.WARNING
    kopf_settings.watching.server_timeout = 300
    kopf_settings.watching.client_timeout = 330
    kopf_settings.networking.request_timeout = 60
    # Sync handlers would run in Kopf's thread pool, which is shut down with the operator;
    # all our handlers are async, so the pool is never needed.


# --- when to call which handler (Kopf's diffs) -----------------------------------------------


def _diagnostic_change(diff: Any) -> bool:
    for entry in diff or ():
        path = tuple(entry[1])
        if path[:1] == ("spec",) and (len(path) < 2 or path[1] not in NON_DIAGNOSTIC_FIELDS):
            if len(path) == 1:
                old, new = entry[2] or {}, entry[3] or {}
                keys = set(old) | set(new)
                if all(k in NON_DIAGNOSTIC_FIELDS or old.get(k) == new.get(k) for k in keys):
                    continue
            return True
    return False


def _touches_spec(diff: Any) -> bool:
    return any(tuple(entry[1])[:1] == ("spec",) for entry in diff or ())


def _approval_requested(diff: Any, spec: Any) -> bool:
    """spec.approve changed to a value: the approve handler owns this change."""
    if not (spec or {}).get("approve"):
        return False
    for entry in diff or ():
        path = tuple(entry[1])
        if path[:2] == ("spec", "approve"):
            return True
        if path in {(), ("spec",)}:
            old, new = entry[2] or {}, entry[3] or {}
            if path == ():
                old, new = old.get("spec") or {}, new.get("spec") or {}
            if old.get("approve") != new.get("approve"):
                return True
    return False


def _needs_diagnosis(status: Any, meta: Any) -> bool:
    """On resume (operator start), only incidents not yet diagnosed for this generation."""
    return not settled(status, meta.get("generation"))


# --- Kopf's arguments in, Kopf's errors and Events out ---------------------------------------


def _incident(body: kopf.Body) -> IncidentView | None:
    """The Incident as plain data; None without a namespace (the CRD is namespaced, so
    this only satisfies the types)."""
    meta = body.metadata
    if meta.namespace is None or meta.name is None:
        return None
    return IncidentView(meta.namespace, meta.name, dict(body.spec), dict(body.status), dict(meta))


def _poster(body: kopf.Body) -> PostEvent:
    def post(type: Literal["Normal", "Warning"], reason: str, message: str) -> None:
        kopf.event(body, type=type, reason=reason, message=message)

    return post


def _raise(failure: Failure | None) -> None:
    if failure is None:
        return
    if failure.retry_after is None:
        raise kopf.PermanentError(failure.message) from failure.cause
    raise kopf.TemporaryError(failure.message, delay=failure.retry_after) from failure.cause


def _post_remediation_events(body: kopf.Body, incident: IncidentView, outcome: Outcome) -> None:
    """An approval's Events on the Incident and, when asked, on the target it acted on."""
    for note in outcome.events:
        kopf.event(body, type=note.type, reason=note.reason, message=note.message)
        if note.on_target and outcome.target_body is not None:
            kopf.event(
                kopf.Body(cast("kopf.RawBody", outcome.target_body)),
                type=note.type,
                reason=note.reason,
                message=f"{note.message} (Incident {incident.namespace}/{incident.name})"[:1000],
            )


def connection_info(api_client: k8s.ApiClient) -> kopf.ConnectionInfo:
    """Kopf logs in with the same credentials as the ``kubernetes`` client, so there is one
    source of truth (kubeconfig or in-cluster service account)."""
    config = api_client.configuration
    if config.refresh_api_key_hook is not None:
        config.refresh_api_key_hook(config)
    auth = config.api_key.get("authorization") or config.api_key.get("BearerToken")
    prefix = config.api_key_prefix.get("authorization")
    token: str | None = None
    if auth:
        # A kubeconfig token arrives as "Bearer <t>"; the in-cluster loader writes
        # "bearer <t>" (lower case) under "BearerToken": the scheme is case-insensitive.
        scheme, _, rest = auth.partition(" ")
        token = rest if rest and scheme.lower() == "bearer" else auth
        if prefix and prefix.lower() != "bearer":
            token = None
    return kopf.ConnectionInfo(
        server=config.host,
        ca_path=config.ssl_ca_cert,
        insecure=not config.verify_ssl,
        scheme="Bearer" if token else None,
        token=token,
        certificate_path=config.cert_file,
        private_key_path=config.key_file,
        username=config.username or None,
        password=config.password or None,
    )


def build_registry(ctx: OperatorContext) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    resource = (GROUP, VERSION, PLURAL)

    @kopf.on.startup(registry=registry, id="configure")
    async def configure_kopf(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure(settings, ctx.settings)

    # Kopf's resource scan runs after the start-up handlers: a CRD served now is found by it.
    @kopf.on.startup(registry=registry, id="incident-crd")
    async def require_incident_crd(**_: Any) -> None:
        if not await ctx.incidents.served():
            raise kopf.PermanentError(CRD_MISSING)

    async def diagnose(body: kopf.Body, retry: int, logger: Logger, **_: Any) -> None:
        incident = _incident(body)
        if incident is None:
            raise kopf.PermanentError("Incident without a namespace")
        _raise(
            await diagnose_incident(ctx, incident, retry=retry, post=_poster(body), logger=logger)
        )

    async def acknowledge(body: kopf.Body, **_: Any) -> None:
        incident = _incident(body)
        if incident is not None:
            await acknowledge_generation(ctx, incident)

    async def learn(body: kopf.Body, logger: Logger, **_: Any) -> None:
        incident = _incident(body)
        if incident is not None:
            await learn_incident(ctx, incident, post=_poster(body), logger=logger)

    async def approve(body: kopf.Body, logger: Logger, **_: Any) -> None:
        incident = _incident(body)
        if incident is None:
            return
        outcome = await approve_remediation(ctx, incident, logger=logger)
        _post_remediation_events(body, incident, outcome)

    async def index(
        *, type: str | None, status: kopf.Status, name: str, namespace: str | None, **_: Any
    ) -> None:
        if namespace is not None:
            index_incident(ctx, namespace, name, None if type == "DELETED" else dict(status or {}))

    async def notify(*, type: str | None, name: str, namespace: str | None, **_: Any) -> None:
        if namespace is not None and type != "DELETED":
            notify_change(ctx, namespace, name)

    # At most `concurrency` diagnoses at once (Investigating write to Diagnosed write);
    # Incidents beyond it wait here, in arrival order, without an Investigating phase.
    diagnoses = asyncio.Semaphore(ctx.settings.concurrency)

    async def gated(**kwargs: Any) -> None:
        async with diagnoses:
            await diagnose(**kwargs)

    # The handlers that run on every event (each status write is one) are registered only
    # when their feature is on: without metrics, sinks or memory they would do nothing, at
    # the cost of one Kopf handler invocation per event each.
    if ctx.metrics is not None:
        kopf.on.event(*resource, registry=registry, id="metrics-index")(index)
    if ctx.notifier is not None:
        kopf.on.event(*resource, registry=registry, id="notify")(notify)
    kopf.on.update(
        *resource,
        registry=registry,
        id="approve",
        # execute_approval records every expected outcome itself; Kopf retries only an
        # unexpected error or a refused status write, a few times (the target's ledger
        # keeps a retry from applying the change twice).
        retries=APPROVAL_RETRIES,
        backoff=ctx.settings.retry_delay_seconds,
        when=lambda diff, spec, **_: _approval_requested(diff, spec),
    )(approve)
    if ctx.memory is not None:
        kopf.on.event(*resource, registry=registry, id="learn")(learn)
    kopf.on.update(
        *resource,
        registry=registry,
        id="acknowledge",
        when=lambda diff, spec, **_: (
            not _diagnostic_change(diff)
            and _touches_spec(diff)
            and not _approval_requested(diff, spec)
        ),
    )(acknowledge)
    # One handler id for the three causes: Kopf keeps one progress record per Incident.
    diagnosis: dict[str, Any] = {
        "registry": registry,
        "id": "diagnose",
        "retries": ctx.settings.retry_limit,
        "backoff": ctx.settings.retry_delay_seconds,
    }
    kopf.on.create(*resource, **diagnosis)(gated)
    kopf.on.resume(
        *resource, **diagnosis, when=lambda status, meta, **_: _needs_diagnosis(status, meta)
    )(gated)
    kopf.on.update(
        *resource,
        **diagnosis,
        when=lambda diff, status, **_: (
            _diagnostic_change(diff) and (status or {}).get("phase") != Phase.RESOLVED.value
        ),
    )(gated)
    return registry


@dataclass(frozen=True)
class RunOptions:
    """How Kopf runs: the namespaces it watches (none: cluster-wide), whether it runs alone
    or peers with other replicas, and the flags and liveness endpoint it is run with."""

    namespaces: list[str] = field(default_factory=list)
    standalone: bool = True
    stop_flag: asyncio.Event | threading.Event | None = None
    ready_flag: asyncio.Event | threading.Event | None = None
    liveness_endpoint: str | None = None


class ApiConnections:
    """The aiohttp sessions Kopf reaches the API server through, built here from the
    ``ConnectionInfo`` the operator logs in with, as Kopf builds its own, so that every
    socket they open is seen closed before the operator's event loop ends.

    Kopf closes its sessions when it stops, but a connection closed earlier (a watch
    cancelled mid-stream; one being opened as the session closed) is no longer any
    session's: over TLS its close waits for the API server's reply, and an event loop that
    ends first leaves the socket open (found unclosed by the garbage collector later)."""

    def __init__(self) -> None:
        self._sessions: list[aiohttp.ClientSession] = []
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    def session(self, info: kopf.ConnectionInfo) -> kopf.AiohttpSession:
        """Kopf's session for ``info`` (no pool limit, its TLS context and headers)."""
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=0, ssl=info.as_ssl_context(), socket_factory=self._socket
            ),
            headers=info.as_http_headers(),
        )
        # Kopf closes a session when its credentials are invalidated (and logs in again).
        self._sessions = [s for s in self._sessions if not s.closed] + [session]
        return kopf.AiohttpSession(
            server=info.server,
            default_namespace=info.default_namespace,
            priority=info.priority,
            expiration=info.expiration,
            aiohttp_session=session,
        )

    def _socket(self, address: AddrInfoType) -> socket.socket:
        family, kind, proto, _, _ = address
        opened = socket.socket(family, kind, proto)
        self._sockets.add(opened)
        return opened

    def _open(self) -> list[socket.socket]:
        return [s for s in self._sockets if s.fileno() != -1]

    async def aclose(self) -> None:
        """Close the sessions (Kopf has, unless it was cancelled), give the closes still
        under way ``CLOSE_GRACE_SECONDS``, then shut down the sockets left (their
        transports see the end of the stream and close), and return once all are closed."""
        for session in self._sessions:
            await session.close()
        if await self._all_closed_within(CLOSE_GRACE_SECONDS):
            return
        for left in self._open():
            with contextlib.suppress(OSError):
                left.shutdown(socket.SHUT_RDWR)
        await self._all_closed_within(CLOSE_GRACE_SECONDS)

    async def _all_closed_within(self, seconds: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self._open():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(CLOSE_POLL_SECONDS)
        return True


async def run_operator(ctx: OperatorContext, options: RunOptions) -> None:
    """Run Kopf with the handlers around ``ctx`` until ``options.stop_flag`` is set (or
    forever); return once its connections to the API server are closed."""
    settings = ctx.settings
    registry = build_registry(ctx)
    connections = ApiConnections()

    @kopf.on.login(registry=registry)
    async def login(**_: Any) -> kopf.AiohttpSession:
        return connections.session(connection_info(ctx.api_client))

    try:
        await kopf.operator(
            registry=registry,
            clusterwide=not options.namespaces,
            namespaces=options.namespaces,
            standalone=options.standalone,
            # Passing a peering name makes peering mandatory in Kopf, even when standalone.
            peering_name=None if options.standalone else settings.peering_name,
            priority=(
                settings.peering_priority
                if settings.peering_priority is not None
                else secrets.randbelow(1_000_000) + 1
            ),
            stop_flag=options.stop_flag,
            ready_flag=options.ready_flag,
            liveness_endpoint=options.liveness_endpoint,
        )
    finally:
        # Kopf waits for a threading stop flag in a worker thread that only the flag ends: an
        # operator that stopped by itself (a start-up handler failed) raises it, or the event
        # loop's close would wait for that thread forever.
        if isinstance(options.stop_flag, threading.Event):
            options.stop_flag.set()
        await connections.aclose()

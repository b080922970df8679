"""Kopf handlers for Incidents: the only module that imports Kopf.

``build_registry`` wires the handlers to a fresh ``kopf.OperatorRegistry`` around an
``OperatorContext`` (settings, pipeline stages, the Incident store), so there is no global
registry and no module state; ``run_operator`` is what ``kubetriage run`` and the replay
tooling call. The diagnosis itself is ``kubetriage.pipeline.diagnose``.

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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import kopf
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from kubetriage import prose
from kubetriage.errors import InvalidIncident, RetryableError
from kubetriage.incidents import IncidentStore, StatusModelCache
from kubetriage.learning import NothingToLearn, parse_time, record_from_incident
from kubetriage.memory.errors import IncidentMemoryError
from kubetriage.memory.records import MemoryRecord
from kubetriage.metrics import MetricsEndpoint, OperatorMetrics, incident_state
from kubetriage.models.diagnosis import Diagnosis
from kubetriage.models.incident import (
    GROUP,
    PLURAL,
    VERSION,
    IncidentSpec,
    Phase,
    RemediationRecord,
)
from kubetriage.models.vocabulary import WORKLOAD_KINDS
from kubetriage.pipeline import Stages, describe_target, diagnose
from kubetriage.remediation.actions import (
    Approval,
    execute_approval,
    remediation_condition_fields,
)
from kubetriage.remediation.cluster import ClusterAdapter
from kubetriage.settings import Settings
from kubetriage.status import (
    condition,
    conditions_body,
    diagnosed_patch,
    failed_patch,
    investigating_patch,
    merge_conditions,
    parse_conditions,
)
from kubetriage.telemetry import TRACEPARENT_ANNOTATION
from kubetriage.tenancy import check_target

# Kinds the evidence collector knows how to investigate; anything else is a spec error.
INVESTIGABLE_KINDS = WORKLOAD_KINDS | {
    "Pod",
    "Node",
    "PersistentVolumeClaim",
    "Service",
    "HorizontalPodAutoscaler",
    "Namespace",
    "Ingress",
    "Certificate",
    "NetworkPolicy",
    "ConfigMap",
}
# Spec fields whose change is not a reason to diagnose again.
NON_DIAGNOSTIC_FIELDS = frozenset({"feedback", "approve", "approvedBy"})


class MemoryWriter(Protocol):
    async def store(self, record: MemoryRecord, text: str) -> str: ...


class NotifyQueue(Protocol):
    """``kubetriage.notify.Notifier``: takes an Incident to look at and returns at once."""

    def enqueue(self, namespace: str, name: str) -> None: ...

    async def aclose(self) -> None: ...


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
    phase = (status or {}).get("phase")
    if phase == Phase.RESOLVED.value:
        return False
    observed = (status or {}).get("observedGeneration")
    return phase not in (Phase.DIAGNOSED.value, Phase.FAILED.value) or observed != meta.get(
        "generation"
    )


def _record_body(record: RemediationRecord) -> dict[str, Any]:
    """status.remediation as a merge patch: absent fields are sent as null so nothing of a
    previous record survives into this one."""
    return record.model_dump(by_alias=True, mode="json")


def validate_semantics(spec: IncidentSpec) -> None:
    """Checks the CRD schema cannot express."""
    if spec.target is not None and spec.target.kind not in INVESTIGABLE_KINDS:
        raise InvalidIncident(
            "UnsupportedTargetKind",
            f"spec.target.kind {spec.target.kind!r} cannot be investigated; "
            f"use one of {', '.join(sorted(INVESTIGABLE_KINDS))}",
        )
    namespaced = spec.target is not None and spec.target.kind not in {"Node", "Namespace"}
    if spec.target is not None and namespaced and not spec.target.namespace:
        raise InvalidIncident(
            "TargetNamespaceMissing",
            f"spec.target ({spec.target.kind}/{spec.target.name}) needs a namespace",
        )
    if spec.target is None and not any(alert.labels for alert in spec.alerts):
        raise InvalidIncident(
            "NoTarget",
            "spec.target is empty and no alert labels identify a workload; "
            "set spec.target (kind, namespace, name)",
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

    @kopf.on.startup(registry=registry)
    async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # Progress and diff-base live in annotations: the CRD's status schema is structural
        # and would prune Kopf's own status fields.
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
            prefix="kubetriage.io"
        )
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix="kubetriage.io", key="last-handled-configuration"
        )
        # `concurrency` bounds the diagnoses (the `diagnoses` gate below), not Kopf's
        # per-object workers: a worker keeps its slot while it idles after its object's last
        # event (idle_timeout) and while it waits for its own patch to come back, so one slot
        # per diagnosis kept a burst well below `concurrency` diagnoses at once. The workers
        # stay bounded, with room for those idle tails, so that a burst's events are taken
        # in waves and the watch keeps up (Kopf re-runs a handler when its own patch does not
        # come back within persistence.consistency_timeout).
        settings.queueing.worker_limit = 4 * ctx.settings.concurrency
        settings.queueing.idle_timeout = 0.5
        # Only our own events are posted; Kopf's INFO chatter stays in the log.
        settings.posting.level = logging.WARNING
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.networking.request_timeout = 60
        # Sync handlers would run in Kopf's thread pool, which is shut down with the operator;
        # all our handlers are async, so the pool is never needed.

    @kopf.on.login(registry=registry)
    async def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(ctx.api_client)

    async def handle(
        *,
        body: kopf.Body,
        spec: kopf.Spec,
        status: kopf.Status,
        meta: kopf.Meta,
        name: str,
        namespace: str | None,
        retry: int,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        **_: Any,
    ) -> None:
        if namespace is None:  # the CRD is namespaced; this only satisfies the type
            raise kopf.PermanentError("Incident without a namespace")
        generation = meta.get("generation")
        existing = parse_conditions(status.get("conditions"))
        now = ctx.clock()
        try:
            incident = IncidentSpec.model_validate(dict(spec))
            validate_semantics(incident)
            check_target(ctx.stages.tenancy.scope(namespace), incident.target, incident.alerts)
        except (ValidationError, InvalidIncident) as error:
            reason = error.reason if isinstance(error, InvalidIncident) else "InvalidSpec"
            message = str(error)[:2000]
            await ctx.incidents.patch_status(
                namespace,
                name,
                failed_patch(
                    existing, reason=reason, message=message, generation=generation, now=now
                ),
            )
            kopf.event(body, type="Warning", reason=reason, message=message[:1000])
            raise kopf.PermanentError(message) from error

        investigating = investigating_patch(existing, generation=generation, now=now)
        previous_raw = status.get("diagnosis")
        previous: Diagnosis | None = None
        if previous_raw:
            try:
                previous = Diagnosis.model_validate(previous_raw)
            except ValidationError:
                previous = None
        started = time.monotonic()
        try:
            # Inside the try: a refused Investigating write is retried at retry_delay and
            # ends Failed like any other failure, instead of escaping to Kopf's own retries,
            # which gave up leaving the Incident with no phase at all.
            await ctx.incidents.patch_status(namespace, name, investigating)
            if retry == 0 or status.get("phase") != Phase.INVESTIGATING.value:
                # Once per investigation, also when the first attempt's write was refused.
                kopf.event(
                    body, type="Normal", reason="Investigating", message=incident.title[:500]
                )
            result = await asyncio.wait_for(
                diagnose(
                    incident,
                    namespace=namespace,
                    name=name,
                    stages=ctx.stages,
                    now=now,
                    previous=previous,
                    model_cache=StatusModelCache(ctx.incidents, namespace, name, status),
                    traceparent=(meta.get("annotations") or {}).get(TRACEPARENT_ANNOTATION),
                ),
                timeout=ctx.settings.diagnosis_timeout_seconds,
            )
            diagnosis = result.diagnosis
            # Re-read: the receiver may have resolved the incident while we worked, and a
            # resolution must not be overwritten by a late diagnosis.
            current = (await ctx.incidents.get(namespace, name)).get("status") or {}
            patch = diagnosed_patch(
                parse_conditions(current.get("conditions")),
                diagnosis,
                result.conditions,
                target=describe_target(result.evidence, []),
                generation=generation,
                now=ctx.clock(),
            )
            if current.get("phase") == Phase.RESOLVED.value:
                del patch["phase"]
            await ctx.incidents.patch_status(namespace, name, patch)
        except Exception as error:
            # Everything here is worth a bounded retry: the API or a dependency failing
            # (RetryableError, timeouts, API errors) and, so an Incident is never left in
            # Investigating, anything unexpected; after the last attempt it ends Failed.
            if isinstance(error, TimeoutError):
                message = f"diagnosis timed out after {ctx.settings.diagnosis_timeout_seconds}s"
            else:
                message = f"{type(error).__name__}: {error}"[:2000]
            if retry + 1 >= ctx.settings.retry_limit:
                reason = (
                    "RetriesExhausted"
                    if isinstance(error, (RetryableError, TimeoutError, ApiException))
                    else "InternalError"
                )
                with contextlib.suppress(Exception):  # the API may be what is failing
                    await ctx.incidents.patch_status(
                        namespace,
                        name,
                        failed_patch(
                            parse_conditions(investigating["conditions"]),
                            reason=reason,
                            message=f"gave up after {retry + 1} attempts: {message}",
                            generation=generation,
                            now=ctx.clock(),
                        ),
                    )
                kopf.event(body, type="Warning", reason="DiagnosisFailed", message=message[:1000])
                raise kopf.PermanentError(message) from error
            kopf.event(body, type="Warning", reason="Retrying", message=message[:1000])
            raise kopf.TemporaryError(message, delay=ctx.settings.retry_delay_seconds) from error

        if ctx.metrics is not None:
            llm = result.model
            ctx.metrics.observe_diagnosis(
                seconds=time.monotonic() - started,
                findings=result.findings,
                llm_outcome=None if llm is None or not llm.asked else (llm.error_type or "ok"),
                input_tokens=llm.usage.input_tokens if llm else None,
                output_tokens=llm.usage.output_tokens if llm else None,
                model=llm.usage.model if llm else None,
                skipped=llm.usage.skipped if llm else None,
            )
        kopf.event(
            body,
            type="Normal",
            reason="Diagnosed",
            message=prose.headline(
                diagnosis.category.value, diagnosis.confidence, diagnosis.summary
            )[:1000],
        )
        if diagnosis.remediations:
            top = diagnosis.remediations[0]
            kopf.event(
                body,
                type="Normal",
                reason="RemediationSuggested",
                message=prose.suggestion(top.risk.value, top.title, top.command)[:1000],
            )
        for cond in result.conditions:
            llm_failed = cond.type == "LLMUnavailable" and cond.reason != "NotConfigured"
            if llm_failed and cond.status == "True":
                kopf.event(body, type="Warning", reason="LLMUnavailable", message=cond.message)
            if cond.type == "AnalyzerDisagreement" and cond.status == "True":
                kopf.event(body, type="Warning", reason="ModelDisagreed", message=cond.message)
        logger.info("diagnosed %s/%s as %s", namespace, name, diagnosis.category.value)

    async def acknowledge(
        *,
        status: kopf.Status,
        meta: kopf.Meta,
        name: str,
        namespace: str | None,
        **_: Any,
    ) -> None:
        """A feedback edit (or a cleared approval) bumps the generation without asking for a
        new diagnosis; record that this generation was seen so a restart does not redo it.
        An approval is acknowledged by ``approve``."""
        if namespace is None or status.get("phase") not in (
            Phase.DIAGNOSED.value,
            Phase.FAILED.value,
            Phase.RESOLVED.value,
        ):
            return
        await ctx.incidents.patch_status(
            namespace, name, {"observedGeneration": meta.get("generation")}
        )

    async def learn(
        *,
        body: kopf.Body,
        spec: kopf.Spec,
        status: kopf.Status,
        meta: kopf.Meta,
        name: str,
        namespace: str | None,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        **_: Any,
    ) -> None:
        """Store a Resolved Incident that carries feedback in incident memory, once per
        generation. Runs on every event (including the initial listing after a restart), so
        nothing is missed; the ``status.learned`` marker makes it idempotent. A feedback
        with a resolution on a manual incident also closes it."""
        if ctx.memory is None or namespace is None or not spec.get("feedback"):
            return
        generation = meta.get("generation")
        learned = status.get("learned") or {}
        if learned.get("generation") == generation:
            return
        phase = status.get("phase")
        manual_close = (
            phase == Phase.DIAGNOSED.value
            and spec.get("source", "manual") == "manual"
            and bool((spec.get("feedback") or {}).get("resolution"))
        )
        if phase != Phase.RESOLVED.value and not manual_close:
            return
        now = ctx.clock()
        existing = parse_conditions(status.get("conditions"))
        try:
            incident = IncidentSpec.model_validate(dict(spec))
            raw_diagnosis = status.get("diagnosis")
            record, text = record_from_incident(
                name=name,
                namespace=namespace,
                spec=incident,
                diagnosis=Diagnosis.model_validate(raw_diagnosis) if raw_diagnosis else None,
                cluster=ctx.settings.cluster_name,
                created_at=parse_time(meta.get("creationTimestamp")),
                resolved_at=now,
            )
            record_id = await ctx.memory.store(record, text)
        except (NothingToLearn, ValidationError, IncidentMemoryError) as error:
            failed = condition("Learned", "False", type(error).__name__, str(error), now=now)
            conditions = conditions_body(merge_conditions(existing, [failed]))
            if conditions != status.get("conditions"):
                await ctx.incidents.patch_status(namespace, name, {"conditions": conditions})
            logger.warning("not learned: %s", error)
            return
        learned_condition = condition(
            "Learned",
            "True",
            "Stored",
            f"remembered as {record.category.value}"
            + (" (category corrected by feedback)" if record.corrected else ""),
            now=now,
        )
        patch: dict[str, Any] = {
            "learned": {
                "recordId": record_id,
                "generation": generation,
                "category": record.category.value,
                "at": now.isoformat(),
            },
            "observedGeneration": generation,
            "conditions": conditions_body(merge_conditions(existing, [learned_condition])),
        }
        if manual_close:
            patch["phase"] = Phase.RESOLVED.value
        await ctx.incidents.patch_status(namespace, name, patch)
        kopf.event(body, type="Normal", reason="Learned", message=learned_condition.message)

    async def approve(
        *,
        body: kopf.Body,
        spec: kopf.Spec,
        status: kopf.Status,
        meta: kopf.Meta,
        name: str,
        namespace: str | None,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        **_: Any,
    ) -> None:
        """Execute the remediation named by spec.approve if the policy allows it (see
        ``kubetriage.remediation.actions``); the outcome goes to status.remediation, a
        ``Remediated`` condition and Events on the Incident and the target."""
        if namespace is None:
            return

        async def record_progress(record: RemediationRecord) -> None:
            await ctx.incidents.patch_status(namespace, name, {"remediation": _record_body(record)})

        outcome = await execute_approval(
            Approval(namespace, name, dict(spec), dict(status), dict(meta)),
            cluster=ClusterAdapter(
                ctx.api_client, request_timeout=ctx.settings.kube_request_timeout_seconds
            ),
            policy_file=ctx.settings.policy_file,
            scope=ctx.stages.tenancy.scope(namespace),
            now=ctx.clock,
            record_progress=record_progress,
        )
        cond_status, reason, message = remediation_condition_fields(outcome.record)
        remediated = condition("Remediated", cond_status, reason, message, now=ctx.clock())
        patch: dict[str, Any] = {
            "remediation": _record_body(outcome.record),
            "conditions": conditions_body(
                merge_conditions(parse_conditions(status.get("conditions")), [remediated])
            ),
        }
        if status.get("phase") in (Phase.DIAGNOSED.value, Phase.FAILED.value, Phase.RESOLVED.value):
            patch["observedGeneration"] = meta.get("generation")
        await ctx.incidents.patch_status(namespace, name, patch)
        for note in outcome.events:
            kopf.event(body, type=note.type, reason=note.reason, message=note.message)
            if note.on_target and outcome.target_body is not None:
                kopf.event(
                    kopf.Body(cast("kopf.RawBody", outcome.target_body)),
                    type=note.type,
                    reason=note.reason,
                    message=f"{note.message} (Incident {namespace}/{name})"[:1000],
                )
        logger.info(
            "remediation %s: %s (%s)",
            outcome.record.id,
            outcome.record.result.value,
            outcome.record.reason,
        )

    async def index(
        *, type: str | None, status: kopf.Status, name: str, namespace: str | None, **_: Any
    ) -> None:
        """Keep the ``kubetriage_incidents`` gauge's index of phase and category."""
        if ctx.metrics is not None and namespace is not None:
            state = None if type == "DELETED" else incident_state(dict(status or {}))
            ctx.metrics.incidents.update(namespace, name, state)

    async def notify(*, type: str | None, name: str, namespace: str | None, **_: Any) -> None:
        """Every change (status writes included) goes to the notifier, which runs apart
        from the handlers: a slow or failing sink never delays or fails a diagnosis."""
        if ctx.notifier is not None and namespace is not None and type != "DELETED":
            ctx.notifier.enqueue(namespace, name)

    # At most `concurrency` diagnoses at once (Investigating write to Diagnosed write);
    # Incidents beyond it wait here, in arrival order, without an Investigating phase.
    diagnoses = asyncio.Semaphore(ctx.settings.concurrency)

    async def gated(**kwargs: Any) -> None:
        async with diagnoses:
            await handle(**kwargs)

    resource = (GROUP, VERSION, PLURAL)
    kopf.on.event(*resource, registry=registry, id="metrics-index")(index)
    kopf.on.event(*resource, registry=registry, id="notify")(notify)
    kopf.on.update(
        *resource,
        registry=registry,
        id="approve",
        retries=3,
        backoff=ctx.settings.retry_delay_seconds,
        when=lambda diff, spec, **_: _approval_requested(diff, spec),
    )(approve)
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
    kopf.on.create(
        *resource,
        registry=registry,
        id="diagnose",
        retries=ctx.settings.retry_limit,
        backoff=ctx.settings.retry_delay_seconds,
    )(gated)
    kopf.on.resume(
        *resource,
        registry=registry,
        id="diagnose",
        retries=ctx.settings.retry_limit,
        backoff=ctx.settings.retry_delay_seconds,
        when=lambda status, meta, **_: _needs_diagnosis(status, meta),
    )(gated)
    kopf.on.update(
        *resource,
        registry=registry,
        id="diagnose",
        retries=ctx.settings.retry_limit,
        backoff=ctx.settings.retry_delay_seconds,
        when=lambda diff, status, **_: (
            _diagnostic_change(diff) and (status or {}).get("phase") != Phase.RESOLVED.value
        ),
    )(gated)
    return registry


async def run_operator(
    ctx: OperatorContext,
    *,
    namespaces: list[str],
    standalone: bool,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
    liveness_endpoint: str | None = None,
) -> None:
    """Run the operator until ``stop_flag`` is set (or forever), with its ``/metrics``
    endpoint when ``ctx.metrics`` is set and ``settings.metrics_port`` is not 0."""
    registry = build_registry(ctx)
    endpoint: MetricsEndpoint | None = None
    if ctx.metrics is not None and ctx.settings.metrics_port:
        endpoint = MetricsEndpoint(
            ctx.metrics, host=ctx.settings.metrics_host, port=ctx.settings.metrics_port
        )
        await endpoint.start()
    try:
        await kopf.operator(
            registry=registry,
            clusterwide=not namespaces,
            namespaces=namespaces,
            standalone=standalone,
            # Passing a peering name makes peering mandatory in Kopf, even when standalone.
            peering_name=None if standalone else ctx.settings.peering_name,
            priority=(
                ctx.settings.peering_priority
                if ctx.settings.peering_priority is not None
                else secrets.randbelow(1_000_000) + 1
            ),
            stop_flag=stop_flag,
            ready_flag=ready_flag,
            liveness_endpoint=liveness_endpoint,
        )
    finally:
        if endpoint is not None:
            await endpoint.stop()

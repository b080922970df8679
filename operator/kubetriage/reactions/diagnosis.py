"""Diagnosing an Incident: the phase machine around ``kubetriage.pipeline.diagnose``.

Pending -> Investigating -> Diagnosed | Failed; Resolved is set from outside (the receiver
on a resolved alert, or a person) and never overwritten by a late diagnosis. An Incident the
schema lets through but that makes no sense fails at once; any other failure is retried
(``settings.retry_limit`` attempts, ``retry_delay_seconds`` apart) and the last one ends
Failed, so an Incident is never left in Investigating.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from kubetriage import prose
from kubetriage.errors import InvalidIncident, RetryableError
from kubetriage.incidents import StatusModelCache
from kubetriage.models.incident import IncidentSpec, IncidentView, Phase
from kubetriage.models.vocabulary import WORKLOAD_KINDS
from kubetriage.pipeline import PipelineResult, describe_target, diagnose
from kubetriage.reactions.context import (
    Failure,
    Logger,
    OperatorContext,
    PostEvent,
)
from kubetriage.status import (
    diagnosed_patch,
    failed_patch,
    investigating_patch,
    parse_conditions,
    parse_diagnosis,
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


def settled(status: Any, generation: Any) -> bool:
    """Whether an Incident with ``status`` needs no diagnosis for ``generation``: Resolved,
    or Diagnosed or Failed for that very generation."""
    phase = (status or {}).get("phase")
    if phase == Phase.RESOLVED.value:
        return True
    done = phase in (Phase.DIAGNOSED.value, Phase.FAILED.value)
    return done and (status or {}).get("observedGeneration") == generation


async def _already_settled(ctx: OperatorContext, incident: IncidentView) -> bool:
    """Whether the stored Incident is settled for the generation Kopf handed us.

    Kopf decides that a handler is due from the body it holds; when the watch lags behind
    Kopf's own progress write by more than ``persistence.consistency_timeout`` (a burst of
    Incidents on a loaded API server), it takes an older event of the Incident, one without
    its handled-record, for a new Incident and runs the diagnosis again: a second set of
    model calls and Events for an Incident already Diagnosed. The stored status decides.
    A failed read decides nothing: the diagnosis goes on and meets the API's failure there."""
    try:
        current = await ctx.incidents.get(incident.namespace, incident.name)
    except Exception:
        return False
    return settled(current.get("status"), incident.generation)


async def diagnose_incident(
    ctx: OperatorContext,
    incident: IncidentView,
    *,
    retry: int,
    post: PostEvent,
    logger: Logger,
) -> Failure | None:
    """Diagnose ``incident`` (attempt ``retry``, from 0) and write the outcome to its
    status; None when diagnosed, else how the attempt failed."""
    namespace, name, status = incident.namespace, incident.name, incident.status
    generation = incident.generation
    if retry == 0 and await _already_settled(ctx, incident):
        logger.info("%s/%s is settled for generation %s already", namespace, name, generation)
        return None
    existing = parse_conditions(status.get("conditions"))
    now = ctx.clock()
    try:
        spec = IncidentSpec.model_validate(incident.spec)
        validate_semantics(spec)
        check_target(ctx.stages.tenancy.scope(namespace), spec.target, spec.alerts)
    except (ValidationError, InvalidIncident) as error:
        reason = error.reason if isinstance(error, InvalidIncident) else "InvalidSpec"
        message = str(error)[:2000]
        await ctx.incidents.patch_status(
            namespace,
            name,
            failed_patch(existing, reason=reason, message=message, generation=generation, now=now),
        )
        post("Warning", reason, message[:1000])
        return Failure(message, error)

    investigating = investigating_patch(existing, generation=generation, now=now)
    started = time.monotonic()
    try:
        # Inside the try: a refused Investigating write is retried at retry_delay and
        # ends Failed like any other failure, instead of escaping to Kopf's own retries,
        # which gave up leaving the Incident with no phase at all.
        await ctx.incidents.patch_status(namespace, name, investigating)
        if retry == 0 or status.get("phase") != Phase.INVESTIGATING.value:
            # Once per investigation, also when the first attempt's write was refused.
            post("Normal", "Investigating", spec.title[:500])
        result = await asyncio.wait_for(
            diagnose(
                spec,
                namespace=namespace,
                name=name,
                stages=ctx.stages,
                now=now,
                previous=parse_diagnosis(status.get("diagnosis")),
                model_cache=StatusModelCache(ctx.incidents, namespace, name, status),
                traceparent=(incident.meta.get("annotations") or {}).get(TRACEPARENT_ANNOTATION),
            ),
            timeout=ctx.settings.diagnosis_timeout_seconds,
        )
        # Re-read: the receiver may have resolved the incident while we worked, and a
        # resolution must not be overwritten by a late diagnosis.
        current = (await ctx.incidents.get(namespace, name)).get("status") or {}
        patch = diagnosed_patch(
            parse_conditions(current.get("conditions")),
            result.diagnosis,
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
        return await _attempt_failed(ctx, incident, investigating, error, retry=retry, post=post)

    _observe(ctx, result, seconds=time.monotonic() - started)
    _announce(result, post)
    logger.info("diagnosed %s/%s as %s", namespace, name, result.diagnosis.category.value)
    return None


async def _attempt_failed(
    ctx: OperatorContext,
    incident: IncidentView,
    investigating: dict[str, Any],
    error: Exception,
    *,
    retry: int,
    post: PostEvent,
) -> Failure:
    """Retry later, or (after the last attempt) write Failed and give up."""
    if isinstance(error, TimeoutError):
        message = f"diagnosis timed out after {ctx.settings.diagnosis_timeout_seconds}s"
    else:
        message = f"{type(error).__name__}: {error}"[:2000]
    if retry + 1 < ctx.settings.retry_limit:
        post("Warning", "Retrying", message[:1000])
        return Failure(message, error, retry_after=ctx.settings.retry_delay_seconds)
    reason = (
        "RetriesExhausted"
        if isinstance(error, (RetryableError, TimeoutError, ApiException))
        else "InternalError"
    )
    with contextlib.suppress(Exception):  # the API may be what is failing
        await ctx.incidents.patch_status(
            incident.namespace,
            incident.name,
            failed_patch(
                parse_conditions(investigating["conditions"]),
                reason=reason,
                message=f"gave up after {retry + 1} attempts: {message}",
                generation=incident.generation,
                now=ctx.clock(),
            ),
        )
    post("Warning", "DiagnosisFailed", message[:1000])
    return Failure(message, error)


def _observe(ctx: OperatorContext, result: PipelineResult, *, seconds: float) -> None:
    if ctx.metrics is None:
        return
    llm = result.model
    ctx.metrics.observe_diagnosis(
        seconds=seconds,
        findings=result.findings,
        llm_outcome=None if llm is None or not llm.asked else (llm.error_type or "ok"),
        input_tokens=llm.usage.input_tokens if llm else None,
        output_tokens=llm.usage.output_tokens if llm else None,
        model=llm.usage.model if llm else None,
        skipped=llm.usage.skipped if llm else None,
    )


def _announce(result: PipelineResult, post: PostEvent) -> None:
    """The Events of a diagnosis: what it found, the suggested fix, what went wrong."""
    diagnosis = result.diagnosis
    post(
        "Normal",
        "Diagnosed",
        prose.headline(diagnosis.category.value, diagnosis.confidence, diagnosis.summary)[:1000],
    )
    if diagnosis.remediations:
        top = diagnosis.remediations[0]
        post(
            "Normal",
            "RemediationSuggested",
            prose.suggestion(top.risk.value, top.title, top.command)[:1000],
        )
    for cond in result.conditions:
        llm_failed = cond.type == "LLMUnavailable" and cond.reason != "NotConfigured"
        if llm_failed and cond.status == "True":
            post("Warning", "LLMUnavailable", cond.message)
        if cond.type == "AnalyzerDisagreement" and cond.status == "True":
            post("Warning", "ModelDisagreed", cond.message)

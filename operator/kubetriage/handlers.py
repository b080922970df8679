"""Kopf handlers for Incidents: the only module that imports Kopf.

``build_registry`` wires the handlers to a fresh ``kopf.OperatorRegistry`` around an
``OperatorContext`` (settings, pipeline stages, the Incident store), so there is no global
registry and no module state; ``run_operator`` is what ``kubetriage run`` and the replay
tooling call. The diagnosis itself is ``kubetriage.pipeline.diagnose``.

Phase machine: Pending -> Investigating -> Diagnosed | Failed; Resolved is set from outside
(the receiver on a resolved alert, or a person). Status writes do not retrigger handlers,
because Kopf's diff ignores ``.status``; spec changes other than ``feedback``/``approve``
re-diagnose.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes import client as k8s
from pydantic import ValidationError

from kubetriage.errors import InvalidIncident, RetryableError
from kubetriage.incidents import IncidentStore
from kubetriage.models.diagnosis import Diagnosis
from kubetriage.models.incident import GROUP, PLURAL, VERSION, IncidentSpec, Phase
from kubetriage.models.vocabulary import WORKLOAD_KINDS
from kubetriage.pipeline import Stages, describe_target, diagnose
from kubetriage.settings import Settings
from kubetriage.status import diagnosed_patch, failed_patch, investigating_patch, parse_conditions

MAX_RETRIES = 5
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
NON_DIAGNOSTIC_FIELDS = frozenset({"feedback", "approve"})


@dataclass(frozen=True)
class OperatorContext:
    settings: Settings
    stages: Stages
    incidents: IncidentStore
    api_client: k8s.ApiClient
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


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


def _needs_diagnosis(status: Any, meta: Any) -> bool:
    """On resume (operator start), only incidents not yet diagnosed for this generation."""
    phase = (status or {}).get("phase")
    if phase == Phase.RESOLVED.value:
        return False
    observed = (status or {}).get("observedGeneration")
    return phase not in (Phase.DIAGNOSED.value, Phase.FAILED.value) or observed != meta.get(
        "generation"
    )


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
        token = auth.split(" ", 1)[1] if auth.startswith("Bearer ") else auth
        if prefix and prefix != "Bearer":
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
        settings.queueing.worker_limit = ctx.settings.concurrency
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
        await ctx.incidents.patch_status(namespace, name, investigating)
        if retry == 0:
            kopf.event(body, type="Normal", reason="Investigating", message=incident.title[:500])

        previous_raw = status.get("diagnosis")
        previous: Diagnosis | None = None
        if previous_raw:
            try:
                previous = Diagnosis.model_validate(previous_raw)
            except ValidationError:
                previous = None
        try:
            result = await asyncio.wait_for(
                diagnose(
                    incident, namespace=namespace, stages=ctx.stages, now=now, previous=previous
                ),
                timeout=ctx.settings.diagnosis_timeout_seconds,
            )
        except (RetryableError, TimeoutError) as error:
            delay = error.delay if isinstance(error, RetryableError) else 30.0
            message = (
                str(error) or f"diagnosis timed out after {ctx.settings.diagnosis_timeout_seconds}s"
            )
            if retry + 1 >= MAX_RETRIES:
                await ctx.incidents.patch_status(
                    namespace,
                    name,
                    failed_patch(
                        parse_conditions(investigating["conditions"]),
                        reason="RetriesExhausted",
                        message=f"gave up after {retry + 1} attempts: {message}",
                        generation=generation,
                        now=ctx.clock(),
                    ),
                )
                kopf.event(body, type="Warning", reason="DiagnosisFailed", message=message[:1000])
                raise kopf.PermanentError(message) from error
            kopf.event(body, type="Warning", reason="Retrying", message=message[:1000])
            raise kopf.TemporaryError(message, delay=delay) from error

        diagnosis = result.diagnosis
        target = describe_target(result.evidence, [])
        await ctx.incidents.patch_status(
            namespace,
            name,
            diagnosed_patch(
                parse_conditions(investigating["conditions"]),
                diagnosis,
                result.conditions,
                target=target,
                generation=generation,
                now=ctx.clock(),
            ),
        )
        kopf.event(
            body,
            type="Normal",
            reason="Diagnosed",
            message=(
                f"{diagnosis.category.value} ({diagnosis.confidence:.2f}): {diagnosis.summary}"
            )[:1000],
        )
        if diagnosis.remediations:
            top = diagnosis.remediations[0]
            kopf.event(
                body,
                type="Normal",
                reason="RemediationSuggested",
                message=f"[{top.risk.value} risk] {top.title}: {top.command}"[:1000],
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
        """A feedback or approval edit bumps the generation without asking for a new
        diagnosis; record that this generation was seen so a restart does not redo it."""
        if namespace is None or status.get("phase") not in (
            Phase.DIAGNOSED.value,
            Phase.FAILED.value,
            Phase.RESOLVED.value,
        ):
            return
        await ctx.incidents.patch_status(
            namespace, name, {"observedGeneration": meta.get("generation")}
        )

    resource = (GROUP, VERSION, PLURAL)
    kopf.on.update(
        *resource,
        registry=registry,
        id="acknowledge",
        when=lambda diff, **_: not _diagnostic_change(diff) and _touches_spec(diff),
    )(acknowledge)
    kopf.on.create(*resource, registry=registry, id="diagnose", retries=MAX_RETRIES, backoff=5)(
        handle
    )
    kopf.on.resume(
        *resource,
        registry=registry,
        id="diagnose",
        retries=MAX_RETRIES,
        backoff=5,
        when=lambda status, meta, **_: _needs_diagnosis(status, meta),
    )(handle)
    kopf.on.update(
        *resource,
        registry=registry,
        id="diagnose",
        retries=MAX_RETRIES,
        backoff=5,
        when=lambda diff, status, **_: (
            _diagnostic_change(diff) and (status or {}).get("phase") != Phase.RESOLVED.value
        ),
    )(handle)
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
    """Run the operator until ``stop_flag`` is set (or forever)."""
    registry = build_registry(ctx)
    await kopf.operator(
        registry=registry,
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=standalone,
        # Passing a peering name makes peering mandatory in Kopf, even when standalone.
        peering_name=None if standalone else ctx.settings.peering_name,
        stop_flag=stop_flag,
        ready_flag=ready_flag,
        liveness_endpoint=liveness_endpoint,
    )

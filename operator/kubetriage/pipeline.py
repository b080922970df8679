"""``diagnose()``: one incident from spec to diagnosis, in the order an SRE would look.

1. evidence from the Kubernetes API   (adapter: ``evidence.kube``)
2. metrics from Prometheus            (adapter: ``evidence.prometheus``; optional)
3. redaction                          (before anything leaves the process or is stored)
4. analyzers                          (pure)
5. memory of similar incidents        (adapter: ``memory``; optional)
6. gating, budget, one LLM call       (``llm.step``; adapter: ``llm.client``; optional)
7. combination                        (pure: ``combine``)

Called by ``kubetriage.handlers`` (the operator) and by the replay tooling through it. The
adapters are passed in as a ``Stages`` bundle built once at startup; each optional stage
degrades into a status condition instead of failing the diagnosis.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar, Unpack

from kubetriage import prose
from kubetriage.analyzers import run_analyzers
from kubetriage.analyzers.support import incident_subject
from kubetriage.combine import combine
from kubetriage.evidence.query import EvidenceQuery
from kubetriage.llm.gating import GateRules
from kubetriage.llm.schema import LLMAnswer
from kubetriage.llm.step import ModelBudget as ModelBudget
from kubetriage.llm.step import ModelCache as ModelCache
from kubetriage.llm.step import ModelOutcome as ModelOutcome
from kubetriage.llm.step import ModelSource as ModelSource
from kubetriage.llm.step import ask_model, budget_condition, model_condition
from kubetriage.memory.canonical import canonical_text, parts_from_evidence
from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import Diagnosis, LLMUsage, SimilarIncident
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding, ModelOpinion, ProposedRemediation
from kubetriage.models.incident import Alert, Condition, IncidentSpec
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.status import condition
from kubetriage.telemetry import Telemetry
from kubetriage.tenancy import Scope, Tenancy, allowed_candidates

logger = logging.getLogger(__name__)


class EvidenceSource(Protocol):
    async def collect(self, *, scope: Scope, **query: Unpack[EvidenceQuery]) -> Evidence: ...


_Item = TypeVar("_Item")


@dataclass(frozen=True)
class SourceOutcome(Generic[_Item]):
    """What an optional source (metrics, memory) returned, and the status its condition shows."""

    items: list[_Item]
    status: str
    message: str = ""


# status: ok | no_data | unavailable | not_configured
MetricsOutcome = SourceOutcome[MetricSummary]
# status: ok | empty | unavailable | not_configured
MemoryOutcome = SourceOutcome[SimilarIncident]


class MetricsSource(Protocol):
    async def __call__(
        self, evidence: Evidence, alerts: list[Alert], now: datetime
    ) -> MetricsOutcome: ...


class MemorySource(Protocol):
    async def __call__(
        self, signature: str, *, namespace: str | None, exclude_name: str | None
    ) -> MemoryOutcome: ...


@dataclass(frozen=True)
class Stages:
    """The adapters one diagnosis uses; built once at startup, shared by all handlers."""

    evidence: EvidenceSource
    redact: Callable[[Evidence], Evidence]
    metrics: MetricsSource | None = None
    memory: MemorySource | None = None
    model: ModelSource | None = None
    telemetry: Telemetry = field(default_factory=Telemetry.disabled)
    # The tenancy rule (kubetriage.tenancy); the default lets no namespace reach further
    # than itself. app.py builds it from the settings.
    tenancy: Tenancy = field(default_factory=Tenancy)
    # Cost controls around ``model``: which Incidents may use it, and how much.
    gate: GateRules = field(default_factory=GateRules)
    budget: ModelBudget | None = None


@dataclass(frozen=True)
class PipelineResult:
    diagnosis: Diagnosis
    conditions: list[Condition]
    evidence: Evidence
    findings: list[Finding] = field(default_factory=list)
    # The model step of this diagnosis; None when no model is configured or the previous
    # answer was reused; ``asked`` is False when a rule or the budget kept the model out.
    # The operator's metrics count calls and tokens from it.
    model: ModelOutcome | None = None


def evidence_hash(evidence: Evidence) -> str:
    """A stable hash of what the diagnosis was based on (the collection time excluded), so a
    restart or a repeat of an identical incident does not pay for a second LLM call."""
    body = evidence.model_dump(mode="json", exclude={"collected_at"})
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:32]


def opinion_from_answer(answer: LLMAnswer) -> ModelOpinion:
    """Adapt the LLM layer's validated answer to the combiner's vocabulary-checked view."""
    return ModelOpinion(
        category=answer.category,
        confidence=answer.confidence,
        summary=answer.summary,
        root_cause=answer.root_cause or "",
        evidence=list(answer.evidence),
        remediations=[
            ProposedRemediation(
                action=item.action,
                target=ObjectRef(
                    kind=item.target.kind,
                    name=item.target.name,
                    namespace=item.target.namespace or None,
                ),
                rationale=item.rationale,
            )
            for item in answer.remediations
        ],
        disagreement=answer.disagrees_with_analyzers,
        cited=list(answer.evidence_ids),
    )


# A source's status word -> the reason its condition gives when the source is not "ok".
_METRICS_REASONS = {
    "no_data": "NoData",
    "unavailable": "PrometheusUnavailable",
    "not_configured": "NotConfigured",
}
_MEMORY_REASONS = {"empty": "NoSimilarIncidents", "unavailable": "MemoryUnavailable"}


def _source_condition(
    kind: str,
    outcome: SourceOutcome[_Item],
    searched: str,
    reasons: dict[str, str],
    otherwise: str,
    now: datetime,
) -> Condition:
    """``kind`` True with ``searched`` when the source answered, else False with its reason."""
    if outcome.status == "ok":
        return condition(kind, "True", searched, outcome.message, now=now)
    reason = reasons.get(outcome.status, otherwise)
    return condition(kind, "False", reason, outcome.message, now=now)


def _target_found(evidence: Evidence) -> bool:
    """Whether the target object itself is in the evidence (not just named by the alert)."""
    target = evidence.target
    if target is None:
        return False
    if evidence.workload is not None and evidence.workload.ref.same_object(target):
        return True
    if target.kind == "Namespace":
        return bool(evidence.pods or evidence.workload)
    collections: dict[str, list[tuple[str | None, str]]] = {
        "Pod": [(p.namespace, p.name) for p in evidence.pods],
        "Service": [(s.namespace, s.name) for s in evidence.services],
        "PersistentVolumeClaim": [(p.namespace, p.name) for p in evidence.pvcs],
        "Node": [(None, n.name) for n in evidence.nodes],
        "NetworkPolicy": [(n.namespace, n.name) for n in evidence.network_policies],
        "HorizontalPodAutoscaler": [(a.namespace, a.name) for a in evidence.autoscalers],
        "ConfigMap": [(target.namespace, name) for name in evidence.config_maps],
    }
    if target.kind in collections:
        return (target.namespace, target.name) in collections[target.kind] or (
            target.kind == "Node" and any(n == target.name for _, n in collections["Node"])
        )
    return any(o.ref.same_object(target) for o in evidence.other_objects)


def _evidence_condition(evidence: Evidence, now: datetime) -> Condition:
    if evidence.target is not None and not _target_found(evidence):
        return condition(
            "EvidenceCollected",
            "False",
            "TargetNotFound",
            f"{prose.obj(evidence.target)} was not found; "
            + "; ".join(evidence.collection_errors[:5]),
            now=now,
        )
    if evidence.collection_errors:
        return condition(
            "EvidenceCollected",
            "True",
            "Partial",
            "; ".join(evidence.collection_errors[:10]),
            now=now,
        )
    target = prose.obj(evidence.target) if evidence.target else "no target"
    counts = [
        prose.count(len(evidence.pods), "pod"),
        prose.count(len(evidence.events), "event"),
        prose.count(len(evidence.logs), "log tail"),
        prose.count(len(evidence.metrics), "metric series", "metric series"),
    ]
    return condition(
        "EvidenceCollected", "True", "Collected", f"{target}: {', '.join(counts)}", now=now
    )


async def diagnose(
    spec: IncidentSpec,
    *,
    namespace: str | None,
    stages: Stages,
    now: datetime,
    name: str | None = None,
    previous: Diagnosis | None = None,
    model_cache: ModelCache | None = None,
    clock: Callable[[], float] = time.monotonic,
    traceparent: str | None = None,
) -> PipelineResult:
    """Diagnose one incident. Raises only what the handler must retry (the Kubernetes API
    being unreachable); every optional stage failing becomes a condition instead.

    One trace per call, linked to ``traceparent`` (the webhook request that created the
    Incident) when given."""
    with stages.telemetry.diagnosis(
        name=name, namespace=namespace, traceparent=traceparent
    ) as span:
        result = await _diagnose(
            spec,
            namespace=namespace,
            stages=stages,
            now=now,
            name=name,
            previous=previous,
            model_cache=model_cache,
            clock=clock,
        )
        span.set_attributes(
            {
                "kubetriage.diagnosis.category": result.diagnosis.category.value,
                "kubetriage.diagnosis.confidence": result.diagnosis.confidence,
                "kubetriage.diagnosis.llm_used": result.diagnosis.llm.used,
                "kubetriage.diagnosis.llm_cached": bool(result.diagnosis.llm.cached),
            }
        )
        return result


async def _diagnose(
    spec: IncidentSpec,
    *,
    namespace: str | None,
    stages: Stages,
    now: datetime,
    name: str | None,
    previous: Diagnosis | None,
    model_cache: ModelCache | None,
    clock: Callable[[], float],
) -> PipelineResult:
    telemetry = stages.telemetry
    conditions: list[Condition] = []
    scope = stages.tenancy.scope(namespace)
    candidates, _ = allowed_candidates(scope, spec.target, spec.alerts)
    target = spec.target or (candidates[0] if candidates else None)
    target_attrs = {"kubetriage.target": target.display()} if target else {}
    with telemetry.stage("collect kubernetes evidence", target_attrs) as span:
        raw = await stages.evidence.collect(
            target=target,
            alerts=spec.alerts,
            title=spec.title,
            description=spec.description,
            now=now,
            scope=scope,
        )
        span.set_attributes(
            {
                "kubetriage.evidence.pods": len(raw.pods),
                "kubetriage.evidence.events": len(raw.events),
                "kubetriage.evidence.logs": len(raw.logs),
                "kubetriage.evidence.errors": len(raw.collection_errors),
            }
        )

    if stages.metrics is not None:
        with telemetry.stage("query prometheus") as span:
            metrics = await stages.metrics(raw, spec.alerts, now)
            span.set_attributes(
                {
                    "kubetriage.metrics.status": metrics.status,
                    "kubetriage.metrics.series": len(metrics.items),
                }
            )
        raw = raw.model_copy(update={"metrics": metrics.items})
    else:
        metrics = MetricsOutcome([], "not_configured", "No Prometheus URL is configured.")
    conditions.append(
        _source_condition("MetricsAvailable", metrics, "Queried", _METRICS_REASONS, "Unknown", now)
    )
    conditions.append(_evidence_condition(raw, now))

    evidence = stages.redact(raw)
    with telemetry.stage("run analyzers") as span:
        analyzer_run = run_analyzers(evidence)
        findings = list(analyzer_run.findings)
        span.set_attributes(
            {
                "kubetriage.analyzers.fired": sorted({f.analyzer for f in findings}),
                "kubetriage.analyzers.errors": len(analyzer_run.errors),
            }
        )
    for error in analyzer_run.errors:
        logger.warning("analyzer error: %s", error)

    signature = canonical_text(parts_from_evidence(evidence, findings))
    if stages.memory is not None:
        memory = await stages.memory(signature, namespace=namespace, exclude_name=name)
    else:
        memory = MemoryOutcome([], "not_configured", "Incident memory is disabled.")
    conditions.append(
        _source_condition(
            "MemoryAvailable", memory, "Searched", _MEMORY_REASONS, "NotConfigured", now
        )
    )

    digest = evidence_hash(evidence)
    model_outcome: ModelOutcome | None = None
    if stages.model is not None:
        if previous is not None and previous.evidence_hash == digest and previous.llm.used:
            # Same evidence as the diagnosis already written (operator restart, resume):
            # keep that answer instead of paying for, and possibly changing, a second call.
            conditions.append(
                condition(
                    "LLMUnavailable",
                    "False",
                    "Cached",
                    "evidence unchanged; the earlier model answer is kept",
                    now=now,
                )
            )
            return PipelineResult(
                diagnosis=previous.model_copy(
                    update={"llm": previous.llm.model_copy(update={"cached": True})}
                ),
                conditions=conditions,
                evidence=evidence,
                findings=findings,
            )
        model_outcome = await model_cache.get(digest) if model_cache is not None else None
        if model_outcome is not None:
            model_outcome.usage.cached = True
        else:
            model_outcome = await ask_model(
                stages.model,
                gate=stages.gate,
                budget=stages.budget,
                severity=spec.severity,
                namespace=namespace,
                evidence=evidence,
                findings=findings,
                similar=memory.items,
                clock=clock,
            )
            if model_cache is not None and model_outcome.opinion is not None:
                await model_cache.put(digest, model_outcome)
            if stages.budget is not None:
                conditions.append(budget_condition(model_outcome.budget, now))
    conditions.append(model_condition(model_outcome, now))

    usage = model_outcome.usage if model_outcome else LLMUsage(used=False, reason="not configured")
    diagnosis = combine(
        evidence=evidence,
        findings=findings,
        opinion=model_outcome.opinion if model_outcome else None,
        llm=usage,
        similar=memory.items,
        metrics_status=metrics.status,
    )
    diagnosis.evidence_hash = digest
    diagnosis.signature = signature
    conditions.append(
        condition(
            "AnalyzerDisagreement",
            "True" if diagnosis.disagreement or diagnosis.hypothesis else "False",
            "ModelDisagreed"
            if diagnosis.disagreement
            else ("ModelUnconfirmed" if diagnosis.hypothesis else "NoDisagreement"),
            diagnosis.disagreement or diagnosis.hypothesis or "",
            now=now,
        )
    )
    return PipelineResult(
        diagnosis=diagnosis,
        conditions=conditions,
        evidence=evidence,
        findings=findings,
        model=model_outcome,
    )


def describe_target(evidence: Evidence, fallback: Sequence[ObjectRef]) -> str | None:
    ref = incident_subject(evidence)
    if ref is None and fallback:
        ref = fallback[0]
    return ref.display() if ref else None

"""Composition root: build every client once from ``Settings`` and bundle them into the
pipeline's ``Stages`` (and the memory writer the handlers use to learn). Called by the CLI
(``run``, ``diagnose``, ``eval``, ``demo``); tests build their own with real local servers in
place of production endpoints.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kubernetes import client as k8s
from opentelemetry.trace import StatusCode

from kubetriage.evidence.kube import KubeEvidenceCollector
from kubetriage.evidence.label_vocabulary import runs_metrics_server
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.prometheus import PrometheusEvidenceCollector
from kubetriage.evidence.queries import metrics_target
from kubetriage.evidence.readcache import ReadCache
from kubetriage.llm.budget import BudgetLimits, LLMBudget
from kubetriage.llm.budget_store import ConfigMapBudgetStore, PersistentBudget
from kubetriage.llm.client import LLMClient
from kubetriage.llm.gating import GateRules
from kubetriage.llm.prompt import render_messages
from kubetriage.memory.errors import IncidentMemoryError
from kubetriage.memory.records import MemoryRecord
from kubetriage.models.alerts_view import (
    callee_workloads,
    dependency_hosts,
    tenant_pods,
    volume_claims,
)
from kubetriage.models.diagnosis import LLMUsage, SimilarIncident
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.incident import Alert
from kubetriage.pipeline import (
    MemoryOutcome,
    MetricsOutcome,
    ModelOutcome,
    Stages,
    opinion_from_answer,
)
from kubetriage.redaction import Anonymizer, redact_evidence, redact_text
from kubetriage.remediation.policy import PolicyError, load_policy
from kubetriage.settings import Settings, secret_from

if TYPE_CHECKING:
    from kubetriage.incidents import IncidentStore
    from kubetriage.memory.embeddings import Embedder
    from kubetriage.memory.store import IncidentMemory
    from kubetriage.notify.interactions import SlackInteractions
    from kubetriage.notify.notifier import Notifier
from kubetriage.telemetry import Telemetry
from kubetriage.tenancy import Tenancy

logger = logging.getLogger(__name__)


class LLMStage:
    """Renders the prompt from files and makes the one model call per diagnosis."""

    def __init__(self, client: LLMClient, settings: Settings) -> None:
        self._client = client
        self._settings = settings

    async def __call__(
        self, evidence: Evidence, findings: list[Finding], similar: list[SimilarIncident]
    ) -> ModelOutcome:
        anonymizer = Anonymizer() if self._settings.llm_anonymize else None
        if anonymizer is not None:
            # Names the model never sees; its answer is mapped back before anyone reads it.
            evidence = anonymizer.anonymize_evidence(evidence)
            findings = [anonymizer.anonymize_model(f) for f in findings]
            similar = [anonymizer.anonymize_model(s) for s in similar]
        messages = render_messages(
            evidence, findings, similar, max_chars=self._settings.llm_prompt_max_chars
        )
        result = await self._client.diagnose(messages)
        if anonymizer is not None and result.answer is not None:
            result = result.model_copy(update={"answer": anonymizer.restore_model(result.answer)})
        usage = LLMUsage(
            used=result.answer is not None,
            model=result.model or self._settings.llm_model,
            provider=self._settings.llm_provider,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            duration_ms=result.duration_ms,
            response_format=result.response_format_used,
            attempts=result.attempts,
            reason=None if result.answer is not None else (result.error or "no answer")[:1024],
        )
        opinion = opinion_from_answer(result.answer) if result.answer is not None else None
        return ModelOutcome(
            opinion=opinion, usage=usage, error_type=result.error_type, error=result.error
        )

    async def aclose(self) -> None:
        await self._client.aclose()


class PrometheusStage:
    def __init__(self, collector: PrometheusEvidenceCollector) -> None:
        self._collector = collector

    async def __call__(
        self, evidence: Evidence, alerts: list[Alert], now: datetime
    ) -> MetricsOutcome:
        workload = evidence.workload.ref if evidence.workload is not None else None
        result = await self._collector.collect(
            metrics_target(evidence.target, workload),
            alerts,
            now,
            dependency_hosts=dependency_hosts(evidence),
            callees=callee_workloads(evidence),
            claims=volume_claims(evidence),
            tenants=tenant_pods(evidence),
            namespace_wide=evidence.target is None or evidence.target.kind == "Namespace",
            workload=workload,
            scrapes=runs_metrics_server(c.image for p in evidence.pods for c in p.containers),
        )
        return MetricsOutcome(result.summaries, result.status, result.message)


class MemoryStage:
    """Searches incident memory; a store that could not be opened reports why, every time,
    instead of failing diagnoses."""

    def __init__(
        self,
        memory: IncidentMemory | None,
        settings: Settings,
        *,
        unavailable: str = "",
        telemetry: Telemetry | None = None,
    ) -> None:
        self._memory = memory
        self._settings = settings
        self._unavailable = unavailable
        self._telemetry = telemetry or Telemetry.disabled()

    async def __call__(
        self, signature: str, *, namespace: str | None, exclude_name: str | None
    ) -> MemoryOutcome:
        if self._memory is None:
            return MemoryOutcome([], "unavailable", self._unavailable)
        with self._telemetry.retrieval(
            data_source_id=self._memory.collection,
            top_k=self._settings.memory_top_k,
            query=signature,
        ) as span:
            try:
                # to_thread copies the context: the embedding span nests under this one.
                matches = await asyncio.to_thread(
                    self._memory.search,
                    signature,
                    k=self._settings.memory_top_k,
                    score_threshold=self._settings.memory_score_threshold,
                    prefer_cluster=self._settings.cluster_name,
                    prefer_namespace=namespace,
                    exclude_name=exclude_name,
                )
            except IncidentMemoryError as error:
                span.set_attribute("error.type", type(error).__qualname__)
                span.set_status(StatusCode.ERROR, str(error)[:500])
                return MemoryOutcome([], "unavailable", str(error)[:1000])
            self._telemetry.retrieved(span, [(m.record.name, m.score) for m in matches])
        if not matches:
            return MemoryOutcome(
                [],
                "empty",
                f"no resolved incident above similarity {self._settings.memory_score_threshold}",
            )
        similar = [m.to_similar_incident() for m in matches]
        names = ", ".join(f"{s.name} ({s.score:.2f})" for s in similar)
        return MemoryOutcome(similar, "ok", f"similar: {names}")

    def close(self) -> None:
        if self._memory is not None:
            self._memory.close()

    def record_count(self) -> int | None:
        """Records in the store (blocking; the metrics scrape calls it), None if unavailable."""
        return self._memory.stats().count if self._memory is not None else None

    async def store(self, record: MemoryRecord, text: str) -> str:
        """Learn one resolved incident; raises ``IncidentMemoryError`` when unavailable."""
        if self._memory is None:
            raise IncidentMemoryError(self._unavailable or "incident memory is not available")
        return await asyncio.to_thread(self._memory.store, record, text)


@dataclass(frozen=True)
class Components:
    stages: Stages
    memory: MemoryStage | None
    llm: LLMClient | None
    # The shared LLM budget (None without an LLM or without any limit configured).
    budget: PersistentBudget | None = None

    async def aclose(self) -> None:
        """Release connections and the local store's lock (at shutdown)."""
        if self.llm is not None:
            await self.llm.aclose()
        if self.memory is not None:
            await asyncio.to_thread(self.memory.close)


def default_memory_path() -> Path:
    return Path.home() / ".local" / "share" / "kubetriage" / "memory"


def open_memory(
    settings: Settings, telemetry: Telemetry | None = None, *, embedder: Embedder | None = None
) -> MemoryStage | None:
    """The incident memory the settings ask for, embedding with ``embedder`` (one already
    loaded, shared by the replays of one evaluation) or a freshly loaded MiniLM."""
    if not settings.memory_enabled:
        return None
    if settings.qdrant_url is None and settings.qdrant_path is None:
        settings = settings.model_copy(update={"qdrant_path": default_memory_path()})
    telemetry = telemetry or Telemetry.disabled()
    try:
        # Imported here: qdrant-client and onnxruntime cost ~80 MiB, only worth it when used.
        from kubetriage.memory.embeddings import OnnxMiniLMEmbedder
        from kubetriage.memory.store import IncidentMemory

        memory = IncidentMemory.from_settings(
            settings,
            embedder=telemetry.traced_embedder(embedder or OnnxMiniLMEmbedder()),
            redact=redact_text,
        )
    except IncidentMemoryError as error:
        logger.error("incident memory unavailable: %s", error)
        return MemoryStage(None, settings, unavailable=str(error)[:1000], telemetry=telemetry)
    return MemoryStage(memory, settings, telemetry=telemetry)


def wall_clock() -> datetime:
    return datetime.now(UTC)


def build_budget(
    settings: Settings,
    api_client: k8s.ApiClient,
    clock: Callable[[], datetime] = wall_clock,
) -> PersistentBudget | None:
    """The operator's one LLM budget, its usage kept in a ConfigMap; None without limits.
    Raises ValueError for limits no call could fit in."""
    limits = BudgetLimits.from_settings(settings)
    if not limits.enabled:
        return None
    store = ConfigMapBudgetStore(
        api_client,
        namespace=settings.llm_budget_namespace or settings.incident_namespace,
        name=settings.llm_budget_configmap,
        request_timeout=settings.kube_request_timeout_seconds,
    )
    return PersistentBudget(LLMBudget(limits, clock), store)


def build_components(
    settings: Settings,
    api_client: k8s.ApiClient,
    telemetry: Telemetry | None = None,
    *,
    clock: Callable[[], datetime] = wall_clock,
    embedder: Embedder | None = None,
) -> Components:
    """Every adapter, built once. ``clock`` is the wall clock the LLM budget's windows run
    on (tests pass one they drive); ``embedder`` an incident-memory embedder already loaded."""
    collector = KubeEvidenceCollector(
        api_client,
        limits=EvidenceLimits.from_settings(settings),
        request_timeout=settings.kube_request_timeout_seconds,
        shared=ReadCache(settings.evidence_cache_seconds),
    )
    telemetry = telemetry or Telemetry.disabled()
    llm = LLMClient(settings, telemetry=telemetry) if settings.llm_configured else None
    model = LLMStage(llm, settings) if llm is not None else None
    metrics = (
        PrometheusStage(PrometheusEvidenceCollector.from_settings(settings))
        if settings.prometheus_url
        else None
    )
    budget = build_budget(settings, api_client, clock) if llm is not None else None
    memory = open_memory(settings, telemetry, embedder=embedder)
    stages = Stages(
        evidence=collector,
        redact=redact_evidence,
        metrics=metrics,
        memory=memory,
        model=model,
        telemetry=telemetry,
        tenancy=Tenancy.from_settings(settings),
        gate=GateRules.from_settings(settings),
        budget=budget,
    )
    return Components(stages=stages, memory=memory, llm=llm, budget=budget)


def build_stages(
    settings: Settings, api_client: k8s.ApiClient, telemetry: Telemetry | None = None
) -> Stages:
    return build_components(settings, api_client, telemetry).stages


def build_notifier(settings: Settings, incidents: IncidentStore) -> Notifier | None:
    """The notifier when any sink is configured (raises ``SecretFileError`` when a mounted
    secret file cannot be read, so the operator fails at startup, not at the first page)."""
    from kubetriage.notify.notifier import Notifier, Sinks

    sinks = Sinks.from_settings(settings)
    if not sinks.any:
        return None
    approvable: frozenset[str] = frozenset()
    if settings.policy_file is not None:
        try:
            policy = load_policy(settings.policy_file.read_text(encoding="utf-8"))
            approvable = policy.slack_approvable()
        except (OSError, PolicyError) as error:
            logger.error("no Approve buttons: the remediation policy is unusable: %s", error)
    return Notifier(settings, incidents, sinks, approvable=approvable)


def build_interactions(settings: Settings, incidents: IncidentStore) -> SlackInteractions | None:
    """The Slack interactivity endpoint when a signing secret is configured."""
    from kubetriage.notify.interactions import SlackInteractions

    secret = secret_from(settings.slack_signing_secret, settings.slack_signing_secret_file)
    if secret is None:
        return None
    return SlackInteractions(secret.get_secret_value(), incidents, policy_file=settings.policy_file)

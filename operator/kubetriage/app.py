"""Composition root: build every client once from ``Settings`` and bundle them into the
pipeline's ``Stages``. Called by the CLI (``run``, ``diagnose``, ``eval``, ``demo``); tests
build their own ``Stages`` with real local servers in place of production endpoints.
"""

from __future__ import annotations

import logging
from datetime import datetime

from kubernetes import client as k8s

from kubetriage.evidence.kube import KubeEvidenceCollector
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.llm.client import LLMClient
from kubetriage.llm.prompt import render_messages
from kubetriage.models.diagnosis import LLMUsage, SimilarIncident
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.pipeline import ModelOutcome, Stages, opinion_from_answer
from kubetriage.redaction import redact_evidence
from kubetriage.settings import Settings

logger = logging.getLogger(__name__)


class LLMStage:
    """Renders the prompt from files and makes the one model call per diagnosis."""

    def __init__(self, client: LLMClient, settings: Settings) -> None:
        self._client = client
        self._settings = settings

    async def __call__(
        self, evidence: Evidence, findings: list[Finding], similar: list[SimilarIncident]
    ) -> ModelOutcome:
        messages = render_messages(
            evidence, findings, similar, max_chars=self._settings.llm_prompt_max_chars
        )
        result = await self._client.diagnose(messages)
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


def build_stages(settings: Settings, api_client: k8s.ApiClient) -> Stages:
    limits = EvidenceLimits(
        max_pods=settings.max_pods,
        max_events=settings.max_events,
        max_log_lines=settings.log_tail_lines,
        max_log_tail_bytes=settings.log_tail_bytes,
    )
    collector = KubeEvidenceCollector(
        api_client, limits=limits, request_timeout=settings.kube_request_timeout_seconds
    )
    model = LLMStage(LLMClient(settings), settings) if settings.llm_configured else None
    return Stages(evidence=collector, redact=redact_evidence, model=model)


def utcnow() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)

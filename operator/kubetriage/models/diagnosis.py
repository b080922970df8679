"""The diagnosis written into ``status.diagnosis``: summary, category, confidence, evidence,
ranked remediations, similar past incidents and how (or whether) an LLM took part.
Built by ``kubetriage.combine``; rendered by the CLI; scored by eval."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubetriage.models.base import K8sModel, ObjectRef
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.vocabulary import Action, Category, Risk


class Remediation(K8sModel):
    id: str
    action: Action
    title: str
    description: str = ""
    target: ObjectRef
    # Generated from the action's template and the target; never text from a model.
    command: str
    risk: Risk
    proposed_by: list[Literal["analyzer", "llm", "memory"]] = Field(default_factory=list)
    score: float = 0.0


class SimilarIncident(K8sModel):
    name: str
    score: float
    category: Category
    resolution: str | None = None
    action: Action | None = None
    namespace: str | None = None
    cluster: str | None = None


class LLMUsage(K8sModel):
    used: bool
    model: str | None = None
    provider: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    duration_ms: int | None = None
    response_format: str | None = None
    attempts: int | None = None
    cached: bool | None = None
    # Why no model answer was used (not configured, timeout, invalid answer, ...).
    reason: str | None = None
    # Set when the model was not asked on purpose: the gating rule (severity, namespace,
    # category, confidence) or the budget limit (calls-per-minute, tokens-per-hour, ...).
    skipped: str | None = None


class Diagnosis(K8sModel):
    summary: str
    category: Category
    confidence: float = Field(ge=0.0, le=1.0)
    root_cause: str = ""
    evidence: list[EvidenceItem] = Field(default_factory=list)
    remediations: list[Remediation] = Field(default_factory=list)
    similar_incidents: list[SimilarIncident] = Field(default_factory=list)
    analyzers: list[str] = Field(default_factory=list)
    llm: LLMUsage = Field(default_factory=lambda: LLMUsage(used=False))
    # Set when the model's category contradicts a high-confidence analyzer.
    disagreement: str | None = None
    evidence_hash: str | None = None
    # The normalised symptom text this incident is remembered and searched by.
    signature: str | None = None

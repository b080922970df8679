"""The diagnosis written into ``status.diagnosis``: summary, category, confidence, evidence,
ranked remediations, similar past incidents and how (or whether) an LLM took part.
Built by ``kubetriage.combine``; rendered by the CLI; scored by eval."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from kubetriage.models.base import K8sModel, ObjectRef
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.remediation import (
    NoParameters,
    RemediationParameters,
    parameters_model,
    validate_parameters,
)
from kubetriage.models.vocabulary import Action, Category, Risk


class Remediation(K8sModel):
    id: str
    action: Action
    title: str
    description: str = ""
    target: ObjectRef
    # What approval executes: validated, typed, one model per action.
    parameters: RemediationParameters = Field(default_factory=NoParameters)
    # Rendered from action, target and parameters for a person to read or copy; display only,
    # never parsed back. Never text from a model.
    command: str
    risk: Risk
    proposed_by: list[Literal["analyzer", "llm", "memory"]] = Field(default_factory=list)
    score: float = 0.0

    @model_validator(mode="before")
    @classmethod
    def _parameters_of_the_action(cls, data: Any) -> Any:
        """``parameters`` validated as the action's own model (a union alone cannot tell
        which model an object is)."""
        if not isinstance(data, dict) or "action" not in data:
            return data
        try:
            action = Action(data["action"])
        except ValueError:
            return data  # the field validation reports the bad action
        return {**data, "parameters": validate_parameters(action, data.get("parameters"))}

    @model_validator(mode="after")
    def _parameters_match_the_action(self) -> Remediation:
        expected = parameters_model(self.action)
        if type(self.parameters) is not expected:
            raise ValueError(f"{self.action.value} takes {expected.__name__}")
        return self


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


class TimelineEntry(K8sModel):
    """One change from the evidence's timeline, as the status shows it (newest first)."""

    at: datetime | None = None
    change: str  # rollout | config | node | scaling | image-digest
    object: str = Field(max_length=512)
    summary: str = Field(default="", max_length=512)


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
    # What changed around the target, newest first (a short list).
    timeline: list[TimelineEntry] = Field(default_factory=list)
    # Set when the model's category contradicts a high-confidence analyzer.
    disagreement: str | None = None
    # A model answer whose category has none of its preconditions in the evidence: shown,
    # never used as the diagnosis (``kubetriage.preconditions``).
    hypothesis: str | None = None
    evidence_hash: str | None = None
    # The normalised symptom text this incident is remembered and searched by.
    signature: str | None = None

"""Analyzer output: a finding is one deterministic conclusion with its evidence, a confidence,
and the action it suggests on a concrete target. Produced by ``kubetriage.analyzers``,
consumed by the combiner, the prompt and the status."""

from __future__ import annotations

from pydantic import Field

from kubetriage.models.base import K8sModel, ObjectRef
from kubetriage.models.vocabulary import Action, Category


class EvidenceItem(K8sModel):
    """A short fact and where it came from (``pod/shop/x``, ``events``, ``logs``, ``metrics``).
    ``id`` (``E1``, ``E2``...) is given when a diagnosis lists it, so a root cause can cite it."""

    source: str = Field(max_length=256)
    fact: str = Field(max_length=1024)
    id: str | None = Field(default=None, max_length=16)


class Claim(K8sModel):
    """One sentence of a causal chain and the evidence it rests on."""

    text: str
    evidence: list[EvidenceItem] = Field(default_factory=list)


class Narrative(K8sModel):
    """A finding's text as structure, rendered by ``kubetriage.prose``: the summary is
    ``problem`` (with ``aside`` when it fits) then ``fix``; the root cause is ``because``."""

    problem: str
    fix: str = ""
    aside: str = ""
    because: list[Claim] = Field(default_factory=list)


# A Finding's parameter naming the dependency (``Kind/namespace/name``) whose failure it
# explains although it acts on another object (the node under that dependency's failing
# replicas): the combiner lets it supersede escalating to that dependency's owner.
EXPLAINS = "explains"


def object_key(ref: ObjectRef) -> str:
    """``Kind/namespace/name`` (an empty namespace for a cluster-scoped object): the form of
    an ``EXPLAINS`` value, and how the combiner keys the objects it ranks actions on."""
    return f"{ref.kind}/{ref.namespace or ''}/{ref.name}"


class Finding(K8sModel):
    analyzer: str
    category: Category
    confidence: float = Field(ge=0.0, le=1.0)
    # Rendered from ``narrative`` by ``kubetriage.prose`` (kept for the prompt and memory).
    summary: str
    narrative: Narrative | None = None
    evidence: list[EvidenceItem] = Field(default_factory=list)
    action: Action
    target: ObjectRef
    # Parameters the command template may use, e.g. {"container": "app", "memory": "512Mi"}.
    params: dict[str, str] = Field(default_factory=dict)


class ProposedRemediation(K8sModel):
    action: Action
    target: ObjectRef
    rationale: str = ""


class ModelOpinion(K8sModel):
    """The LLM's validated answer, as the combiner sees it (vocabulary-checked already)."""

    category: Category
    confidence: float = Field(ge=0.0, le=1.0)
    summary: str
    root_cause: str = ""
    evidence: list[str] = Field(default_factory=list)
    remediations: list[ProposedRemediation] = Field(default_factory=list)
    disagreement: str | None = None
    # The evidence ids (``kubetriage.llm.citations``) the model says its category rests on.
    cited: list[str] = Field(default_factory=list)

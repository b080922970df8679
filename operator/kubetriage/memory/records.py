"""What incident memory stores per resolved incident (the Qdrant payload) and what a search
returns, plus the conversion of a replay case into a record.

``MemoryRecord`` is written by the feedback path (a person resolved an Incident) and by the
importers; ``SimilarMatch`` is returned by ``IncidentMemory.search`` and turned into the
``SimilarIncident`` entries of a diagnosis by the pipeline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kubetriage.memory.canonical import IncidentText
from kubetriage.models.case import Case
from kubetriage.models.diagnosis import SimilarIncident
from kubetriage.models.vocabulary import Action, Category

# Version of the payload layout and collection metadata; bump it with a migration in
# ``store._MIGRATIONS``.
SCHEMA_VERSION = 2
MAX_FREE_TEXT = 2000


class MemoryRecord(BaseModel):
    """One resolved past incident, as stored in the collection's payload."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=253)
    cluster: str = Field(default="default", min_length=1)
    namespace: str | None = None
    workload: str | None = None  # "Deployment/checkout"
    category: Category
    actions: list[Action] = Field(default_factory=list)
    resolution: str | None = Field(default=None, max_length=MAX_FREE_TEXT)
    # Did the suggested remediation help? None: nobody said.
    helpful: bool | None = None
    # A person changed the category the diagnosis gave.
    corrected: bool = False
    alertname: str | None = None
    summary: str | None = Field(default=None, max_length=MAX_FREE_TEXT)
    created_at: datetime
    resolved_at: datetime | None = None
    schema_version: int = SCHEMA_VERSION
    source: Literal["feedback", "import"] = "feedback"

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    def incident_text(self) -> IncidentText:
        """Ingredients for re-embedding a record that came without its canonical text
        (JSONL imports): only the symptoms, never the resolution, so it matches what a
        live incident's query text contains."""
        return IncidentText(
            alertname=self.alertname,
            category=self.category,
            title=self.summary or "",
            lines=[f"workload {self.workload}"] if self.workload else [],
        )


class SimilarMatch(BaseModel):
    """A stored record and how close it is to the query.

    ``score`` is the raw cosine similarity; ``rank_score`` adds the same-cluster /
    same-namespace preference and is what results are ordered by.
    """

    record: MemoryRecord
    score: float
    rank_score: float

    def to_similar_incident(self) -> SimilarIncident:
        return SimilarIncident(
            name=self.record.name,
            score=round(self.score, 4),
            category=self.record.category,
            resolution=self.record.resolution,
            action=self.record.actions[0] if self.record.actions else None,
            namespace=self.record.namespace,
            cluster=self.record.cluster,
        )


def record_from_case(
    case: Case, *, cluster: str = "replay", imported_at: datetime | None = None
) -> MemoryRecord:
    """A replay case as a resolved past incident: category and actions from ``expect``
    (allowed here, since imported cases are solved incidents), resolution text from the
    title."""
    if case.expect is None:
        raise ValueError(f"case {case.id!r} has no 'expect' section: nothing to remember")
    now = imported_at or datetime.now(UTC)
    target = case.expect.target
    namespace = target.namespace or case.alert.labels.get("namespace")
    actions = ", ".join(a.value for a in case.expect.actions)
    return MemoryRecord(
        name=case.id,
        cluster=cluster,
        namespace=namespace,
        workload=f"{target.kind}/{target.name}",
        category=case.expect.category,
        actions=list(case.expect.actions),
        resolution=f"{case.title} (resolved by: {actions} on {target.kind}/{target.name})",
        helpful=True,
        alertname=case.alert.labels.get("alertname"),
        summary=case.alert.annotations.get("summary") or case.title or None,
        created_at=now,
        resolved_at=now,
        source="import",
    )

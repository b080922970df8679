"""What a notification says about an Incident, built once from the Incident's body and
redacted with the same rules as the LLM request; every sink renders this ``Notice`` (Slack
Block Kit, a Teams Adaptive Card, CloudEvent data). Pure.

The transition helpers decide *what changed* from fields that are stable across re-runs
(phase, category, top action, re-fire count), never from generated text, so a re-diagnosis
that words its summary differently updates the message instead of adding one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from kubetriage.models.incident import IncidentSpec, Phase
from kubetriage.models.vocabulary import Action
from kubetriage.redaction import redact_model
from kubetriage.status import parse_diagnosis

MAX_REMEDIATIONS = 3
MAX_EVIDENCE = 5
MAX_SIMILAR = 3


class NoticeRemediation(BaseModel):
    id: str
    title: str
    action: Action
    risk: str
    command: str


class NoticeLink(BaseModel):
    label: str
    url: str


class Notice(BaseModel):
    namespace: str
    name: str
    uid: str
    generation: int
    title: str
    severity: str
    phase: str
    target: str | None = None
    category: str | None = None
    confidence: float | None = None
    summary: str | None = None
    remediations: list[NoticeRemediation] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    similar: list[str] = Field(default_factory=list)
    links: list[NoticeLink] = Field(default_factory=list)
    reopened: int = 0
    feedback: str | None = None
    approval: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def top_action(self) -> str | None:
        return self.remediations[0].action.value if self.remediations else None


class NoticeError(ValueError):
    """The Incident cannot be described (no uid, invalid spec)."""


def _feedback_line(spec: IncidentSpec) -> str | None:
    feedback = spec.feedback
    if feedback is None:
        return None
    parts = []
    if feedback.helpful is not None:
        parts.append("helpful" if feedback.helpful else "not helpful")
    if feedback.correct_category is not None:
        parts.append(f"category should be {feedback.correct_category.value}")
    if feedback.action_taken is not None:
        parts.append(f"fixed by {feedback.action_taken.value}")
    if feedback.resolution:
        parts.append(feedback.resolution)
    if not parts:
        return None
    return "; ".join(parts) + (f" (by {feedback.by})" if feedback.by else "")


def build_notice(body: dict[str, Any], *, dashboard_url: str | None = None) -> Notice:
    """The redacted ``Notice`` for an Incident (its full API body)."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    try:
        spec = IncidentSpec.model_validate(body.get("spec") or {})
    except ValidationError as error:
        raise NoticeError(f"invalid spec: {error}") from error
    if not meta.get("uid"):
        raise NoticeError("the Incident has no metadata.uid")
    diagnosis = parse_diagnosis(status.get("diagnosis"))
    links = [
        NoticeLink(label=f"alert: {alert.labels.get('alertname', 'source')}", url=url)
        for alert in spec.alerts[:3]
        if (url := alert.generator_url)
    ]
    if dashboard_url:
        links.append(NoticeLink(label="dashboard", url=dashboard_url))
    remediation = status.get("remediation") or {}
    notice = Notice(
        namespace=meta.get("namespace") or "",
        name=meta.get("name") or "",
        uid=meta["uid"],
        generation=int(meta.get("generation") or 1),
        title=spec.title,
        severity=spec.severity.value,
        phase=status.get("phase") or Phase.PENDING.value,
        target=status.get("target"),
        category=diagnosis.category.value if diagnosis else None,
        confidence=diagnosis.confidence if diagnosis else None,
        summary=diagnosis.summary if diagnosis else None,
        remediations=[
            NoticeRemediation(
                id=r.id, title=r.title, action=r.action, risk=r.risk.value, command=r.command
            )
            for r in (diagnosis.remediations[:MAX_REMEDIATIONS] if diagnosis else [])
        ],
        evidence=[f"[{e.source}] {e.fact}" for e in (diagnosis.evidence if diagnosis else [])][
            :MAX_EVIDENCE
        ],
        similar=[
            f"{s.name} ({s.category.value}, score {s.score:.2f}"
            + (f"; fixed by {s.action.value})" if s.action else ")")
            for s in (diagnosis.similar_incidents if diagnosis else [])
        ][:MAX_SIMILAR],
        links=links,
        reopened=int((status.get("alertGroup") or {}).get("reopened") or 0),
        feedback=_feedback_line(spec),
        approval=(
            f"{remediation.get('id')} approved by {remediation.get('approvedBy', 'unknown')}: "
            f"{remediation.get('result')} ({remediation.get('reason')})"
            if remediation.get("id")
            else None
        ),
    )
    return redact_model(notice)


def digest(value: Any) -> str:
    """A short stable digest of a JSON-able value (what a message last showed)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def transition(notice: Notice) -> str:
    """The notice's state as a key that changes only when something a person cares about
    changes: phase, category, top action, a re-fire."""
    return ":".join(
        [notice.phase, notice.category or "-", notice.top_action or "-", str(notice.reopened)]
    )


def event_type(notice: Notice) -> str | None:
    """The CloudEvent type of the notice's current transition (None: nothing to announce)."""
    if notice.phase == Phase.DIAGNOSED.value:
        return "io.kubetriage.incident.diagnosed"
    if notice.phase == Phase.FAILED.value:
        return "io.kubetriage.incident.failed"
    if notice.phase == Phase.RESOLVED.value:
        return "io.kubetriage.incident.resolved"
    if notice.reopened:  # Pending or Investigating again after a re-fire
        return "io.kubetriage.incident.reopened"
    return None


def event_id(notice: Notice, type_: str) -> str:
    """Stable per Incident and generation (and re-fire count) for each transition type, so a
    receiver deduplicates by it; a reopen is one event whatever the generation."""
    generation = None if type_.endswith(".reopened") else notice.generation
    return digest([notice.uid, type_, generation, notice.reopened])

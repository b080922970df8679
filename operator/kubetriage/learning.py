"""Learning from feedback: a resolved Incident with feedback becomes a memory record.

Pure; called by the handlers when an Incident is Resolved and carries ``spec.feedback``. The
record keeps what a future responder needs: the (possibly corrected) category, the action
that was taken, the resolution in the person's words, and whether our suggestion helped. Free
text is redacted again by the store before anything is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kubetriage.memory.records import MemoryRecord
from kubetriage.models.diagnosis import Diagnosis
from kubetriage.models.incident import IncidentSpec


class NothingToLearn(ValueError):
    """The Incident is not resolved, has no feedback, or no diagnosis to learn from."""


def record_from_incident(
    *,
    name: str,
    namespace: str | None,
    spec: IncidentSpec,
    diagnosis: Diagnosis | None,
    cluster: str,
    created_at: datetime | None,
    resolved_at: datetime,
) -> tuple[MemoryRecord, str]:
    """The record to store and the text to embed for it."""
    feedback = spec.feedback
    if feedback is None:
        raise NothingToLearn("no spec.feedback")
    if diagnosis is None:
        raise NothingToLearn("no diagnosis to learn from")
    category = feedback.correct_category or diagnosis.category
    corrected = feedback.correct_category is not None and (
        feedback.correct_category != diagnosis.category
    )
    actions = [feedback.action_taken] if feedback.action_taken else []
    if not actions and feedback.helpful and diagnosis.remediations:
        # "Helpful" without a named action: the top suggestion is what was done.
        actions = [diagnosis.remediations[0].action]
    workload = diagnosis.remediations[0].target if diagnosis.remediations else spec.target
    alertname = spec.alerts[0].labels.get("alertname") if spec.alerts else None
    record = MemoryRecord(
        name=name,
        cluster=cluster,
        namespace=namespace,
        workload=f"{workload.kind}/{workload.name}" if workload else None,
        category=category,
        actions=actions,
        resolution=(feedback.resolution or "")[:2000] or None,
        helpful=feedback.helpful,
        corrected=corrected,
        alertname=alertname,
        summary=diagnosis.summary[:2000],
        created_at=created_at or resolved_at,
        resolved_at=resolved_at,
        source="feedback",
    )
    text = diagnosis.signature or f"alert: {alertname}\ntitle: {spec.title}\n{diagnosis.summary}"
    return record, text


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None

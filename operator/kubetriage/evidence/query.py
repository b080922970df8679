"""What a diagnosis asks of an evidence source, written once: the keyword arguments of every
``collect`` (``KubeEvidenceCollector``, ``SnapshotEvidenceSource``, the pipeline's
``EvidenceSource`` protocol) and of ``build_evidence``, as ``**query: Unpack[EvidenceQuery]``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert


class EvidenceQuery(TypedDict):
    """The incident's target (None: the first candidate from its alerts that exists), its
    alerts, title and description, and the time of the diagnosis (the builder has no clock)."""

    target: ObjectRef | None
    alerts: list[Alert]
    title: str
    description: str | None
    now: datetime

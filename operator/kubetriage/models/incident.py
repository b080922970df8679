"""The Incident custom resource: spec (what people and the receiver write) and status
(what the operator writes). Mirrors ``crds/incidents.kubetriage.io.yaml``; a unit test keeps
the two in agreement. Used by handlers, the receiver, the pipeline and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator

from kubetriage.models.base import K8sModel, ObjectRef
from kubetriage.models.diagnosis import Diagnosis
from kubetriage.models.notify import NotificationsStatus
from kubetriage.models.vocabulary import Action, Category, Severity

GROUP = "kubetriage.io"
VERSION = "v1alpha1"
PLURAL = "incidents"
KIND = "Incident"


class Phase(StrEnum):
    PENDING = "Pending"
    INVESTIGATING = "Investigating"
    DIAGNOSED = "Diagnosed"
    FAILED = "Failed"
    RESOLVED = "Resolved"


class Alert(K8sModel):
    """One Alertmanager alert as carried in the webhook payload (version 4)."""

    status: Literal["firing", "resolved"] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    fingerprint: str | None = None
    generator_url: str | None = Field(default=None, alias="generatorURL")

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # The CRD's date-time format admits no-timezone values; they mean UTC here, as
        # everywhere in Alertmanager, instead of failing the diagnosis on a comparison.
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class Feedback(K8sModel):
    """What a person says once the incident is over; `kubectl patch --type merge` friendly."""

    helpful: bool | None = None
    correct_category: Category | None = None
    resolution: str | None = None
    action_taken: Action | None = None
    by: str | None = None


class IncidentSpec(K8sModel):
    title: str
    description: str | None = None
    severity: Severity = Severity.WARNING
    source: Literal["manual", "alertmanager"] = "manual"
    target: ObjectRef | None = None
    alerts: list[Alert] = Field(default_factory=list)
    feedback: Feedback | None = None
    approve: str | None = None
    # Who approves, written by the approver in the same patch as ``approve``; recorded in
    # status.remediation (managedFields name a client, not a person, and may be absent).
    approved_by: str | None = None


class Condition(K8sModel):
    """A Kubernetes-style status condition."""

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: datetime | None = None


class Learned(K8sModel):
    """Set once a resolved incident with feedback is stored in incident memory."""

    record_id: str
    generation: int | None = None
    category: Category
    at: datetime


class AlertGroupStatus(K8sModel):
    """What the Alertmanager receiver knows about the Incident's alert group; written only
    by the receiver (``kubetriage.receiver``), never by the diagnosis handlers."""

    group_key: str | None = None
    receiver: str | None = None
    notifications: int = 0  # webhook notifications applied, cumulative
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    firing: int = 0  # alerts in spec.alerts by state
    resolved: int = 0
    # Alerts seen but left out of spec.alerts (it is bounded); their fingerprints, bounded too.
    omitted: int = 0
    omitted_fingerprints: list[str] = Field(default_factory=list)
    truncated: int = 0  # truncatedAlerts of the latest notification (Alertmanager max_alerts)
    # Alerts in spec.alerts whose labels or annotations were cut to keep the Incident small.
    clipped: int = 0
    reopened: int = 0
    resolved_at: datetime | None = None
    last_batch: str | None = None  # makes a retried write idempotent


class RemediationResult(StrEnum):
    APPLYING = "Applying"
    APPLIED = "Applied"
    REJECTED = "Rejected"
    DRY_RUN_FAILED = "DryRunFailed"
    FAILED = "Failed"


class FieldChange(K8sModel):
    """One changed field of the target, as a path and its before/after values (JSON text,
    absent when the field did not exist)."""

    path: str
    before: str | None = None
    after: str | None = None


class RemediationUndo(K8sModel):
    """How to reverse an applied remediation: a patch for the same object and the kubectl
    command that applies it (or a note when the change cannot be reversed)."""

    patch_type: Literal["strategic", "merge", "json"] | None = None
    patch: str | None = None
    command: str | None = None
    note: str | None = None


class RemediationRecord(K8sModel):
    """``status.remediation``: the latest approved remediation and what became of it."""

    id: str
    action: Action | None = None
    target: ObjectRef | None = None
    approved_by: str = "unknown"
    # Where ``approved_by`` came from: spec.approvedBy, metadata.managedFields, or unknown.
    approved_by_source: Literal["spec.approvedBy", "managedFields", "unknown"] = "unknown"
    approved_at: datetime | None = None
    applied_at: datetime | None = None
    result: RemediationResult
    reason: str
    message: str = ""
    dry_run: bool = False
    changes: list[FieldChange] = Field(default_factory=list)
    undo: RemediationUndo | None = None
    observed_generation: int | None = None


class IncidentStatus(K8sModel):
    phase: Phase = Phase.PENDING
    observed_generation: int | None = None
    target: str | None = None
    conditions: list[Condition] = Field(default_factory=list)
    diagnosis: Diagnosis | None = None
    remediation: RemediationRecord | None = None
    alert_group: AlertGroupStatus | None = None
    learned: Learned | None = None
    notifications: NotificationsStatus | None = None


@dataclass(frozen=True)
class IncidentView:
    """One Incident as a handler received it (and an approval is executed on): its spec,
    status and metadata as plain dicts."""

    namespace: str
    name: str
    spec: dict[str, Any]
    status: dict[str, Any]
    meta: dict[str, Any]

    @property
    def generation(self) -> int | None:
        generation = self.meta.get("generation")
        return generation if isinstance(generation, int) else None

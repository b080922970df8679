"""The Incident custom resource: spec (what people and the receiver write) and status
(what the operator writes). Mirrors ``crds/incidents.kubetriage.io.yaml``; a unit test keeps
the two in agreement. Used by handlers, the receiver, the pipeline and the CLI."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from kubetriage.models.base import K8sModel, ObjectRef
from kubetriage.models.diagnosis import Diagnosis
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


class Condition(K8sModel):
    """A Kubernetes-style status condition."""

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: datetime | None = None


class IncidentStatus(K8sModel):
    phase: Phase = Phase.PENDING
    observed_generation: int | None = None
    target: str | None = None
    conditions: list[Condition] = Field(default_factory=list)
    diagnosis: Diagnosis | None = None

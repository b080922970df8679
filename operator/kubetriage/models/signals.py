"""What happened around an incident's target over time, where ``object_evidence`` holds what
each object's state says: the Events posted about the objects, log tails, metric summaries
and the change timeline. Part of ``kubetriage.models.evidence.Evidence``; built by
``kubetriage.evidence.build``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from kubetriage.models.base import ObjectRef


class EventEvidence(BaseModel):
    type: str  # Normal | Warning
    reason: str
    message: str
    involved: ObjectRef
    count: int = 1
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    source: str | None = None


# Why a log tail was read, set where the read is issued: the incident's own pods
# (``scope``: ``Evidence.logs``, and where dependencies are named), a followed dependency's
# pods (``dependency``: its own words, ``DependencyEvidence.logs``), or the backend of an
# admission webhook that failed a call (``webhook``: ``WebhookEvidence.log_lines``). The same
# container may be read for more than one reason, as one tail per reason.
LogSource = Literal["scope", "dependency", "webhook", "scaler"]


class LogTail(BaseModel):
    namespace: str
    pod: str
    container: str
    previous: bool = False
    lines: list[str] = Field(default_factory=list)
    truncated: bool = False
    source: LogSource = "scope"


class MetricSummary(BaseModel):
    """A Prometheus series summarised for analyzers and the prompt (filled by issue 3)."""

    name: str  # template name, e.g. "memory_working_set_vs_limit"
    query: str
    labels: dict[str, str] = Field(default_factory=dict)
    last: float | None = None
    min: float | None = None
    max: float | None = None
    first: float | None = None
    trend: Literal["rising", "falling", "flat", "unknown"] = "unknown"
    changed_at: datetime | None = None
    # When the series first left the level it began at, where ``changed_at`` is its latest
    # step: the onset of a symptom that rose and then eased (``analyzers.onset.series_onset``).
    departed_at: datetime | None = None
    # When it rose into the episode it still shows (``evidence.series_rises``): a first sign.
    rose_at: datetime | None = None
    # When it began the climb it still shows: a tenth of the way to its peak, not half-way.
    climbed_at: datetime | None = None
    samples: int = 0
    # When the first sample of the answer was taken: how far back the series shows the
    # workload's state (a query's window, or the moment a new pod began to report).
    first_at: datetime | None = None
    # The series' shape: a "step" to a new level at ``changed_at`` (with the mean level
    # ``before`` and ``after`` it), a "ramp" (steady slope, no single jump), a "spike" that
    # came back, or "flat" (``kubetriage.evidence.series.summarize_series``).
    shape: Literal["step", "ramp", "spike", "flat", "unknown"] = "unknown"
    before: float | None = None
    after: float | None = None
    held_since: datetime | None = None  # the first sample of the final run of equal values


ChangeKind = Literal["rollout", "config", "node", "scaling", "image-digest"]


class ChangeEvidence(BaseModel):
    """One entry of the change timeline: what changed on which object, and when.

    ``aspects`` is structured (analyzers read it): for a rollout the parts of the pod template
    that differ from the previous revision ("image", "args", "command", "env", "resources",
    "probes", "serviceAccount", "tokenUnmounted" when automountServiceAccountToken turned
    false, "dns" for hostNetwork, dnsPolicy or dnsConfig, "security" for a securityContext
    field, a host port or a profile annotation, "restart" for a
    ``kubectl rollout restart``'s stamp...); for a ConfigMap "data"; for a Secret "metadata"
    (its data is never read).
    ``details`` are short display lines for the prompt and status, never parsed back;
    ``aspect_details`` (rollouts) holds the same lines by the aspect that noted them, for an
    analyzer that shows one aspect's.
    """

    at: datetime | None = None
    kind: ChangeKind
    object: ObjectRef
    aspects: list[str] = Field(default_factory=list)
    details: list[str] = Field(default_factory=list)
    aspect_details: dict[str, list[str]] = Field(default_factory=dict)
    from_revision: int | None = None
    to_revision: int | None = None
    # For a rollout: the ConfigMaps and Secrets it says changed (Stakater Reloader's hash env
    # var or last-reloaded-from annotation name them); empty when the template does not say.
    configs: list[ObjectRef] = Field(default_factory=list)

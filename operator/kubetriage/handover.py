"""Where a remediation acts when only its action is known: memory's votes, and the hand-over
when nothing matched. The workload, or what stamps it out from its template; for a
namespace-wide incident, the one workload its pods (or its troubled pods) belong to, else the
workload of the service whose own telemetry raised the alert (an OpenTelemetry
``service_name``): an SRE who finds nothing wrong hands the incident to the owner of the
service that reports it, not to nobody.

Called by ``kubetriage.combine``. Pure functions of an ``Evidence``.
"""

from __future__ import annotations

from kubetriage.analyzers.pods import pod_troubled
from kubetriage.analyzers.support import owner_workload
from kubetriage.evidence.label_vocabulary import is_monitoring_name, label_value
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action

# The label in which an application's own telemetry (OpenTelemetry SDKs, spanmetrics) names
# the service that recorded the series; and the pod label that names an application.
REPORTER_LABEL = "service_name"
NAME_LABEL = "app.kubernetes.io/name"


def default_target(action: Action, evidence: Evidence) -> ObjectRef | None:
    """Where a remediation acts when only the action is known (memory votes, the hand-over
    when nothing matched): the workload, or what stamps it out from its template (a Job's
    CronJob, as ``analyzers.support.workload_ref`` aims every analyzer's remediation), since
    its owner and its next run are there."""
    allowed = ACTION_TARGET_KINDS[action]
    if evidence.workload is not None:
        for ref in (evidence.workload.controller, evidence.workload.ref):
            if ref is not None and ref.kind in allowed:
                return ref
    if evidence.target and evidence.target.kind in allowed:
        return evidence.target
    if action is Action.ESCALATE and evidence.target and evidence.target.kind == "Namespace":
        # A namespace-wide incident whose pods all belong to one workload, or whose troubled
        # pods (not serving, or restarted within the hour) do: its owner takes it.
        for pods in (evidence.pods, [p for p in evidence.pods if pod_troubled(evidence, p)]):
            owners = {(o.kind, o.namespace, o.name): o for p in pods if (o := owner_workload(p))}
            if len(owners) == 1:
                return next(iter(owners.values()))
        return reporter(evidence)
    return None


def reporter(evidence: Evidence) -> ObjectRef | None:
    """The one workload among the evidence's pods' owners that is the service an alert's
    ``service_name`` names (named so, or its pods labelled so by ``app.kubernetes.io/name``);
    None when no alert names one, or none or several workloads are it."""
    for alert in evidence.alerts:
        name = label_value(alert.labels, REPORTER_LABEL)
        if name is None or is_monitoring_name(name):
            continue
        owners = {
            (o.kind, o.namespace, o.name): o
            for p in evidence.pods
            if (o := owner_workload(p)) is not None
            and (o.name == name or p.labels.get(NAME_LABEL) == name)
        }
        if len(owners) == 1:
            return next(iter(owners.values()))
        if owners:
            return None  # several workloads claim the service: the alert cannot tell
    return None

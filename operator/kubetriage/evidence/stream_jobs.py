"""Which workload runs the tasks of a stream job an alert names by the engine's own job name.
Pure.

Flink's Prometheus reporter labels a job's metrics (checkpoints, restarts, records, back
pressure) with ``job_name``: the Flink job's name, not a Kubernetes Job, although
kube-state-metrics uses the same label for one. When no Job of that name exists the alert is
about a Flink job, and an SRE opens the Flink cluster running it: the Flink Kubernetes operator
(a ``FlinkDeployment``) runs its JobManager and its TaskManagers as Deployments it controls,
labelled ``component: jobmanager`` / ``component: taskmanager``. The job's operators, whose
checkpoints, throughput and back pressure such an alert measures, run in the TaskManagers,
so that Deployment is the workload to look at (its CPU, memory, restarts); a cluster whose
TaskManagers are pods of the JobManager (native mode without a TaskManager Deployment) is
looked at through its JobManager Deployment.

``task_workload`` names it when the alert's namespace runs exactly one Flink cluster (which
cluster runs which job is in the FlinkDeployment's status, not read here); the collector
(``target_walk``) lists the namespace's Deployments, the snapshot takes them from the case's
objects. The candidate goes after the Job the label names (tried first: a kube-state-metrics
alert's Job wins) and before the bare namespace (``with_task_workload``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.label_vocabulary import label_value
from kubetriage.evidence.raw import as_dict
from kubetriage.evidence.targets import before_bare_namespace, ordered_alerts
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.objects import JsonDict, controller_ref, labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# The label a stream engine's job metrics name their job by.
_JOB_LABEL: Final = "job_name"

# The kind of the Flink Kubernetes operator's custom resource that owns a Flink cluster's
# Deployments, and the label its Deployments carry for their role.
_FLINK_OWNER: Final = "FlinkDeployment"
_ROLE_LABEL: Final = "component"
# The roles that run a job's tasks, best first.
_TASK_ROLES: Final = ("taskmanager", "jobmanager")


def names_stream_job(alerts: list[Alert]) -> bool:
    """Whether an alert names a job by the stream engine's job label."""
    return any(label_value(a.labels, _JOB_LABEL) for a in ordered_alerts(alerts))


def _role(deployment: JsonDict) -> str | None:
    """A Flink Deployment's role, from its labels or its pods'."""
    template = as_dict(as_dict(deployment.get("spec")).get("template"))
    return labels(deployment).get(_ROLE_LABEL) or labels(template).get(_ROLE_LABEL)


def task_workload(deployments: Iterable[JsonDict]) -> ObjectRef | None:
    """The Deployment running the tasks of the one Flink cluster among ``deployments`` (one
    namespace's): its TaskManagers, else its JobManager; None for no Flink cluster or several."""
    clusters: dict[str, dict[str, JsonDict]] = {}
    for deployment in deployments:
        owner = controller_ref(deployment)
        if owner is None or owner.get("kind") != _FLINK_OWNER:
            continue
        role = _role(deployment)
        if role in _TASK_ROLES:
            clusters.setdefault(str(owner.get("name")), {})[role] = deployment
    if len(clusters) != 1:
        return None
    roles = next(iter(clusters.values()))
    chosen = next(roles[r] for r in _TASK_ROLES if r in roles)
    return ObjectRef(
        kind="Deployment", namespace=_ns(chosen), name=_name(chosen), api_version="apps/v1"
    )


def with_task_workload(candidates: list[ObjectRef], workload: ObjectRef | None) -> list[ObjectRef]:
    """``candidates`` with the stream job's workload before the first bare namespace."""
    if workload is None or not any(c.kind == "Namespace" for c in candidates):
        return candidates
    return before_bare_namespace(candidates, [workload])


def stream_namespace(candidates: list[ObjectRef], alerts: list[Alert]) -> str | None:
    """The namespace whose Deployments to look through: the first bare namespace among the
    candidates of an alert naming a stream job; None otherwise."""
    if not names_stream_job(alerts):
        return None
    return next((c.name for c in candidates if c.kind == "Namespace"), None)

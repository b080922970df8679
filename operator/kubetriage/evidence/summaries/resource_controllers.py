"""The controller that reconciles the incident's custom resources, and its state. Pure.

Work that a custom resource describes (a KEDA ScaledJob's Jobs, an Argo CronWorkflow's
runs and the steps of a running Workflow) happens only while the controller reconciling
that resource's API group does its part: it starts the Jobs, submits the runs, marks the
finished steps and starts the next. When runs never start or sit unfinished while nothing
of their own fails, an SRE asks *which controller reconciles these* and reads its state: an
OOM-killed or crash-looping controller, or one that keeps restarting because, pinned at its
CPU limit, it cannot renew its leader-election lease in time (client-go's ``failed to renew
lease``, controller-runtime's ``leader election lost``) and so exits, loses the work queue
and starts over. An operator keeping a Service for its resource (a Redis failover's master
Service, whose selector the operator satisfies by moving a role label after each failover)
is asked after once that Service is read, even without the resource; its tails say whether
the API server refuses it the writes it needs (``refused_writes``).

The controllers are the well-known ones of their groups (``RESOURCE_CONTROLLERS``),
recognised by their charts' labels or image in any namespace (``is_reconciler``); the
collector (``kubetriage.evidence.resource_controller_walk``) reads them by the same labels
once it read a resource of their kinds, and their pods' tails; the builder summarises them
here as ``ReconcilerEvidence`` of the ``resource-controller`` role.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Final

from kubetriage.api_refusals import refused_write
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import as_dict, as_int, as_time, clip_text, dicts
from kubetriage.evidence.summaries.reconcilers import (
    RESOURCE_CONTROLLER,
    ReconcilerKind,
    is_reconciler,
    reconciler_summary,
)
from kubetriage.models.controllers import ReconcilerEvidence
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict, controller_ref, selector_matches
from kubetriage.models.objects import labels as labels_of
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# What a controller says when it lost its leader-election lease (client-go's leaderelection,
# controller-runtime's manager, Argo's "Leader election lost"): it stops and exits.
LEADERSHIP_LOST: Final = re.compile(
    r"failed to renew lease|leader ?election lost|leaderelection lost|lost lease",
    re.IGNORECASE,
)
_MAX_LINES = 3
# The tails read of each controller: its first pods' current logs.
MAX_CONTROLLER_TAILS = 2


@dataclass(frozen=True, slots=True)
class ResourceController:
    """A well-known controller and the custom resources it reconciles: their API group and
    kinds, and how its workload is recognised (``ReconcilerKind``)."""

    group: str
    kinds: frozenset[str]
    recognised: ReconcilerKind

    def reconciles(self, obj: JsonDict) -> bool:
        """Whether ``obj`` is a custom resource this controller reconciles."""
        group = str(obj.get("apiVersion") or "").partition("/")[0]
        return group == self.group and obj.get("kind") in self.kinds

    def manages(self, obj: JsonDict) -> bool:
        """Whether ``obj`` is a custom resource this controller reconciles, or a Service one
        of them controls (its controller owner reference: the operator made it for the
        resource and keeps what it selects, a member's role), read without the resource."""
        owner = controller_ref(obj) if obj.get("kind") == "Service" else None
        return self.reconciles(obj) or (owner is not None and self.reconciles(owner))


RESOURCE_CONTROLLERS: Final = (
    # KEDA's operator makes the HPAs of ScaledObjects and starts the Jobs of ScaledJobs; its
    # chart labels it ``keda-operator`` (the metrics server and the admission webhooks have
    # names and images of their own).
    ResourceController(
        "keda.sh",
        frozenset({"ScaledObject", "ScaledJob"}),
        ReconcilerKind(
            RESOURCE_CONTROLLER,
            frozenset({"keda-operator"}),
            None,
            re.compile(r"/kedacore/keda(?:[:@]|$)"),
        ),
    ),
    # Argo Workflows' controller submits CronWorkflows' runs and moves Workflows' steps; the
    # upstream manifests label it ``app: workflow-controller``, the chart
    # ``argo-workflows-workflow-controller`` (Argo CD and Argo Rollouts share the group, not
    # the kinds).
    ResourceController(
        "argoproj.io",
        frozenset({"Workflow", "CronWorkflow", "WorkflowTemplate"}),
        ReconcilerKind(
            RESOURCE_CONTROLLER,
            frozenset({"workflow-controller", "argo-workflows-workflow-controller"}),
            None,
            re.compile(r"/argoproj/workflow-controller(?:[:@]|$)"),
        ),
    ),
    # Spotahome's redis-operator makes a RedisFailover's Redis StatefulSet, Sentinels and
    # master Service, and after each Sentinel failover moves the master role label
    # (``redisfailovers-role``) to the promoted pod, which that Service selects.
    ResourceController(
        "databases.spotahome.com",
        frozenset({"RedisFailover"}),
        ReconcilerKind(
            RESOURCE_CONTROLLER,
            frozenset({"redis-operator"}),
            None,
            re.compile(r"/spotahome/redis-operator(?:[:@]|$)"),
        ),
    ),
)


def owed_controllers(objects: Iterable[JsonDict]) -> list[ResourceController]:
    """The controllers reconciling a custom resource among ``objects``."""
    found = list(objects)
    return [c for c in RESOURCE_CONTROLLERS if any(c.manages(o) for o in found)]


def pods_of(workload: JsonDict, pods: Iterable[JsonDict]) -> list[JsonDict]:
    """The pods among ``pods`` that ``workload`` selects, in its namespace."""
    selector = as_dict(as_dict(workload.get("spec")).get("selector"))
    return [
        p
        for p in pods
        if p.get("kind") == "Pod"
        and _ns(p) == _ns(workload)
        and bool(selector)
        and selector_matches(selector, labels_of(p))
    ]


def controller_log_requests(
    workload: JsonDict, pods: Iterable[JsonDict]
) -> list[tuple[str, str, str]]:
    """The current tails worth reading of the controller ``workload``'s pods among ``pods``:
    the first container of each of its first pods (``MAX_CONTROLLER_TAILS``)."""
    requests: list[tuple[str, str, str]] = []
    for pod in pods_of(workload, pods)[:MAX_CONTROLLER_TAILS]:
        containers = dicts(as_dict(pod.get("spec")).get("containers"))
        if containers and containers[0].get("name"):
            requests.append((_ns(pod), _name(pod), str(containers[0]["name"])))
    return requests


def _restarts(pods: Iterable[JsonDict]) -> tuple[int, datetime | None]:
    """The restarts of the pods' containers and when the last run that ended did."""
    count, last = 0, None
    for pod in pods:
        for status in dicts(as_dict(pod.get("status")).get("containerStatuses")):
            count += as_int(status.get("restartCount")) or 0
            ended = as_dict(as_dict(status.get("lastState")).get("terminated"))
            finished = as_time(ended.get("finishedAt"))
            if finished is not None and (last is None or finished > last):
                last = finished
    return count, last


def resource_controller_summaries(
    index: ObjectIndex, tails: Iterable[LogTail], limits: EvidenceLimits
) -> list[ReconcilerEvidence]:
    """The controllers reconciling the custom resources read (or the Services those
    control), with their state: the resources they owe, their replicas and failing pods,
    their restarts and the lines of their tails saying they lost their lease or were
    refused a write."""
    said = list(tails)
    summaries: list[ReconcilerEvidence] = []
    read = [*(o for kind in _kinds() for o in index.kind(kind)), *index.kind("Service")]
    for controller in owed_controllers(read):
        subjects = [
            ("", o, f"a {controller.group} {o.get('kind')}, reconciled by its controller")
            for kind in sorted(controller.kinds)
            for o in index.kind(kind)
            if controller.reconciles(o)
        ] + [
            ("", o, f"kept by its controller for {owner.get('kind')} {owner.get('name')}")
            for o in index.kind("Service")
            if controller.manages(o) and (owner := controller_ref(o)) is not None
        ]
        for workload in index.kind("Deployment"):
            if not is_reconciler(controller.recognised, workload):
                continue
            found = reconciler_summary(index, controller.recognised, workload, subjects, limits)
            pods = pods_of(workload, index.in_namespace("Pod", _ns(workload)))
            found.restarts, found.last_restart = _restarts(pods)
            names = {(_ns(p), _name(p)) for p in pods}
            found.lost_leadership = _lines(said, names, limits, LEADERSHIP_LOST.search)
            found.refused_writes = _lines(
                said, names, limits, partial(refused_write, namespace=_ns(workload))
            )
            summaries.append(found)
    return summaries[: limits.max_dependencies]


def _lines(
    tails: Iterable[LogTail],
    pods: set[tuple[str, str]],
    limits: EvidenceLimits,
    says: Callable[[str], object],
) -> list[str]:
    """The first distinct lines of the tails of ``pods`` that ``says`` something, clipped."""
    lines = [
        clip_text(line.strip(), limits.max_log_line_bytes) or ""
        for tail in tails
        if (tail.namespace, tail.pod) in pods
        for line in tail.lines
        if says(line)
    ]
    return list(dict.fromkeys(lines))[:_MAX_LINES]


def _kinds() -> list[str]:
    return sorted({k for c in RESOURCE_CONTROLLERS for k in c.kinds})

"""What a pod's own events, states and metric series say about one of its containers: the
Events involving the pod, the kubelet's liveness and startup kills, whether a series is the
container's, how long ago it last exited, and whether the pod serves at all.

Shared by the container analyzers (``oom``, ``crashes``, ``config_missing``, ``images``,
``probes``) and the workload rules (``rollout``, ``saturation``); pure functions of
Evidence.
"""

from __future__ import annotations

import re

from kubetriage.analyzers.support import seconds_before
from kubetriage.models.evidence import (
    ContainerEvidence,
    EventEvidence,
    Evidence,
    MetricSummary,
    PodEvidence,
)

LIVENESS_KILL = re.compile(
    r"(?i)container (?P<container>[\w.-]+) failed (?P<kind>liveness|startup) probe"
)


def pod_events(evidence: Evidence, pod: PodEvidence) -> list[EventEvidence]:
    """The Events whose involved object is this pod."""
    return [
        e
        for e in evidence.events
        if e.involved.kind == "Pod"
        and e.involved.name == pod.name
        and (e.involved.namespace in (None, pod.namespace))
    ]


def liveness_killed(evidence: Evidence, pod: PodEvidence, container: str) -> list[EventEvidence]:
    """The pod's Events saying the kubelet killed this container for a failed liveness or
    startup probe."""
    killed: list[EventEvidence] = []
    for event in pod_events(evidence, pod):
        match = LIVENESS_KILL.search(event.message)
        if match and match["container"] == container:
            killed.append(event)
    return killed


def metric_for(metric: MetricSummary, container: str) -> bool:
    """Whether a series is this container's (by label, or by its query's selector; a series
    that names no container counts for every one)."""
    labelled = metric.labels.get("container")
    if labelled is not None:
        return labelled == container
    return f'container="{container}"' in metric.query or "container=" not in metric.query


def last_exit_ago(evidence: Evidence, container: ContainerEvidence) -> float | None:
    """Seconds since the container last terminated, when its last state says."""
    last = container.last_state
    if last is None or last.state != "terminated":
        return None
    return seconds_before(evidence, last.finished_at)


def pod_failing(pod: PodEvidence) -> bool:
    """Whether a pod is not serving: not running, or an app container not ready, waiting or
    terminated."""
    if pod.phase in ("Pending", "Failed", "Unknown"):
        return True
    for container in pod.containers:
        if container.init:
            continue
        if container.ready is False or container.state.state in ("waiting", "terminated"):
            return True
    return False

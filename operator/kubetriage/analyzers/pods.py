"""What a pod's own events, states and metric series say about one of its containers: the
Events involving the pod, the kubelet's liveness and startup kills, whether a series is the
container's, how long ago it last exited, whether the pod serves at all, and a failing pod in
one line (``pod_problem``).

Shared by the container analyzers (``oom``, ``crashes``, ``config_missing``, ``images``,
``probes``) and the workload rules (``rollout``, ``new_workload``, ``saturation``); pure
functions of Evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubetriage import prose
from kubetriage.analyzers.revisions import current_and_previous_revision, pod_revision
from kubetriage.analyzers.support import (
    item,
    parse_quantity,
    pod_source,
    seconds_before,
    states,
    workload_container,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import (
    ContainerEvidence,
    EventEvidence,
    MetricSummary,
    PodEvidence,
)

LIVENESS_KILL = re.compile(
    r"(?i)container (?P<container>[\w.-]+) failed (?P<kind>liveness|startup) probe"
)


# The kubelet's words when it evicts a pod for exceeding a limit of its own (an emptyDir's
# sizeLimit, its containers' ephemeral-storage limits), not for the node's pressure:
# "Usage of EmptyDir volume "x" exceeds the limit "2Gi".", "Pod ephemeral local storage usage
# exceeds the total limit of containers 1Gi.", "Container x exceeded its local ephemeral
# storage limit "1Gi".".
_OWN_LIMIT_EVICTION = re.compile(
    r"(?i)usage of emptydir volume \S+ exceeds the limit"
    r"|ephemeral local storage usage exceeds the total limit"
    r"|exceeded its local ephemeral storage limit"
)


def own_limit_eviction(message: str | None) -> bool:
    """Whether an eviction message says the pod outgrew a storage limit of its own: the pod's
    doing, which says nothing about its node (the node was not under pressure)."""
    return bool(_OWN_LIMIT_EVICTION.search(message or ""))


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
    that names no container counts for every one, but cAdvisor's root cgroup, id="/", is the
    whole node's)."""
    if metric.labels.get("id") == "/":
        return False
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


def pod_problem(pod: PodEvidence) -> str:
    """A failing pod in one line: its first unhealthy container's state, readiness and
    restarts, else its phase."""
    for container in pod.containers:
        if container.state.state != "running" or container.ready is False:
            reason = container.state.reason or container.state.state
            return (
                f"{container.name}: {reason}, {prose.readiness(container.ready)}, "
                f"{prose.count(container.restart_count, 'restart')}"
            )
    return f"phase {pod.phase}"


# A container that last exited this long ago (or less) is still part of the incident.
RECENT_EXIT_SECONDS = 3600.0
# A container that last exited this long ago (or more) and has run ready ever since carries
# its workload's history, not the incident's: hours of serving lie between that exit and now.
HISTORY_EXIT_SECONDS = 6 * 3600.0


def exit_is_history(evidence: Evidence, container: ContainerEvidence) -> bool:
    """Whether ``container``'s last termination ended ``HISTORY_EXIT_SECONDS`` or more before
    the evidence was collected and the container has run, ready, since: yesterday's kill of a
    container that has served all day is not what an alert fired for today."""
    ago = last_exit_ago(evidence, container)
    return (
        ago is not None
        and ago >= HISTORY_EXIT_SECONDS
        and container.state.state == "running"
        and container.ready is True
    )


def pod_troubled(evidence: Evidence, pod: PodEvidence) -> bool:
    """Whether a pod is not serving now (``pod_failing``) or an app container of it exited
    within the last ``RECENT_EXIT_SECONDS``: where an incident's trouble shows."""
    return pod_failing(pod) or any(
        not c.init
        and (ago := last_exit_ago(evidence, c)) is not None
        and ago <= RECENT_EXIT_SECONDS
        for c in pod.containers
    )


# What the kubelet says when the container runtime cannot make or tear down a pod's sandbox
# (runtime or CNI calls that fail or time out), and how often before it is trouble rather than
# a start-up blip. A sandbox depends on the node, not on the pod's image or config; and a
# container already running there is not asked anything, so it keeps serving.
_SANDBOX_LIFECYCLE = frozenset({"FailedCreatePodSandBox", "FailedKillPod"})
_SANDBOX_REPEATED = 3


def sandbox_stuck(evidence: Evidence, pods: list[PodEvidence]) -> bool:
    """Whether the kubelet said again and again that it cannot create or kill the sandbox of
    one of ``pods``: the node cannot start or stop pods, whatever runs there already."""
    return any(
        e.type == "Warning" and e.reason in _SANDBOX_LIFECYCLE and e.count >= _SANDBOX_REPEATED
        for pod in pods
        for e in pod_events(evidence, pod)
    )


def _never_started(pod: PodEvidence) -> bool:
    """No app container of the pod ever ran: each waits to be created, none restarted."""
    apps = [c for c in pod.containers if not c.init]
    return bool(apps) and all(
        c.state.state == "waiting"
        and (c.state.reason or "ContainerCreating") == "ContainerCreating"
        and c.restart_count == 0
        for c in apps
    )


def _node_reports_trouble(evidence: Evidence, name: str | None) -> bool:
    """Whether the node ``name`` says something is wrong with it: not Ready, or any other
    condition (a pressure, NetworkUnavailable) True."""
    node = next((n for n in evidence.nodes if n.name == name), None)
    return node is not None and (
        node.ready != "True"
        or any(c.type != "Ready" and c.status == "True" for c in node.conditions)
    )


def sandbox_held(evidence: Evidence, pods: list[PodEvidence]) -> set[str]:
    """The nodes holding every failing pod of ``pods`` before any of its containers ran: each
    such pod waits in ContainerCreating while the kubelet repeats that it cannot create its
    sandbox (``sandbox_stuck``), on a node that reports a problem of its own (a condition
    such as NetworkUnavailable, or not Ready), and a pod of the same template serves on
    another node. A sandbox is the node's (its runtime, its CNI), never the pod's image or
    config, so nothing the template says is on trial; empty when any failing pod got further."""
    failing = [p for p in pods if pod_failing(p)]
    if not failing:
        return set()
    nodes: set[str] = set()
    for pod in failing:
        if pod.node is None or not _never_started(pod) or not sandbox_stuck(evidence, [pod]):
            return set()
        if not _node_reports_trouble(evidence, pod.node):
            return set()
        nodes.add(pod.node)
    templates = {_template(p) for p in failing}
    if None in templates or not any(
        _template(p) in templates and p.node not in nodes for p in pods if p not in failing
    ):
        return set()
    return nodes


# The pods of one template that must serve on other nodes for a failure confined to one node
# to be that node's rather than the template's.
MIN_SERVING_ELSEWHERE = 2
# The labels that name a pod's template within its owner (a Deployment's ReplicaSet hash, a
# StatefulSet's or DaemonSet's controller revision).
_TEMPLATE_LABELS = ("pod-template-hash", "controller-revision-hash")


def _template(pod: PodEvidence) -> tuple[str, str] | None:
    if pod.owner is None:
        return None
    revision = next((pod.labels[k] for k in _TEMPLATE_LABELS if k in pod.labels), "")
    return pod.owner.key(), revision


def failing_node(evidence: Evidence, pods: list[PodEvidence]) -> str | None:
    """The one node on which ``pods`` fail while at least ``MIN_SERVING_ELSEWHERE`` pods of
    the same template serve, all on other nodes, and that node shows trouble of its own (a
    condition, not Ready, or pods of other workloads there not serving); None otherwise.
    The same template serving on two nodes and failing on a third whose other tenants fail
    too is that node's problem, whatever changed last. A pod serving on that node clears it,
    unless the node cannot make or tear down sandboxes (``sandbox_stuck``): then only the pods
    it must start or stop fail there, and the ones already running go on."""
    failing = [p for p in pods if pod_failing(p)]
    nodes = {p.node for p in failing}
    if len(nodes) != 1 or None in nodes:
        return None
    name = next(iter(nodes))
    templates = {_template(p) for p in failing}
    serving = [p for p in pods if p not in failing]
    same = [p for p in serving if _template(p) in templates and None not in templates]
    if len(same) < MIN_SERVING_ELSEWHERE or any(p.node == name for p in same):
        return None
    if any(p.node == name for p in serving) and not sandbox_stuck(evidence, failing):
        return None
    node = next((n for n in evidence.nodes if n.name == name), None)
    troubled = _node_reports_trouble(evidence, name) or (
        node is not None and bool(node.troubled_neighbours)
    )
    return name if troubled else None


def node_split(evidence: Evidence, pods: list[PodEvidence]) -> bool:
    """Whether the failures of ``pods`` follow a node, not their template: the one node they
    fail on shows trouble of its own (``failing_node``), or nodes reporting a problem never
    gave them a sandbox (``sandbox_held``). A change of the template is then not on trial."""
    return failing_node(evidence, pods) is not None or bool(sandbox_held(evidence, pods))


def admitted_limits(
    evidence: Evidence, resource: str
) -> Iterator[tuple[PodEvidence, ContainerEvidence, float]]:
    """The containers of the current revision's pods with a ``resource`` limit their
    workload's template does not set, with that limit, when the rollout to that revision left
    the resources alone: the API server filled the limit in when it admitted the pod (a
    LimitRange's default, a mutating policy). Nothing when the rollout changed the resources
    (dropping a limit from the template is then its doing)."""
    current, _ = current_and_previous_revision(evidence)
    if current is None or any(
        c.kind == "rollout" and c.to_revision == current.revision and "resources" in c.aspects
        for c in evidence.changes
    ):
        return
    for pod in evidence.pods:
        revision = pod_revision(pod, evidence)
        if revision is None or revision.name != current.name:
            continue
        for container in pod.containers:
            limit = parse_quantity(container.limits.get(resource))
            template = workload_container(evidence, container.name)
            if limit is not None and template is not None and resource not in template.limits:
                yield pod, container, limit


def admitted_memory_limit(evidence: Evidence) -> EvidenceItem | None:
    """A container of the current revision's pods OOM-killed at a memory limit its workload's
    template does not set (``admitted_limits``), while a pod of an earlier revision, or of the
    same revision admitted earlier (before a scale-out), runs the same container without a
    memory limit or with a higher one. The earlier pods were admitted before that default and
    kept what they had. The kills meet the namespace's default, not anything the rollout
    changed: every pod created now gets it, a rollback's too."""
    current, _ = current_and_previous_revision(evidence)
    if current is None:
        return None
    for pod, container, limit in admitted_limits(evidence, "memory"):
        if not any((s.reason or "").lower() == "oomkilled" for s in states(container)):
            continue
        earlier = _runs_above(evidence, current.revision, container.name, limit)
        if earlier is not None:
            return item(
                pod_source(pod),
                f"container {container.name} is OOM-killed at a {prose.memory(limit)} "
                "memory limit its template does not set (filled in when the pod was "
                f"admitted); pods of the {earlier} revision run it without that limit",
            )
    return None


def _runs_above(evidence: Evidence, revision: int, container: str, limit: float) -> str | None:
    """Which revision ("earlier", or "same" for pods of ``revision`` itself) has a pod running
    that container with no memory limit or a higher one; None when none does. Pods of one
    template differ in their limits only when admission gave them different ones."""
    for pod in evidence.pods:
        found = pod_revision(pod, evidence)
        if found is None or found.revision > revision:
            continue
        for other in pod.containers:
            if other.name != container:
                continue
            own = parse_quantity(other.limits.get("memory"))
            if own is None or own > limit:
                return "earlier" if found.revision < revision else "same"
    return None

"""Shared helpers for the deterministic analyzers: suggested quantities, workload resolution,
log, event and metric look-ups. The log signatures several analyzers must agree on, and the
hosts a line names, are in ``kubetriage.analyzers.log_signatures``; the workload's revisions
(current, previous, a pod's, the release a rollback undoes) in ``kubetriage.analyzers.revisions``.
Quantity parsing lives in ``kubetriage.models.quantity`` and is re-exported here.

Called by the analyzer modules in this package, and by the combining step for the few
questions it shares with them (whose pod, which subject). Everything here is a pure function of
an ``Evidence`` (or of plain values); the compiled patterns are immutable constants.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from kubetriage import prose
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import (
    ContainerEvidence,
    ContainerState,
    EventEvidence,
    LogTail,
    MetricSummary,
    NodeEvidence,
    PodEvidence,
    ServiceEvidence,
)
from kubetriage.models.quantity import GI as GI
from kubetriage.models.quantity import MI as MI
from kubetriage.models.quantity import format_bytes as format_bytes
from kubetriage.models.quantity import parse_quantity as parse_quantity
from kubetriage.models.vocabulary import WORKLOAD_KINDS
from kubetriage.tls_errors import TlsFailure, tls_failure_match

# A ReplicaSet created by a Deployment is "<deployment>-<pod-template-hash>".
_RS_HASH = re.compile(r"^(?P<base>.+)-[a-z0-9]{5,10}$")
# A pod a ReplicaSet creates is "<replicaset>-<5 random characters>".
_POD_SUFFIX = re.compile(r"^(?P<base>.+)-[a-z0-9]{5}$")
# A Job a CronJob creates is "<cronjob>-<scheduled time in minutes since the epoch>".
_CRON_RUN = re.compile(r"[0-9]{6,}")

FACT_MAX = 300
# A PromQL function that turns a counter (or a gauge) into its change: a query calling one
# reads a rate, not the raw value.
RATE_FUNCTION = re.compile(r"\b(i?rate|increase|deriv|delta)\(")
# A revision rolled out this long before the evidence counts as "the recent change".


def suggest_memory(limit_bytes: float, peak_bytes: float | None = None) -> str:
    """About twice the current limit (or 1.5x the observed peak), rounded to a sensible unit:
    a multiple of 64Mi below 1Gi, of 512Mi above."""
    wanted = max(2.0 * limit_bytes, 1.5 * (peak_bytes or 0.0))
    if wanted < GI:
        return f"{math.ceil(wanted / (64 * MI)) * 64}Mi"
    halves = math.ceil(wanted / (GI / 2))
    return f"{halves // 2}Gi" if halves % 2 == 0 else f"{halves * 512}Mi"


def suggest_cpu(limit_cores: float) -> str:
    """Twice the current CPU limit: a multiple of 100m below one core, of 500m above."""
    wanted = 2.0 * limit_cores
    if wanted < 1.0:
        return f"{math.ceil(wanted * 10) * 100}m"
    halves = math.ceil(wanted * 2)
    return str(halves // 2) if halves % 2 == 0 else f"{halves * 500}m"


def same_service(one: ServiceEvidence | None, other: ServiceEvidence) -> bool:
    """Whether ``one`` is the Service ``other`` (the same namespace and name)."""
    return one is not None and (one.namespace, one.name) == (other.namespace, other.name)


def item(source: str, fact: str) -> EvidenceItem:
    """An evidence fact; quotes of logs and events are clipped at a token boundary."""
    return EvidenceItem(source=source[:256], fact=prose.clip(fact, FACT_MAX))


def pod_source(pod: PodEvidence) -> str:
    return f"pod/{pod.namespace}/{pod.name}"


def service_source(svc: ServiceEvidence) -> str:
    return f"service/{svc.namespace}/{svc.name}"


def node_source(node: str) -> str:
    return f"node/{node}"


def object_source(ref: ObjectRef) -> str:
    """An evidence fact's source for an object: ``deployment/shop/checkout``."""
    return f"{ref.kind.lower()}/{ref.namespace}/{ref.name}"


def log_source(log: LogTail) -> str:
    return f"logs/{log.pod}/{log.container}"


# --- workloads --------------------------------------------------------------------------


def owner_workload(pod: PodEvidence) -> ObjectRef | None:
    """The controller a pod belongs to, resolving a Deployment's ReplicaSet by name."""
    owner = pod.owner
    if owner is None:
        return None
    if owner.kind == "ReplicaSet":
        match = _RS_HASH.match(owner.name)
        if match:
            return ObjectRef(kind="Deployment", namespace=pod.namespace, name=match["base"])
        return ObjectRef(kind="ReplicaSet", namespace=pod.namespace, name=owner.name)
    if owner.kind in WORKLOAD_KINDS:
        return ObjectRef(kind=owner.kind, namespace=pod.namespace, name=owner.name)
    return None


def template_containers(evidence: Evidence, target: ObjectRef) -> frozenset[str]:
    """The container names of ``target``'s pod template when the evidence holds it: the
    incident's workload, or the controller stamping it out from the same template (a Job's
    CronJob); empty when the evidence does not know them."""
    workload = evidence.workload
    if workload is None or not any(
        ref is not None and ref.same_object(target) for ref in (workload.ref, workload.controller)
    ):
        return frozenset()
    return frozenset(c.name for c in workload.containers)


def pod_name_replica_set(pod: str) -> str | None:
    """The ReplicaSet a Deployment's pod known only by name belongs to (``<ReplicaSet>-<5
    characters>``: a series' ``pod`` label); None for a name of another shape."""
    match = _POD_SUFFIX.match(pod)
    return match["base"] if match else None


def pod_name_workload(namespace: str, pod: str) -> ObjectRef | None:
    """The Deployment a pod known only by name belongs to (a series' ``pod`` label): a
    Deployment's pod is ``<ReplicaSet>-<5 characters>``, its ReplicaSet
    ``<deployment>-<pod-template-hash>``; None for a name of another shape."""
    replica_set = _POD_SUFFIX.match(pod)
    match = _RS_HASH.match(replica_set["base"]) if replica_set else None
    return ObjectRef(kind="Deployment", namespace=namespace, name=match["base"]) if match else None


def involved_workload(evidence: Evidence, involved: ObjectRef) -> ObjectRef | None:
    """The workload an Event's object belongs to: itself when it is one, a ReplicaSet's
    Deployment (ours when it is one of our revisions, else by the ReplicaSet's name), a run
    of our CronJob that CronJob (its template is where a fix goes; the run is replaced)."""
    controller = evidence.workload.controller if evidence.workload is not None else None
    if controller is not None and is_run_of(involved, controller):
        return controller
    if involved.kind == "ReplicaSet":
        if evidence.workload is not None and any(
            r.name == involved.name for r in evidence.revisions
        ):
            return evidence.workload.ref
        match = _RS_HASH.match(involved.name)
        if match:
            return ObjectRef(kind="Deployment", namespace=involved.namespace, name=match["base"])
    if involved.kind in WORKLOAD_KINDS:
        return ObjectRef(kind=involved.kind, namespace=involved.namespace, name=involved.name)
    return None


def is_run_of(job: ObjectRef, cron_job: ObjectRef | None) -> bool:
    """Whether ``job`` is one of ``cron_job``'s runs, by the CronJob controller's naming
    contract (``<cronjob>-<scheduled time in minutes>``): the pods of a CronJob's other runs
    are read when a Job's own are gone, and belong to the same CronJob."""
    return (
        cron_job is not None
        and cron_job.kind == "CronJob"
        and job.kind == "Job"
        and job.namespace == cron_job.namespace
        and job.name.startswith(f"{cron_job.name}-")
        and _CRON_RUN.fullmatch(job.name[len(cron_job.name) + 1 :]) is not None
    )


def workload_ref(evidence: Evidence, pod: PodEvidence | None = None) -> ObjectRef | None:
    """The workload a remediation should act on: the one the evidence was built around (or
    the CronJob that stamps it out), else the pod's controller, else the incident target when
    it is itself a workload."""
    if pod is not None:
        owned = owner_workload(pod)
        if evidence.workload is not None:
            ours = evidence.workload.ref
            owner_name = pod.owner.name if pod.owner else None
            # A pod of another workload (e.g. a dependency) must not be attributed to ours.
            if (
                owned is None
                or owned.same_object(ours)
                or any(r.name == owner_name for r in evidence.revisions)
                or is_run_of(owned, evidence.workload.controller)
            ):
                return evidence.workload.controller or ours
        if owned is not None:
            return owned
    if evidence.workload is not None:
        return evidence.workload.controller or evidence.workload.ref
    if evidence.target is not None and evidence.target.kind in WORKLOAD_KINDS:
        return evidence.target
    for candidate in evidence.pods:
        owned = owner_workload(candidate)
        if owned is not None:
            return owned
    return None


def failed_run_pods(evidence: Evidence, pod: PodEvidence) -> int | None:
    """How many pods of the same workload's Job runs ended Failed, when ``pod`` is itself a
    Job's pod that ended Failed; None for any other pod. The kubelet never restarts a pod in
    a terminal phase: a Job retries by creating a new pod, so such a pod's restart count is
    always 0 and its failed pods are the attempts."""
    if pod.phase != "Failed" or pod.owner is None or pod.owner.kind != "Job":
        return None
    target = workload_ref(evidence, pod)
    return sum(
        1
        for other in evidence.pods
        if other.phase == "Failed"
        and other.owner is not None
        and other.owner.kind == "Job"
        and target is not None
        and (ref := workload_ref(evidence, other)) is not None
        and ref.same_object(target)
    )


def incident_subject(evidence: Evidence) -> ObjectRef | None:
    """What the incident is about, as prose names it: the incident's target, unless the
    evidence was built around a workload in its place (a Service's or a Pod's workload, an
    autoscaler's scale target): then that workload. A target that stamps the workload out
    (a CronJob whose run was read because it has no pods of its own) stays the subject."""
    workload = evidence.workload
    if workload is None:
        return evidence.target
    target, controller = evidence.target, workload.controller
    if target is not None and controller is not None and target.same_object(controller):
        return target
    return workload.ref


def workload_container(evidence: Evidence, name: str) -> ContainerEvidence | None:
    """The workload's template container of that name (limits live there too)."""
    if evidence.workload is None:
        return None
    return next((c for c in evidence.workload.containers if c.name == name), None)


def iter_containers(
    evidence: Evidence, *, include_init: bool = True
) -> Iterator[tuple[PodEvidence, ContainerEvidence]]:
    for pod in evidence.pods:
        for container in pod.containers:
            if include_init or not container.init:
                yield pod, container


def states(container: ContainerEvidence) -> list[ContainerState]:
    """Current state first, then the last termination."""
    found = [container.state]
    if container.last_state is not None:
        found.append(container.last_state)
    return found


# --- events -------------------------------------------------------------------------------


def events_for(evidence: Evidence, *reasons: str) -> list[EventEvidence]:
    wanted = {r.lower() for r in reasons}
    return [e for e in evidence.events if e.reason.lower() in wanted]


def event_fact(event: EventEvidence) -> str:
    """``BackOff on Pod x, 12 times: <message>``: an event as evidence quotes it."""
    seen = f", {prose.count(event.count, 'time')}" if event.count > 1 else ""
    return f"{event.reason} on {event.involved.kind} {event.involved.name}{seen}: {event.message}"


def reboot_behind_it(event: EventEvidence, node: NodeEvidence) -> bool:
    """A node's one ``Rebooted`` event while it reports Ready again: a reboot that completed
    (a maintenance reboot such as kured's, or a patch), history rather than a present fault of
    the node. A node rebooting again and again, or not Ready since, is still a problem."""
    return event.reason == "Rebooted" and event.count <= 1 and node.ready == "True"


# --- logs ---------------------------------------------------------------------------------


# The Deployment controller's event for a ReplicaSet scaled down: "Scaled down replica set
# web-5d8c to 6 from 10" (Kubernetes 1.28+; "... to 6" before it), and Argo Rollouts'
# "Scaled down ReplicaSet web-5d8c (revision 3) from 10 to 6".
_SCALED_DOWN = re.compile(
    r"(?i)scaled down replica ?set (?P<rs>\S+)(?: \(revision \d+\))?"
    r"(?: to (?P<to>\d+)(?: from (?P<from>\d+))?| from (?P<from_>\d+) to (?P<to_>\d+))?"
)


@dataclass(frozen=True, slots=True)
class ScaleDown:
    """A ReplicaSet scaled down, as a controller's event says it: to ``after`` replicas from
    ``before`` (None when the message does not say, or says neither)."""

    replica_set: str
    before: int | None
    after: int | None


def scaled_down(message: str) -> ScaleDown | None:
    """The scale-down an event message reports, in any of the forms controllers print."""
    match = _SCALED_DOWN.search(message)
    if match is None:
        return None
    before, after = match["from"] or match["from_"], match["to"] or match["to_"]
    return ScaleDown(
        match["rs"],
        int(before) if before is not None else None,
        int(after) if after is not None else None,
    )


@dataclass(frozen=True, slots=True)
class LogHit:
    log: LogTail
    line: str
    match: re.Match[str]

    @property
    def source(self) -> str:
        return log_source(self.log)


def _grep(
    logs: Iterable[LogTail], find: Callable[[str], re.Match[str] | None], limit: int
) -> list[LogHit]:
    hits: list[LogHit] = []
    for log in logs:
        for line in log.lines:
            match = find(line)
            if match:
                hits.append(LogHit(log, line, match))
                if len(hits) >= limit:
                    return hits
    return hits


def grep_logs(
    logs: Iterable[LogTail], pattern: re.Pattern[str], *, limit: int = 50
) -> list[LogHit]:
    return _grep(logs, pattern.search, limit)


def grep_tls_failures(
    logs: Iterable[LogTail], kinds: Collection[TlsFailure], *, limit: int = 50
) -> list[LogHit]:
    """Log lines reporting a TLS certificate failure of one of ``kinds``, as
    ``kubetriage.tls_errors`` classifies them (the match is the phrase that says it)."""

    def find(line: str) -> re.Match[str] | None:
        found = tls_failure_match(line)
        return found[1] if found is not None and found[0] in kinds else None

    return _grep(logs, find, limit)


def logs_of(evidence: Evidence, pod: PodEvidence, container: str | None = None) -> list[LogTail]:
    return [
        log
        for log in evidence.logs
        if log.pod == pod.name
        and log.namespace == pod.namespace
        and (container is None or log.container == container)
    ]


# --- metrics ------------------------------------------------------------------------------


# The templates of a called workload's pods (``callee_*``): their series are of another
# workload, never the incident workload's own CPU, memory, errors or replicas. The
# per-replica series of an alerted pod's Deployment (``replica_*``) are of its siblings,
# read only by the rule that compares them, never as the alerted pod's own.
CALLEE_SERIES = "callee_"
REPLICA_SERIES = "replica_"


def of_callee(metric: MetricSummary) -> bool:
    """Whether the series is of other pods than the incident's own: a called workload's (a
    ``callee_*`` template) or an alerted pod's sibling replicas (``replica_*``)."""
    return metric.name.startswith((CALLEE_SERIES, REPLICA_SERIES))


def metrics_named(evidence: Evidence, *names: str) -> list[MetricSummary]:
    """The workload's metric summaries (never a callee's, ``of_callee``) whose template name
    or query mentions any of these metric names."""
    return [
        m
        for m in evidence.metrics
        if not of_callee(m) and any(n in m.name or n in m.query for n in names)
    ]


CPU_USAGE = "container_cpu_usage_seconds_total"
# How much a series must grow over the window (last / first) to count: a rise of latency,
# traffic or busy connections; a doubling of errors, queues or CPU usage.
RISE = 1.5
DOUBLING = 2.0


# A quoted PromQL string: a label value, which may hold a "/" (metrics_path="/metrics").
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')


def divides(query: str) -> bool:
    """Whether a PromQL expression divides (a ratio such as used / capacity), not merely
    quotes a "/" in a label value (kubelet series carry metrics_path="/metrics/cadvisor")."""
    return "/" in _QUOTED.sub("", query)


def metric_growth(metric: MetricSummary) -> float | None:
    """last / first (or min) of a series; infinite when it rose from zero."""
    low = metric.first if metric.first is not None else metric.min
    if metric.last is None or low is None:
        return None
    if low <= 0:
        return math.inf if metric.last > 0 else None
    return metric.last / low


def cpu_usage_jumps(evidence: Evidence, factor: float = DOUBLING) -> list[MetricSummary]:
    """CPU usage rate series (cores) that rose at least ``factor`` times over the window."""
    jumps: list[MetricSummary] = []
    for metric in metrics_named(evidence, CPU_USAGE):
        if "rate(" not in metric.query or divides(metric.query.split("rate(", 1)[0]):
            continue  # a raw counter always rises; a ratio is not usage
        growth = metric_growth(metric)
        if growth is not None and growth >= factor:
            jumps.append(metric)
    return jumps


def seconds_before(evidence: Evidence, moment: datetime | None) -> float | None:
    """How long before the evidence was collected ``moment`` was (None when unknown)."""
    if moment is None:
        return None
    return max(timestamp(evidence.collected_at) - timestamp(moment), 0.0)


def timestamp(value: datetime) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()

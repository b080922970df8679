"""Capacity taken away rather than demand grown: replicas cut while demand stayed, and the
service got slower or fails (a cut by hand or a pipeline, not an autoscaler's own) or the
remaining pods got busier right after the cut (also an autoscaler's, its minimum or target
edited), scale back to what it ran; a Service the workload fails to call that is empty
because the workload behind it was scaled to zero, scale that workload back out; and an
autoscaler that cannot read its metric (the metrics API or adapter is down) while the
service got slower, scale out by hand (also the autoscaler of the callee it waits on).
Called by the saturation rule (``saturation``), whose category they share.

Pure functions of Evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import make_finding
from kubetriage.analyzers.calls import caller, dependency_hits, service_fact
from kubetriage.analyzers.demand import (
    SCALE_BY,
    WINDOW_SECONDS,
    alert_named,
    alerted_strain,
    is_rate,
    is_traffic,
    replicas_for,
    scale_params,
    strain_facts,
)
from kubetriage.analyzers.log_signatures import (
    hosts_in,
    service_for_host,
)
from kubetriage.analyzers.onset import ONSET_TOLERANCE
from kubetriage.analyzers.pods import pod_failing
from kubetriage.analyzers.revisions import current_and_previous_revision, pod_revision
from kubetriage.analyzers.support import (
    CPU_USAGE,
    RISE,
    item,
    metric_growth,
    metrics_named,
    of_callee,
    scaled_down,
    seconds_before,
    timestamp,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Claim, EvidenceItem, Finding
from kubetriage.models.object_evidence import AutoscalerEvidence, PodCondition, ServiceEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a capacity finding is, by the evidence that earns it."""

    capacity_cut: float = 0.75  # replicas were cut (not by an autoscaler) and it got slower
    # The workload fails calling a Service whose only workload asks for 0 replicas: above
    # the network rule's "selects no pods" (the selector is right, nothing runs behind it).
    callee_at_zero: float = 0.85
    # Replicas cut (by hand or an autoscaler whose minimum or target was edited) and the
    # remaining healthy pods' CPU stepped up right after: the same load on fewer pods.
    cut_busier: float = 0.7
    hpa_blind: float = 0.65  # its autoscaler cannot read its metric while it got slower
    # ... the autoscaler of the callee it waits on (the alert names it, or the only callee):
    # below its own, which wins when both are blind.
    hpa_blind_callee: float = 0.6


CONFIDENCE: Final = _Confidence()
# The desired replicas fell to at most this share of what they were: capacity was cut.
CAPACITY_CUT = 0.67
_DESIRED_REPLICAS = ("kube_deployment_spec_replicas", "kube_statefulset_replicas{")
# How long after a cut the remaining pods' CPU usage may step up and still be its load.
CUT_EFFECT = timedelta(minutes=30)


def _blind(hpa: AutoscalerEvidence, workload: ObjectRef) -> PodCondition | None:
    """The HPA's ScalingActive=False condition when it scales ``workload`` and cannot read
    its metric (FailedGet...Metric: the metrics API or adapter is down, or a container
    lacks the request its utilisation is computed against)."""
    if not hpa.scales(workload):
        return None
    return next(
        (
            c
            for c in hpa.conditions
            if c.type == "ScalingActive"
            and c.status == "False"
            and (c.reason or "").startswith("FailedGet")
        ),
        None,
    )


def _first_blind(
    autoscalers: Sequence[AutoscalerEvidence], workload: ObjectRef
) -> tuple[AutoscalerEvidence, PodCondition] | None:
    """The first of ``autoscalers`` that scales ``workload`` and cannot read its metric, with
    the condition that says so (``_blind``)."""
    return next(
        ((hpa, blind) for hpa in autoscalers if (blind := _blind(hpa, workload)) is not None),
        None,
    )


def blind_condition_item(evidence: Evidence, workload: ObjectRef) -> EvidenceItem | None:
    """The ScalingActive=False condition of the autoscaler scaling ``workload`` that cannot
    read its metric, as an evidence line; None when no autoscaler of it is blind."""
    found = _first_blind(evidence.autoscalers, workload)
    if found is None:
        return None
    hpa, blind = found
    return _condition_item(hpa, blind)


def _condition_item(hpa: AutoscalerEvidence, blind: PodCondition) -> EvidenceItem:
    return item(
        f"hpa/{hpa.namespace}/{hpa.name}",
        f"ScalingActive=False {blind.reason}: {blind.message or ''}",
    )


def _blind_finding(
    hpa: AutoscalerEvidence,
    blind: PodCondition,
    workload: ObjectRef,
    confidence: float,
    strain: list[EvidenceItem],
    params: dict[str, str],
    called: list[Claim],
) -> Finding:
    condition = _condition_item(hpa, blind)
    hpa_ref = ObjectRef(kind="HorizontalPodAutoscaler", namespace=hpa.namespace, name=hpa.name)
    return make_finding(
        "resource-saturation",
        Category.RESOURCE_SATURATION,
        confidence,
        prose.narrative(
            f"{prose.obj(workload)} cannot scale: its autoscaler cannot read its metric",
            f"scale out to {params['replicas']} replicas",
            because=[
                prose.claim(f"{prose.obj(hpa_ref)} cannot compute a replica count", condition),
                *called,
                prose.claim("The service got slower or fails meanwhile", *strain),
                prose.claim("No pod is crashing, so the replicas it could not add are missing"),
            ],
        ),
        [condition, *strain],
        Action.SCALE_OUT,
        workload,
        params,
    )


def blind_autoscaler(evidence: Evidence, workload: ObjectRef | None) -> list[Finding]:
    """An autoscaler that cannot read its metric (ScalingActive=False, FailedGet...Metric: the
    metrics API or adapter is down) keeps the replicas where they are; when the service is
    slower or fails meanwhile and its pods are not crashing, it needed the replicas the
    autoscaler could not ask for: scale out by hand (and repair the metrics pipeline)."""
    if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
        return []
    if any(pod_failing(p) for p in evidence.pods):
        return []  # not-ready or crashing pods report no metrics: another analyzer's case
    found = _first_blind(evidence.autoscalers, workload)
    if found is None:
        return []
    strain = strain_facts(evidence) or alerted_strain(evidence)
    if not strain:
        return []
    hpa, blind = found
    params = scale_params(evidence, SCALE_BY)
    return [_blind_finding(hpa, blind, workload, CONFIDENCE.hpa_blind, strain, params, [])]


def blind_callee_autoscaler(evidence: Evidence) -> list[Finding]:
    """The same for a workload the incident's workload calls: the callee's autoscaler cannot
    read its metric, none of its pods fails, and the caller got slower or fails while the
    callee is the one it waits on (the alert names it, or it is the only callee followed).
    The callee never grew with the load: scale it out. Below the caller's own blind
    autoscaler, which the saturation rule asks first."""
    followed = [d for d in evidence.dependencies if d.followed and d.workload is not None]
    named = alert_named(evidence)
    for dependency in followed:
        workload = dependency.workload
        if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
            continue
        if dependency.failing_pods:
            continue
        names = {workload.name} | ({dependency.service.name} if dependency.service else set())
        if len(followed) > 1 and not names & named:
            continue
        found = _first_blind(dependency.autoscalers, workload)
        if found is None:
            continue
        strain = strain_facts(evidence) or alerted_strain(evidence)
        if not strain:
            return []
        hpa, blind = found
        current = max(dependency.desired_replicas or 1, dependency.ready_replicas or 1, 1)
        params = {"replicas": str(replicas_for(current, SCALE_BY))}
        called = [
            prose.claim(
                f"{caller(evidence)} calls {prose.obj(workload)}"
                + (", which the alert names" if names & named else "")
                + f", and it runs {prose.count(current, 'replica')}"
            )
        ]
        return [
            _blind_finding(
                hpa, blind, workload, CONFIDENCE.hpa_blind_callee, strain, params, called
            )
        ]
    return []


@dataclass(frozen=True, slots=True)
class ReplicaCut:
    """The workload's desired replicas fell from ``before`` to ``after``; ``at`` is when the
    controller cut them (None when read from a replicas series)."""

    before: int
    after: int
    at: datetime | None
    fact: EvidenceItem


def replicas_cut(evidence: Evidence, workload: ObjectRef) -> ReplicaCut | None:
    """The newest cut of the workload's desired replicas within the window: the controller's
    event scaling down its current ReplicaSet (a rolling update scales an old one down, not
    the current; without revisions, an event on the workload down to its desired count), or
    its replicas series falling to CAPACITY_CUT of what it was."""
    current, _ = current_and_previous_revision(evidence)
    desired = evidence.workload.desired_replicas if evidence.workload else None
    cuts: list[ReplicaCut] = []
    for event in evidence.events:
        cut = scaled_down(event.message)
        when = event.last_seen or event.first_seen
        age = seconds_before(evidence, when)
        if cut is None or when is None or age is None or age > WINDOW_SECONDS:
            continue
        if cut.before is None or cut.after is None or not 0 <= cut.after < cut.before:
            continue
        if current is not None:
            ours = cut.replica_set == current.name
        else:
            ours = event.involved.name == workload.name and cut.after == desired
        if ours:
            fact = item("events", f"{event.reason} at {when:%H:%M}: {event.message}")
            cuts.append(ReplicaCut(cut.before, cut.after, when, fact))
    if cuts:
        return max(cuts, key=lambda c: timestamp(c.at) if c.at else 0.0)
    for metric in metrics_named(evidence, *_DESIRED_REPLICAS):
        named = metric.labels.get("deployment") or metric.labels.get("statefulset")
        if named not in (None, workload.name) or metric.max is None or metric.last is None:
            continue
        if metric.max >= 1 and metric.last <= CAPACITY_CUT * metric.max:
            before, after = int(metric.max), int(metric.last)
            fact = item("metrics", f"{metric.name}: {before} -> {after}")
            return ReplicaCut(before, after, None, fact)
    return None


def demand_fell_with(evidence: Evidence, cut: ReplicaCut) -> bool:
    """Whether a request-rate series fell at least as much as the replicas did: the cut
    followed demand rather than taking capacity away."""
    return any(
        is_traffic(m)
        and is_rate(m)
        and (g := metric_growth(m)) is not None
        and g <= cut.after / cut.before
        for m in evidence.metrics
    )


def _busier_after(evidence: Evidence, when: datetime) -> EvidenceItem | None:
    """A CPU usage series of the workload's pods that stepped up right after ``when``."""
    start = timestamp(when) - ONSET_TOLERANCE.total_seconds()
    end = timestamp(when) + CUT_EFFECT.total_seconds()
    for metric in evidence.metrics:
        if of_callee(metric) or (CPU_USAGE not in metric.query and "cpu_usage" not in metric.name):
            continue
        growth = metric_growth(metric)
        if metric.changed_at is None or growth is None or growth < RISE:
            continue
        if start <= timestamp(metric.changed_at) <= end:
            return item(
                "metrics",
                f"{metric.name} per pod stepped up at {metric.changed_at:%H:%M} "
                f"to {prose.number(metric.last or 0)}",
            )
    return None


def capacity_cut(evidence: Evidence, workload: ObjectRef | None) -> list[Finding]:
    """Its replicas were cut within the window and demand did not fall with them, and either
    the service got slower or fails since (a cut to CAPACITY_CUT or less, not an autoscaler's
    own), or the remaining healthy pods' CPU stepped up right after the cut (also when an
    autoscaler made it: its minimum or target was edited): the same load on fewer pods.
    Scale back to what it ran before."""
    if workload is None or workload.kind not in ACTION_TARGET_KINDS[Action.SCALE_OUT]:
        return []
    cut = replicas_cut(evidence, workload)
    if cut is None:
        return []
    before, after = cut.before, cut.after
    if demand_fell_with(evidence, cut):
        return []  # demand fell as much: the cut followed it
    autoscaled = any(
        h.target is not None and h.target.name == workload.name for h in evidence.autoscalers
    )
    failing = any(pod_failing(p) for p in evidence.pods if pod_revision(p, evidence) is not None)
    # Failing pods have their own causes and rules; an autoscaler's own cut is its business
    # unless the pods it left got busier right after it.
    busier = _busier_after(evidence, cut.at) if cut.at is not None and not failing else None
    strain: list[EvidenceItem] = []
    if not autoscaled and after <= CAPACITY_CUT * before:
        strain = strain_facts(evidence) or alerted_strain(evidence)
    if strain:
        shown, claim = strain, prose.claim("It got slower or fails since", *strain)
    elif busier is not None:
        shown = [busier]
        claim = prose.claim("The remaining pods' CPU usage stepped up right after", busier)
    else:
        return []
    return [
        make_finding(
            "resource-saturation",
            Category.RESOURCE_SATURATION,
            CONFIDENCE.capacity_cut if strain else CONFIDENCE.cut_busier,
            prose.narrative(
                f"{prose.obj(workload)} was cut from {before} to "
                f"{prose.count(after, 'replica')} and cannot carry its load",
                f"scale back to {before} replicas"
                + (" (or undo the autoscaler change)" if autoscaled else ""),
                because=[
                    prose.claim(f"Its desired replicas fell from {before} to {after}", cut.fact),
                    claim,
                    prose.claim(
                        "Demand did not fall with the replicas"
                        + ("" if autoscaled else ", and no autoscaler made the cut")
                    ),
                ],
            ),
            [cut.fact, *shown],
            Action.SCALE_OUT,
            workload,
            {"replicas": str(before)},
        )
    ]


def callee_scaled_to_zero(evidence: Evidence) -> list[Finding]:
    """The workload fails calling a Service that has no endpoints because the Deployment or
    StatefulSet behind it asks for 0 replicas (scaled to zero by hand or by a pipeline): its
    selector is right and nothing is broken but the replica count. Scale it back out, to
    what its desired-replicas series shows it ran when known."""
    services: list[ServiceEvidence] = [*evidence.services]
    services += [d.service for d in evidence.dependencies if d.service is not None]
    idle = [s for s in services if s.scaled_to_zero is not None]
    findings: list[Finding] = []
    seen: set[str] = set()
    for hit in dependency_hits(evidence) if idle else []:
        for host in hosts_in(hit.line):
            svc = service_for_host(host, idle)
            if svc is None or svc.scaled_to_zero is None or svc.scaled_to_zero.key() in seen:
                continue
            workload = svc.scaled_to_zero
            seen.add(workload.key())
            call, fact = item(hit.source, hit.line), service_fact(svc)
            service = svc.ref()
            before = _ran_before(evidence, workload)
            shown = [call, fact, *([before[1]] if before else [])]
            findings.append(
                make_finding(
                    "resource-saturation",
                    Category.RESOURCE_SATURATION,
                    CONFIDENCE.callee_at_zero,
                    prose.narrative(
                        f"{prose.obj(workload)} is scaled to zero, so calls to "
                        f"{prose.obj(service)} fail",
                        f"scale it back to {prose.count(before[0], 'replica')}"
                        if before
                        else "scale it back out",
                        because=[
                            prose.claim(
                                f"{caller(evidence)} fails calling {prose.obj(service)}", call
                            ),
                            prose.claim(
                                f"Its selector {prose.selector(svc.selector)} matches the pod "
                                f"template of {prose.obj(workload)}, which asks for 0 replicas, "
                                "so it has no endpoints",
                                fact,
                            ),
                            *(
                                [
                                    prose.claim(
                                        f"Its desired replicas fell from {before[0]} to 0",
                                        before[1],
                                    )
                                ]
                                if before
                                else []
                            ),
                        ],
                    ),
                    shown,
                    Action.SCALE_OUT,
                    workload,
                    {"replicas": str(before[0] if before else 1)},
                )
            )
    return findings


def _ran_before(evidence: Evidence, workload: ObjectRef) -> tuple[int, EvidenceItem] | None:
    """The most replicas the workload's desired-replicas series shows in the window."""
    for metric in metrics_named(evidence, *_DESIRED_REPLICAS):
        named = metric.labels.get("deployment") or metric.labels.get("statefulset")
        if named == workload.name and metric.max is not None and metric.max >= 1:
            before = int(metric.max)
            return before, item(
                "metrics", f"{metric.name}: {before} -> {prose.number(metric.last or 0)}"
            )
    return None

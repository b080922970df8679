"""The sticky-Service rule: a Service with ``sessionAffinity: ClientIP`` sends every
connection from one client address to the same pod (kube-proxy keeps the pairing for
``sessionAffinityConfig.clientIP.timeoutSeconds``, three hours by default). Behind few client
addresses (an ingress controller proxying to the cluster IP, a gateway, a handful of calling
pods, a NAT) that pins all traffic to as many pods as there are clients, however many
replicas run: those few pods are busy, the others idle, requests queue on the busy ones, and
an autoscaler averaging over all pods adds replicas that get nothing.

An SRE reads it from the Service's spec against the load of its ready pods: the workload's
own Service or a followed callee's with ClientIP affinity, and the CPU its ready pods use
uneven (some busy, at least one almost idle) while a latency or error alert fires. The fix
is the Service's traffic distribution (drop the affinity, or balance by a request key at the
proxy), not more replicas nor the application: ``network``, ``fix-network`` on the Service. A
write to the affinity (its managedFields entry) or a rollout of the workload behind it (a
chart upgrade carrying both) shortly before raises the confidence.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.demand import alerted_strain
from kubetriage.analyzers.support import item, seconds_before, service_source
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import ChangeEvidence, PodEvidence, ServiceEvidence
from kubetriage.models.objects import service_selects
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a sticky-Service finding is, by the evidence that earns it."""

    # A Service with ClientIP affinity whose ready pods carry uneven load (some busy, one or
    # more almost idle) while a latency or error alert fires: above an autoscaler at its
    # maximum (0.8), which the idle pods show is not short of replicas ...
    pinned: float = 0.82
    # ... and the affinity was written, or the workload behind it rolled out, shortly before.
    changed_bonus: float = 0.06


CONFIDENCE: Final = _Confidence()

AFFINITY = "ClientIP"
# A pod using less than this share of the busiest pod's CPU is idle beside it.
IDLE_SHARE: Final = 0.2
# The busiest pod must use at least this much CPU (cores) for the spread to mean load.
BUSY_CORES: Final = 0.1
# A write to the Service or a rollout behind it within this long before is "what changed".
RECENT: Final = timedelta(hours=6)
# The per-pod CPU series of the workload's own pods, and of a followed callee's pods.
OWN_CPU = "cpu_usage_cores"
FIX = "set its sessionAffinity back to None so every ready pod takes calls"
CALLEE_CPU = "callee_cpu_usage_cores"


@dataclass(frozen=True, slots=True)
class _Sticky:
    service: ServiceEvidence
    loads: dict[str, float]  # ready pod -> cores
    rollouts: list[tuple[str, datetime | None]]  # the workload behind it: (source, when)


def pod_loads(
    evidence: Evidence, metric_name: str, namespace: str, pods: set[str]
) -> dict[str, float]:
    """Cores each of ``pods`` uses now, summed over its containers."""
    loads: dict[str, float] = {}
    for metric in evidence.metrics:
        pod = metric.labels.get("pod", "")
        if metric.name != metric_name or pod not in pods or metric.last is None:
            continue
        if metric.labels.get("namespace", namespace) != namespace:
            continue
        loads[pod] = loads.get(pod, 0.0) + metric.last
    return loads


def own_pod_loads(evidence: Evidence, svc: ServiceEvidence) -> dict[str, float]:
    """Cores each ready pod of the incident that ``svc`` selects uses now."""
    pods = {
        p.name
        for p in evidence.pods
        if p.namespace == svc.namespace and service_selects(svc.selector, p.labels) and ready(p)
    }
    return pod_loads(evidence, OWN_CPU, svc.namespace, pods)


def _rollouts(changes: list[ChangeEvidence]) -> list[tuple[str, datetime | None]]:
    return [
        (f"{c.object.kind.lower()}/{c.object.namespace}/{c.object.name}", c.at)
        for c in changes
        if c.kind == "rollout"
    ]


def ready(pod: PodEvidence) -> bool:
    """Whether ``pod`` runs with every (non-init) container ready: it takes calls."""
    return pod.phase == "Running" and all(c.ready for c in pod.containers if not c.init)


def _candidates(evidence: Evidence) -> list[_Sticky]:
    found: list[_Sticky] = []
    for svc in evidence.services:
        if svc.session_affinity != AFFINITY:
            continue
        loads = own_pod_loads(evidence, svc)
        # The workload's current revision says when it rolled out, also with no older one.
        current = [
            (f"replicaset/{svc.namespace}/{r.name}", r.created_at)
            for r in evidence.revisions
            if r.current
            and evidence.workload is not None
            and evidence.workload.ref.kind == "Deployment"
        ]
        found.append(_Sticky(svc, loads, _rollouts(evidence.changes) + current))
    for dep in evidence.dependencies:
        called = dep.service
        if called is None or called.session_affinity != AFFINITY or dep.short_of_ready():
            continue
        loads = pod_loads(evidence, CALLEE_CPU, called.namespace, set(dep.pod_nodes))
        found.append(_Sticky(called, loads, _rollouts(dep.changes)))
    return found


def uneven_loads(loads: dict[str, float]) -> tuple[list[str], list[str]] | None:
    """The busy and the idle pods when the load is pinned to some of them, else None."""
    if len(loads) < 2:
        return None
    busiest = max(loads.values())
    if busiest < BUSY_CORES:
        return None
    idle = sorted(p for p, v in loads.items() if v < busiest * IDLE_SHARE)
    busy = sorted(p for p, v in loads.items() if v >= busiest * IDLE_SHARE)
    return (busy, idle) if idle else None


def split_loads_fact(
    loads: Mapping[str, float],
    busy: list[str],
    idle: list[str],
    where: Mapping[str, str] | None = None,
) -> EvidenceItem:
    """The CPU of the busy then the idle pods (the first six), each with ``where`` it runs
    when given (its zone), as the one metrics fact the rules on uneven load cite."""
    shown = [
        f"{pod} ({where[pod]}) {prose.cpu(loads[pod])}"
        if where is not None
        else f"{pod} {prose.cpu(loads[pod])}"
        for pod in [*busy, *idle][:6]
    ]
    return item("metrics", "CPU per ready pod: " + ", ".join(shown))


def _recent(evidence: Evidence, at: datetime | None) -> float | None:
    ago = seconds_before(evidence, at)
    return ago if ago is not None and ago <= RECENT.total_seconds() else None


def _change_fact(evidence: Evidence, sticky: _Sticky) -> EvidenceItem | None:
    svc = sticky.service
    source = service_source(svc)
    ago = _recent(evidence, svc.affinity_written_at)
    if ago is not None:
        return item(source, f"sessionAffinity written {prose.duration(ago)} ago")
    for where, at in sticky.rollouts:
        ago = _recent(evidence, at)
        if ago is not None:
            return item(where, f"rolled out {prose.duration(ago)} ago, with the Service")
    return None


def check_sticky_service(evidence: Evidence) -> list[Finding]:
    strain = alerted_strain(evidence)
    if not strain:
        return []
    for sticky in _candidates(evidence):
        spread = uneven_loads(sticky.loads)
        if spread is None:
            continue
        busy, idle = spread
        svc = sticky.service
        ref = ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name, api_version="v1")
        timeout = (
            f", timeout {prose.duration(svc.affinity_timeout_seconds)}"
            if svc.affinity_timeout_seconds
            else ""
        )
        affinity = item(service_source(svc), f"sessionAffinity ClientIP{timeout}")
        loads = split_loads_fact(sticky.loads, busy, idle)
        changed = _change_fact(evidence, sticky)
        because = [
            prose.claim("Requests are slow or failing", *strain),
            prose.claim(f"{prose.obj(ref)} sends each client address to the same pod", affinity),
            prose.claim(
                f"{prose.count(len(busy), 'pod')} carry the load while "
                f"{prose.count(len(idle), 'ready pod')} sit idle",
                loads,
            ),
        ]
        if changed is not None:
            because.append(
                prose.claim("It, or the workload behind it, changed shortly before", changed)
            )
        return [
            make_finding(
                "sticky-service",
                Category.NETWORK,
                CONFIDENCE.pinned + (CONFIDENCE.changed_bonus if changed else 0.0),
                prose.narrative(
                    prose.fitting_problem(
                        [
                            f"{prose.obj(ref)} pins its few clients to "
                            f"{prose.count(len(busy), 'pod')} with ClientIP session affinity",
                            f"{prose.obj(ref)} pins its clients to {prose.count(len(busy), 'pod')}",
                        ],
                        FIX,
                    ),
                    FIX,
                    because=because,
                ),
                [affinity, loads, *([changed] if changed else []), *strain],
                Action.FIX_NETWORK,
                ref,
            )
        ]
    return []


SESSION_AFFINITY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("sticky-service", (Category.NETWORK,), check_sticky_service),
)

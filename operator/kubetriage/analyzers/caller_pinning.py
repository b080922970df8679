"""The caller-pinning rule: a callee whose load, at flat demand, moved onto a few of its
replicas right after a caller rolled out a new revision. A client balances calls across a
Service's pods only if it is told to: gRPC's default policy (pick_first) sends every call of
a channel to the first address it reached, and an HTTP/2 or keep-alive client multiplexes
everything over the one connection kube-proxy placed; a client library swap, a dropped
service config (``round_robin``) or a changed target (a headless name instead of ``dns:///``)
pins each caller pod to one callee pod. An SRE sees it in the callee's replicas: the same
revision, all started well before the caller's rollout, now split into pods at full load and
pods that idle; its CPU-throttling or latency alert is about the hot ones. Raising the limit
or scaling out leaves the new pods idle too: roll the caller back.

Silent when the callee's load is even, when a busy or idle pod started after the caller's
rollout (an autoscaler's new pods that old connections never reach are the
``pinned-connections`` rule's), when a pod has no load series, when its Service pins clients
by ClientIP affinity (the sticky-service rule's), and when no caller changed how it calls
right before the onset while the callee's own traffic stayed flat (``callers.caller_rollout``).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.callers import caller_rollout
from kubetriage.analyzers.session_affinity import (
    AFFINITY,
    own_pod_loads,
    pod_loads,
    ready,
    split_loads_fact,
    uneven_loads,
)
from kubetriage.analyzers.support import item, service_source, timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.objects import service_selects
from kubetriage.models.vocabulary import Action, Category

# The callee's replicas, all older than the caller's rollout, split into busy and idle from
# right after it at flat demand: above the throttling of the busy pods (0.8) and the caller's
# timing alone at flat demand (``callers``, 0.78).
CONFIDENCE: Final = 0.84


# The CPU of each replica of the Deployment whose one pod the alert names.
REPLICA_CPU: Final = "replica_cpu_usage_cores"


def replica_loads(evidence: Evidence, svc: ServiceEvidence) -> dict[str, float]:
    """Cores each ready pod that ``svc`` selects uses now: from the per-replica series of
    the alert's Deployment when there is one, else from the workload's own per-pod series."""
    pods = {
        p.name
        for p in evidence.pods
        if p.namespace == svc.namespace and service_selects(svc.selector, p.labels) and ready(p)
    }
    return pod_loads(evidence, REPLICA_CPU, svc.namespace, pods) or own_pod_loads(evidence, svc)


def check_caller_pinning(evidence: Evidence) -> list[Finding]:
    """Roll back the caller whose new revision concentrates its calls on a few callee pods."""
    suspect = caller_rollout(evidence)
    if suspect is None:
        return []
    caller, change = suspect
    if change.at is None:
        return []
    for svc in evidence.services:
        if svc.session_affinity == AFFINITY or not svc.selector:
            continue
        loads = replica_loads(evidence, svc)
        pods = {p.name: p for p in evidence.pods if p.name in loads}
        spread = uneven_loads(loads)
        if spread is None or len(pods) < len(loads):
            continue
        busy, idle = spread
        started = [pods[name].created_at for name in loads]
        if any(s is None or timestamp(s) >= timestamp(change.at) for s in started):
            continue  # a pod younger than the caller's rollout: not all were offered calls
        selected = [p for p in evidence.pods if service_selects(svc.selector, p.labels)]
        if len({p.owner.name for p in selected if p.owner}) > 1:
            continue  # pods of two revisions: a rollout of the callee's own in progress
        target = caller.ref
        facts = [
            split_loads_fact(loads, busy, idle),
            item(
                service_source(svc),
                f"selects {prose.count(len(loads), 'ready pod')}, all started before "
                f"{prose.obj(target)} rolled out at {change.at:%H:%M}",
            ),
            item(
                f"{target.kind.lower()}/{target.namespace}/{target.name}",
                "; ".join(change.details[:3]) or "rolled out a new revision",
            ),
        ]
        fix = f"roll {prose.obj(target)} back, so its calls spread over every pod again"
        text = prose.narrative(
            prose.fitting_problem(
                [
                    f"{prose.obj(target)}'s new revision sends its calls to "
                    f"{prose.count(len(busy), 'pod')} of {prose.obj(caller.callee)}",
                    f"{target.name}'s new revision pins its calls to "
                    f"{prose.count(len(busy), 'pod')} of {caller.callee.name}",
                    f"{target.name}'s release pins its calls",
                ],
                fix,
            ),
            fix,
            because=[
                prose.claim(
                    f"{prose.count(len(busy), 'pod')} carry the load while "
                    f"{prose.count(len(idle), 'ready pod')} of the same revision sit idle",
                    facts[0],
                ),
                prose.claim(
                    "Every one of them was there before the caller's rollout, so each was "
                    "offered calls",
                    facts[1],
                ),
                prose.claim(
                    f"{prose.obj(target)} changed how it calls right before the load split, "
                    "while the callee's own traffic stayed flat",
                    facts[2],
                ),
            ],
        )
        return [
            make_finding(
                "caller-pinning",
                Category.BAD_ROLLOUT,
                CONFIDENCE,
                text,
                facts,
                Action.ROLLBACK,
                target,
            )
        ]
    return []


CALLER_PINNING_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("caller-pinning", (Category.BAD_ROLLOUT,), check_caller_pinning),
)

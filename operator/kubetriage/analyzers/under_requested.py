"""The under-requested rule: the kubelet evicts, for its node's memory, two or more pods of one
workload, naming each time that workload's container as the largest user and reporting a use
many times its memory request (a request far below the use: none at all, or a namespace
LimitRange's small default filled in at admission). The scheduler places pods by their
requests, so every node that takes this workload's pods is overcommitted by it, and the
kubelet, which ranks pods by their use above their request, evicts exactly these first: the
node pressure follows the workload from node to node. Draining the node moves the pods and
the pressure; the fix is a memory request (and limit) that matches what the workload uses
(above the node-failure finding for the same pressure).

A single eviction, or pods using their request or a little more, say nothing of the kind: a
node that runs short of memory for another reason evicts whoever is first in that ranking.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item, owner_workload, pod_source, suggest_memory
from kubetriage.evictions import top_user
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.quantity import GI, parse_quantity
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an under-requested finding is, by the evidence that earns it."""

    # Two or more of the workload's pods evicted for their nodes' memory, each the largest
    # user at many times its request: above the node-failure finding for that pressure (0.85,
    # 0.88 with agreeing signals), which would drain a node its next pods overcommit again.
    evicted_over_request: float = 0.9


CONFIDENCE: Final = _Confidence()

# A use at eviction this many times the container's memory request, and this far above it:
# the request does not describe the workload (a BestEffort pod using a few hundred MiB does
# not overcommit a node; a pod using its request and a little more is ranked, not the cause).
OVER_REQUEST_FACTOR: Final = 4.0
OVER_REQUEST_MIN_BYTES: Final = 1.0 * GI
# Distinct pods of the workload evicted so: one eviction is the kubelet's ranking at work.
MIN_EVICTED_PODS: Final = 2


@dataclass(frozen=True, slots=True)
class _OverRequest:
    """One pod the kubelet evicted for its node's memory, naming ``container`` as the largest
    user at ``used`` bytes against a memory request of ``request`` bytes."""

    pod: PodEvidence
    container: str
    used: float
    request: float


def _over_request(pod: PodEvidence) -> _OverRequest | None:
    """The pod's memory eviction naming its container at many times its request, or None."""
    if pod.reason != "Evicted" or not pod.message:
        return None
    top = top_user(pod.message)
    if top is None or top.resource != "memory" or top.used is None:
        return None
    container = next((c for c in pod.containers if c.name == top.container), None)
    if container is not None:
        # The pod's own spec is the request the scheduler placed it by (none: BestEffort).
        request = parse_quantity(container.requests.get("memory")) or 0.0
    elif top.request is not None:
        request = top.request
    else:
        return None
    over = (
        top.used >= OVER_REQUEST_FACTOR * request and top.used - request >= OVER_REQUEST_MIN_BYTES
    )
    return _OverRequest(pod, top.container, top.used, request) if over else None


def check_under_requested(evidence: Evidence) -> list[Finding]:
    groups: dict[tuple[str, str | None, str], tuple[ObjectRef, list[_OverRequest]]] = {}
    for pod in evidence.pods:
        found = _over_request(pod)
        workload = owner_workload(pod)
        if found is None or workload is None:
            continue
        key = (workload.kind, workload.namespace, workload.name)
        groups.setdefault(key, (workload, []))[1].append(found)
    findings: list[Finding] = []
    for workload, hits in groups.values():
        if len({h.pod.name for h in hits}) < MIN_EVICTED_PODS:
            continue
        hits.sort(key=lambda h: -h.used)
        largest = hits[0]
        facts = [item(pod_source(h.pod), f"Evicted: {h.pod.message}") for h in hits]
        nodes = sorted({h.pod.node for h in hits if h.pod.node})
        request = (
            f"a memory request of {prose.memory(largest.request)}"
            if largest.request
            else "no memory request"
        )
        findings.append(
            make_finding(
                "under-requested",
                Category.NODE_FAILURE,
                CONFIDENCE.evicted_over_request,
                prose.narrative(
                    f"{prose.obj(workload)} uses far more memory than it requests, and its "
                    "nodes run out of memory",
                    "raise its memory request (and limit) to what it uses",
                    aside=f"{prose.count(len(hits), 'pod')} evicted",
                    because=[
                        prose.claim(
                            f"The kubelet evicted {prose.count(len(hits), 'pod')} of it for lack "
                            f"of memory on {prose.count(len(nodes), 'node')}, each time naming its "
                            f"container {largest.container} as the largest user, up to "
                            f"{prose.memory(largest.used)} against {request}",
                            *facts[:2],
                        ),
                        prose.claim(
                            "The scheduler places pods by their requests, so each node that "
                            "takes its pods is overcommitted by them and evicts them first; "
                            "draining a node moves the pods and the pressure to the next one"
                        ),
                    ],
                ),
                facts,
                Action.INCREASE_MEMORY,
                workload,
                {
                    "container": largest.container,
                    "memory": suggest_memory(largest.request, largest.used),
                },
            )
        )
    return findings


UNDER_REQUESTED_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("under-requested", (Category.NODE_FAILURE,), check_under_requested),
)

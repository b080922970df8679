"""A node at its pod capacity, and the tenant left without room: the kubelet's alert says
the node runs as many pods as it may (its ``maxPods``: Azure CNI's 30, an ENI limit), which
in itself breaks nothing. An SRE asks who is short of a slot: the node's tenants whose other
replicas are Pending elsewhere because the scheduler finds every node's pod slots taken
("Too many pods"). Exactly one such tenant is what the page is about: free capacity for it
(more nodes, or nodes with more pod slots), not the node, which is merely full.

Silent when the alert is not about pod capacity, when no tenant or several tenants wait for
slots, and for pods Pending for another reason (CPU, memory, affinity: the scheduling rule's
words for a workload's own incident).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.scheduling import POD_SLOTS_FULL
from kubetriage.analyzers.support import item, object_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import NodeTenantEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a tenant-slots finding is, by the evidence that earns it."""

    # The node's alert says it is at its pod capacity, and the one tenant with replicas
    # Pending for want of pod slots elsewhere: the scheduler says so in its own words.
    waiting: float = 0.85


CONFIDENCE: Final = _Confidence()
NAME: Final = "node-tenant-slots"
# A node alert about its pod capacity (kubernetes-mixin's KubeletTooManyPods, "running at
# 100% of its Pod capacity"; a node's maxPods).
_POD_CAPACITY: Final = re.compile(r"(?i)(too.?many.?pods|pod capacity|max.?pods)")


def _pod_capacity_alert(evidence: Evidence) -> str | None:
    """The words of the first alert about the node's pod capacity (its name, then its
    description or summary), else None."""
    for alert in evidence.alerts:
        name = alert.labels.get("alertname", "")
        said = alert.annotations.get("description") or alert.annotations.get("summary", "")
        if _POD_CAPACITY.search(f"{name} {said}"):
            return f"{name}: {said}" if said else name
    return None


def _waiting_for_slots(tenant: NodeTenantEvidence) -> list[str]:
    """The tenant's pods the scheduler leaves Pending because nodes run all the pods they may."""
    return [pod for pod, words in tenant.unplaced.items() if POD_SLOTS_FULL.search(words)]


def check_tenant_slots(evidence: Evidence) -> list[Finding]:
    """Free capacity for the one tenant of a node at its pod capacity whose replicas wait
    elsewhere for a pod slot."""
    target = evidence.target
    alerted = _pod_capacity_alert(evidence)
    if target is None or target.kind != "Node" or alerted is None:
        return []
    found = [(t, pods) for t in evidence.node_tenants if (pods := _waiting_for_slots(t))]
    if len(found) != 1:
        return []
    tenant, pods = found[0]
    if tenant.ref.kind not in ACTION_TARGET_KINDS[Action.FREE_CAPACITY]:
        return []
    workload = prose.obj(tenant.ref)
    words = tenant.unplaced[pods[0]]
    full = item("alert", prose.clip(alerted, 160))
    pending = item(
        object_source(tenant.ref),
        f"{prose.count(len(pods), 'pod')} Pending: {prose.clip(words, 160)}",
    )
    because = [
        prose.claim(f"Node {target.name} runs as many pods as it may", full),
        prose.claim(
            f"{workload} runs there, and its other replicas wait: the scheduler finds every "
            "node's pod slots taken",
            pending,
        ),
    ]
    return [
        make_finding(
            NAME,
            Category.UNSCHEDULABLE,
            CONFIDENCE.waiting,
            prose.narrative(
                f"{workload}'s replicas find no free pod slot",
                "add nodes, or pod slots per node",
                because=because,
            ),
            [full, pending],
            Action.FREE_CAPACITY,
            tenant.ref,
            {"reason": "too many pods"},
        )
    ]


TENANT_SLOT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.UNSCHEDULABLE,), check_tenant_slots),
)

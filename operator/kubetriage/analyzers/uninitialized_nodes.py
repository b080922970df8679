"""Nodes the cloud provider has not initialized, as a constraint of the unschedulable rule.

A kubelet started with an external cloud provider registers its node with the taint
``node.cloudprovider.kubernetes.io/uninitialized`` (NoSchedule), and only the cloud
controller manager removes it, once it has set the node's provider ID, addresses and zone
from the cloud's API. When the scheduler names that taint among the reasons pods stay
Pending and nodes that are Ready still carry it, the room is there but unusable until the
cloud controller manager initializes those nodes: more nodes would join just as unusable,
so the first thing to look at is the cloud controller manager (its logs, its credentials to
the cloud), not the node count. Nodes that are not Ready, or a scheduler that does not name
the taint, are other rules' cases.

Pure functions of Evidence, called by ``kubetriage.analyzers.scheduling``.
"""

from __future__ import annotations

from kubetriage import prose
from kubetriage.analyzers.support import item, node_source
from kubetriage.evidence.cloud_controllers import UNINITIALIZED_TAINT
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Claim, EvidenceItem


def uninitialized_nodes(evidence: Evidence, text: str) -> list[str]:
    """The Ready nodes still carrying the cloud provider's uninitialized taint, when the
    scheduler's words (``text``) name that taint as keeping the pods off."""
    if UNINITIALIZED_TAINT not in text:
        return []
    return [
        n.name for n in evidence.nodes if n.ready == "True" and UNINITIALIZED_TAINT in n.taint_keys
    ]


def uninitialized_constraint(
    evidence: Evidence, text: str
) -> tuple[str, str, Claim, list[EvidenceItem]] | None:
    """The unschedulable rule's binding constraint (headline tail, fix, explanation, facts)
    when Ready nodes the scheduler rules out are waiting for the cloud controller manager."""
    names = uninitialized_nodes(evidence, text)
    if not names:
        return None
    marks = [item(node_source(n), f"Ready, still tainted {UNINITIALIZED_TAINT}") for n in names[:2]]
    many = len(names) > 1
    return (
        f"{prose.count(len(names), 'Ready node')} {'wait' if many else 'waits'} for the cloud "
        "controller manager",
        "check the cloud controller manager",
        prose.claim(
            f"{'The nodes' if many else 'Node'} {prose.listing(names)} "
            f"{'are' if many else 'is'} Ready but still "
            f"{'carry' if many else 'carries'} the cloud provider's uninitialized taint, which "
            "only the cloud controller manager removes: nodes added now would wait the same, "
            "so its logs and cloud credentials come before adding nodes",
            *marks,
        ),
        marks,
    )

"""A new node of another build: when a node group is updated in place (an EKS managed node
group's new AMI release, an AKS node image upgrade, a GKE surge upgrade), its new nodes keep
the group's name but run another image: another kubelet, container runtime and defaults
(the runtime's open-file limit, sysctls, cgroup settings). Replicas placed there can fail
where the same template runs on the group's older nodes. An SRE who sees a revision's
replicas fail only on the node that just joined, running a build none of the healthy
replicas' nodes run, with nothing the pods read at start changed since the healthy replicas
started (no ConfigMap or Secret write, no image moved under its tag), reads it as the new
build's fault: drain that node (and hold the node group update) rather than change the
workload.

Read by the node-localized rule (``placement``) when the node reports nothing itself and is
not of another node group.

Pure functions of Evidence.
"""

from __future__ import annotations

from typing import Final

from kubetriage import prose
from kubetriage.analyzers.support import item, node_source, timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import NodeEvidence, PodEvidence

# The labels providers put on a node naming the machine image it was built from.
IMAGE_LABELS: Final = (
    "eks.amazonaws.com/nodegroup-image",
    "kubernetes.azure.com/node-image-version",
    "karpenter.k8s.aws/ami-id",
)
_ARCH: Final = "kubernetes.io/arch"
# Changes that reach only pods started after them: a config a pod reads at start, an image
# re-pulled under the same tag.
_READ_AT_START: Final = frozenset({"config", "image-digest"})


def build(node: NodeEvidence) -> tuple[str | None, ...]:
    """What a node was built from: its kubelet and its machine image labels."""
    return (node.kubelet_version, *(node.labels.get(key) for key in IMAGE_LABELS))


def _described(node: NodeEvidence) -> str:
    parts = [f"kubelet {node.kubelet_version}"] if node.kubelet_version else []
    parts += [f"{key}={node.labels[key]}" for key in IMAGE_LABELS if node.labels.get(key)]
    return ", ".join(parts) or "another build"


def _env_names(pod: PodEvidence) -> dict[str, frozenset[str]]:
    return {c.name: frozenset(c.env) for c in pod.containers}


def same_pods(failing: list[PodEvidence], healthy: list[PodEvidence]) -> bool:
    """Whether the failing replicas were admitted as the healthy ones were: the same env
    names in every container (an admission webhook that injected into some of them, or a
    mutated spec, makes the pods differ, not only their nodes)."""
    shapes = {frozenset(_env_names(p).items()) for p in [*failing, *healthy]}
    return len(shapes) == 1


def odd_node_build(
    evidence: Evidence,
    node: NodeEvidence,
    healthy: list[PodEvidence],
    nodes: dict[str, NodeEvidence],
    failing: list[PodEvidence],
) -> list[EvidenceItem]:
    """Why a node that reports nothing is still the suspect: it joined recently and runs a
    build (kubelet, machine image) no healthy replica's node runs, on the same platform, while
    nothing the pods read at start changed since the healthy replicas started and the pods
    were admitted alike. Empty when any part is missing."""
    joined = next(
        (
            c
            for c in evidence.changes
            if c.kind == "node" and c.object.kind == "Node" and c.object.name == node.name
        ),
        None,
    )
    peers = [nodes[p.node] for p in healthy if p.node in nodes]
    if joined is None or not peers or not any(build(node)):
        return []
    if any(build(peer) == build(node) for peer in peers):
        return []
    if any(peer.labels.get(_ARCH) != node.labels.get(_ARCH) for peer in peers):
        return []  # another platform: the platform-split rule's
    if not same_pods(failing, healthy):
        return []
    started = [timestamp(p.created_at) for p in healthy if p.created_at is not None]
    if len(started) < len(healthy):
        return []
    oldest = min(started)
    if any(
        c.kind in _READ_AT_START and (c.at is None or timestamp(c.at) >= oldest)
        for c in evidence.changes
    ):
        return []  # something the later pods read at start changed: not only the node
    return [
        item(
            node_source(node.name),
            "joined the cluster"
            + (f" at {joined.at:%H:%M}" if joined.at else " recently")
            + f" running {_described(node)}; the replicas that run are on nodes with "
            + prose.listing(sorted({_described(peer) for peer in peers})),
        )
    ]

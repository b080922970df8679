"""What a node's own series say about it: node_exporter's interface faults, the node's
resources near exhaustion (memory available, a filesystem's space or inodes, the conntrack
table, process IDs, file descriptors), its CPU time stolen by the hypervisor, and the cloud
NAT's source ports it ran out of, as evidence items about one ``NodeEvidence``.

The templates (``evidence.query_templates_cluster``) ask cluster-wide for the nodes past a
threshold only, so whatever answers is already trouble; here each series is tied to the node
its labels name: a ``node``/``nodename``/``kubernetes_node`` label, else the scrape
``instance`` as a node name ("<name>:9100", a short host name) or one of the node's addresses
("10.0.3.12:9100"), or a cloud VM's ``instance_name`` (a GKE node is the VM of its name).
Pure; used by ``placement``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.support import item
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import MetricSummary, NodeEvidence

NIC_FAULTS: Final = "node_interface_faults_per_second"
# The share of the node's CPU time its hypervisor gave other guests (answers past 10% only).
CPU_STEAL: Final = "node_cpu_steal_ratio"
CONNTRACK: Final = "node_conntrack_used_ratio"
# How much the node kernel's unreclaimable slab grew in the hour (answers past 2 GiB only).
KERNEL_MEMORY: Final = "node_kernel_unreclaimable_growth_bytes"
# Template name -> what the share means; each template answers only past its threshold.
EXHAUSTION: Final[Mapping[str, str]] = {
    "node_memory_available_ratio": "memory available",
    "node_filesystem_available_ratio": "filesystem space available",
    "node_filesystem_inodes_free_ratio": "filesystem inodes free",
    CONNTRACK: "conntrack table in use",
    "node_pids_used_ratio": "process IDs in use",
    "node_filefd_used_ratio": "file descriptors in use",
}
# Template name -> what a series past its threshold says of the node's outbound NAT.
NAT_EXHAUSTION: Final[Mapping[str, str]] = {
    "node_nat_allocation_failed": "Cloud NAT failed to allocate the node more source ports",
    "node_nat_dropped_packets_per_second": "outbound packets/s dropped by Cloud NAT for lack "
    "of source ports",
}
_NODE_LABELS: Final = ("node", "nodename", "kubernetes_node", "instance_name", "instance")


def _host(value: str) -> str:
    """``value`` without a port ("w02:9100" -> "w02", "[fd00::1]:9100" -> "fd00::1")."""
    if value.startswith("[") and "]" in value:
        return value[1 : value.index("]")]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def metric_node(labels: Mapping[str, str], nodes: Sequence[NodeEvidence]) -> NodeEvidence | None:
    """The node a node-level series is about, by its labels; None when no label names one of
    ``nodes`` (or a short name fits several)."""
    for key in _NODE_LABELS:
        value = labels.get(key)
        if not value:
            continue
        host = _host(value)
        for node in nodes:
            if host == node.name or host in node.addresses:
                return node
        short = host.split(".", 1)[0]
        matches = [n for n in nodes if n.name.split(".", 1)[0] == short]
        if len(matches) == 1:
            return matches[0]
    return None


def _since(metric: MetricSummary) -> str:
    return f" since {metric.changed_at:%H:%M}" if metric.changed_at is not None else ""


def interface_faults(evidence: Evidence, node: NodeEvidence) -> list[EvidenceItem]:
    """The node's interface error rate, when node_exporter counts errors there now."""
    return [
        item("metrics", f"{NIC_FAULTS} on {node.name}: {prose.number(m.last or 0)}/s{_since(m)}")
        for m in evidence.metrics
        if m.name == NIC_FAULTS
        and (m.last or 0) > 0
        and metric_node(m.labels, evidence.nodes) is node
    ]


def stolen_cpu(evidence: Evidence, node: NodeEvidence) -> list[EvidenceItem]:
    """The share of the node's CPU time its hypervisor ran other guests instead, when it is
    past the template's threshold now: every process there waits for a CPU it was given."""
    return [
        item(
            "metrics",
            f"{CPU_STEAL} on {node.name}: {m.last:.0%} of its CPU time stolen by the "
            f"hypervisor{_since(m)}",
        )
        for m in evidence.metrics
        if m.name == CPU_STEAL
        and m.last is not None
        and m.last > 0
        and metric_node(m.labels, evidence.nodes) is node
    ]


# node_exporter's meminfo gauge of the kernel's unreclaimable slab, and the growth over the
# window past which it is the node's leak (the template's threshold: 2 GiB).
_SLAB: Final = "node_memory_SUnreclaim_bytes"
_SLAB_GROWTH: Final = 2 * 1024**3


def _slab_growth(metric: MetricSummary) -> float | None:
    """How much the node kernel's unreclaimable slab grew over the window: the template's
    answer, or the raw gauge's last minus first sample (a series read as scraped)."""
    if metric.name == KERNEL_MEMORY:
        return metric.last
    if metric.name == _SLAB and metric.last is not None and metric.first is not None:
        grown = metric.last - metric.first
        return grown if grown > _SLAB_GROWTH else None
    return None


def kernel_memory_growth(evidence: Evidence, node: NodeEvidence) -> list[EvidenceItem]:
    """The growth of the node kernel's own unreclaimable memory in the hour, when its series
    puts it past the template's threshold: memory no tenant holds, taken from all of them."""
    found: list[EvidenceItem] = []
    for m in evidence.metrics:
        grown = _slab_growth(m)
        if grown is None or grown <= 0 or metric_node(m.labels, evidence.nodes) is not node:
            continue
        found.append(
            item(
                "metrics",
                f"{m.name} on {node.name}: the kernel's unreclaimable slab grew "
                f"{prose.memory(grown)} in the hour{_since(m)}",
            )
        )
    return found


def exhausted_resources(
    evidence: Evidence, node: NodeEvidence, names: Collection[str] = EXHAUSTION.keys()
) -> list[EvidenceItem]:
    """The node's resources that its own series put past their threshold in the window
    (memory nearly gone, a filesystem nearly full, the conntrack table nearly full...), of
    the templates ``names`` (every one by default)."""
    found: list[EvidenceItem] = []
    for m in evidence.metrics:
        meaning = EXHAUSTION.get(m.name) if m.name in names else None
        if meaning is None or m.last is None or metric_node(m.labels, evidence.nodes) is not node:
            continue
        where = f" on {m.labels['mountpoint']}" if m.labels.get("mountpoint") else ""
        found.append(
            item("metrics", f"{m.name} on {node.name}{where}: {m.last:.0%} {meaning}{_since(m)}")
        )
    return found


def nat_exhaustion(evidence: Evidence, node: NodeEvidence) -> list[EvidenceItem]:
    """What the cloud NAT's series say of the node: it ran out of source ports for the
    node's connections (allocation failed, packets dropped for lack of ports)."""
    found: list[EvidenceItem] = []
    for m in evidence.metrics:
        meaning = NAT_EXHAUSTION.get(m.name)
        if meaning is None or not m.last or metric_node(m.labels, evidence.nodes) is not node:
            continue
        value = "" if m.name == "node_nat_allocation_failed" else f"{prose.number(m.last)} "
        found.append(item("metrics", f"{m.name} on {node.name}: {value}{meaning}{_since(m)}"))
    return found


def outbound_faults(evidence: Evidence, node: NodeEvidence) -> list[EvidenceItem]:
    """What the node's own series hold against its traffic out: interface errors, a conntrack
    table nearly full, the cloud NAT out of source ports for it."""
    return (
        interface_faults(evidence, node)
        + exhausted_resources(evidence, node, (CONNTRACK,))
        + nat_exhaustion(evidence, node)
    )


def node_metric_problems(evidence: Evidence, node: NodeEvidence) -> list[EvidenceItem]:
    """Everything the node's own series hold against it."""
    return (
        interface_faults(evidence, node)
        + exhausted_resources(evidence, node)
        + stolen_cpu(evidence, node)
        + nat_exhaustion(evidence, node)
    )

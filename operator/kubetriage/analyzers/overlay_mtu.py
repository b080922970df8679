"""The overlay-MTU rule: the incident's responses stall mid-transfer (a client gave up while
the body was written, a proxy timed out reading a body whose headers came), and on the nodes
its pods run on the overlay's tunnel device (VXLAN, IP-in-IP, Geneve, WireGuard) has an MTU
that leaves less than any encapsulation's header under the nodes' own interface MTU
(``node_overlay_mtu_excess_bytes``, which answers only then). Wrapped full-size packets no
longer fit the wire and are dropped: the connection opens, short answers pass, large ones
hang. Neither the callee nor the proxy is at fault, and scaling or restarting them changes
nothing.

The fix is the pod network's MTU where the CNI agent takes it: the ConfigMap key its
DaemonSet's MTU env vars read (``Evidence.overlay_mtu``; Calico's ``veth_mtu`` in
``calico-config``), lowered by the encapsulation's overhead (then the agents and the pods
restarted to pick it up). A setting written as a literal in the DaemonSet, or several
ConfigMaps, is not this finding: there is no one object to fix.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.node_metrics import metric_node
from kubetriage.analyzers.support import item, log_source, object_source
from kubetriage.evidence.overlay_mtu import STALLED_TRANSFER
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an overlay-MTU finding is, by the evidence that earns it."""

    # The tunnel's MTU leaves no room for its header on the incident's nodes, its responses
    # stall mid-transfer, and one ConfigMap sets the MTU the CNI agent gives the pods.
    tunnel_without_headroom: float = 0.86


CONFIDENCE: Final = _Confidence()
NAME: Final = "overlay-mtu"
METRIC: Final = "node_overlay_mtu_excess_bytes"


def _excess(metric: MetricSummary) -> str:
    value = round(metric.last or 0)
    if value == 0:
        return "equal to"
    return f"{abs(value)} bytes {'over' if value > 0 else 'under'}"


def _tunnels(evidence: Evidence) -> list[EvidenceItem]:
    """The incident's nodes whose tunnel device leaves no room for its header."""
    found: list[EvidenceItem] = []
    for metric in evidence.metrics:
        if metric.name != METRIC or metric.last is None:
            continue
        node = metric_node(metric.labels, evidence.nodes)
        if node is None:
            continue
        device = metric.labels.get("device", "the overlay tunnel")
        found.append(
            item(
                "metrics",
                f"{METRIC} on {node.name}: {device} MTU {_excess(metric)} the node's interface "
                "MTU, which an encapsulation needs 20-60 bytes under",
            )
        )
    return found


def _stall(evidence: Evidence) -> EvidenceItem | None:
    for tail in evidence.logs:
        if tail.source != "scope":
            continue
        for line in tail.lines:
            if STALLED_TRANSFER.search(line):
                return item(log_source(tail), line)
    return None


def check_overlay_mtu(evidence: Evidence) -> list[Finding]:
    tunnels = _tunnels(evidence)
    stall = _stall(evidence)
    if not tunnels or stall is None:
        return []
    config_maps = {
        (s.ref.namespace, s.config_map) for s in evidence.overlay_mtu if s.config_map and s.key
    }
    if len(config_maps) != 1:
        return []
    namespace, name = next(iter(config_maps))
    settings = [
        s for s in evidence.overlay_mtu if (s.ref.namespace, s.config_map) == (namespace, name)
    ]
    target = ObjectRef(kind="ConfigMap", namespace=namespace, name=name)
    agent = settings[0].ref
    keys = sorted({s.key for s in settings})
    reads = item(
        object_source(agent),
        f"env {', '.join(sorted({s.env for s in settings})[:4])} from ConfigMap {name} "
        f"key {', '.join(keys)}",
    )
    fix = f"lower the MTU in {name} ({', '.join(keys)}) by the overlay's header"
    return [
        make_finding(
            NAME,
            Category.NETWORK,
            CONFIDENCE.tunnel_without_headroom,
            prose.narrative(
                prose.fitting_problem(
                    [
                        f"the pod network's MTU that {prose.obj(agent)} takes from "
                        f"{prose.obj(target)} leaves no room for the overlay's header, so "
                        "large responses between nodes stall",
                        f"the overlay MTU from ConfigMap {name} leaves no room for its header",
                        "the overlay MTU leaves no room for the tunnel header",
                    ],
                    fix,
                ),
                fix,
                because=[
                    prose.claim(
                        "On the workload's nodes the overlay tunnel's MTU is not below the "
                        "node's interface MTU by its header, so full-size pod packets between "
                        "nodes are dropped once wrapped",
                        *tunnels[:2],
                    ),
                    prose.claim(
                        "Its responses stall mid-transfer while connections open and short "
                        "answers pass",
                        stall,
                    ),
                    prose.claim(f"{prose.obj(agent)} takes the pod MTU from {name}", reads),
                ],
            ),
            [*tunnels[:3], stall, reads],
            Action.FIX_CONFIG,
            target,
        )
    ]


OVERLAY_MTU_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.NETWORK,), check_overlay_mtu),
)

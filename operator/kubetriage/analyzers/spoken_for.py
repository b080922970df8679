"""Speaking for another workload: the rules that read a workload's own pods and events
(OOM, crashes, missing configuration, images, scheduling) run on the evidence as they would
see it if another workload were the incident's (a degraded sibling component, the workload
behind a budget that holds a drain), and their findings about that workload come back with
why it explains the incident, at a share of their confidence.

Pure; used by ``siblings`` and ``disruption_budgets``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.config_missing import CONFIG_MISSING_ANALYZERS
from kubetriage.analyzers.crashes import CRASH_ANALYZERS
from kubetriage.analyzers.images import IMAGE_ANALYZERS
from kubetriage.analyzers.oom import OOM_ANALYZERS
from kubetriage.analyzers.placement import check_node_localized
from kubetriage.analyzers.scheduling import SCHEDULING_ANALYZERS
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Claim, EvidenceItem, Finding
from kubetriage.models.object_evidence import (
    EventEvidence,
    NodeEvidence,
    PodEvidence,
    WorkloadEvidence,
)

# The rules that read a workload's own pods and events, which may speak for another one.
WORKLOAD_RULES: Final[tuple[Analyzer, ...]] = (
    *OOM_ANALYZERS,
    *CRASH_ANALYZERS,
    *CONFIG_MISSING_ANALYZERS,
    *IMAGE_ANALYZERS,
    *SCHEDULING_ANALYZERS,
)
WORKLOAD_RULE_CATEGORIES: Final = tuple(
    dict.fromkeys(c for rule in WORKLOAD_RULES for c in rule.categories)
)


def findings_about(
    evidence: Evidence,
    workload: WorkloadEvidence,
    pods: list[PodEvidence],
    events: list[EventEvidence],
    nodes: Sequence[NodeEvidence] = (),
) -> list[Finding]:
    """What the workload rules find about ``workload`` when it is seen as the incident's:
    its pods and events, the incident's alerts; nothing read around the incident's own
    workload. With the ``nodes`` its pods are placed on, also a node its replicas fail on
    alone while that node reports a problem (``placement.check_node_localized``)."""
    view = Evidence(
        collected_at=evidence.collected_at,
        title=evidence.title,
        alerts=evidence.alerts,
        target=workload.ref,
        workload=workload,
        pods=pods,
        events=events,
        nodes=list(nodes),
        namespace_labels=evidence.namespace_labels,
    )
    placed = {p.node for p in pods if p.node}
    return [
        finding
        for rule in WORKLOAD_RULES
        for finding in rule.run(view)
        if finding.target.same_object(workload.ref)
    ] + [
        finding
        for finding in (check_node_localized(view) if nodes else [])
        if finding.target.kind == "Node" and finding.target.name in placed
    ]


def spoken_for(
    finding: Finding,
    analyzer: str,
    confidence: float,
    why: Claim,
    facts: list[EvidenceItem],
) -> Finding:
    """``finding``, reported by ``analyzer`` at ``confidence``, with ``why`` (resting on
    ``facts``) before the first three reasons of its own."""
    narrative = finding.narrative or prose.narrative(finding.summary)
    return make_finding(
        analyzer,
        finding.category,
        confidence,
        narrative.model_copy(update={"because": [why, *narrative.because[:3]]}),
        [*facts, *finding.evidence],
        finding.action,
        finding.target,
        finding.params,
    )

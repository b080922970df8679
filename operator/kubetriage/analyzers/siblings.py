"""A degraded sibling component: the alerted workload is healthy (every pod serving, every
replica ready), and another component of the same application (``Evidence.siblings``: the
same recommended application labels, another component, short of ready replicas) is what
fails. The rules that read a workload's own pods (OOM kills, crash loops, missing
configuration, images, scheduling) speak for the sibling as their target, on a view of the
evidence about it, at a share of the confidence they would earn on the alerted workload: the
alert does not name the sibling, the application's labels tie them. The namespace's one
workload whose pods began restarting with the alert (``SiblingEvidence.restarts_since``,
``kubetriage.evidence.summaries.fresh_restarts``) is spoken for the same way, tied by the
namespace and the timing. A finding of the main pass on the alerted workload itself wins
(``defer_to_own``).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer
from kubetriage.analyzers.fresh_throttling import NAME as THROTTLED_NEIGHBOUR
from kubetriage.analyzers.pods import pod_failing
from kubetriage.analyzers.spoken_for import WORKLOAD_RULE_CATEGORIES, findings_about, spoken_for
from kubetriage.analyzers.support import item, timestamp, workload_ref
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import SiblingEvidence
from kubetriage.models.object_evidence import WorkloadEvidence
from kubetriage.models.vocabulary import Action


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a finding about a sibling component is, by the evidence that earns it."""

    # The share of what a rule's finding would earn on the alerted workload: the sibling is
    # tied to the alert by the application's labels only, not named by it.
    share: float = 0.7
    # Never above this: below the findings the alerted workload's own evidence earns.
    ceiling: float = 0.6


CONFIDENCE: Final = _Confidence()
NAME: Final = "sibling-component"
# The rules that speak for another workload than the alerted one, tied to it by its
# application or its namespace only.
NEIGHBOUR_RULES: Final = frozenset({NAME, THROTTLED_NEIGHBOUR})


def _healthy(evidence: Evidence) -> bool:
    """The alerted workload serves: every replica it asks for ready, no pod failing."""
    workload = evidence.workload
    if workload is None or not evidence.pods or any(pod_failing(p) for p in evidence.pods):
        return False
    return workload.desired_replicas is None or workload.ready_replicas >= workload.desired_replicas


def _spoken_for(finding: Finding, evidence: Evidence, sibling: SiblingEvidence) -> Finding:
    """The rule's finding about the sibling, with why it explains the alert, at a share of
    its confidence."""
    own = evidence.workload
    if own is None:  # _healthy asked for it
        return finding
    if sibling.restarts_since is not None:
        return _fresh_neighbour(finding, evidence, own, sibling, sibling.restarts_since)
    shared = prose.selector(
        sibling.application,
        empty=f"namespace {sibling.workload.ref.namespace}, no application labels",
    )
    ties = item(
        f"{sibling.workload.ref.kind.lower()}/{sibling.workload.ref.namespace}/"
        f"{sibling.workload.ref.name}",
        f"{shared}"
        + (f", component {sibling.component}" if sibling.component else "")
        + f": {sibling.workload.ready_replicas}/{sibling.workload.desired_replicas} ready",
    )
    serving = item(
        f"{own.ref.kind.lower()}/{own.ref.namespace}/{own.ref.name}",
        f"{own.ready_replicas}/{own.desired_replicas} ready, "
        f"{prose.count(len(evidence.pods), 'pod')} serving",
    )
    why = prose.claim(
        f"{prose.obj(own.ref)} is healthy; {prose.obj(sibling.workload.ref)} is another "
        f"component of the same application ({shared}) and is short of ready replicas",
        serving,
        ties,
    )
    return spoken_for(
        finding,
        NAME,
        min(finding.confidence * CONFIDENCE.share, CONFIDENCE.ceiling),
        why,
        [serving, ties],
    )


def _fresh_neighbour(
    finding: Finding,
    evidence: Evidence,
    own: WorkloadEvidence,
    neighbour: SiblingEvidence,
    since: datetime,
) -> Finding:
    """The rule's finding about the namespace's one workload whose restarts began with the
    alert, with why it explains the alert, at a share of its confidence."""
    ref = neighbour.workload.ref
    lead = timestamp(evidence.collected_at) - timestamp(since)
    began = item(
        f"{ref.kind.lower()}/{ref.namespace}/{ref.name}",
        f"pods restarting repeatedly for at most {prose.duration(lead)}, "
        f"{neighbour.workload.ready_replicas}/{neighbour.workload.desired_replicas} ready now",
    )
    serving = item(
        f"{own.ref.kind.lower()}/{own.ref.namespace}/{own.ref.name}",
        f"{own.ready_replicas}/{own.desired_replicas} ready, "
        f"{prose.count(len(evidence.pods), 'pod')} serving",
    )
    why = prose.claim(
        f"{prose.obj(own.ref)} is healthy; {prose.obj(ref)} is the one other workload of "
        f"namespace {ref.namespace} whose pods began restarting when the alert's trouble did",
        serving,
        began,
    )
    return spoken_for(
        finding,
        NAME,
        min(finding.confidence * CONFIDENCE.share, CONFIDENCE.ceiling),
        why,
        [serving, began],
    )


def check_siblings(evidence: Evidence) -> list[Finding]:
    """Findings about the degraded siblings of a healthy alerted workload, each rule's
    strongest per sibling."""
    if not evidence.siblings or not _healthy(evidence):
        return []
    findings: list[Finding] = []
    for sibling in evidence.siblings:
        findings += [
            _spoken_for(f, evidence, sibling)
            for f in findings_about(
                evidence, sibling.workload, sibling.pods, sibling.events, sibling.nodes
            )
        ]
    return findings


def defer_to_own(evidence: Evidence, findings: list[Finding]) -> list[Finding]:
    """``findings`` without those about siblings and neighbours (``NEIGHBOUR_RULES``) when
    another finds something about the alerted workload (or target) itself: its own evidence
    wins. A finding that only hands the workload to its owner (escalate: a failure seen from
    it, not located) is not one: a degraded sibling is then where that failure may be."""
    own = [r for r in (evidence.target, workload_ref(evidence)) if r is not None]
    if not any(
        f.analyzer not in NEIGHBOUR_RULES
        and f.action != Action.ESCALATE
        and any(f.target.same_object(r) for r in own)
        for f in findings
    ):
        return findings
    return [f for f in findings if f.analyzer not in NEIGHBOUR_RULES]


SIBLING_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, WORKLOAD_RULE_CATEGORIES, check_siblings),
)

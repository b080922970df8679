"""A drain held by a disruption budget: a node is cordoned (or its pods' evictions are
refused) and a PodDisruptionBudget covering one of its pods allows no disruption
(``Evidence.disruption_budgets``) because the workload it protects already has a replica down.
The eviction waits on that workload, not on the node: the rules that read a workload's own
pods (OOM kills, crash loops, missing configuration, images, scheduling) speak for the
budget's workload as their target, on a view of the evidence about it, at a share of the
confidence they would earn on it directly. A budget whose workload is healthy (a budget as
strict as the replica count) earns nothing here, and the cordoned node alone earns no drain
either (``kubetriage.analyzers.nodes``): the vocabulary has no action on a budget.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer
from kubetriage.analyzers.spoken_for import WORKLOAD_RULE_CATEGORIES, findings_about, spoken_for
from kubetriage.analyzers.support import item, object_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.relations import DisruptionBudgetEvidence


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a finding about a budget's workload is, by the evidence that earns it."""

    # The share of what a rule's finding would earn on the workload itself: the budget ties
    # the workload to the held node (its selector covers a pod there, it allows no eviction).
    share: float = 0.9
    # Never above this: a node that is itself NotReady or under pressure (0.85-0.95) wins.
    ceiling: float = 0.8


CONFIDENCE: Final = _Confidence()
NAME: Final = "disruption-budget"


def budget_fact(budget: DisruptionBudgetEvidence) -> EvidenceItem:
    """What the budget's status says: no disruption allowed, healthy against desired."""
    wants = (
        f"minAvailable {budget.min_available}"
        if budget.min_available is not None
        else f"maxUnavailable {budget.max_unavailable}"
    )
    return item(
        object_source(budget.ref),
        f"{wants}: disruptionsAllowed {budget.disruptions_allowed}, currentHealthy "
        f"{budget.current_healthy} of desiredHealthy {budget.desired_healthy} "
        f"(expectedPods {budget.expected_pods})",
    )


def _held_fact(budget: DisruptionBudgetEvidence) -> EvidenceItem:
    where = prose.listing(budget.nodes) or "the draining node"
    fact = f"covers {prose.listing(budget.held_pods)} on cordoned {where}"
    if budget.refusals:
        fact += f"; {budget.refusals[0]}"
    return item(object_source(budget.ref), fact)


def _spoken_for(finding: Finding, budget: DisruptionBudgetEvidence) -> Finding:
    """The rule's finding about the budget's workload, with why it holds the drain."""
    status, held = budget_fact(budget), _held_fact(budget)
    why = prose.claim(
        f"{prose.obj(budget.ref)} allows no eviction, so the drain waits: it covers a pod "
        "on the cordoned node and its workload has no healthy replica to spare",
        held,
        status,
    )
    return spoken_for(
        finding,
        NAME,
        min(finding.confidence * CONFIDENCE.share, CONFIDENCE.ceiling),
        why,
        [held, status],
    )


def check_disruption_budgets(evidence: Evidence) -> list[Finding]:
    """Findings about the failing workloads behind budgets that hold a draining node, each
    rule's for that workload; the incident's own workload is left to the rules themselves."""
    own = evidence.workload.ref if evidence.workload is not None else None
    findings: list[Finding] = []
    for budget in evidence.disruption_budgets:
        workload = budget.workload
        if workload is None or budget.disruptions_allowed != 0:
            continue
        if own is not None and workload.ref.same_object(own):
            continue
        findings += [
            _spoken_for(f, budget)
            for f in findings_about(evidence, workload, budget.pods, budget.events)
        ]
    return findings


DISRUPTION_BUDGET_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        NAME,
        WORKLOAD_RULE_CATEGORIES,
        check_disruption_budgets,
    ),
)

"""The throttled-controller rule: the controller reconciling the incident's custom resources
(``Evidence.reconcilers`` of the ``resource-controller`` role) is throttled at its CPU limit
and keeps restarting, within the hour, or says it lost its leader-election lease. Pinned at
its CFS quota, it cannot renew the lease before the renew deadline, so it exits, its
replacement reacquires the lease and relists everything, and meanwhile nothing starts the
Jobs or moves the runs its resources describe: the work waits, whatever the alert names,
while its pods look ready. The fix is CPU for the controller, not the workload.

A controller that is short of ready replicas is the ``reconciler-down`` rule's; one that is
throttled but has neither restarted lately nor lost its lease is left to the others.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.cfs import THROTTLED_SHARE, workload_throttle_shares
from kubetriage.analyzers.support import item
from kubetriage.evidence.summaries.reconcilers import RESOURCE_CONTROLLER
from kubetriage.models.controllers import ReconcilerEvidence
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category

NAME = "throttled-controller"


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a throttled-controller finding is, by the evidence that earns it."""

    # Throttled, and its own lines say it lost its lease: the mechanism is in evidence.
    lost_lease: float = 0.82
    # Throttled, and its containers restarted within ``RECENT`` (no lease line read).
    restarted: float = 0.74


CONFIDENCE: Final = _Confidence()
# A restart this recent is part of the incident, not history.
RECENT = timedelta(hours=1)


def _restarted_lately(evidence: Evidence, reconciler: ReconcilerEvidence) -> bool:
    last = reconciler.last_restart
    return reconciler.restarts > 0 and last is not None and evidence.collected_at - last <= RECENT


def _owed(reconciler: ReconcilerEvidence) -> str:
    return ", ".join(prose.obj(s) for s in reconciler.subjects[:3])


def check_throttled_controller(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for reconciler in evidence.reconcilers:
        if reconciler.role != RESOURCE_CONTROLLER or not reconciler.subjects:
            continue
        desired = reconciler.desired_replicas or 0
        if (reconciler.ready_replicas or 0) < desired:
            continue  # down: the reconciler-down rule's
        restarted = _restarted_lately(evidence, reconciler)
        if not restarted and not reconciler.lost_leadership:
            continue
        shares = workload_throttle_shares(evidence, reconciler.workload)
        if not shares:
            continue
        container, share = max(shares.items(), key=lambda s: s[1])
        if share < THROTTLED_SHARE:
            continue
        workload = reconciler.workload
        source = f"{workload.kind.lower()}/{workload.namespace}/{workload.name}"
        shown = min(len(reconciler.subjects), 3)
        owed = item(
            "resources",
            f"{_owed(reconciler)} {prose.be(shown)} reconciled by {prose.obj(workload)}",
        )
        throttled = item(
            "metrics",
            f"{container} of {prose.obj(workload)} throttled in {share:.0%} of its CFS periods",
        )
        restarts = item(source, f"{prose.count(reconciler.restarts, 'restart')} of its pods")
        said = [item(f"logs {source}", line) for line in reconciler.lost_leadership[:2]]
        confidence = CONFIDENCE.lost_lease if said else CONFIDENCE.restarted
        because = [
            prose.claim(
                f"{_owed(reconciler)} {'waits' if shown == 1 else 'wait'} on {prose.obj(workload)}",
                owed,
            ),
            prose.claim(f"{prose.obj(workload)} is throttled at its CPU limit", throttled),
        ]
        if said:
            because.append(prose.claim("It loses its leader-election lease and exits", *said))
        else:
            because.append(prose.claim("It keeps restarting", restarts))
        findings.append(
            make_finding(
                NAME,
                Category.CPU_THROTTLING,
                confidence,
                prose.narrative(
                    f"{prose.obj(workload)}, the controller of {_owed(reconciler)}, is "
                    "throttled at its CPU limit and keeps restarting",
                    "raise its CPU limit",
                    aside="so its resources are not reconciled",
                    because=because,
                ),
                [owed, throttled, restarts, *said],
                Action.INCREASE_CPU,
                workload,
                {"container": container},
            )
        )
    return findings


THROTTLED_CONTROLLER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.CPU_THROTTLING,), check_throttled_controller),
)

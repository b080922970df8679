"""The refused-controller rule: a controller the incident waits on (``Evidence.reconcilers``:
the operator keeping the custom resources and the Services it made for them) that runs and
is ready, yet whose own log says the API server refuses its ServiceAccount a write on what
it manages (``cannot patch resource "pods"``, ``kubetriage.api_refusals``), decides but
cannot act: after a failover it cannot move the role label its Service selects, so the
Service keeps selecting no member, and every caller is refused. When the controller's
newest rollout (an upgrade of its release, which carries its RBAC with it) came within
``RELEASE_WINDOW`` before, that release took the permission away: an SRE rolls the
controller back (the release's previous revision restores its role), rather than
correcting the Service the controller keeps or escalating to the callee's owner.
A controller with no rollout of its own, or none for long, lost the permission some other
way (an edited role): nothing is concluded here.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item, object_source, timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category

# Its own log says its writes are refused, since a rollout of its own within the window:
# above a Service selecting no pods read alone (0.8), which the controller keeps.
CONFIDENCE: Final = 0.86

# How long before the incident a controller's rollout may have come to carry the refusal: a
# controller writes only when what it watches changes (a failover, a scale), so the first
# write its release no longer allows can come days after the upgrade.
RELEASE_WINDOW: Final = timedelta(days=7)


def check_refused_controllers(evidence: Evidence) -> list[Finding]:
    """A ready controller owing the incident its work whose log says its writes are refused,
    with a rollout of its own within ``RELEASE_WINDOW``: roll it back."""
    findings: list[Finding] = []
    for reconciler in evidence.reconcilers:
        change, workload = reconciler.change, reconciler.workload
        if not reconciler.refused_writes or not reconciler.subjects or change is None:
            continue
        if change.at is None or change.from_revision is None:
            continue
        age = timestamp(evidence.collected_at) - timestamp(change.at)
        if not 0 <= age <= RELEASE_WINDOW.total_seconds():
            continue
        if workload.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
            continue
        source = object_source(workload)
        refused = item(f"logs {source}", reconciler.refused_writes[-1])
        rolled = item(source, "; ".join(change.details[:2]))
        owed = item(source, "; ".join(reconciler.owed[:2]))
        kept = prose.listing((prose.obj(s) for s in reconciler.subjects), limit=3)
        findings.append(
            make_finding(
                "refused-controller",
                Category.BAD_ROLLOUT,
                CONFIDENCE,
                prose.narrative(
                    f"{prose.obj(workload)} is refused the writes it needs since its rollout",
                    f"roll it back to revision {change.from_revision}",
                    because=[
                        prose.claim(
                            f"{prose.obj(workload)} is the controller keeping {kept}", owed
                        ),
                        prose.claim(
                            "The API server refuses its ServiceAccount a write on what it "
                            "manages, so what it decides is never applied",
                            refused,
                        ),
                        prose.claim(
                            f"It rolled out revision {change.to_revision} "
                            f"{prose.duration(age)} ago, with the permissions of its release",
                            rolled,
                        ),
                    ],
                ),
                [refused, rolled, owed],
                Action.ROLLBACK,
                workload,
                {"revision": str(change.from_revision)},
            )
        )
    return findings


REFUSED_CONTROLLER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("refused-controller", (Category.BAD_ROLLOUT,), check_refused_controllers),
)

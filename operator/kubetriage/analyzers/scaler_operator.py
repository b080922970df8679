"""The scaler-operator rule: every scaler that should scale the incident's workload (its
KEDA ScaledObjects' and ScaledJob's triggers, ``evidence.scalers``) is run by an operator
whose pods are all failing (``evidence.scaler_operator``). Nothing polls the queue or starts
the Jobs, so the backlog grows while the consumer looks idle or healthy: the operator is the
cause, whatever the alert names. Its own state says what kind of failure it is: a crash
loop (an operator older than the cluster's API says which kind or version is not served:
its image must move to a release that serves it; otherwise its owner investigates), or an
image it cannot pull.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.images import PULL_WAITING
from kubetriage.analyzers.support import item
from kubetriage.models.controllers import ScalerOperatorEvidence
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a scaler-operator finding is, by the evidence that earns it."""

    # Its pods crash-loop and its log says an API it needs is not served: the cause and
    # the fix (a release that serves the cluster's API) are both in evidence.
    crashes_on_unserved_api: float = 0.85
    # Its pods cannot pull their image.
    cannot_pull: float = 0.8
    # Its pods crash-loop for a reason its tails do not say: its owner investigates.
    crashes: float = 0.7


CONFIDENCE: Final = _Confidence()


def _served_by(evidence: Evidence, operator: ScalerOperatorEvidence) -> bool:
    """Whether every scaler of the workload runs in the operator's namespace."""
    return bool(evidence.scalers) and all(
        s.reader_namespace == operator.workload.namespace for s in evidence.scalers
    )


def check_scaler_operator(evidence: Evidence) -> list[Finding]:
    operator = evidence.scaler_operator
    if operator is None or not operator.failing or not _served_by(evidence, operator):
        return []
    target = operator.workload
    source = f"scaler-operator/{target.namespace}/{target.name}"
    pulling = [t for t in operator.troubles if t.waiting in PULL_WAITING]
    crashing = [t for t in operator.troubles if t.restarts > 0 or t.last_terminated]
    state = item(
        source,
        f"{operator.ready}/{operator.pods} pods ready; "
        + "; ".join(prose.pod_trouble(t) for t in operator.troubles),
    )
    scaled = sorted({prose.obj(s.ref) for s in evidence.scalers})
    triggers = sorted({s.trigger for s in evidence.scalers})
    scalers = item(
        "scalers",
        f"the {', '.join(triggers)} scalers of {', '.join(scaled[:3])} run in "
        f"{prose.obj(target)}'s pods",
    )
    said = [item(f"logs {source}", line) for line in operator.unserved[:2]]
    if pulling:
        category, action, confidence = Category.IMAGE_PULL, Action.FIX_IMAGE, CONFIDENCE.cannot_pull
        problem, fix = f"{prose.obj(target)} cannot pull its image", "correct its image"
    elif crashing and said:
        category, action = Category.CRASH_LOOP, Action.FIX_IMAGE
        confidence = CONFIDENCE.crashes_on_unserved_api
        problem = f"{prose.obj(target)} crash-loops on an API the cluster no longer serves"
        fix = "upgrade it to a release that supports the cluster's Kubernetes version"
    elif crashing:
        category, action, confidence = Category.CRASH_LOOP, Action.ESCALATE, CONFIDENCE.crashes
        problem, fix = f"{prose.obj(target)} crash-loops", "hand it to its owner"
    else:
        return []
    because = [
        prose.claim(
            f"Every scaler that should scale {scaled[0]} runs in {prose.obj(target)}", scalers
        ),
        prose.claim(f"No pod of {prose.obj(target)} runs without trouble", state),
    ]
    if said and not pulling:
        because.append(prose.claim("Its log says an API it needs is not served", *said))
    return [
        make_finding(
            "scaler-operator",
            category,
            confidence,
            prose.narrative(
                problem,
                fix,
                aside="so nothing scales the workload",
                because=because,
            ),
            [scalers, state, *said],
            action,
            target,
        )
    ]


SCALER_OPERATOR_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("scaler-operator", (Category.CRASH_LOOP, Category.IMAGE_PULL), check_scaler_operator),
)

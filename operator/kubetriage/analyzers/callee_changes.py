"""A configured callee's change as the only change before the caller's symptom: the
alerted workload is slow, failing or busy without an error line naming a callee, did not
change itself, and exactly one of the dependencies its own env names changed just before the
symptom began, while none of the others did. An SRE asking "what changed?" finds that change
and undoes it first:

- the callee rolled out (a new image, an env knob such as an injected delay, resources): the
  caller's unchanged code waits on it; roll the callee back (``check_callee_rollout``);
- a ConfigMap of the callee was edited in place and it did not roll out since (a flag
  service's flags, settings it reloads): the caller now runs another code path, and spends
  more CPU or memory on it; the edit is the change ``kubetriage.analyzers.changes`` weighs
  (``configured_dependency_edit``).

The dependency rules (``kubetriage.analyzers.dependencies``) need the caller's failing calls
to name the callee, or the callee to be down; these speak when neither holds (no failing call,
or failing calls that name no host: "call failed: context deadline exceeded"), within a
tighter window (``JUST_BEFORE``) than a named callee gets.

``callee_rollout_doubt`` tells the saturation rule why an autoscaler at its maximum may not be
short of replicas: such a callee rollout slowed every request (timeouts retried at each layer
raise the request rate too), demand did not grow.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dependencies import (
    caller_phrase,
    configured_in_env,
    own_rollout_after,
    rolled_out_since,
)
from kubetriage.analyzers.log_signatures import DEPENDENCY_LOG, hosts_in
from kubetriage.analyzers.onset import ONSET_TOLERANCE, alert_onset, symptom_onset
from kubetriage.analyzers.support import grep_logs, item, object_source, timestamp
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a callee-rollout finding is, by the evidence that earns it."""

    # The only change among the callees the caller's env names, right before its symptom,
    # the caller unchanged: the timeline alone ties them (no failing call names the callee),
    # so below any finding with evidence of the fault itself, above "nothing found".
    only_change: float = 0.62
    # ... and the caller's calls fail (timeouts, resets) in lines that name no host: the
    # failures and the timeline agree, as sure as a callee the failing calls name that rolled
    # out right before (``dependencies``, 0.78), above escalating the configured callee whose
    # calls fail (0.75).
    failing_calls: float = 0.78


CONFIDENCE: Final = _Confidence()
# A callee rollout this long before the symptom's onset is no longer "just before" it.
JUST_BEFORE: Final = timedelta(minutes=30)


def _onset(evidence: Evidence) -> tuple[float, EvidenceItem] | None:
    """When the caller's symptom began (its first dated sign, else the alert's start)."""
    found = symptom_onset(evidence) or alert_onset(evidence)
    return (timestamp(found[0]), found[1]) if found is not None else None


def _just_before(change: ChangeEvidence, onset: float) -> bool:
    if change.at is None:
        return False
    delay = onset - timestamp(change.at)
    return -ONSET_TOLERANCE.total_seconds() <= delay <= JUST_BEFORE.total_seconds()


def names_failing_callee(evidence: Evidence) -> bool:
    """Whether a line of a failing call names where the call went (a host, a dial target):
    then the dependency rules follow that name."""
    return any(hosts_in(hit.line) for hit in grep_logs(evidence.logs, DEPENDENCY_LOG, limit=40))


def _only_changed(
    evidence: Evidence,
) -> tuple[DependencyEvidence, tuple[float, EvidenceItem]] | None:
    """The one dependency the caller's env names that changed (rolled out, or had a ConfigMap
    edited) just before the caller's symptom, with that onset; None when the caller names a
    callee in failing calls, changed itself, or when no dependency or several changed."""
    if evidence.workload is None or names_failing_callee(evidence):
        return None
    onset = _onset(evidence)
    if onset is None or own_rollout_after(evidence, onset[0] - JUST_BEFORE.total_seconds()):
        return None
    changed = [
        d
        for d in evidence.dependencies
        if any(_just_before(c, onset[0]) for c in [*d.changes[:1], *d.config_changes[:1]])
    ]
    if len(changed) != 1 or not configured_in_env(changed[0]):
        return None
    return changed[0], onset


def configured_dependency_edit(evidence: Evidence) -> ChangeEvidence | None:
    """The in-place edit of a ConfigMap of the one configured dependency that changed just
    before the caller's symptom, when that dependency did not roll out since (its process
    reloaded the edit: flags, settings); None otherwise."""
    found = _only_changed(evidence)
    if found is None:
        return None
    dependency, (onset, _) = found
    edits = [c for c in dependency.config_changes[:1] if _just_before(c, onset)]
    if not edits or edits[0].at is None or rolled_out_since(dependency, edits[0]):
        return None
    return edits[0]


def _callee_rollout(
    evidence: Evidence,
) -> tuple[DependencyEvidence, ChangeEvidence, tuple[float, EvidenceItem]] | None:
    """The rollout of the one configured callee that changed just before the symptom, with
    the dependency and the onset; None when there is none or it cannot be rolled back."""
    found = _only_changed(evidence)
    if found is None:
        return None
    dependency, onset = found
    workload = dependency.workload
    change = dependency.changes[0] if dependency.changes else None
    if (
        workload is None
        or change is None
        or change.kind != "rollout"
        or change.at is None
        or not _just_before(change, onset[0])
        or workload.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]
    ):
        return None
    return dependency, change, onset


def callee_rollout_doubt(evidence: Evidence) -> tuple[str, EvidenceItem] | None:
    """Why an autoscaler at its maximum is not short of replicas when the one callee its
    env names rolled out just before its symptom: the requests wait on that callee."""
    found = _callee_rollout(evidence)
    if found is None:
        return None
    dependency, change, _ = found
    workload = dependency.workload
    if workload is None or change.at is None:
        return None
    return (
        f"{prose.obj(workload)}, which it calls, rolled out just before its "
        "symptom began: its requests wait on that callee, demand did not grow",
        item(
            object_source(workload),
            f"rollout at {change.at:%H:%M}: " + "; ".join(change.details[:2]),
        ),
    )


def check_callee_rollout(evidence: Evidence) -> list[Finding]:
    found = _callee_rollout(evidence)
    if found is None:
        return []
    dependency, change, onset = found
    workload = dependency.workload
    if workload is None or change.at is None:
        return []
    source = object_source(workload)
    facts = [
        item(source, f"rollout at {change.at:%H:%M}: " + "; ".join(change.details[:3])),
        onset[1],
        item("dependency", f"{workload.display()} is named by {dependency.named_by[0].text}"),
    ]
    caller = caller_phrase(evidence)
    params = {"revision": str(change.from_revision)} if change.from_revision else {}
    fix = f"roll {workload.name} back" + (
        f" to revision {change.from_revision}" if change.from_revision else ""
    )
    failing = grep_logs(evidence.logs, DEPENDENCY_LOG, limit=1)
    return [
        make_finding(
            "callee-rollout",
            Category.BAD_ROLLOUT,
            CONFIDENCE.failing_calls if failing else CONFIDENCE.only_change,
            prose.narrative(
                prose.fitting_problem(
                    [
                        f"{caller} degraded right after its dependency {prose.obj(workload)} "
                        "rolled out",
                        f"{caller} degraded right after {workload.name} rolled out",
                    ],
                    fix,
                ),
                fix,
                because=[
                    prose.claim(f"{prose.obj(workload)} rolled out", facts[0]),
                    prose.claim(f"The symptom of {caller} began right after", facts[1]),
                    prose.claim(
                        f"{caller} is configured to call it, and no other of its dependencies "
                        "changed, nor did it",
                        facts[2],
                    ),
                ],
            ),
            facts,
            Action.ROLLBACK,
            workload,
            params,
        )
    ]


CALLEE_ROLLOUT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("callee-rollout", (Category.BAD_ROLLOUT,), check_callee_rollout),
)

"""The new-workload rule: two workloads behind one Service (a stable and a canary Deployment,
an old and a new release side by side) when no single workload is in scope, so there are no
revisions of one owner to compare. The pods of the one started recently all fail or log
server errors while the older one's pods, serving the same requests, are healthy and log
none: the new workload is what broke (bad-rollout), and rolling it back is the fix. One
workload's own revisions are the bad-rollout rule's (``rollout``).

Registered in ``kubetriage.analyzers.ANALYZERS`` right after the bad-rollout rule; pure
functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_signatures import SERVER_ERROR_LOG
from kubetriage.analyzers.pods import pod_failing, pod_problem
from kubetriage.analyzers.recency import is_recent
from kubetriage.analyzers.support import (
    grep_logs,
    item,
    log_source,
    logs_of,
    owner_workload,
    pod_source,
    timestamp,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a new-workload finding is, by the evidence that earns it."""

    # Behind one Service, only the pods of a recently started second workload (a canary) fail
    # or log server errors; the older workload's pods serve cleanly.
    new_workload: float = 0.7


CONFIDENCE: Final = _Confidence()


def _erring(evidence: Evidence, pod: PodEvidence) -> EvidenceItem | None:
    """What says the pod fails: its state, or a server error in its own log."""
    if pod_failing(pod):
        return item(pod_source(pod), pod_problem(pod))
    hits = grep_logs(logs_of(evidence, pod), SERVER_ERROR_LOG, limit=1)
    return item(log_source(hits[0].log), hits[0].line) if hits else None


def check_new_workload_behind_service(evidence: Evidence) -> list[Finding]:
    """Two workloads behind one Service (a stable and a canary Deployment, an old and a new
    release side by side): the pods of the one started recently fail or log server errors
    while the older one's pods, serving the same requests, are healthy and log none. The
    revisions of a second owner are not collected, so the comparison is between the owners'
    pods: the new workload is what broke, and rolling it back is the fix."""
    if evidence.workload is not None:
        return []  # one workload in scope: check_bad_rollout compares its revisions
    groups: dict[tuple[str, str | None, str], list[PodEvidence]] = {}
    owners: dict[tuple[str, str | None, str], ObjectRef] = {}
    for pod in evidence.pods:
        owner = owner_workload(pod)
        if owner is None:
            continue
        key = (owner.kind, owner.namespace, owner.name)
        groups.setdefault(key, []).append(pod)
        owners[key] = owner
    if len(groups) < 2:
        return []
    now = timestamp(evidence.collected_at)
    erring: list[tuple[ObjectRef, list[EvidenceItem], list[PodEvidence]]] = []
    clean: list[list[PodEvidence]] = []
    for key, pods in groups.items():
        facts = [f for f in (_erring(evidence, p) for p in pods) if f is not None]
        if facts and len(facts) == len(pods):
            erring.append((owners[key], facts, pods))
        elif not facts and any(log.lines for p in pods for log in logs_of(evidence, p)):
            clean.append(pods)
    if len(erring) != 1 or not clean:
        return []
    target, facts, pods = erring[0]
    if target.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
        return []
    started = [timestamp(p.created_at) for p in pods if p.created_at is not None]
    older = [timestamp(p.created_at) for g in clean for p in g if p.created_at is not None]
    if not started or not older or min(started) <= max(older):
        return []
    if not is_recent(now - min(started)):
        return []
    serving = item(
        "pods",
        f"{prose.count(sum(len(g) for g in clean), 'older pod')} behind the same Service "
        "serve without errors",
    )
    return [
        make_finding(
            "bad-rollout",
            Category.BAD_ROLLOUT,
            CONFIDENCE.new_workload,
            prose.narrative(
                f"{prose.obj(target)}, started beside an older workload, is failing",
                f"roll back {prose.obj(target)}",
                because=[
                    prose.claim("Its recently started pods fail or log server errors", *facts[:2]),
                    prose.claim(
                        "The older workload's pods serve the same requests cleanly", serving
                    ),
                ],
            ),
            [*facts[:3], serving],
            Action.ROLLBACK,
            target,
        )
    ]


NEW_WORKLOAD_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("new-workload", (Category.BAD_ROLLOUT,), check_new_workload_behind_service),
)

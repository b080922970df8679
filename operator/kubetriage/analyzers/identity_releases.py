"""The workload identity a release brought: the cloud refuses the identity exchange of a
workload's pods (``IDENTITY_REFUSED``: AWS STS, GKE's metadata server, Microsoft Entra ID),
and the refusals begin right after the workload's own rollout, every refusing pod running the
new revision. A chart release ships the workload's ServiceAccount with it (its role
annotation, its token audience), and the identity webhook injects that identity into each pod
it creates, so the pods of the release are the first to present it: an SRE rolls the release
back rather than edit the ServiceAccount by hand. ``bad-rollout``, roll back, above the plain
refusal (``kubetriage.analyzers.workload_identity``), which stays the answer when no release
explains the onset (pods recreated by a node replacement under a ServiceAccount edited
earlier) or when a ready pod created before still runs with another injected role (the
binding changed under the workload, not with it).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_times import line_time
from kubetriage.analyzers.onset import follows_within
from kubetriage.analyzers.revisions import current_and_previous_revision, pod_revision
from kubetriage.analyzers.support import (
    LogHit,
    grep_logs,
    item,
    logs_of,
    object_source,
    timestamp,
    workload_ref,
)
from kubetriage.analyzers.workload_identity import IDENTITY_REFUSED
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ChangeEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a finding about an identity a release brought is."""

    # The refusals begin right after the workload's rollout and only its new pods refuse:
    # above the plain refusal of the identity (0.86 when the pods fail).
    since_rollout: float = 0.88


CONFIDENCE: Final = _Confidence()


def _latest_rollout(evidence: Evidence, target: ObjectRef) -> ChangeEvidence | None:
    rollouts = [
        c
        for c in evidence.changes
        if c.kind == "rollout" and c.at is not None and c.object.same_object(target)
    ]
    return max(rollouts, key=lambda c: timestamp(c.at or evidence.collected_at), default=None)


def _dated(evidence: Evidence, hit: LogHit) -> datetime | None:
    """When a refusal was logged: its own time, else the time of the latest dated line
    before it in the same tail (a traceback dates from the line that began it)."""
    lines = hit.log.lines
    end = lines.index(hit.line) if hit.line in lines else -1
    for line in reversed(lines[: end + 1]):
        if (when := line_time(line, evidence.collected_at)) is not None:
            return when
    return None


def _onset(evidence: Evidence, hits: list[LogHit]) -> datetime | None:
    """The first dated refusal (a tail that dates none says nothing of the onset)."""
    dated = [t for h in hits if (t := _dated(evidence, h)) is not None]
    return min(dated, key=timestamp, default=None)


def _only_new_pods(evidence: Evidence, pods: list[PodEvidence]) -> bool:
    current, _ = current_and_previous_revision(evidence)
    if current is None:
        return False
    for pod in pods:
        revision = pod_revision(pod, evidence)
        if revision is None or revision.revision != current.revision:
            return False
    return True


def check_identity_since_rollout(evidence: Evidence) -> list[Finding]:
    refusing: dict[str, tuple[ObjectRef, list[PodEvidence], list[LogHit]]] = {}
    for pod in evidence.pods:
        hits = grep_logs(logs_of(evidence, pod), IDENTITY_REFUSED, limit=2)
        target = workload_ref(evidence, pod)
        if not hits or target is None:
            continue
        entry = refusing.setdefault(target.key(), (target, [], []))
        entry[1].append(pod)
        entry[2].extend(hits)
    findings: list[Finding] = []
    for target, pods, hits in refusing.values():
        release = _latest_rollout(evidence, target)
        onset = _onset(evidence, hits)
        if release is None or onset is None or not _only_new_pods(evidence, pods):
            continue
        if follows_within(release.at, onset) is None or release.at is None:
            continue
        refused = item(hits[0].source, hits[0].line[:240].strip())
        change = item(
            object_source(target),
            f"rollout at {release.at:%H:%M}: " + "; ".join(release.details[:2]),
        )
        findings.append(
            make_finding(
                "identity-since-rollout",
                Category.BAD_ROLLOUT,
                CONFIDENCE.since_rollout,
                prose.narrative(
                    f"the release of {prose.obj(target)} brought a workload identity the cloud "
                    "refuses",
                    "roll it back",
                    because=[
                        prose.claim(
                            f"The cloud refuses the identity {prose.obj(target)} presents "
                            f"({hits[0].match.group(0)})",
                            refused,
                        ),
                        prose.claim(
                            "The refusals begin right after its rollout, and only pods of the "
                            "new revision refuse: the release shipped that identity",
                            change,
                        ),
                    ],
                ),
                [refused, change],
                Action.ROLLBACK,
                target,
                {"phrase": hits[0].match.group(0)},
            )
        )
    return findings


IDENTITY_RELEASE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("identity-since-rollout", (Category.BAD_ROLLOUT,), check_identity_since_rollout),
)

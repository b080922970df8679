"""The own-sockets rule: a workload whose calls fail with errors its own kernel raises, not
the callee (out of local ports, "connect: cannot assign requested address", EADDRNOTAVAIL;
out of file descriptors, "too many open files", EMFILE), since its own new revision went out,
has exhausted them itself: the release opens a connection per call (keep-alive turned off,
a client or agent built per request) or leaks sockets that are never closed, and each pod
runs out of ports or descriptors. An SRE reads such an error as the caller's, not the
callee's ("the dependency never saw these calls"), and asks what changed in the caller: the
revision that has lived with the errors for hours, where the previous one ran longer without
them, is rolled back; escalating the callee or raising the limit treats the surface.

Silent when the workload did not roll out a revision that changed its code or settings
(image, env, args, command) before the onset, when the errors come from pods of an older
revision, or when the previous revision served for less time than the new one took to run
out (nothing then says the old code would not have run out too).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.onset import ONSET_TOLERANCE, earliest_onset
from kubetriage.analyzers.revisions import (
    pod_revision,
    rollback_subject,
)
from kubetriage.analyzers.support import LogHit, grep_logs, item, timestamp, workload_ref
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ChangeEvidence, RevisionEvidence
from kubetriage.models.vocabulary import Action, Category

# The new revision's own pods out of local ports or descriptors, after a rollout that changed
# its code or settings while the previous revision ran longer without: above a callee's
# failure read from the same lines (dependency-failure, 0.75) and a probe's timeout.
CONFIDENCE: Final = 0.85

# Errors the caller's own kernel returns for its sockets, in the words of libc, Go, Node,
# Java and Python: no local port left to bind (EADDRNOTAVAIL), no descriptor left to open
# (EMFILE). ENFILE (the whole node's table) is left out: a node's limit is not one pod's.
OWN_SOCKETS_EXHAUSTED = re.compile(
    r"(?i)(cannot assign requested address|\bEADDRNOTAVAIL\b|"
    r"too many open files|\bEMFILE\b)"
)
# Parts of the pod template that change how a process opens connections.
CODE_OR_SETTINGS = frozenset({"image", "env", "args", "command"})
# A revision that ran out this long after it went out is no longer "the new one".
LIVED_WITH = timedelta(hours=24)


def settings_rollout(evidence: Evidence, current: RevisionEvidence) -> ChangeEvidence | None:
    """The workload's rollout to ``current`` that changed its code or settings (image, env,
    args, command)."""
    target = workload_ref(evidence)
    return next(
        (
            c
            for c in evidence.changes
            if c.kind == "rollout"
            and target is not None
            and c.object.same_object(target)
            and c.to_revision in (None, current.revision)
            and CODE_OR_SETTINGS & set(c.aspects)
        ),
        None,
    )


def _outlived(previous: RevisionEvidence, current_at: datetime, onset: datetime) -> bool:
    """Whether the new revision ran out within ``LIVED_WITH`` of going out, and sooner than
    the previous revision had served without running out."""
    took = timestamp(onset) - timestamp(current_at)
    if not -ONSET_TOLERANCE.total_seconds() <= took <= LIVED_WITH.total_seconds():
        return False
    if previous.created_at is None:
        return False
    return timestamp(current_at) - timestamp(previous.created_at) > took


def _own_hits(evidence: Evidence, current: RevisionEvidence) -> list[LogHit]:
    """The exhaustion lines that the new revision's pods logged."""
    pods = {
        (p.namespace, p.name)
        for p in evidence.pods
        if (r := pod_revision(p, evidence)) is not None and r.revision == current.revision
    }
    return [
        hit
        for hit in grep_logs(evidence.logs, OWN_SOCKETS_EXHAUSTED, limit=20)
        if (hit.log.namespace, hit.log.pod) in pods
    ]


def check_own_sockets(evidence: Evidence) -> list[Finding]:
    """Roll back the revision whose pods ran out of their own ports or descriptors."""
    release = rollback_subject(evidence)
    onset = earliest_onset(evidence)
    if release is None or onset is None:
        return []
    target, current, previous = release
    if current.created_at is None:
        return []
    change = settings_rollout(evidence, current)
    if change is None or not _outlived(previous, current.created_at, onset):
        return []
    hits = _own_hits(evidence, current)
    if not hits:
        return []
    took = timestamp(onset) - timestamp(current.created_at)
    served = timestamp(current.created_at) - timestamp(previous.created_at or current.created_at)
    source = f"{target.kind.lower()}/{target.namespace}/{target.name}"
    facts = [
        item(hits[0].source, hits[0].line),
        item(
            source,
            f"revision {current.revision} went out {prose.duration(took)} before the onset, "
            f"changing {', '.join(sorted(CODE_OR_SETTINGS & set(change.aspects)))}",
        ),
        item(
            "revision",
            f"revision {previous.revision} served {prose.duration(served)} before it",
        ),
    ]
    text = prose.narrative(
        f"{prose.obj(target)}'s new revision exhausts its own sockets",
        f"roll back to revision {previous.revision}",
        because=[
            prose.claim(
                "Its pods run out of local ports or file descriptors: their own kernel "
                "refuses the calls, the callee never sees them",
                facts[0],
            ),
            prose.claim(
                f"Only revision {current.revision} runs out, soon after it went out", facts[1]
            ),
            prose.claim(f"Revision {previous.revision} served longer without it", facts[2]),
        ],
    )
    return [
        make_finding(
            "own-sockets",
            Category.BAD_ROLLOUT,
            CONFIDENCE,
            text,
            facts,
            Action.ROLLBACK,
            target,
            {"revision": str(previous.revision)},
        )
    ]


OWN_SOCKETS_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("own-sockets", (Category.BAD_ROLLOUT,), check_own_sockets),
)

"""Only the containers started lately are refused their login: a replica of the same revision
that started before them still works against the same server, while every replica that
started since fails its login (``password authentication failed``, ``WRONGPASS``...).

A container reads an env variable from a Secret once, when it starts. The old replica, with
the value it read at its start, is accepted (the server is up and takes its queries); the new
ones read the Secret's current value and are refused. So the credential in the Secret no
longer matches what the server accepts: the Secret was rewritten (a rotation that changed the
Secret but not the server's account, a hand edit) or the server's account was, and the Secret
was not. Either way the fix is that Secret (config-missing), not the server (whose owner has
nothing to repair) nor the nodes the new replicas landed on. A new revision among the failing
replicas is a change's case and not this rule's.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.callee_credentials import credential_secret
from kubetriage.analyzers.dependency_server import LOGIN_REFUSED
from kubetriage.analyzers.platform_split import runs_cleanly
from kubetriage.analyzers.support import (
    item,
    log_source,
    logs_of,
    owner_workload,
    pod_source,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import PodEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a restarted-logins finding is."""

    # Every replica started since is refused its login, one of the same revision started
    # before runs: above escalating to the server for a refused login (0.86), which has
    # nothing to repair.
    restarted_refused: float = 0.9


CONFIDENCE: Final = _Confidence()


def _refused(evidence: Evidence, pod: PodEvidence) -> EvidenceItem | None:
    """The pod's own log line saying its login was refused, when its containers keep failing."""
    if runs_cleanly(pod) or not any(c.restart_count > 0 for c in pod.containers if not c.init):
        return None
    return next(
        (
            item(log_source(log), line)
            for log in logs_of(evidence, pod)
            for line in log.lines
            if LOGIN_REFUSED.search(line)
        ),
        None,
    )


def check_restarted_logins(evidence: Evidence) -> list[Finding]:
    if evidence.workload is None:
        return []
    ours = evidence.workload.ref
    pods = [
        p for p in evidence.pods if (o := owner_workload(p)) is not None and o.same_object(ours)
    ]
    refused = [(p, fact) for p in pods if (fact := _refused(evidence, p)) is not None]
    failing = [p for p in pods if not runs_cleanly(p)]
    if not refused or len(refused) != len(failing):
        return []  # a failing replica that says something else is another story
    revisions = {p.owner.name for p in pods if p.owner}
    if len(revisions) != 1:
        return []  # the failing replicas may run a new revision: a change's case
    starts = [p.created_at for p, _ in refused]
    if any(s is None for s in starts):
        return []
    first_failing = min(s for s in starts if s is not None)
    older = [
        p
        for p in pods
        if runs_cleanly(p) and p.created_at is not None and p.created_at < first_failing
    ]
    secret = credential_secret(evidence)
    if not older or secret is None:
        return []
    if not any(
        r.kind == "Secret" and r.name == secret.name and r.via.startswith("env ")
        for p, _ in refused
        for r in p.config_refs
    ):
        return []  # read from a mounted file, the old replica would see the new value too
    pod, fact = refused[0]
    runs = item(
        pod_source(older[0]),
        f"started {older[0].created_at:%Y-%m-%d %H:%M} and runs, same revision",
    )
    since = item(
        pod_source(pod),
        f"{prose.count(len(refused), 'replica')} started since {first_failing:%H:%M} "
        "fail their login",
    )
    return [
        make_finding(
            "restarted-logins",
            Category.CONFIG_MISSING,
            CONFIDENCE.restarted_refused,
            prose.narrative(
                f"{prose.obj(secret)} holds a credential the server no longer accepts",
                "put the credential the server accepts back into it",
                because=[
                    prose.claim("Every replica started lately is refused its login", since, fact),
                    prose.claim(
                        "A replica of the same revision that started before them still works: "
                        "it read the Secret's earlier value when it started",
                        runs,
                    ),
                    prose.claim(
                        f"The new replicas read the credential from {prose.obj(secret)} at "
                        "start, so its current value is the one refused"
                    ),
                ],
            ),
            [since, fact, runs],
            Action.FIX_CONFIG,
            secret,
        )
    ]


RESTARTED_LOGIN_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("restarted-logins", (Category.CONFIG_MISSING,), check_restarted_logins),
)

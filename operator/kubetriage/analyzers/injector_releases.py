"""A release that changed what an injector delivers, then logins refused. A pod injector other
than a mesh's (HashiCorp's Vault Agent Injector, Dapr's sidecar injector) adds containers at
admission as the pod template's annotations ask (``template_diff``'s ``injection`` aspect): the
Vault agent that fetches a database credential, and, run as a sidecar, renews its lease and
renders the next one. A release that changed those annotations (the agent only as an init
container, another role or secret path) leaves the template's own containers as they were, so
nothing looks different at first: the credential fetched at start works until its lease
ends, and then the server refuses the login (PostgreSQL's "password authentication failed",
its role revoked with the lease). The refusals may begin an hour after the release, past any
window that dates a symptom by a change, yet only the new revision's pods refuse and no
release came after it: an SRE rolls that release back (the old template's agent renewed the
credential), rather than escalate to the database, which is doing as it was told.

``bad-rollout``, roll back. Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions
of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.changes import latest_rollout
from kubetriage.analyzers.dependency_server import LOGIN_REFUSED
from kubetriage.analyzers.revisions import current_and_previous_revision, pod_revision
from kubetriage.analyzers.support import (
    grep_logs,
    item,
    logs_of,
    object_source,
    owner_workload,
    timestamp,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category

# The aspect of a rollout that changed another injector's annotations (``template_diff``).
INJECTION: Final = "injection"


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a finding about a release that changed an injector's annotations is."""

    # The workload's latest release changed what its injector adds, and only pods of that
    # revision are refused their login since.
    refused_since: float = 0.9


CONFIDENCE: Final = _Confidence()


def check_injector_release(evidence: Evidence) -> list[Finding]:
    if evidence.workload is None:
        return []
    ours = evidence.workload.ref
    release = latest_rollout(evidence)
    current, previous = current_and_previous_revision(evidence)
    if release is None or release.at is None or current is None or previous is None:
        return []
    if INJECTION not in release.aspects or not release.object.same_object(ours):
        return []
    pods = [p for p in evidence.pods if (o := owner_workload(p)) and o.same_object(ours)]
    refusing = [p for p in pods if grep_logs(logs_of(evidence, p), LOGIN_REFUSED, limit=1)]
    if not refusing:
        return []
    for pod in refusing:
        revision = pod_revision(pod, evidence)
        if revision is None or revision.revision != current.revision:
            return []  # a pod of the earlier revision is refused too: not this release's
        if pod.created_at is None or timestamp(pod.created_at) < timestamp(release.at):
            return []
    hit = grep_logs(logs_of(evidence, refusing[0]), LOGIN_REFUSED, limit=1)[0]
    refused = item(hit.source, hit.line[:240].strip())
    changed = item(
        object_source(ours),
        f"rollout at {release.at:%H:%M}: "
        + "; ".join(release.aspect_details.get(INJECTION, release.details)[:2]),
    )
    return [
        make_finding(
            "injector-release",
            Category.BAD_ROLLOUT,
            CONFIDENCE.refused_since,
            prose.narrative(
                f"The release of {prose.obj(ours)} changed what its pod injector adds, and its "
                "logins are refused since",
                f"roll it back to revision {previous.revision}",
                because=[
                    prose.claim(
                        "Its latest rollout changed the annotations that tell the injector "
                        "which agent to add and how: the credentials the pods start with",
                        changed,
                    ),
                    prose.claim(
                        "Only pods of that revision are refused their login, once the "
                        "credential they fetched at start runs out",
                        refused,
                    ),
                ],
            ),
            [changed, refused],
            Action.ROLLBACK,
            ours,
            {"revision": str(previous.revision)},
        )
    ]


INJECTOR_RELEASE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("injector-release", (Category.BAD_ROLLOUT,), check_injector_release),
)

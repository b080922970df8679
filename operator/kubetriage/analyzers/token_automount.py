"""A release that stopped mounting the pods' API token while their process still reads it.

``automountServiceAccountToken: false`` (a hardening default in many charts and policies)
leaves ``/var/run/secrets/kubernetes.io/serviceaccount`` out of the pod. A process that calls
the Kubernetes API in-cluster (client-go's in-cluster config, Prometheus' Kubernetes service
discovery, an operator, a controller) reads its token and CA from there and fails with "no
such file or directory" instead: the pod may run and be Ready while it discovers, watches or
reconciles nothing, and the symptom shows elsewhere (targets gone, objects not reconciled).
When the newest revision is the one that turned the mount off and its pods log exactly that
missing file, the release is the cause: an SRE rolls it back (or mounts a projected token
explicitly), rather than chasing the alert's own subject.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.onset import served_before_step
from kubetriage.analyzers.revisions import (
    pod_revision,
    rollback_subject,
)
from kubetriage.analyzers.support import grep_logs, item, logs_of
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a token-automount rollout finding is."""

    # The newest revision turned off the token mount and its pods log that the token (or CA)
    # file under the ServiceAccount mount is missing.
    unmounted_and_missed: float = 0.87


CONFIDENCE: Final = _Confidence()

# The ServiceAccount mount's files, reported missing (Go's and most runtimes' wording).
_TOKEN_MISSING: Final = re.compile(
    r"/var/run/secrets/kubernetes\.io/serviceaccount/(?:token|ca\.crt|namespace)\b"
    r".{0,40}?(?:no such file or directory|not found|does not exist|ENOENT)",
    re.IGNORECASE,
)


def check_token_automount(evidence: Evidence) -> list[Finding]:
    release = rollback_subject(evidence)
    if release is None:
        return []
    target, current, previous = release
    turned_off = [
        (change, line)
        for change in evidence.changes
        if change.kind == "rollout" and change.to_revision == current.revision
        for line in change.aspect_details.get("tokenUnmounted", [])
    ]
    if not turned_off:
        return []
    new_pods = [p for p in evidence.pods if pod_revision(p, evidence) == current]
    hits = [h for p in new_pods for h in grep_logs(logs_of(evidence, p), _TOKEN_MISSING, limit=5)]
    if not hits:
        return []
    change, line = turned_off[0]
    if change.at is not None and served_before_step(evidence, change.at) is not None:
        # The new revision served without the symptom for a while before a symptom series
        # stepped: whatever its process no longer reaches, the step has another cause.
        return []
    when = f" at {change.at:%H:%M}" if change.at else ""
    released = item(
        f"{target.kind.lower()}/{target.namespace}/{target.name}",
        f"rollout{when}: revision {previous.revision} -> {current.revision}; {line}",
    )
    missed = item(hits[0].source, hits[0].line)
    return [
        make_finding(
            "token-automount",
            Category.BAD_ROLLOUT,
            CONFIDENCE.unmounted_and_missed,
            prose.narrative(
                f"Revision {current.revision} of {prose.obj(target)} stopped mounting the API "
                "token its process reads",
                f"roll back to revision {previous.revision}",
                aside="or mount a projected token explicitly",
                because=[
                    prose.claim(
                        f"Revision {current.revision} turned off automountServiceAccountToken",
                        released,
                    ),
                    prose.claim(
                        "Its pods cannot open the ServiceAccount token, so they reach no API",
                        missed,
                    ),
                ],
            ),
            [released, missed],
            Action.ROLLBACK,
            target,
            {"revision": str(previous.revision)},
        )
    ]


TOKEN_AUTOMOUNT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("token-automount", (Category.BAD_ROLLOUT,), check_token_automount),
)

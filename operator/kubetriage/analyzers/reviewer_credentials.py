"""An auth server that cannot verify anyone: a followed dependency that logs clients in with
their Kubernetes ServiceAccount tokens (Vault's Kubernetes auth method, and any server that
asks the API's TokenReview whether a token is valid) says in its own log that the API refuses
*its own* reviewer credential (``lookup failed: service account unauthorized``: the
TokenReview call itself got a 401, as when the configured ``token_reviewer_jwt`` was a
short-lived token that expired; or ``tokenreviews ... is forbidden``: its reviewer lost the
``system:auth-delegator`` binding). Every login then fails, whoever the client and whatever
its role: the caller's refused login (a 403, ``permission denied``) is the server's
configuration, not the caller's release or ServiceAccount. ``dependency-failure``, escalate to
the server's owner; the caller's rollout that happens to be waiting on that login is not the
cause.

A server that refuses one client's ServiceAccount (``service account name not authorized``:
the role does not bind it) speaks of the client, not of itself, and is left to the rules that
read the client's change.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_signatures import hosts_in, service_for_host
from kubetriage.analyzers.support import grep_logs, item, log_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a finding about an auth server's own reviewer credential is."""

    # The server says the API refuses its reviewer, and the caller's login to it is refused:
    # above the caller's rollout that waits on the login (a rollout rule's 0.88).
    reviewer_refused: float = 0.9


CONFIDENCE: Final = _Confidence()

# The auth server's words for the TokenReview API refusing its own credential.
REVIEWER_REFUSED = re.compile(
    r"(?i)(lookup failed: service account unauthorized"
    r"|tokenreviews(?:\.authentication\.k8s\.io)?\b.{0,80}\b(?:is forbidden|unauthorized))"
)
# The caller's words for a refused login (an HTTP 403 or 401 from the server, its message).
LOGIN_DENIED = re.compile(
    r"(?i)(\bCode: 40[13]\b|permission denied|\b(?:401|403)\b.{0,40}(?:unauthori[sz]ed|forbidden))"
)


def _reviewer_refused(dep: DependencyEvidence) -> EvidenceItem | None:
    hits = grep_logs(dep.logs, REVIEWER_REFUSED, limit=1)
    return item(log_source(hits[0].log), hits[0].line) if hits else None


def _callers_denied_login(evidence: Evidence, dep: DependencyEvidence) -> EvidenceItem | None:
    """A line of the incident's own pods where a login to ``dep`` is refused."""
    if dep.service is None:
        return None
    own = [log for log in evidence.logs if log.source == "scope"]
    for hit in grep_logs(own, LOGIN_DENIED, limit=20):
        if any(service_for_host(host, [dep.service]) is not None for host in hosts_in(hit.line)):
            return item(log_source(hit.log), hit.line)
    return None


def check_reviewer_refused(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for dep in evidence.dependencies:
        server = _reviewer_refused(dep)
        denied = _callers_denied_login(evidence, dep) if server is not None else None
        ref = dep.service_ref()
        if server is None or denied is None or ref is None:
            continue
        findings.append(
            make_finding(
                "reviewer-refused",
                Category.DEPENDENCY_FAILURE,
                CONFIDENCE.reviewer_refused,
                prose.narrative(
                    f"{prose.obj(ref)} cannot verify any login: the Kubernetes API refuses its "
                    "own token reviewer",
                    "escalate to its owner to renew its reviewer credential",
                    because=[
                        prose.claim(
                            f"{prose.obj(ref)} logs that the TokenReview API refuses its own "
                            "reviewer credential",
                            server,
                        ),
                        prose.claim("So it refuses the caller's login as it refuses all", denied),
                    ],
                ),
                [server, denied],
                Action.ESCALATE,
                ref,
                {"service": ref.name},
            )
        )
    return findings


REVIEWER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("reviewer-refused", (Category.DEPENDENCY_FAILURE,), check_reviewer_refused),
)

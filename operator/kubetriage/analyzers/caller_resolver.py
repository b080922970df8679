"""The caller-resolver rule: a healthy callee's alert (its errors seen by a client, its load
gone) right after a workload that calls it (``Evidence.callers``) rolled out a revision that
changed its pods' DNS settings so that they now resolve through the node's resolver
(``dnsPolicy: Default``, or the host network with ``ClusterFirst``; ``kubetriage.pod_dns``).
The node's resolver (the cloud's VPC or metadata resolver, the data centre's DNS) knows no
``<service>.<namespace>.svc.cluster.local``: that caller can no longer find the callee's
Service at all, while the callee's own pods run and serve everyone else. The alert names the
callee; an SRE asks "who calls it, and what changed in how they find it?" and rolls that
caller back, instead of escalating to the callee's owner.

The node-resolver rule (``node_resolver``) answers the same mechanism when the failing pods
are the incident's own; this one reads the callers of the incident's Services, whose pods
are not in evidence (only their template's settings and rollouts are). Silent when the
callee's own pods fail (their failure is a cause of their own), when the caller's latest
rollout changed no DNS setting or came long before the onset, and for a caller still on the
cluster DNS.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.dns_clients import dns_rollout_of
from kubetriage.analyzers.onset import earliest_onset
from kubetriage.analyzers.pods import pod_failing
from kubetriage.analyzers.shared_dependency import rollout_line
from kubetriage.analyzers.support import item, object_source, timestamp
from kubetriage.evidence.dns_clients import DNS_ASPECT
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a caller-resolver finding is, by the evidence that earns it."""

    # One caller's rollout moved its pods onto the node's resolver within the onset window
    # of the healthy callee's alert: below the node-resolver rule on the incident's own
    # failing pods (0.89, whose lookups are quoted), above the caller-rollout rule's bare
    # timing (a behaviour change of unknown effect).
    moved: float = 0.8


CONFIDENCE: Final = _Confidence()
NAME: Final = "caller-resolver"


def check_caller_resolver(evidence: Evidence) -> list[Finding]:
    onset = earliest_onset(evidence)
    if onset is None or any(pod_failing(pod) for pod in evidence.pods):
        return []
    findings: list[Finding] = []
    seen: set[str] = set()
    for caller in evidence.callers:
        if (
            not caller.node_resolver
            or caller.secret_env is not None
            or caller.ref.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]
            or caller.ref.key() in seen
        ):
            continue
        change = dns_rollout_of(caller.changes, onset)
        if change is None:
            continue
        seen.add(caller.ref.key())
        changed = change.aspect_details.get(DNS_ASPECT, [])
        facts = [
            item(object_source(caller.ref), rollout_line(change)),
            *[item("revision", line) for line in changed[:2]],
            item(
                object_source(caller.callee),
                f"{prose.count(len(evidence.pods), 'pod')} of the callee running, none failing",
            ),
        ]
        lead = prose.duration(timestamp(onset) - timestamp(change.at)) if change.at else ""
        because = [
            prose.claim(
                f"{prose.obj(caller.ref)} calls {prose.obj(caller.callee)}, and its rollout "
                f"{lead} before the trouble moved its pods onto the node's resolver, which "
                "knows no cluster Service name",
                *facts[:-1],
            ),
            prose.claim("The callee's own pods run and none of them fails", facts[-1]),
        ]
        findings.append(
            make_finding(
                NAME,
                Category.BAD_ROLLOUT,
                CONFIDENCE.moved,
                prose.narrative(
                    f"{prose.obj(caller.ref)} cannot resolve {prose.obj(caller.callee)} "
                    "through the node's resolver",
                    "roll it back",
                    because=because,
                ),
                facts,
                Action.ROLLBACK,
                caller.ref,
                {},
            )
        )
    return findings


CALLER_RESOLVER_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.BAD_ROLLOUT,), check_caller_resolver),
)

"""The empty resolver Service rule: the workload's name lookups fail at the resolver (they
time out or are refused, never answered) and the cluster DNS Service it asks, read by the
evidence, selects no pod. The DNS servers may be running and ready (a CoreDNS reinstalled
from another chart or manifest with other labels, the Service's selector edited): nothing
answers on the Service's address because it routes nowhere, so every lookup in the cluster
fails while the resolver's pods look healthy.

An SRE checks the kube-dns endpoints first (the Kubernetes docs, Debugging DNS Resolution):
empty endpoints with a selector no pod matches is the Service's fault, not the DNS servers'
nor the callers': ``network``, ``fix-network`` on the Service, above handing the resolver to
its owner (0.7).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import caller, dependency_hits, followed_services, service_fact
from kubetriage.analyzers.support import item
from kubetriage.analyzers.unnamed_calls import CLUSTER_DNS_NAMES
from kubetriage.dns_errors import DNS_RESOLVER_FAILURE
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an empty resolver Service finding is, by the evidence that earns it."""

    # Lookups fail at the resolver, and the cluster DNS Service selects no pod.
    unbacked: float = 0.8


CONFIDENCE: Final = _Confidence()


def check_resolver_service(evidence: Evidence) -> list[Finding]:
    lookups = [h for h in dependency_hits(evidence) if DNS_RESOLVER_FAILURE.search(h.line)]
    if not lookups:
        return []
    svc = next(
        (
            s
            for s in [*evidence.services, *followed_services(evidence)]
            if s.name in CLUSTER_DNS_NAMES
            and s.selector
            and s.matching_pods == 0
            and s.scaled_to_zero is None
            and s.ready_endpoints == 0
        ),
        None,
    )
    if svc is None:
        return []
    ref = svc.ref()
    quoted = [item(h.source, h.line) for h in lookups[:2]]
    described = service_fact(svc)
    text = prose.narrative(
        f"{prose.obj(ref)} selects no pods, so name lookups from {caller(evidence, lookups)} "
        "go unanswered",
        "correct its selector to the DNS servers' labels",
        aside=f"selector {prose.selector(svc.selector)}",
        because=[
            prose.claim(
                f"{prose.count(len(lookups), 'lookup')} in the logs fail at the resolver "
                "without an answer",
                *quoted,
            ),
            prose.claim(
                f"The cluster DNS Service's selector {prose.selector(svc.selector)} matches "
                "no pod, so it has no endpoints",
                described,
            ),
            prose.claim("Every lookup sent to its address is dropped, whatever the DNS pods do"),
        ],
    )
    return [
        make_finding(
            "resolver-service",
            Category.NETWORK,
            CONFIDENCE.unbacked,
            text,
            [*quoted, described],
            Action.FIX_NETWORK,
            ref,
            {"service": svc.name},
        )
    ]


RESOLVER_SERVICE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("resolver-service", (Category.NETWORK,), check_resolver_service),
)

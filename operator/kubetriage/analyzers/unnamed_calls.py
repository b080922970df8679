"""The dependency-failure rule's failing calls that name no Service: when every one is a DNS
lookup and the resolver itself fails to answer (or fails for several unrelated names), or the
cluster DNS Service is in evidence, they are the cluster DNS Service's (escalate to its owner;
``kube-dns`` when it was not collected). Otherwise no Service in evidence matches the host
they call: the evidence cannot say whether the far end, a load balancer or the egress path
fails them, nor hand them to anyone but the workload's owner, so they are ``unknown``,
escalated at the workload, rather than a dependency failure without a dependency.

Called by ``kubetriage.analyzers.dependency_failure`` once no Service is named; pure
functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import make_finding
from kubetriage.analyzers.calls import caller, failure_kind
from kubetriage.analyzers.log_signatures import hosts_in
from kubetriage.analyzers.support import LogHit, item, workload_ref
from kubetriage.dns_errors import DNS_LOG, DNS_RESOLVER_FAILURE
from kubetriage.evidence.cluster_dns import DNS_PORT
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a finding on failing calls that name no Service is, by the evidence that
    earns it."""

    dns_resolver: float = 0.7  # every failing call is a lookup; the resolver itself fails
    dns_service: float = 0.55  # every failing call is a lookup of one name; DNS is in evidence
    unnamed: float = 0.5  # calls fail to a host no Service in evidence matches (unknown)
    unnamed_once: float = 0.45  # ... in a single log line


CONFIDENCE: Final = _Confidence()

CLUSTER_DNS_NAMES = frozenset({"kube-dns", "coredns"})


def cluster_dns_dependency(evidence: Evidence) -> DependencyEvidence | None:
    """The followed dependency that is the cluster's DNS: a Service on port 53 the workload's
    failed lookups name (``evidence.cluster_dns`` found it by what it serves)."""
    return next(
        (
            d
            for d in evidence.dependencies
            if d.followed
            and d.service is not None
            and DNS_PORT in d.service.port_numbers
            and any(s.kind == "log" for s in d.named_by)
        ),
        None,
    )


def unnamed_call_findings(evidence: Evidence, hits: list[LogHit]) -> list[Finding]:
    """The failing calls ``hits`` (none naming a Service in evidence) handed to the cluster
    DNS Service when they are its, else to the workload's owner as unknown."""
    dns = [h for h in hits if DNS_LOG.search(h.line)]
    dns_service = next((s for s in evidence.services if s.name in CLUSTER_DNS_NAMES), None)
    if dns_service is None and (followed := cluster_dns_dependency(evidence)) is not None:
        dns_service = followed.service
    dns_hosts = {host for h in dns for host in hosts_in(h.line)}
    # The resolver failing to answer, or failing for several unrelated names, is the DNS
    # service's fault; a single name that does not exist is more likely the caller's config.
    resolver_down = any(DNS_RESOLVER_FAILURE.search(h.line) for h in dns) or len(dns_hosts) >= 2
    if dns and len(dns) == len(hits) and (resolver_down or dns_service is not None):
        if dns_service is not None:
            target = dns_service.ref()
        else:
            # Not collected, but every mainstream distribution serves cluster DNS from this
            # Service (CoreDNS kept the name for compatibility).
            target = ObjectRef(kind="Service", namespace="kube-system", name="kube-dns")
        confidence = CONFIDENCE.dns_resolver if resolver_down else CONFIDENCE.dns_service
    else:
        fallback = workload_ref(evidence)
        if fallback is None or fallback.kind not in ACTION_TARGET_KINDS[Action.ESCALATE]:
            return []
        target = fallback
        confidence = CONFIDENCE.unnamed if len(hits) >= 2 else CONFIDENCE.unnamed_once
    quoted = [item(h.source, h.line) for h in hits[:4]]
    kind = failure_kind(" ".join(h.line for h in hits))
    if target.kind == "Service":
        text = prose.narrative(
            f"{caller(evidence, hits)} cannot resolve the names it calls",
            f"escalate to the owner of {prose.obj(target)}",
            because=[
                prose.claim(
                    f"{prose.count(len(hits), 'failing call')} in the logs, all of them DNS "
                    "lookups",
                    *quoted[:2],
                ),
                prose.claim(
                    "The resolver itself fails to answer, or fails for several unrelated names"
                    if resolver_down
                    else "The cluster DNS Service answers these lookups"
                ),
                prose.claim("Names that do not resolve make every call to them fail"),
            ],
        )
    else:
        text = prose.narrative(
            f"{caller(evidence, hits)} fails to reach a dependency with {kind}",
            "escalate to its owner",
            because=[
                prose.claim(
                    f"{prose.count(len(hits), 'failing call')} in the logs report {kind}",
                    *quoted[:2],
                ),
                prose.claim(
                    "No Service in the evidence matches the host it calls, so the dependency "
                    "is not named; its host is in the quoted lines"
                ),
            ],
        )
    return [
        make_finding(
            "dependency-failure",
            # No Service named: no dependency to blame, only failing calls to hand over.
            Category.DEPENDENCY_FAILURE if target.kind == "Service" else Category.UNKNOWN,
            confidence,
            text,
            quoted,
            Action.ESCALATE,
            target,
            {},
        )
    ]

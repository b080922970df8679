"""A client's release that multiplied the cluster DNS server's queries: the incident is about
the cluster's DNS server (``Evidence.dns_clients`` is read only then), the server itself did
not change, and exactly one client Deployment rolled out a revision that changed its pods'
DNS settings (``dnsPolicy``, ``dnsConfig``: an ``ndots`` override dropped, searches added)
within the onset window. Each lookup of such a pod may cost the whole search path (five
NXDOMAIN answers before the real one), so one release multiplies the server's load and it
is throttled or times out for every client. An SRE rolls that client back; raising the
server's CPU limit or adding replicas treats the surface.

Silent when the server rolled out or its configuration changed itself, when no client or
several changed their DNS settings within the window.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.onset import follows_within
from kubetriage.analyzers.shared_dependency import rollout_line, sole_rollout
from kubetriage.analyzers.support import item, object_source
from kubetriage.evidence.dns_clients import DNS_ASPECT
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import DnsClientEvidence
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a DNS-client-rollout finding is, by the evidence that earns it."""

    # The one client whose release changed its DNS settings within the onset window of the
    # unchanged DNS server's trouble: above the server's own throttling (at most 0.9 with
    # every bonus, 0.75 for a throttled share), which that release's queries cause.
    rollout: float = 0.84


CONFIDENCE: Final = _Confidence()
NAME: Final = "dns-client-rollout"


def dns_rollout_of(changes: Sequence[ChangeEvidence], onset: datetime) -> ChangeEvidence | None:
    """The latest of a workload's rollouts (``changes``, newest first), when it changed its
    pods' DNS settings within the onset window."""
    return next(
        (
            change
            for change in changes[:1]
            if DNS_ASPECT in change.aspects and follows_within(change.at, onset) is not None
        ),
        None,
    )


def _dns_rollout(client: DnsClientEvidence, onset: datetime) -> ChangeEvidence | None:
    return dns_rollout_of(client.changes, onset)


def check_dns_client_rollout(evidence: Evidence) -> list[Finding]:
    """Roll back the one client whose release changed its DNS settings before the trouble."""
    if not evidence.dns_clients:
        return []
    suspect = sole_rollout(evidence, evidence.dns_clients, _dns_rollout)
    if suspect is None:
        return []
    client, change = suspect
    target = client.ref
    settings = change.aspect_details.get(DNS_ASPECT) or []
    rolled = item(object_source(target), rollout_line(change))
    because = [
        prose.claim(
            f"{prose.obj(target)} rolled out a revision that changed its pods' DNS settings"
            + (f" ({prose.listing(settings, limit=2)})" if settings else ""),
            rolled,
        ),
        prose.claim(
            "Its pods' lookups go through the cluster's DNS server, which did not change, and "
            "each lookup may now cost more queries"
        ),
    ]
    return [
        make_finding(
            NAME,
            Category.BAD_ROLLOUT,
            CONFIDENCE.rollout,
            prose.narrative(
                f"{prose.obj(target)}'s new DNS settings multiply the queries the cluster's "
                "DNS server answers",
                "roll it back",
                because=because,
            ),
            [rolled],
            Action.ROLLBACK,
            target,
            {},
        )
    ]


DNS_CLIENT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.BAD_ROLLOUT,), check_dns_client_rollout),
)

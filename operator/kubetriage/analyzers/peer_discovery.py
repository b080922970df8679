"""Peer discovery through a headless Service: the members of a StatefulSet (etcd, ZooKeeper,
Cassandra, Elasticsearch, a Raft store) find each other by their per-pod names,
``<pod>.<service>.<namespace>.svc``, which the cluster DNS publishes only for ready pods
unless the Service sets ``publishNotReadyAddresses``. A member becomes ready only once it
has joined its peers, so when every member is down at once (a new cluster bootstrapping, all
pods restarted) no member name resolves and none ever becomes ready: the members log "no
such host" for their own and their peers' names while DNS works. An SRE reads those lookups,
sees the Service headless without the flag and no ready endpoint, and sets the flag on the
Service (fix-network); escalating to the store's owner, or restarting it, changes nothing.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import service_fact
from kubetriage.analyzers.support import item, service_source
from kubetriage.dns_errors import DNS_NO_SUCH_NAME
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EXPLAINS, EvidenceItem, Finding
from kubetriage.models.object_evidence import LogTail, ServiceEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a peer-discovery finding is."""

    # Members of the pods a headless Service without publishNotReadyAddresses selects log
    # that their own or their peers' per-pod names do not exist, and it has no ready endpoint.
    unpublished_peers: float = 0.9


CONFIDENCE: Final = _Confidence()

# A StatefulSet pod's ordinal suffix: members of one set share the name before it.
_ORDINAL = re.compile(r"-\d+$")


def _member_names(svc: ServiceEvidence) -> re.Pattern[str]:
    """Per-pod names under the Service: ``<pod>.<service>.<namespace>`` and longer."""
    return re.compile(
        rf"(?i)\b(?P<pod>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)\.{re.escape(svc.name)}\."
        rf"{re.escape(svc.namespace)}\b"
    )


def _set_of(pod: str) -> str | None:
    """The StatefulSet name a pod name belongs to; None when it has no ordinal."""
    return _ORDINAL.sub("", pod) if _ORDINAL.search(pod) else None


def _tails(evidence: Evidence) -> list[LogTail]:
    tails = list(evidence.logs)
    for dependency in evidence.dependencies:
        tails += [t for t in dependency.logs if t not in tails]
    return tails


def _unpublished_lookup(svc: ServiceEvidence, tails: list[LogTail]) -> EvidenceItem | None:
    """A member's own log line saying a member name under ``svc`` does not exist."""
    names = _member_names(svc)
    for tail in tails:
        member = _set_of(tail.pod)
        if tail.namespace != svc.namespace or member is None:
            continue
        for line in tail.lines:
            if not DNS_NO_SUCH_NAME.search(line):
                continue
            if any(_set_of(m["pod"]) == member for m in names.finditer(line)):
                return item(f"logs/{tail.pod}/{tail.container}", line)
    return None


def _client_service(svc: ServiceEvidence, evidence: Evidence) -> ServiceEvidence | None:
    """Another Service of the same pods (the one clients call) among the dependencies."""
    for dependency in evidence.dependencies:
        other = dependency.service
        if (
            other is not None
            and other.name != svc.name
            and other.namespace == svc.namespace
            and other.selector == svc.selector
        ):
            return other
    return None


def check_unpublished_peers(evidence: Evidence) -> list[Finding]:
    services = list(evidence.services)
    services += [
        d.service
        for d in evidence.dependencies
        if d.service is not None and all(d.service.name != s.name for s in services)
    ]
    tails = _tails(evidence)
    findings: list[Finding] = []
    for svc in services:
        if not svc.headless or svc.publish_not_ready or not svc.selector:
            continue
        if svc.ready_endpoints != 0 or not svc.not_ready_endpoints:
            continue
        lookup = _unpublished_lookup(svc, tails)
        if lookup is None:
            continue
        ref = svc.ref()
        flag = item(
            service_source(svc),
            "headless (clusterIP None), publishNotReadyAddresses not set; "
            + prose.ready_endpoints(svc.ready_endpoints, svc.not_ready_endpoints),
        )
        params = {"service": svc.name}
        client = _client_service(svc, evidence)
        if client is not None:
            params[EXPLAINS] = f"Service/{client.namespace}/{client.name}"
        findings.append(
            make_finding(
                "unpublished-peers",
                Category.NETWORK,
                CONFIDENCE.unpublished_peers,
                prose.narrative(
                    f"The members behind {prose.obj(ref)} cannot resolve each other's names",
                    "set publishNotReadyAddresses: true on it",
                    because=[
                        prose.claim(
                            "The Service is headless and publishes its pods' names only once "
                            "they are ready, and none is",
                            flag,
                        ),
                        prose.claim(
                            "A member logs that a member name under it does not exist, so "
                            "the members cannot join and never become ready",
                            lookup,
                        ),
                    ],
                ),
                [flag, lookup, service_fact(svc)],
                Action.FIX_NETWORK,
                ref,
                params,
            )
        )
    return findings


PEER_DISCOVERY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("unpublished-peers", (Category.NETWORK,), check_unpublished_peers),
)

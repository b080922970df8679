"""Writes a replica refuses because the client addresses the members of a replicated store
directly: the client's configuration names a headless Service (``pod-0.store-headless`` or
the bare headless name), whose DNS answers with the StatefulSet's pods whatever role each
plays, and the pod it reached answers that it only serves reads (Redis ``READONLY``,
PostgreSQL ``read-only transaction``, MySQL ``--read-only``, MongoDB ``NotWritablePrimary``).
The store is healthy, its failover did what it should; the client was pinned to one member
and follows no promotion (a Sentinel, a primary or ``-rw`` Service, a replica-set URI).
``config-missing``: correct the ConfigMap that names the member, above the escalation at
the store (dependency-refusing, 0.9) whose refusal it explains.

The stale-primary rule: the client addresses a managed database through the endpoint its
provider repoints at the new primary on failover (an ExternalName Service to a writer or
cluster endpoint, not a reader's), its lines first lose the connection and then have writes
refused by a replica. The failover completed; the client reconnected to the old primary's
address, now a replica, because it resolved the name once (a DNS cache that never expires,
as a JVM with ``networkaddress.cache.ttl=-1``) or keeps pooled connections there. Nothing is
wrong with the database or the configuration: a rolling restart makes the client resolve the
endpoint again, above the escalation at the database whose refusals it explains.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import grep_logs, item, log_source
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a pinned-member reading is."""

    # A replica refuses the caller's writes and the caller's ConfigMap names a headless
    # Service of a StatefulSet with several members: above the store's refusal (0.9).
    pinned_member: float = 0.92
    # Writes refused by a replica after the connection was lost, through a writer endpoint
    # that follows the primary: above the escalation at the database (dependency-refusing).
    stale_primary: float = 0.88


CONFIDENCE: Final = _Confidence()

# A server that only serves reads refusing a write, in its own words.
WRITE_TO_REPLICA = re.compile(
    r"(?i)(READONLY You can't write against a read only replica"
    r"|cannot execute \w+(?: \w+)? in a read-only transaction"
    r"|running with the --(?:super-)?read-only option"
    r"|NotWritablePrimary|not master and secondaryOk=false)"
)


# The client losing its connection to the server (the old primary going away in a failover).
CONNECTION_LOST = re.compile(
    r"(?i)(connection reset|I/O error occurred while sending to the backend"
    r"|terminating connection due to administrator command|server closed the connection"
    r"|This connection has been closed|broken pipe|unexpected EOF)"
)
# Endpoints that name readers on purpose: a replica refusing writes there is by design.
READER_ENDPOINT = re.compile(r"(?i)(-ro-|\breader\b|reader[.-]|replica|read-only|readonly)")


def _writer_endpoint(dependency: DependencyEvidence) -> bool:
    service = dependency.service
    return (
        service is not None
        and service.type == "ExternalName"
        and bool(service.external_name)
        and READER_ENDPOINT.search(service.external_name or "") is None
    )


def check_stale_primary(evidence: Evidence) -> list[Finding]:
    """The incident's own writes refused by a replica after its connections were lost, to a
    managed database it reaches through a writer endpoint: restart to resolve it again."""
    if evidence.workload is None:
        return []
    own = [log for log in evidence.logs if log.source == "scope"]
    for log in own:
        refused = grep_logs([log], WRITE_TO_REPLICA, limit=1)
        if not refused:
            continue
        first = log.lines.index(refused[0].line)
        lost = grep_logs([log.model_copy(update={"lines": log.lines[:first]})], CONNECTION_LOST)
        writers = [d for d in evidence.dependencies if _writer_endpoint(d)]
        if not lost or len(writers) != 1 or writers[0].service is None:
            continue
        service = writers[0].service
        target = evidence.workload.ref
        facts = [
            item(log_source(log), lost[0].line),
            item(log_source(log), refused[0].line),
            item(
                f"service/{service.namespace}/{service.name}",
                f"ExternalName {service.external_name}",
            ),
        ]
        return [
            make_finding(
                "stale-primary-address",
                Category.DEPENDENCY_FAILURE,
                CONFIDENCE.stale_primary,
                prose.narrative(
                    f"{prose.obj(target)} still writes to the old primary after a failover",
                    "restart it so that it resolves the database endpoint again",
                    because=[
                        prose.claim(
                            "It lost its connections to the database, then a replica refused "
                            "its writes",
                            *facts[:2],
                        ),
                        prose.claim(
                            f"It reaches the database through {service.name}, an endpoint the "
                            "provider points at the new primary: the client kept the old "
                            "primary's address",
                            facts[2],
                        ),
                    ],
                ),
                facts,
                Action.RESTART,
                target,
                {"service": service.name},
            )
        ]
    return []


def _members_addressed(dependency: DependencyEvidence) -> list[str]:
    """The caller's ConfigMaps that name ``dependency`` when it is a headless Service in
    front of a StatefulSet with more than one member; empty otherwise."""
    service, workload = dependency.service, dependency.workload
    if service is None or not service.headless or workload is None:
        return []
    if workload.kind != "StatefulSet" or (dependency.desired_replicas or 0) < 2:
        return []
    return [s.owner for s in dependency.named_by if s.kind == "config-map" and s.owner]


def check_pinned_member(evidence: Evidence) -> list[Finding]:
    pinned = [(d, names) for d in evidence.dependencies if (names := _members_addressed(d))]
    hits = grep_logs(evidence.logs, WRITE_TO_REPLICA, limit=2)
    if len(pinned) != 1 or not hits or evidence.workload is None:
        return []
    dependency, names = pinned[0]
    if dependency.service is None or dependency.workload is None:
        return []
    namespace = evidence.workload.ref.namespace
    config = ObjectRef(kind="ConfigMap", namespace=namespace, name=names[0])
    service = f"{dependency.service.namespace}/{dependency.service.name}"
    facts = [
        item(log_source(hits[0].log), hits[0].line),
        item(f"service/{service}", "headless: its DNS name resolves to the pods themselves"),
        item(
            f"dependency {prose.obj(dependency.workload)}",
            f"{dependency.desired_replicas} members, named by ConfigMap {config.name}",
        ),
    ]
    return [
        make_finding(
            "pinned-replica-member",
            Category.CONFIG_MISSING,
            CONFIDENCE.pinned_member,
            prose.narrative(
                f"{prose.obj(config)} names members of {prose.obj(dependency.workload)}",
                "point it at the primary",
                because=[
                    prose.claim("A replica refuses the caller's writes", facts[0]),
                    prose.claim(
                        f"{prose.obj(config)} names the members directly, through a headless "
                        "Service, not an address that follows the primary",
                        *facts[1:],
                    ),
                ],
            ),
            facts,
            Action.FIX_CONFIG,
            config,
        )
    ]


REPLICA_WRITE_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("pinned-replica-member", (Category.CONFIG_MISSING,), check_pinned_member),
    Analyzer("stale-primary-address", (Category.DEPENDENCY_FAILURE,), check_stale_primary),
)

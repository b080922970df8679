"""Writes a replica refuses because the client addresses the members of a replicated store
directly: the client's configuration names a headless Service (``pod-0.store-headless`` or
the bare headless name), whose DNS answers with the StatefulSet's pods whatever role each
plays, and the pod it reached answers that it only serves reads (Redis ``READONLY``,
PostgreSQL ``read-only transaction``, MySQL ``--read-only``, MongoDB ``NotWritablePrimary``).
The store is healthy, its failover did what it should; the client was pinned to one member
and follows no promotion (a Sentinel, a primary or ``-rw`` Service, a replica-set URI).
``config-missing``: correct the ConfigMap that names the member, above the escalation at
the store (dependency-refusing, 0.9) whose refusal it explains.

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


CONFIDENCE: Final = _Confidence()

# A server that only serves reads refusing a write, in its own words.
WRITE_TO_REPLICA = re.compile(
    r"(?i)(READONLY You can't write against a read only replica"
    r"|cannot execute \w+(?: \w+)? in a read-only transaction"
    r"|running with the --(?:super-)?read-only option"
    r"|NotWritablePrimary|not master and secondaryOk=false)"
)


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
)

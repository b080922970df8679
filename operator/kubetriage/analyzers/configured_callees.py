"""Where a calling workload's configuration points: the Services its env values name
(``DB_HOST=orders-db.sales.svc``, URLs, host:port) and, when no env value names one, the
Services its own set-up log lines name. Read by the dependency-failure rule to name the
dependency whose calls fail when the failing lines themselves name no host.

A client that times out waiting for a pooled connection says only that (``failed to acquire
connection: context deadline exceeded``), and its connection string often sits in a Secret
the evidence cannot read. The line the same container wrote when it set the client up
(``database pool ready host=stock-db.inventory.svc:5432``, ``connected to redis at
cache:6379``) is where an SRE reads which dependency the pool belongs to. Only lines of the
containers that log the failing calls count, only lines that are not failures themselves,
and only lines that speak of setting up a client (connecting, a pool, a dial, a ready or
configured endpoint), so a request log naming the caller that sent it is not read as a
callee.

Pure functions of Evidence.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from kubetriage.analyzers.log_signatures import hosts_in, service_for_host
from kubetriage.analyzers.support import LogHit, item, log_source, pod_source
from kubetriage.evidence.host_peers import value_host
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.object_evidence import ServiceEvidence

# A line that speaks of setting a client up: connecting, a pool, a dial, an endpoint in use.
CLIENT_SETUP_LOG = re.compile(
    r"(?i)\b(?:connect(?:ed|ing)?\s+to|connection\s+(?:pool|established|opened)|pool\b"
    r"|dial(?:ing|ed)?\b|(?:using|configured)\s+(?:host|endpoint|server|broker|database)"
    r"|(?:endpoint|upstream|broker|database|server)\s+(?:is\s+)?(?:ready|set|configured))"
)

# Quoted set-up lines kept per Service.
_QUOTES = 2


def env_hosts(value: str) -> list[str]:
    """Hosts an env value names: URLs and host:port, or the whole value when it is a bare
    DNS name (``DB_HOST=orders-db.sales.svc``)."""
    found = hosts_in(value)
    if not found and (host := value_host(value)) is not None:
        found = [host]
    return found


def configured_callees(
    evidence: Evidence, candidates: Sequence[ServiceEvidence], hits: Sequence[LogHit]
) -> dict[str, list[EvidenceItem]]:
    """Service name -> the facts that configure the workload to call it: env values of its
    pods and template, else set-up lines of the containers that log ``hits``."""
    named: dict[str, list[EvidenceItem]] = defaultdict(list)
    for pod in evidence.pods:
        for container in pod.containers:
            for var, value in container.env.items():
                for host in env_hosts(value):
                    svc = service_for_host(host, candidates)
                    if svc is not None:
                        named[svc.name].append(
                            item(pod_source(pod), f"{container.name} env {var}={value}")
                        )
    if evidence.workload is not None:
        for container in evidence.workload.containers:
            for var, value in container.env.items():
                for host in env_hosts(value):
                    svc = service_for_host(host, candidates)
                    if svc is not None and not named[svc.name]:
                        named[svc.name].append(
                            item(evidence.workload.ref.display(), f"env {var}={value}")
                        )
    return named or logged_callees(evidence, candidates, hits)


def logged_callees(
    evidence: Evidence, candidates: Sequence[ServiceEvidence], hits: Sequence[LogHit]
) -> dict[str, list[EvidenceItem]]:
    """Service name -> set-up lines naming it, written by the containers that log ``hits``
    (the failing calls), the failing lines themselves excluded."""
    failing = {(h.log.namespace, h.log.pod, h.log.container, h.line) for h in hits}
    writers = {(ns, pod, container) for ns, pod, container, _ in failing}
    named: dict[str, list[EvidenceItem]] = defaultdict(list)
    for log in evidence.logs:
        key = (log.namespace, log.pod, log.container)
        if key not in writers:
            continue
        for line in log.lines:
            if (*key, line) in failing or not CLIENT_SETUP_LOG.search(line):
                continue
            for host in hosts_in(line):
                svc = service_for_host(host, candidates)
                if svc is not None and len(named[svc.name]) < _QUOTES:
                    named[svc.name].append(item(log_source(log), line))
    return dict(named)

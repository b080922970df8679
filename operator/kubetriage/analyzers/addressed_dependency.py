"""The addressed-dependency rule: the workload's failing calls quote only the address they
dialled (``Failed to connect to 10.30.8.4:5432``: database clients such as Npgsql log the
endpoint they resolved, not the name they were given), no log line names a host, and the
address is neither a pod's nor a Service's virtual address in the evidence, so it is outside
the cluster. An SRE reads the port and looks for the way the workload's namespace reaches
something outside on it: a Service with no pods of its own (an ExternalName, or a selector-less
Service whose Endpoints are written by hand) declaring that port. When exactly one does, it
is the failing dependency, handed to its owner; its name is what the workload's connection
string (usually in a Secret) points at.

Silent when a failing call names a host (the dependency-failure rule matches names), when the
address belongs to a pod or Service of the evidence, when the calls quote several ports,
or when no, or more than one, such Service declares the port.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import caller, dependency_hits, service_fact
from kubetriage.analyzers.log_signatures import addresses_in, hosts_in
from kubetriage.analyzers.support import item
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure an addressed-dependency finding is."""

    # Every failing call dials one outside address on one port, and one pod-less Service of
    # the namespace declares that port: above the unnamed hand-over (dependency-failure's
    # ``unnamed``, 0.5) it replaces, below a dependency the logs name by host (0.8).
    sole_port: float = 0.6


CONFIDENCE: Final = _Confidence()


def _known_addresses(evidence: Evidence) -> set[str]:
    """The pod IPs and Service virtual addresses of the evidence."""
    known = {ip for pod in evidence.pods for ip in pod.ips}
    return known | {s.cluster_ip for s in evidence.services if s.cluster_ip}


def _outside_services(evidence: Evidence, namespace: str, port: int) -> list[ServiceEvidence]:
    """The namespace's Services with no pods of their own that declare ``port``."""
    return [
        s
        for s in evidence.services
        if s.namespace == namespace
        and (s.type == "ExternalName" or not s.selector)
        and port in s.port_numbers
    ]


def check_addressed_dependency(evidence: Evidence) -> list[Finding]:
    hits = dependency_hits(evidence)
    if not hits or any(hosts_in(h.line) for h in hits):
        return []
    addressed = [(h, addresses_in(h.line)) for h in hits]
    if any(not pairs for _, pairs in addressed):
        return []
    pairs = {pair for _, found in addressed for pair in found}
    ports = {port for _, port in pairs}
    known = _known_addresses(evidence)
    if len(ports) != 1 or any(address in known for address, _ in pairs):
        return []
    port = next(iter(ports))
    namespace = hits[0].log.namespace
    services = _outside_services(evidence, namespace, port)
    if len(services) != 1:
        return []
    svc = services[0]
    ref = ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name)
    quoted = [item(h.source, h.line) for h, _ in addressed[:2]]
    declared = service_fact(svc)
    outside = f" ({svc.external_name})" if svc.external_name else ""
    text = prose.narrative(
        f"Calls from {caller(evidence, hits)} to {prose.obj(ref)}{outside} fail",
        "escalate to its owner",
        because=[
            prose.claim(
                f"{prose.count(len(hits), 'failing call')} in the logs dial an address outside "
                f"the cluster on port {port}",
                *quoted,
            ),
            prose.claim(
                f"{prose.obj(ref)} is the one Service of the namespace that reaches outside on "
                f"port {port}",
                declared,
            ),
        ],
    )
    return [
        make_finding(
            "addressed-dependency",
            Category.DEPENDENCY_FAILURE,
            CONFIDENCE.sole_port,
            text,
            [*quoted, declared],
            Action.ESCALATE,
            ref,
            {"service": svc.name},
        )
    ]


ADDRESSED_DEPENDENCY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("addressed-dependency", (Category.DEPENDENCY_FAILURE,), check_addressed_dependency),
)

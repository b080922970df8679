"""The mesh protocol rule: a Service port that declares an HTTP protocol (its name's prefix,
``http-mysql``, or its ``appProtocol``) in front of a server-first protocol (MySQL, MongoDB,
SMTP, NATS, SSH: the server speaks first, with a greeting). A service mesh's sidecar takes
the declaration at its word: it waits for an HTTP request the client never sends while the
client waits for the server's greeting, and every connection times out although both ends
are healthy (Istio's documentation, "Protocol Selection" and "Server First Protocols").

Only in a mesh: the workload's pods run an Istio sidecar, or its namespace is enrolled
(``istio-injection``, ``istio.io/rev``, ambient ``istio.io/dataplane-mode``). The Service
checked is the workload's own or a dependency it calls, and the fix is its port's name.

The same table's other trap: a port declared plain ``http`` is HTTP/1.1 at the sidecar, so
in front of a container port named for a protocol that only speaks HTTP/2 (``grpc``,
``http2``, ``h2c``) the sidecars turn the client's HTTP/2 into HTTP/1.1 requests the server
rejects (a gRPC server reads them as a bogus connection preface and closes), and every call
fails with both ends healthy: declare the port ``grpc`` (or ``http2``) again.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import caller, followed_services, service_fact
from kubetriage.analyzers.support import item, service_source
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding, Narrative
from kubetriage.models.object_evidence import PodPort, ServiceEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a mesh protocol finding is, by the evidence that earns it."""

    # A Service port declared HTTP (name prefix or appProtocol) lands on a port named for, or
    # numbered as, a server-first protocol, in a mesh: connections through it cannot work
    # whatever the pods do (above escalating to the healthy callee, 0.8).
    http_on_server_first: float = 0.86
    # A Service port declared plain HTTP (HTTP/1.1 at the sidecar) lands on a container port
    # named for an HTTP/2-only protocol, in a mesh: the same certainty, for the same reason.
    http1_on_http2_only: float = 0.86


CONFIDENCE: Final = _Confidence()

# Protocols a mesh proxies as HTTP requests (Istio's port-name prefixes and appProtocols).
HTTP_PROTOCOLS: Final = frozenset({"http", "http2", "grpc", "grpc-web", "h2c"})
# Server-first protocols by the names their ports are given and their well-known numbers.
SERVER_FIRST_NAMES: Final = frozenset(
    {
        "mysql",
        "mariadb",
        "mongo",
        "mongodb",
        "smtp",
        "submission",
        "nats",
        "ssh",
        "ftp",
        "pop3",
        "imap",
    }
)
SERVER_FIRST_PORTS: Final = frozenset({3306, 27017, 25, 587, 4222, 22, 21, 110, 143})
# Protocols that only speak HTTP/2 (gRPC, cleartext HTTP/2 with prior knowledge), by the
# names their container ports are given; grpc-web also works over HTTP/1.1.
HTTP2_ONLY_NAMES: Final = frozenset({"grpc", "http2", "h2c"})
# Namespace labels that enrol a namespace in an Istio mesh.
MESH_NAMESPACE_LABELS: Final = ("istio-injection", "istio.io/rev", "istio.io/dataplane-mode")


def _in_mesh(evidence: Evidence) -> bool:
    if any(c.name == "istio-proxy" for p in evidence.pods for c in p.containers):
        return True
    namespaces = {p.namespace for p in evidence.pods} | (
        {evidence.target.namespace} if evidence.target and evidence.target.namespace else set()
    )
    return any(
        evidence.namespace_labels.get(ns, {}).get(label) not in (None, "disabled")
        for ns in namespaces
        for label in MESH_NAMESPACE_LABELS
    )


def _protocol(declared: str) -> str:
    """The protocol a port's name or appProtocol declares: ``http-mysql`` -> ``http``."""
    lowered = declared.lower()
    return lowered if lowered in HTTP_PROTOCOLS else lowered.split("-", 1)[0]


def _server_first(port: PodPort) -> bool:
    name = _protocol(port.name or "")
    return name in SERVER_FIRST_NAMES or port.number in SERVER_FIRST_PORTS


def _mismatch(svc: ServiceEvidence) -> tuple[str, PodPort, bool] | None:
    """The first port declared HTTP in front of a server-first protocol's port, or declared
    HTTP/1.1 in front of an HTTP/2-only protocol's port (the flag: which of the two)."""
    for declared, port in zip(svc.declared_protocols, svc.pod_ports, strict=False):
        if _protocol(declared) in HTTP_PROTOCOLS and _server_first(port):
            return declared, port, False
        if _protocol(declared) == "http" and _protocol(port.name or "") in HTTP2_ONLY_NAMES:
            return declared, port, True
    return None


def _port_text(port: PodPort) -> str:
    return f"{port.name or 'port'} {port.number}" if port.number else port.name or "?"


def _narrative(
    evidence: Evidence, svc: ServiceEvidence, declared: str, port: PodPort, fact: EvidenceItem
) -> Narrative:
    target = _port_text(port)
    if _protocol(port.name or "") in HTTP2_ONLY_NAMES:
        return prose.narrative(
            f"{prose.obj(svc.ref())} declares HTTP/1.1 on an HTTP/2-only port",
            f"declare that port {_protocol(port.name or '')!r} so the mesh keeps HTTP/2",
            aside=f"calls from {caller(evidence)}",
            because=[
                prose.claim(
                    f"Its port declared {declared!r} (HTTP/1.1 at the sidecar) lands on "
                    f"{target}, a protocol that only speaks HTTP/2",
                    fact,
                ),
                prose.claim(
                    "In the mesh the sidecars forward the client's HTTP/2 calls as HTTP/1.1 "
                    "requests, which the server refuses, so every call fails although both "
                    "ends are healthy"
                ),
            ],
        )
    return prose.narrative(
        f"{prose.obj(svc.ref())} declares HTTP on a server-first protocol's port",
        "declare that port TCP so the mesh passes it through",
        aside=f"calls from {caller(evidence)}",
        because=[
            prose.claim(
                f"Its port declared {declared!r} lands on {target}, a protocol "
                "whose server speaks first",
                fact,
            ),
            prose.claim(
                "In the mesh the sidecar waits for an HTTP request while the client "
                "waits for the server's greeting, so every connection stalls and "
                "fails although both ends are healthy"
            ),
        ],
    )


def check_mesh_protocols(evidence: Evidence) -> list[Finding]:
    """Services of the workload or its dependencies whose HTTP-declared port fronts a
    server-first protocol, or whose HTTP/1.1-declared port fronts an HTTP/2-only one, in a
    mesh."""
    if not _in_mesh(evidence):
        return []
    findings: list[Finding] = []
    for svc in [*evidence.services, *followed_services(evidence)]:
        found = _mismatch(svc)
        if found is None:
            continue
        declared, port, http2 = found
        fact = item(
            service_source(svc),
            f"port declared {declared!r} in front of {_port_text(port)}; "
            f"ports {', '.join(svc.port_texts())}",
        )
        confidence = CONFIDENCE.http1_on_http2_only if http2 else CONFIDENCE.http_on_server_first
        findings.append(
            make_finding(
                "network",
                Category.NETWORK,
                confidence,
                _narrative(evidence, svc, declared, port, fact),
                [fact, service_fact(svc)],
                Action.FIX_NETWORK,
                svc.ref(),
                {"service": svc.name},
            )
        )
    return findings


MESH_PROTOCOL_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("mesh-protocol", (Category.NETWORK,), check_mesh_protocols),
)

"""A wrong port in configuration: a ConfigMap value names a Service of the cluster with a
port that Service does not expose (``DB_ADDR: mongodb:27777`` while Service ``mongodb``
serves 27017). Whoever is configured by it connects where nothing listens, so the fix is the
ConfigMap, not the Service or the workload that reports the failed calls.

Through a Service's name a client reaches its virtual IP, where only the Service's own ports
are forwarded (kube-proxy, any dataplane): a targetPort is reachable by name only behind a
headless Service, whose name resolves to the pods themselves. When the configured port is
the one the Service's pods listen on (its targetPort) and the ConfigMap did not change while
the Service exposes that targetPort under another port, the configuration and the backends
agree and the Service in between is the odd one out: its port was edited (AIOpsLab's
misconfigured-port faults), so the Service's ports are corrected (``network``,
``fix-network``), not the long-standing configuration of every client.

The ConfigMap's Service hosts with ports are ``Evidence.config_endpoints`` (the values
themselves are dropped by the collector); the Service's ports are ``ServiceEvidence.ports``
(rendered ``name:port->targetPort/TCP``), its numeric targetPorts ``ServiceEvidence.pod_ports``.
A mismatch with failing calls in the logs is the incident; without them it is only a likely
cause.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_signatures import (
    CRASH_LOG,
    DEPENDENCY_LOG,
)
from kubetriage.analyzers.support import (
    grep_logs,
    item,
    service_source,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import ConfigEndpoint, ServiceEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a wrong-port finding is, by the evidence that earns it."""

    failing_calls: float = 0.75  # the port matches none of the Service's; calls fail in logs
    unconfirmed: float = 0.45  # ... and nothing in the logs shows a call failing
    # The port is the Service's targetPort, exposed under another port, the ConfigMap
    # unchanged, calls failing in the logs: the Service's port is what was edited.
    service_remapped: float = 0.75


CONFIDENCE: Final = _Confidence()


def _namespace(evidence: Evidence) -> str | None:
    if evidence.workload is not None:
        return evidence.workload.ref.namespace
    if evidence.target is None:
        return None
    return (
        evidence.target.name if evidence.target.kind == "Namespace" else evidence.target.namespace
    )


def _services(evidence: Evidence) -> list[ServiceEvidence]:
    found = list(evidence.services)
    found += [
        d.service for d in evidence.dependencies if d.service is not None and d.service not in found
    ]
    return found


def _dialable(svc: ServiceEvidence) -> set[int]:
    """The ports a client reaches through the Service's name: its own ports on the virtual
    IP; behind a headless Service (the name resolves to the pods) the targetPorts too."""
    own = {p.port for p in svc.ports if p.port is not None}
    return set(svc.port_numbers) if svc.headless or not own else own


def _mismatch(
    endpoint: ConfigEndpoint, namespace: str | None, services: list[ServiceEvidence]
) -> ServiceEvidence | None:
    """The Service the endpoint names, when it exposes ports and none is the endpoint's."""
    where = endpoint.namespace or namespace
    for svc in services:
        if (svc.namespace, svc.name) != (where, endpoint.service):
            continue
        if svc.type == "ExternalName" or not svc.port_numbers:
            return None
        return None if endpoint.port in _dialable(svc) else svc
    return None


def _remapped(endpoint: ConfigEndpoint, svc: ServiceEvidence, evidence: Evidence) -> bool:
    """Whether the Service is the odd one out: the endpoint's port is where its pods listen
    (a targetPort) and the ConfigMap naming it did not change in the evidence's timeline."""
    if endpoint.port not in {p.number for p in svc.pod_ports if p.number is not None}:
        return False
    return not any(
        c.object.kind == "ConfigMap" and c.object.name == endpoint.config_map
        for c in evidence.changes
    )


def check_config_endpoints(evidence: Evidence) -> list[Finding]:
    """ConfigMaps that send clients to a port their Service does not expose: the ConfigMap
    is corrected, unless the Service is the one that remaps its pods' port (``_remapped``)."""
    namespace = _namespace(evidence)
    services = _services(evidence)
    failing = grep_logs(evidence.logs, DEPENDENCY_LOG, limit=2) or grep_logs(
        evidence.logs, CRASH_LOG, limit=2
    )
    findings: list[Finding] = []
    reported: set[str] = set()
    for endpoint in evidence.config_endpoints:
        svc = _mismatch(endpoint, namespace, services)
        if svc is None or endpoint.config_map in reported or namespace is None:
            continue
        reported.add(endpoint.config_map)
        ref = ObjectRef(kind="ConfigMap", namespace=namespace, name=endpoint.config_map)
        service = svc.ref()
        served = ", ".join(str(p) for p in sorted(_dialable(svc)))
        config = item(
            f"configmap/{namespace}/{endpoint.config_map}",
            f"key {endpoint.key} names {svc.name}:{endpoint.port}",
        )
        ports = item(service_source(svc), f"ports {', '.join(svc.port_texts())}")
        calls = [item(h.source, h.line) for h in failing]
        if calls and _remapped(endpoint, svc, evidence):
            findings.append(_service_remapped(endpoint, ref, service, config, ports, calls))
            continue
        because = [
            prose.claim(f"{prose.obj(ref)} sends clients to {svc.name}:{endpoint.port}", config),
            prose.claim(f"{prose.obj(service)} serves port {served} only", ports),
        ]
        if calls:
            because.append(prose.claim("Calls fail where nothing listens", *calls))
        findings.append(
            make_finding(
                "config-endpoint-port",
                Category.CONFIG_MISSING,
                CONFIDENCE.failing_calls if calls else CONFIDENCE.unconfirmed,
                prose.narrative(
                    f"{prose.obj(ref)} points {endpoint.key} at port {endpoint.port} of "
                    f"{prose.obj(service)}, which serves {served}",
                    "correct the port",
                    because=because,
                ),
                [config, ports, *calls],
                Action.FIX_CONFIG,
                ref,
                {"configMap": endpoint.config_map, "key": endpoint.key},
            )
        )
    return findings


def _service_remapped(
    endpoint: ConfigEndpoint,
    config_map: ObjectRef,
    service: ObjectRef,
    config: EvidenceItem,
    ports: EvidenceItem,
    calls: list[EvidenceItem],
) -> Finding:
    """The Service exposes its pods' port under another port the clients do not dial."""
    return make_finding(
        "service-port-remapped",
        Category.NETWORK,
        CONFIDENCE.service_remapped,
        prose.narrative(
            f"{prose.obj(service)} no longer serves port {endpoint.port}, the one its pods "
            "and clients use",
            "restore its port",
            because=[
                prose.claim(
                    f"{prose.obj(config_map)} sends clients to {service.name}:{endpoint.port} "
                    "and did not change",
                    config,
                ),
                prose.claim(
                    f"{prose.obj(service)} maps another port to its pods' {endpoint.port}", ports
                ),
                prose.claim("Calls to it fail", *calls),
            ],
        ),
        [config, ports, *calls],
        Action.FIX_NETWORK,
        service,
        {"service": service.name, "port": str(endpoint.port)},
    )


CONFIG_ENDPOINT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        "config-endpoint-port", (Category.CONFIG_MISSING, Category.NETWORK), check_config_endpoints
    ),
)

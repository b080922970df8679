"""A wrong port in configuration: a ConfigMap value names a Service of the cluster with a
port that Service does not expose (``DB_ADDR: mongodb:27777`` while Service ``mongodb``
serves 27017). Whoever is configured by it connects where nothing listens, so the fix is the
ConfigMap, not the Service or the workload that reports the failed calls.

The ConfigMap's Service hosts with ports are ``Evidence.config_endpoints`` (the values
themselves are dropped by the collector); the Service's ports and numeric targetPorts are
``ServiceEvidence.port_numbers``. A mismatch with failing calls in the logs is the incident;
without them it is only a likely cause.

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
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ConfigEndpoint, ServiceEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a wrong-port finding is, by the evidence that earns it."""

    failing_calls: float = 0.75  # the port matches none of the Service's; calls fail in logs
    unconfirmed: float = 0.45  # ... and nothing in the logs shows a call failing


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
        return None if endpoint.port in svc.port_numbers else svc
    return None


def check_config_endpoints(evidence: Evidence) -> list[Finding]:
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
        service = ObjectRef(kind="Service", namespace=svc.namespace, name=svc.name)
        served = ", ".join(str(p) for p in svc.port_numbers)
        config = item(
            f"configmap/{namespace}/{endpoint.config_map}",
            f"key {endpoint.key} names {svc.name}:{endpoint.port}",
        )
        ports = item(service_source(svc), f"ports {', '.join(svc.ports)}")
        calls = [item(h.source, h.line) for h in failing]
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


CONFIG_ENDPOINT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("config-endpoint-port", (Category.CONFIG_MISSING,), check_config_endpoints),
)

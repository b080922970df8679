"""NetworkPolicy flow analysis for event-driven autoscalers: a scaler that cannot read its
source (its ScaledObject not Ready) while the policies isolating the source's pods admit no
flow from the pods that run the scaler (``kubetriage.analyzers.policies`` evaluates the flows
a workload's own calls and lookups need).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import replace

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer
from kubetriage.analyzers.log_signatures import service_for_host
from kubetriage.analyzers.policies import CONFIDENCE
from kubetriage.analyzers.policy_verdicts import blocked, blocked_to_service, policy_finding
from kubetriage.analyzers.support import event_fact, item, object_source
from kubetriage.models.controllers import ScalerEvidence
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.vocabulary import Category
from kubetriage.networkpolicy import Endpoint, Flow, Verdict


def _pod_port(service: ServiceEvidence, port: int) -> tuple[int | None, str | None] | None:
    """The pod port (number, name) behind ``service``'s ``port``; None when it has none."""
    for listed in service.ports:
        if listed.port != port or listed.target is None:
            continue
        target = listed.target
        if target.isdigit():
            number = int(target)
            named = next((p.name for p in service.pod_ports if p.number == number), None)
            return number, named
        return next(((p.number, p.name) for p in service.pod_ports if p.name == target), None)
    return None


def _scaler_flow(
    evidence: Evidence, scaler: ScalerEvidence, host: str
) -> tuple[Verdict, ServiceEvidence, int | None] | None:
    """The denial of the flow from the pods running ``scaler`` to the Service ``host``
    names, on the pod port behind the port it names (any port the Service lands on when it
    names none); None when the Service is not in evidence or the flow is allowed."""
    name, _, port_text = host.partition(":")
    services = [d.service for d in evidence.dependencies if d.service is not None]
    service = service_for_host(name, [*services, *evidence.services])
    if service is None or not service.selector or scaler.reader_namespace is None:
        return None
    source = Endpoint(
        namespace=scaler.reader_namespace,
        labels=scaler.reader_labels or None,
        namespace_labels=evidence.namespace_labels.get(scaler.reader_namespace, {}),
    )
    pods_read = scaler.source is not None and scaler.source.name == service.name
    destination = Endpoint(
        namespace=service.namespace,
        labels=scaler.source_labels if pods_read else service.selector,
        namespace_labels=evidence.namespace_labels.get(service.namespace, {}),
    )
    flow = Flow(source=source, destination=destination)
    port = int(port_text) if port_text.isdigit() else None
    target = _pod_port(service, port) if port is not None else None
    if target is None:
        verdict = blocked_to_service(evidence, flow, service)
    else:
        verdict = blocked(evidence, replace(flow, port=target[0], port_name=target[1]))
    return (verdict, service, port) if verdict is not None else None


def check_scaler_flows(evidence: Evidence) -> list[Finding]:
    """An event-driven autoscaler's scaler that cannot read its source (its ScaledObject
    not Ready) while no rule of the policies isolating the source's pods admits the flow
    from the pods that run the scaler (the KEDA operator's, in their own namespace): the
    workload stays at the count it had, whatever its backlog, and the policy is the fix."""
    for scaler in evidence.scalers:
        if scaler.ready is not False:
            continue
        reports = [
            e
            for e in evidence.events
            if e.involved.kind == scaler.ref.kind and e.involved.name == scaler.ref.name
        ]
        for host in scaler.hosts:
            found = _scaler_flow(evidence, scaler, host)
            if found is None:
                continue
            verdict, service, port = found
            what = f"the {scaler.trigger} scaler of {prose.obj(scaler.ref)}"
            target = f"{service.namespace}/{service.name}" + (f":{port}" if port else "")
            facts = [item("events", event_fact(e)) for e in reports[:1]]
            facts.append(
                item(
                    object_source(scaler.ref),
                    f"not Ready; its trigger reads {target}, from pods in namespace "
                    f"{scaler.reader_namespace}",
                )
            )
            return [
                policy_finding(
                    evidence,
                    verdict,
                    what,
                    facts,
                    CONFIDENCE.scaler_blocked,
                    "The scaler cannot read its metric, so the autoscaler keeps its replicas",
                )
            ]
    return []


SCALER_POLICY_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("scaler-network-policy", (Category.NETWORK,), check_scaler_flows),
)

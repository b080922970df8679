"""The routing rule: traffic the cluster's routing layer cannot deliver although the pods
behind it are fine. The ingress controller behind an Ingress that the backend pods'
NetworkPolicies do not admit (``kubetriage.analyzers.ingress_admission``); an
Ingress naming a port its backend Service does not have; an ExternalName Service whose
external host does not resolve; a node whose service routing (kube-proxy, CNI) drops the
calls of the workload's pods on it while its replicas elsewhere get through; a load
balancer Service whose health-check port annotation names a port nothing behind it serves;
a Service an Ingress routes to that publishes not-ready addresses while some of its pods fail
readiness (they still get requests).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.calls import caller, service_fact
from kubetriage.analyzers.ingress_admission import ingress_controller_blocked
from kubetriage.analyzers.log_signatures import (
    CONNECT_TIMEOUT_LOG,
    hosts_in,
    service_for_host,
)
from kubetriage.analyzers.support import (
    grep_logs,
    item,
    pod_source,
    service_source,
)
from kubetriage.dns_errors import DNS_LOG, DNS_RESOLVER_FAILURE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import PodEvidence, ServiceEvidence
from kubetriage.models.objects import service_selects as _selects
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a routing finding is, by the evidence that earns it."""

    # The workload's lookups of an ExternalName Service end in "no such name" (the resolver
    # answered): the external host it points to does not exist (any more), so the alias is
    # what must change; above the generic reading of name-resolution errors as a failing
    # dependency (0.78-0.83), which holds when the host exists but does not answer.
    external_name_unresolved: float = 0.86
    # An Ingress routes to a port (name or number) its backend Service does not have: the
    # controller cannot build the route whatever the pods do, and rolling the pods back does
    # not give the Service its port back (so above change correlation's 0.88).
    ingress_port_missing: float = 0.9
    # Calls to a Service with ready endpoints time out only from the workload's pods on one
    # (Ready) node, while its replicas on other nodes are ready: same template, same callee,
    # so that node's service routing (kube-proxy, CNI) is the difference, not the callee
    # (above escalating to the callee, 0.8).
    one_node_cannot_reach: float = 0.82
    # A load balancer Service's health-check port annotation names a port that neither its
    # pods nor the Service itself expose: every target fails the check, the LB sends nothing
    unserved_health_check: float = 0.75
    # A Service an Ingress routes to publishes not-ready addresses while some of its pods
    # fail readiness and others are ready: the failing pods still get their share of the
    # requests, which readiness exists to prevent (above a node or probe reading of the
    # unready pod, 0.82 and below: the pod is not ready by design, the routing ignores it).
    not_ready_published: float = 0.86


CONFIDENCE: Final = _Confidence()


def _external_name_unresolved(evidence: Evidence) -> list[Finding]:
    """An ExternalName Service is a DNS alias (CNAME) of another host: when the workload's
    lookups of it are answered "no such name" (not timed out), that host does not resolve and
    the Service points at nothing."""
    externals = [s for s in evidence.services if s.type == "ExternalName" and s.external_name]
    if not externals:
        return []
    for hit in grep_logs(evidence.logs, DNS_LOG, limit=20):
        if DNS_RESOLVER_FAILURE.search(hit.line):
            continue  # the resolver failed to answer: cluster DNS, not the alias
        for svc in [service_for_host(h, externals) for h in hosts_in(hit.line)] + [
            s for s in externals if _names_service(hit.line, s)
        ]:
            if svc is None:
                continue
            ref = svc.ref()
            lookup = item(hit.source, hit.line)
            alias = item(
                service_source(svc),
                f"type ExternalName: an alias of {svc.external_name}",
            )
            return [
                make_finding(
                    "network",
                    Category.NETWORK,
                    CONFIDENCE.external_name_unresolved,
                    prose.narrative(
                        f"{prose.obj(ref)} points at {svc.external_name}, which does not resolve",
                        "point it at a host that exists",
                        because=[
                            prose.claim(
                                f"{prose.obj(ref)} is an alias of {svc.external_name}", alias
                            ),
                            prose.claim(
                                f"Lookups of it from {caller(evidence)} are answered with no "
                                "such name, so every call fails before it is sent",
                                lookup,
                            ),
                        ],
                    ),
                    [lookup, alias],
                    Action.FIX_NETWORK,
                    ref,
                    {"service": svc.name},
                )
            ]
    return []


def _ingress_ports_missing(evidence: Evidence) -> list[Finding]:
    """An Ingress naming a port its backend Service does not have (renamed or removed by a
    chart upgrade, say): the Service no longer offers what the route needs."""
    findings: list[Finding] = []
    for controller in evidence.ingress_controllers:
        for name, port in controller.unknown_ports.items():
            svc = next((s for s in evidence.services if s.name == name), None)
            if svc is None:
                continue
            ref = svc.ref()
            ingress = ObjectRef(kind="Ingress", namespace=svc.namespace, name=controller.ingress)
            route = item(
                f"ingress/{svc.namespace}/{controller.ingress}",
                f"routes to Service {svc.name} port {port}",
            )
            ports = item(service_source(svc), f"ports {', '.join(svc.port_texts())}")
            findings.append(
                make_finding(
                    "network",
                    Category.NETWORK,
                    CONFIDENCE.ingress_port_missing,
                    prose.narrative(
                        f"{prose.obj(ingress)} routes to port {port} of {prose.obj(ref)}, "
                        "which has no such port",
                        f"restore port {port} on {svc.name}",
                        because=[
                            prose.claim(f"{prose.obj(ingress)} names port {port}", route),
                            prose.claim(
                                f"{prose.obj(ref)} has no port {port}, so the ingress "
                                "controller cannot route to its pods",
                                ports,
                            ),
                        ],
                    ),
                    [route, ports],
                    Action.FIX_NETWORK,
                    ref,
                    {"service": svc.name},
                )
            )
    return findings


def _pod_ready(pod: PodEvidence) -> bool:
    return pod.phase == "Running" and all(c.ready for c in pod.containers if not c.init)


def _one_node_cannot_reach(evidence: Evidence) -> list[Finding]:
    """The workload's pods on one node time out calling a Service that has ready endpoints,
    while its pods on the other nodes are ready: the node's data plane drops the traffic."""
    services = [*evidence.services, *(d.service for d in evidence.dependencies if d.service)]
    failing: dict[str, tuple[PodEvidence, str, str]] = {}
    for pod in evidence.pods:
        if pod.node is None or _pod_ready(pod):
            continue
        logs = [log for log in evidence.logs if log.pod == pod.name]
        for hit in grep_logs(logs, CONNECT_TIMEOUT_LOG, limit=10):
            for host in hosts_in(hit.line):
                svc = service_for_host(host, services)
                if svc is not None and (svc.ready_endpoints or 0) > 0:
                    failing.setdefault(pod.name, (pod, hit.line, svc.name))
    failing_nodes = {pod.node for pod, _, _ in failing.values() if pod.node}
    healthy = [p for p in evidence.pods if _pod_ready(p) and p.node not in failing_nodes]
    unexplained = [p for p in evidence.pods if not _pod_ready(p) and p.name not in failing]
    if len(failing_nodes) != 1 or not healthy or unexplained:
        return []
    node_name = next(iter(failing_nodes))
    node = next((n for n in evidence.nodes if n.name == node_name), None)
    if node is None or node.ready != "True":
        return []  # a node that reports trouble is the node rules' to judge
    pod, line, callee = next(iter(failing.values()))
    ref = ObjectRef(kind="Node", name=node_name)
    timeout = item(f"logs/{pod.name}", line)
    others = item(
        pod_source(healthy[0]),
        f"ready on node {healthy[0].node}",
    )
    return [
        make_finding(
            "network",
            Category.NETWORK,
            CONFIDENCE.one_node_cannot_reach,
            prose.narrative(
                f"Pods on {prose.obj(ref)} cannot reach {callee}",
                "drain the node and repair its service routing",
                because=[
                    prose.claim(
                        f"Calls to {callee}, which has ready endpoints, time out from the pods "
                        f"on node {node_name}",
                        timeout,
                    ),
                    prose.claim(
                        "The same workload's pods on other nodes are ready, so the callee "
                        "and the workload are fine and the node's kube-proxy or CNI drops the "
                        "traffic",
                        others,
                    ),
                ],
            ),
            [timeout, others],
            Action.DRAIN_NODE,
            ref,
            {"node": node_name},
        )
    ]


def _names_service(line: str, svc: ServiceEvidence) -> bool:
    """Whether ``line`` names the Service as a host: ``name``, ``name.ns``, ``name.ns.svc...``."""
    name, namespace = re.escape(svc.name), re.escape(svc.namespace)
    return re.search(rf"(?<![\w.-]){name}(\.{namespace}(\.svc[\w.]*)?)?(?![\w-])", line) is not None


# Cloud load balancer annotations that move the health check off the traffic port (AWS Load
# Balancer Controller and in-tree AWS, Azure per-port probes, Alibaba, DigitalOcean):
# the key's last segment names the health-check port.
_HEALTH_CHECK_PORT_KEY = re.compile(
    r"(health-?check|health-probe)[_-](connect-)?port$", re.IGNORECASE
)


def _unserved_health_check(
    svc: ServiceEvidence, selected: list[PodEvidence]
) -> tuple[str, int] | None:
    """The health-check port annotation of a load balancer Service that names a port no
    selected pod declares (nor probes) and the Service does not expose."""
    if svc.type not in ("LoadBalancer", "NodePort") or not selected:
        return None
    served = {n for p in svc.ports for n in p.numbers} | set(svc.port_numbers)
    for pod in selected:
        for c in pod.containers:
            served |= {p.number for p in c.ports if p.number is not None}
            served |= {int(p.port) for p in c.probes if p.port is not None and p.port.isdigit()}
    for key, value in svc.annotations.items():
        if not _HEALTH_CHECK_PORT_KEY.search(key) or not value.strip().isdigit():
            continue
        if int(value) not in served:
            return key, int(value)
    return None


def _health_check_unserved(evidence: Evidence) -> list[Finding]:
    """Load balancer Services whose health check goes to a port nothing behind them serves."""
    findings: list[Finding] = []
    for svc in evidence.services:
        selected = [
            p
            for p in evidence.pods
            if p.namespace == svc.namespace and svc.selector and _selects(svc.selector, p.labels)
        ]
        if not selected or not all(_pod_ready(p) for p in selected):
            continue
        unserved = _unserved_health_check(svc, selected)
        if unserved is not None:
            declared = " ".join(
                dict.fromkeys(port.text for p in selected for c in p.containers for port in c.ports)
            )
            ref = svc.ref()
            findings.append(_health_check_finding(svc, ref, unserved, declared))
    return findings


def _health_check_finding(
    svc: ServiceEvidence, ref: ObjectRef, unserved: tuple[str, int], declared: str
) -> Finding:
    key, port = unserved
    annotation = item(service_source(svc), f"annotation {key}: {port}")
    ports = item(service_source(svc), f"ports {', '.join(svc.port_texts())}")
    return make_finding(
        "network",
        Category.NETWORK,
        CONFIDENCE.unserved_health_check,
        prose.narrative(
            f"The load balancer of {prose.obj(ref)} health-checks port {port}, which its pods "
            "do not serve",
            "point the health check at the traffic port",
            because=[
                prose.claim(
                    f"Its annotation {key} sets the health check to port {port}", annotation
                ),
                prose.claim(
                    f"Its pods declare {declared or 'no ports'} and it exposes "
                    f"{', '.join(svc.port_texts())}",
                    ports,
                ),
                prose.claim(
                    "Every target fails a check on a port nothing listens on, so the load "
                    "balancer sends no traffic although the pods are ready"
                ),
            ],
        ),
        [annotation, ports, service_fact(svc)],
        Action.FIX_NETWORK,
        ref,
        {"service": svc.name},
    )


def _not_ready_published(evidence: Evidence) -> list[Finding]:
    """A Service behind an Ingress that publishes not-ready addresses: its pods that fail
    readiness (while running) are still routed to, next to its ready ones."""
    routed = {b for c in evidence.ingress_controllers for b in c.backends}
    findings: list[Finding] = []
    for svc in evidence.services:
        if not svc.publish_not_ready or svc.name not in routed or not svc.selector:
            continue
        selected = [
            p
            for p in evidence.pods
            if p.namespace == svc.namespace and _selects(svc.selector, p.labels)
        ]
        unready = [p for p in selected if p.phase == "Running" and not _pod_ready(p)]
        if not unready or len(unready) == len(selected):
            continue
        ref = svc.ref()
        flag = item(
            service_source(svc),
            f"publishNotReadyAddresses: true; {prose.ready_endpoints(svc.ready_endpoints)}",
        )
        pod = item(pod_source(unready[0]), "Running, not ready")
        findings.append(
            make_finding(
                "network",
                Category.NETWORK,
                CONFIDENCE.not_ready_published,
                prose.narrative(
                    f"{prose.obj(ref)} sends traffic to pods that are not ready",
                    "stop publishing not-ready addresses on the Service the Ingress uses",
                    because=[
                        prose.claim(
                            f"{prose.obj(ref)} publishes the addresses of pods that fail "
                            "readiness, and an Ingress routes to it",
                            flag,
                        ),
                        prose.claim(
                            f"{len(unready)} of the {prose.count(len(selected), 'pod')} behind "
                            "it fail readiness, yet still get their share of the requests",
                            pod,
                        ),
                    ],
                ),
                [flag, pod],
                Action.FIX_NETWORK,
                ref,
                {"service": svc.name},
            )
        )
    return findings


def check_routing(evidence: Evidence) -> list[Finding]:
    return [
        *ingress_controller_blocked(evidence),
        *_external_name_unresolved(evidence),
        *_ingress_ports_missing(evidence),
        *_one_node_cannot_reach(evidence),
        *_health_check_unserved(evidence),
        *_not_ready_published(evidence),
    ]


ROUTING_ANALYZERS: tuple[Analyzer, ...] = (Analyzer("routing", (Category.NETWORK,), check_routing),)

"""Services with their endpoints and matching pods, and NetworkPolicies (their rules as
text for a reader and as models for ``kubetriage.networkpolicy``). Pure."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import (
    as_dict,
    as_int,
    as_list,
    as_str,
    as_time,
    clip_text,
    dicts,
    str_map,
)
from kubetriage.evidence.summaries.workloads import NOISY_ANNOTATIONS
from kubetriage.models.base import ObjectRef
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import PodPort, ServiceEvidence, ServicePort
from kubetriage.models.objects import JsonDict, selector_matches, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import meta as _meta
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.networkpolicy import rules_of, selector_of


def _render_selector(selector: Mapping[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in sorted(as_dict(selector.get("matchLabels")).items())]
    for expression in dicts(selector.get("matchExpressions")):
        values = ",".join(v for v in as_list(expression.get("values")) if isinstance(v, str))
        parts.append(f"{expression.get('key')} {expression.get('operator')} ({values})")
    return ",".join(parts) if parts else "*"


def _endpoint_counts(index: ObjectIndex, service: JsonDict) -> tuple[int | None, int]:
    endpoints = index.get("Endpoints", _ns(service), _name(service))
    if endpoints is not None:
        subsets = dicts(endpoints.get("subsets"))
        ready = sum(len(as_list(s.get("addresses"))) for s in subsets)
        not_ready = sum(len(as_list(s.get("notReadyAddresses"))) for s in subsets)
        return ready, not_ready
    slices = [
        s
        for s in index.in_namespace("EndpointSlice", _ns(service))
        if _labels(s).get("kubernetes.io/service-name") == _name(service)
    ]
    if not slices:
        return None, 0
    ready = not_ready = 0
    for endpoint_slice in slices:
        for endpoint in dicts(endpoint_slice.get("endpoints")):
            # A missing "ready" condition means ready, per the EndpointSlice API.
            if as_dict(endpoint.get("conditions")).get("ready") is False:
                not_ready += 1
            else:
                ready += 1
    return ready, not_ready


def _target_numbers(target: Any, pods: list[JsonDict]) -> list[Any]:
    """A targetPort as numbers: itself, or the containerPort that a named one resolves to
    in the selected pods."""
    if not isinstance(target, str):
        return [target]
    return [
        port.get("containerPort")
        for pod in pods
        for container in dicts(as_dict(pod.get("spec")).get("containers"))
        for port in dicts(container.get("ports"))
        if port.get("name") == target
    ]


def _pod_port(port: JsonDict, pods: list[JsonDict]) -> PodPort:
    """Where a Service port lands on the selected pods: its targetPort (the port itself when
    absent), with the number a named one resolves to and the name a numbered one has."""
    target = port.get("targetPort", port.get("port"))
    declared = [
        p
        for pod in pods
        for container in dicts(as_dict(pod.get("spec")).get("containers"))
        for p in dicts(container.get("ports"))
    ]
    if isinstance(target, str) and not target.isdigit():
        number = next((p.get("containerPort") for p in declared if p.get("name") == target), None)
        return PodPort(number=number if isinstance(number, int) else None, name=target)
    value = int(target) if isinstance(target, (int, str)) and str(target).isdigit() else None
    name = next((p.get("name") for p in declared if p.get("containerPort") == value), None)
    return PodPort(number=value, name=name if isinstance(name, str) else None)


def service_summary(
    index: ObjectIndex, service: JsonDict, unavailable: Collection[str], limits: EvidenceLimits
) -> ServiceEvidence:
    spec = as_dict(service.get("spec"))
    selector = str_map(spec.get("selector"), limits)
    ports = []
    selected = (
        [
            p
            for p in index.in_namespace("Pod", _ns(service))
            if service_selects(selector, _labels(p))
        ]
        if selector
        else []
    )
    numbers: list[int] = []
    pod_ports: list[PodPort] = []
    declared: list[str] = []
    for port in dicts(spec.get("ports")):
        pod_ports.append(_pod_port(port, selected))
        declared.append(as_str(port.get("appProtocol")) or as_str(port.get("name")) or "")
        for number in (port.get("port"), *_target_numbers(port.get("targetPort"), selected)):
            if isinstance(number, int) and not isinstance(number, bool) and number not in numbers:
                numbers.append(number)
        ports.append(
            ServicePort(
                port=as_int(port.get("port")),
                target=as_str(port.get("targetPort")),
                protocol=as_str(port.get("protocol")) or "TCP",
                name=as_str(port.get("name")),
                node_port=as_int(port.get("nodePort")),
            )
        )
    ready, not_ready = _endpoint_counts(index, service)
    matching: int | None = None
    if selector and "Pod" not in unavailable:
        matching = len(selected)
    idle = _scaled_to_zero(index, _ns(service), selector) if selector and not selected else None
    return ServiceEvidence(
        name=_name(service),
        namespace=_ns(service),
        type=as_str(spec.get("type")) or "ClusterIP",
        selector=selector,
        ports=ports,
        port_numbers=numbers[: limits.max_list_items],
        pod_ports=pod_ports[: limits.max_list_items],
        declared_protocols=declared[: limits.max_list_items],
        external_name=as_str(spec.get("externalName")),
        ready_endpoints=ready,
        not_ready_endpoints=not_ready,
        matching_pods=matching,
        annotations=str_map(_meta(service).get("annotations"), limits, drop=NOISY_ANNOTATIONS),
        scaled_to_zero=idle,
        publish_not_ready=spec.get("publishNotReadyAddresses") is True,
        headless=spec.get("clusterIP") == "None",
        local_traffic_nodes=_local_nodes(spec, selected, limits),
        cluster_ip=_cluster_ip(spec),
        **_affinity(service),
    )


def _cluster_ip(spec: JsonDict) -> str | None:
    address = as_str(spec.get("clusterIP"))
    return address if address and address != "None" else None


def _local_nodes(
    spec: JsonDict, selected: list[JsonDict], limits: EvidenceLimits
) -> list[str] | None:
    """With ``internalTrafficPolicy: Local``, the nodes the selected pods run on; None
    otherwise."""
    if spec.get("internalTrafficPolicy") != "Local":
        return None
    nodes = {n for p in selected if isinstance(n := as_dict(p.get("spec")).get("nodeName"), str)}
    return sorted(nodes)[: limits.max_list_items]


def _affinity(service: JsonDict) -> dict[str, Any]:
    """The Service's session affinity (absent for "None"), its timeout, and the time of the
    last managedFields write touching ``spec.sessionAffinity``."""
    spec = as_dict(service.get("spec"))
    affinity = as_str(spec.get("sessionAffinity"))
    if not affinity or affinity == "None":
        return {}
    config = as_dict(as_dict(spec.get("sessionAffinityConfig")).get("clientIP"))
    written: list[datetime] = []
    for entry in dicts(_meta(service).get("managedFields")):
        fields = as_dict(as_dict(entry.get("fieldsV1")).get("f:spec"))
        at = as_time(entry.get("time"))
        if "f:sessionAffinity" in fields and at is not None:
            written.append(at)
    return {
        "session_affinity": affinity,
        "affinity_timeout_seconds": as_int(config.get("timeoutSeconds")),
        "affinity_written_at": max(written) if written else None,
    }


def _scaled_to_zero(
    index: ObjectIndex, namespace: str, selector: dict[str, str]
) -> ObjectRef | None:
    """The Deployment or StatefulSet of ``namespace`` whose pod template ``selector`` matches
    while its spec asks for 0 replicas (a workload scaled to zero behind the Service)."""
    for kind in ("Deployment", "StatefulSet"):
        for workload in index.in_namespace(kind, namespace):
            spec = as_dict(workload.get("spec"))
            template = _labels(as_dict(spec.get("template")))
            if spec.get("replicas") == 0 and service_selects(selector, template):
                return ObjectRef(
                    kind=kind, namespace=namespace, name=_name(workload), api_version="apps/v1"
                )
    return None


def _peer(peer: JsonDict) -> str:
    parts = []
    if isinstance(peer.get("namespaceSelector"), dict):
        parts.append(f"ns({_render_selector(peer['namespaceSelector'])})")
    if isinstance(peer.get("podSelector"), dict):
        parts.append(f"pods({_render_selector(peer['podSelector'])})")
    if isinstance(peer.get("ipBlock"), dict):
        block = peer["ipBlock"]
        excepted = [e for e in as_list(block.get("except")) if isinstance(e, str)]
        parts.append(f"{block.get('cidr')}" + (f" except {','.join(excepted)}" if excepted else ""))
    return " ".join(parts) or "?"


def _policy_rules(policy: JsonDict, types: list[str], limits: EvidenceLimits) -> list[str]:
    spec = as_dict(policy.get("spec"))
    rules: list[str] = []
    for direction, key, preposition, peer_key in (
        ("Ingress", "ingress", "from", "from"),
        ("Egress", "egress", "to", "to"),
    ):
        if direction not in types:
            continue
        entries = dicts(spec.get(key))
        if not entries:
            rules.append(f"{key}: deny all")
        for rule in entries:
            peers = dicts(rule.get(peer_key))
            peer_text = ", ".join(_peer(p) for p in peers) if peers else "any"
            ports = [
                f":{as_str(p.get('port')) or '*'}/{as_str(p.get('protocol')) or 'TCP'}"
                for p in dicts(rule.get("ports"))
            ]
            rules.append(f"{key} {preposition} {peer_text} {' '.join(ports) or 'all ports'}")
    return [
        clip_text(r, limits.max_string_length) or ""
        for r in rules[: limits.max_network_policy_rules]
    ]


# The label a namespace-tree propagator (HNC, GKE Hierarchy Controller) puts on each copy of
# an object it propagates from an ancestor namespace, naming that namespace.
PROPAGATED_FROM = "hnc.x-k8s.io/inherited-from"


def network_policy_summary(
    policy: JsonDict, pod_labels: list[dict[str, str]], limits: EvidenceLimits
) -> NetworkPolicyEvidence:
    spec = as_dict(policy.get("spec"))
    selector = as_dict(spec.get("podSelector"))
    types = [t for t in as_list(spec.get("policyTypes")) if isinstance(t, str)]
    if not types:
        # The API defaults policyTypes: Ingress always, Egress when egress rules exist.
        types = ["Ingress"] + (["Egress"] if as_list(spec.get("egress")) else [])
    return NetworkPolicyEvidence(
        name=_name(policy),
        namespace=_ns(policy),
        pod_selector=str_map(selector.get("matchLabels"), limits),
        policy_types=types,
        ingress_rules=len(as_list(spec.get("ingress"))),
        egress_rules=len(as_list(spec.get("egress"))),
        selects_target=any(selector_matches(selector, labels) for labels in pod_labels),
        rules=_policy_rules(policy, types, limits),
        selector=selector_of(selector),
        ingress=rules_of(spec, "ingress")[: limits.max_network_policy_rules],
        egress=rules_of(spec, "egress")[: limits.max_network_policy_rules],
        copy_of=_labels(policy).get(PROPAGATED_FROM) or None,
    )

"""The LoadBalancer Services in front of the incident's Ingresses. Pure.

An ingress controller publishes on its Ingresses the external address of its own Service
of type LoadBalancer (ingress-nginx's ``--publish-service``, Traefik's and others' alike):
``kubectl get ingress`` shows that address, and the load balancer behind it (a cloud's,
MetalLB's) is the first hop of every request, before the controller's pods. An SRE whose
probe of the site times out while the controller's pods are Ready reads that Service: its
``externalTrafficPolicy`` (with ``Local`` a node forwards only to pods on itself, and the load
balancer must send only to nodes that have one: MetalLB's speakers announce the address only
from such nodes, a cloud's probe of ``healthCheckNodePort`` fails elsewhere), its ports'
``appProtocol`` and its health-probe annotations (a cloud load balancer probes an
``http``/``https`` port with an HTTP request, on ``/`` unless told otherwise), and when a
client last wrote its spec (managedFields).

Shared by the collector (``kubetriage.evidence.ingress_walk.follow_front_balancers``) and the
builder (``front_balancers``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final

from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import as_dict, as_int, as_str, as_time, ref_of
from kubetriage.evidence.summaries.ingress import served_ingresses
from kubetriage.models.base import ObjectRef
from kubetriage.models.gateway_proxies import FrontBalancerEvidence
from kubetriage.models.objects import JsonDict, annotations_of, dicts, pod_ready, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import meta as _meta
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

LOAD_BALANCER: Final = "LoadBalancer"
# LoadBalancer Services followed per incident, at most.
MAX_BALANCERS: Final = 2
# The labels of MetalLB's speaker pods: its Helm chart's, and its plain manifests'.
SPEAKER_LABELS: Final[tuple[dict[str, str], ...]] = (
    {"app.kubernetes.io/name": "metallb", "app.kubernetes.io/component": "speaker"},
    {"app": "metallb", "component": "speaker"},
)
# Annotation key parts that set a load balancer's health probe (Azure's
# ``service.beta.kubernetes.io/port_<n>_health-probe_*`` and ``azure-load-balancer-health-
# probe-*``, AWS's ``aws-load-balancer-healthcheck-*``, others' ``health-check``).
_PROBE_KEYS: Final = ("health-probe", "healthcheck", "health-check")
# Managers that record what they did to a Service rather than change what it asks for.
CONTROLLER_WRITERS: Final = frozenset(
    {"cloud-controller-manager", "kube-controller-manager", "service-controller", "metallb"}
)


def published_addresses(obj: Mapping[str, object]) -> set[str]:
    """The IPs and hostnames in an Ingress's or Service's ``status.loadBalancer.ingress``."""
    entries = dicts(as_dict(as_dict(obj.get("status")).get("loadBalancer")).get("ingress"))
    return {a for e in entries for key in ("ip", "hostname") if (a := as_str(e.get(key)))}


def front_ingresses(
    ingresses: Iterable[JsonDict],
    services: Iterable[JsonDict],
    pods: Iterable[JsonDict],
    target: ObjectRef | None,
) -> list[JsonDict]:
    """The Ingresses that serve ``pods`` (``served_ingresses``), and the target Ingress."""
    listed = list(ingresses)
    found = served_ingresses(listed, services, pods)
    if target is not None and target.kind == "Ingress":
        found += [
            i
            for i in listed
            if (_ns(i), _name(i)) == (target.namespace, target.name) and i not in found
        ]
    return found


def fronting_balancers(
    ingresses: Iterable[JsonDict], services: Iterable[JsonDict]
) -> list[tuple[JsonDict, JsonDict]]:
    """Each (Ingress, LoadBalancer Service) pair publishing a common address, bounded."""
    balancers = [s for s in services if as_dict(s.get("spec")).get("type") == LOAD_BALANCER]
    found: list[tuple[JsonDict, JsonDict]] = []
    for ingress in ingresses:
        addresses = published_addresses(ingress)
        for service in balancers:
            if addresses & published_addresses(service) and service not in [s for _, s in found]:
                found.append((ingress, service))
    return found[:MAX_BALANCERS]


def speaker_pods(pods: Iterable[JsonDict]) -> list[JsonDict]:
    """The load-balancer speaker pods among ``pods`` (``SPEAKER_LABELS``)."""
    return [p for p in pods if any(service_selects(s, _labels(p)) for s in SPEAKER_LABELS)]


def _node(pod: JsonDict) -> str | None:
    return as_str(as_dict(pod.get("spec")).get("nodeName"))


def _endpoint_nodes(index: ObjectIndex, service: JsonDict) -> list[str]:
    """The nodes of the ready pods ``service`` selects, else of its Endpoints' addresses."""
    selector = {
        str(k): str(v) for k, v in as_dict(as_dict(service.get("spec")).get("selector")).items()
    }
    pods = [
        p
        for p in index.in_namespace("Pod", _ns(service))
        if selector and service_selects(selector, _labels(p)) and pod_ready(p)
    ]
    nodes = {n for p in pods if (n := _node(p))}
    if not nodes:
        for endpoints in index.in_namespace("Endpoints", _ns(service)):
            if _name(endpoints) == _name(service):
                for subset in dicts(endpoints.get("subsets")):
                    for address in dicts(subset.get("addresses")):
                        if node := as_str(address.get("nodeName")):
                            nodes.add(node)
    return sorted(nodes)


def _fields(entry: JsonDict) -> list[str]:
    """The fields a managedFields entry set that steer the load balancer: the ports' and
    spec's keys, and the annotations, by name."""
    fields = as_dict(entry.get("fieldsV1"))
    spec = as_dict(fields.get("f:spec"))
    found: list[str] = []
    for key, value in spec.items():
        if key == "f:ports":
            found += sorted(
                {f"ports.{k[2:]}" for port in as_dict(value).values() for k in as_dict(port)}
            )
        elif key.startswith("f:"):
            found.append(key[2:])
    annotations = as_dict(as_dict(fields.get("f:metadata")).get("f:annotations"))
    found += [f"annotation {k[2:]}" for k in annotations if k.startswith("f:")]
    return list(dict.fromkeys(found))


def spec_write(service: JsonDict) -> tuple[datetime, str, list[str]] | None:
    """The newest write of the Service's spec or annotations by a client (not a status
    subresource write, not a controller's): when, which manager, which fields."""
    writes: list[tuple[datetime, str, list[str]]] = []
    for entry in dicts(_meta(service).get("managedFields")):
        manager = as_str(entry.get("manager")) or ""
        at = as_time(entry.get("time"))
        if entry.get("subresource") or at is None or manager in CONTROLLER_WRITERS:
            continue
        fields = _fields(entry)
        if fields:
            writes.append((at, manager, fields))
    return max(writes, key=lambda w: w[0]) if writes else None


def _ports(service: JsonDict) -> dict[str, str]:
    ports: dict[str, str] = {}
    for port in dicts(as_dict(service.get("spec")).get("ports")):
        protocol = as_str(port.get("appProtocol"))
        name = as_str(port.get("name")) or str(as_int(port.get("port")))
        if protocol:
            ports[name] = protocol
    return ports


def balancer_summary(
    index: ObjectIndex, ingress: JsonDict, service: JsonDict, limits: EvidenceLimits
) -> FrontBalancerEvidence:
    spec = as_dict(service.get("spec"))
    speakers = [p for p in speaker_pods(index.kind("Pod")) if pod_ready(p)]
    written = spec_write(service)
    return FrontBalancerEvidence(
        service=ref_of(service).model_copy(update={"api_version": None}),
        ingress=ref_of(ingress).model_copy(update={"api_version": None}),
        addresses=sorted(published_addresses(ingress) & published_addresses(service)),
        external_traffic_policy=as_str(spec.get("externalTrafficPolicy")),
        health_check_node_port=as_int(spec.get("healthCheckNodePort")),
        app_protocols=_ports(service),
        probe_annotations={
            k: v[: limits.max_string_length]
            for k, v in annotations_of(service).items()
            if any(part in k for part in _PROBE_KEYS)
        },
        endpoint_nodes=_endpoint_nodes(index, service)[: limits.max_list_items],
        announcing_nodes=sorted({n for p in speakers if (n := _node(p))})[: limits.max_list_items]
        if speakers
        else None,
        spec_written_at=written[0] if written else None,
        spec_writer=written[1] if written else None,
        written_fields=written[2][: limits.max_list_items] if written else [],
    )


def front_balancers(
    index: ObjectIndex,
    namespace: str | None,
    target: ObjectRef | None,
    pods: list[JsonDict],
    limits: EvidenceLimits,
) -> list[FrontBalancerEvidence]:
    """The LoadBalancer Services (found in ``index``: those the walk read) whose address the
    Ingresses of ``namespace`` serving ``pods`` (or the target Ingress) publish."""
    if namespace is None:
        return []
    ingresses = front_ingresses(
        index.in_namespace("Ingress", namespace),
        index.in_namespace("Service", namespace),
        pods,
        target,
    )
    return [
        balancer_summary(index, ingress, service, limits)
        for ingress, service in fronting_balancers(ingresses, index.kind("Service"))
    ]

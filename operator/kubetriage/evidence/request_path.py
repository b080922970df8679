"""The hops of the request path in front of the incident's workload: the backend Services
of the Ingresses the alerts name (ingress-nginx's alerts carry ``ingress`` and ``host``)
that are not the workload's own Services. The latency an ingress controller measures is the
latency of that backend, so whatever serves it (a proxy, an autoscaler's interceptor, an API
gateway, possibly in another namespace) is where an SRE looks next, whichever application
the alert is named after. An ExternalName backend stands for the in-cluster Service it
aliases (``name.namespace.svc.cluster.local``); one that aliases an outside host is no
workload of the cluster's and is left to the routing rule.

In front of a workload whose pods are all healthy, the ingress controller serving its
Ingresses (``controller_hosts``) is a hop too: requests failing before they reach healthy
pods are answered by that proxy, whose log tails and settings the dependency walk reads.

Pure; the dependency walk (``kubetriage.evidence.dependency_walk``) and the builder's
dependency summary (``kubetriage.evidence.summaries.dependencies``) both call
``request_path_hosts``, so that live collection and replay follow the same hops.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Final

from kubetriage.evidence.dependencies import ServiceHost, service_hosts
from kubetriage.evidence.dependency_summary import pod_trouble
from kubetriage.evidence.label_vocabulary import label_value
from kubetriage.evidence.raw import as_dict, as_str, ref_of
from kubetriage.evidence.summaries.ingress import (
    class_of,
    controller_of,
    controller_pod_labels,
    controller_pods,
    host_matches,
    ingress_hosts,
    owned_by,
    served_ingresses,
)
from kubetriage.models.naming import route_source
from kubetriage.models.objects import JsonDict, ingress_backends, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.models.relations import (
    INGRESS_CONTROLLER_SOURCE,
    REQUEST_PATH_SOURCE,
    DependencyRoute,
)

# Ingresses named by the alerts whose backends are followed.
MAX_ALERTED_INGRESSES: Final = 3


def alerted_ingresses(
    ingresses: Iterable[JsonDict], alert_labels: Sequence[Mapping[str, str]]
) -> list[JsonDict]:
    """The Ingresses the alerts name: by their ``ingress`` label, or by a ``host`` label one
    of their rules or TLS sections serves (bounded)."""
    names = {v for labels in alert_labels if (v := label_value(dict(labels), "ingress"))}
    hosts = {v for labels in alert_labels if (v := label_value(dict(labels), "host"))}
    found = [
        i
        for i in ingresses
        if _name(i) in names
        or any(host_matches(pattern, host) for pattern in ingress_hosts(i) for host in hosts)
    ]
    return found[:MAX_ALERTED_INGRESSES]


def request_path_hosts(
    ingresses: Iterable[JsonDict],
    services: Iterable[JsonDict],
    pods: Iterable[JsonDict],
    alert_labels: Sequence[Mapping[str, str]],
) -> list[ServiceHost]:
    """The Services in front of ``pods`` on the way from the alerted Ingresses: each backend
    that selects none of ``pods`` (an ExternalName one as the in-cluster Service it aliases),
    named as a ``REQUEST_PATH_SOURCE``."""
    pod_list = list(pods)
    by_name = {(_ns(s), _name(s)): s for s in services}
    found: list[ServiceHost] = []
    for ingress in alerted_ingresses(ingresses, alert_labels):
        namespace = _ns(ingress)
        said = f"{REQUEST_PATH_SOURCE} of Ingress {namespace}/{_name(ingress)}"
        source = route_source(said)
        route = DependencyRoute(kind="backend", ingress=ref_of(ingress))
        for backend in ingress_backends(ingress):
            spec = as_dict((by_name.get((namespace, backend)) or {}).get("spec"))
            selector = {str(k): str(v) for k, v in as_dict(spec.get("selector")).items()}
            if any(_ns(p) == namespace and service_selects(selector, _labels(p)) for p in pod_list):
                continue  # the workload's own Service: the app itself, not a hop before it
            alias = as_str(spec.get("externalName")) if spec.get("type") == "ExternalName" else None
            if alias is None:
                found.append(ServiceHost(backend, namespace, None, source, route=route))
                continue
            found += [
                replace(h, source=route_source(f"{said} (ExternalName {backend})"), route=route)
                for h in service_hosts(source, alias)
                if h.cluster_dns
            ]
    return found


def controller_hosts(
    ingresses: Iterable[JsonDict],
    services: Iterable[JsonDict],
    classes: Iterable[JsonDict],
    controller_pods_seen: Iterable[JsonDict],
    pods: Sequence[JsonDict],
) -> list[ServiceHost]:
    """The workloads of the ingress controllers serving ``pods`` (their Ingresses' classes'
    controllers, by the controllers' pods read), named as an ``INGRESS_CONTROLLER_SOURCE``,
    only when every one of ``pods`` runs and is ready: requests failing in front of a
    healthy workload are answered by the proxy before it, whose own words (log tails) and
    settings (the ConfigMap its args name) say why."""
    if not pods or any(pod_trouble(p) is not None for p in pods):
        return []
    class_list, seen = list(classes), list(controller_pods_seen)
    found: list[ServiceHost] = []
    for ingress in served_ingresses(ingresses, services, pods):
        labels = controller_pod_labels(controller_of(class_of(ingress, class_list)))
        few = controller_pods(seen, labels) if labels else []
        workload = owned_by(few[0]) if few else None
        if workload is None or workload.namespace is None:
            continue
        source = route_source(
            f"{INGRESS_CONTROLLER_SOURCE} of Ingress {_ns(ingress)}/{_name(ingress)}"
        )
        route = DependencyRoute(kind="ingress-controller", ingress=ref_of(ingress))
        found.append(
            ServiceHost(workload.name, workload.namespace, None, source, workload.kind, route=route)
        )
    return found

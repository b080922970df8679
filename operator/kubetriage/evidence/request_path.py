"""The hops of the request path in front of the incident's workload: the backend Services
of the Ingresses the alerts name (ingress-nginx's alerts carry ``ingress`` and ``host``)
that are not the workload's own Services. The latency an ingress controller measures is the
latency of that backend, so whatever serves it (a proxy, an autoscaler's interceptor, an API
gateway, possibly in another namespace) is where an SRE looks next, whichever application
the alert is named after. An ExternalName backend stands for the in-cluster Service it
aliases (``name.namespace.svc.cluster.local``); one that aliases an outside host is no
workload of the cluster's and is left to the routing rule.

Pure; the dependency walk (``kubetriage.evidence.dependency_walk``) and the builder's
dependency summary (``kubetriage.evidence.summaries.dependencies``) both call
``request_path_hosts``, so that live collection and replay follow the same hops.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Final

from kubetriage.evidence.dependencies import ServiceHost, service_hosts
from kubetriage.evidence.label_vocabulary import label_value
from kubetriage.evidence.raw import as_dict, as_str
from kubetriage.evidence.summaries.ingress import host_matches, ingress_hosts
from kubetriage.models.objects import JsonDict, ingress_backends, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.models.relations import REQUEST_PATH_SOURCE

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
        source = f"{REQUEST_PATH_SOURCE} of Ingress {namespace}/{_name(ingress)}"
        for backend in ingress_backends(ingress):
            spec = as_dict((by_name.get((namespace, backend)) or {}).get("spec"))
            selector = {str(k): str(v) for k, v in as_dict(spec.get("selector")).items()}
            if any(_ns(p) == namespace and service_selects(selector, _labels(p)) for p in pod_list):
                continue  # the workload's own Service: the app itself, not a hop before it
            alias = as_str(spec.get("externalName")) if spec.get("type") == "ExternalName" else None
            if alias is None:
                found.append(ServiceHost(backend, namespace, None, source))
                continue
            found += [
                replace(h, source=f"{source} (ExternalName {backend})")
                for h in service_hosts(source, alias)
                if h.cluster_dns
            ]
    return found

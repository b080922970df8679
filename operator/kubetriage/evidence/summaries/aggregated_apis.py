"""Aggregated APIs an autoscaler cannot read, summarised. Pure.

An HPA reads its metrics through aggregated APIs the API server proxies to a Service
(``APIService`` of apiregistration.k8s.io/v1, cluster-scoped, ``spec.service``): resource
metrics (``metrics.k8s.io``, metrics-server), custom metrics (``custom.metrics.k8s.io``, an
adapter) and external metrics (``external.metrics.k8s.io``). When it cannot, its
``ScalingActive`` condition turns False with a reason naming the metric source
(``FailedGetResourceMetric``, ``FailedGetPodsMetric``, ``FailedGetObjectMetric``,
``FailedGetExternalMetric``...) and a message naming the API ("unable to fetch metrics from
custom metrics API: ... (get pods.custom.metrics.k8s.io *)"). The APIService serving that
group then says why in its ``Available`` condition: ``FailedDiscoveryCheck`` with the call's
error (an x509 failure of the backend's serving certificate, a timeout, a refused
connection), ``MissingEndpoints``, ``ServiceNotFound``.

An API can also be Available and answer 404 for the metric ("the server could not find the
requested resource (get <metric>.external.metrics.k8s.io)"): it runs, but its configuration
(an adapter's rules) defines no such metric.

Each API also says where the API server's call lands (the backend pod's labels, port and the
NetworkPolicies selecting it, as for a webhook), so that a policy keeping the call out can be
told from a backend that is down. The collector (``kubetriage.evidence.aggregated_api_walk``)
and the builder share the rule of which APIServices matter (``followed_apis``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import as_dict, as_str, clip_text, dicts, ref_of
from kubetriage.evidence.summaries.webhooks import failure_of, landing, service_backend
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import AggregatedApiEvidence
from kubetriage.models.objects import JsonDict

# The metric source an HPA condition's reason names, and the API group serving it
# (k8s.io/kubernetes pkg/controller/podautoscaler).
_REASON_GROUPS = (
    ("FailedGetResourceMetric", "metrics.k8s.io"),
    ("FailedGetContainerResourceMetric", "metrics.k8s.io"),
    ("FailedGetPodsMetric", "custom.metrics.k8s.io"),
    ("FailedGetObjectMetric", "custom.metrics.k8s.io"),
    ("FailedGetExternalMetric", "external.metrics.k8s.io"),
)
# The metrics clients' words for the API they could not read (k8s.io/metrics).
_API_WORDS = (
    (re.compile(r"(?i)resource metrics API"), "metrics.k8s.io"),
    (re.compile(r"(?i)custom metrics API"), "custom.metrics.k8s.io"),
    (re.compile(r"(?i)external metrics API"), "external.metrics.k8s.io"),
)
# client-go's "the server is currently unable to handle the request (get pods.<group> ...)".
_GET_RESOURCE = re.compile(r"\(get [a-z0-9-]+\.(?P<group>[a-z0-9-]+(?:\.[a-z0-9-]+)+)")
# The API answered 404 for the metric: it runs, but serves no such metric (client-go's
# "the server could not find the requested resource", the adapters' "could not find the
# metric X for pods").
_NOT_SERVED = re.compile(r"(?i)could not find the (?:requested resource|metric)")
# The HPA metric source types and the API group each is read from.
_SOURCE_GROUPS = {
    "External": ("external", "external.metrics.k8s.io"),
    "Pods": ("pods", "custom.metrics.k8s.io"),
    "Object": ("object", "custom.metrics.k8s.io"),
}


def _blind_condition(hpa: JsonDict) -> JsonDict | None:
    """An HPA's ScalingActive=False condition when it failed to get a metric."""
    for condition in dicts(as_dict(hpa.get("status")).get("conditions")):
        reason = as_str(condition.get("reason")) or ""
        if (
            condition.get("type") == "ScalingActive"
            and condition.get("status") == "False"
            and reason.startswith("FailedGet")
        ):
            return condition
    return None


def _groups_of(condition: JsonDict) -> list[str]:
    reason = as_str(condition.get("reason")) or ""
    message = as_str(condition.get("message")) or ""
    groups = [group for prefix, group in _REASON_GROUPS if reason == prefix]
    groups += [group for pattern, group in _API_WORDS if pattern.search(message)]
    groups += [m["group"] for m in _GET_RESOURCE.finditer(message)]
    return list(dict.fromkeys(groups))


def metric_api_groups(hpas: Iterable[JsonDict]) -> list[str]:
    """The API groups of the metrics ``hpas`` report they could not get, each once."""
    groups: list[str] = []
    for hpa in hpas:
        condition = _blind_condition(hpa)
        if condition is not None:
            groups += [g for g in _groups_of(condition) if g not in groups]
    return groups


def _not_served(hpa: JsonDict, group: str) -> bool:
    """``hpa`` cannot get a metric of ``group`` because the API says it serves no such one."""
    condition = _blind_condition(hpa)
    return (
        condition is not None
        and group in _groups_of(condition)
        and bool(_NOT_SERVED.search(as_str(condition.get("message")) or ""))
    )


def _metric_names(hpa: JsonDict, group: str) -> list[str]:
    """The names of the metrics ``hpa``'s spec reads from the API ``group``."""
    names: list[str] = []
    for metric in dicts(as_dict(hpa.get("spec")).get("metrics")):
        field, source_group = _SOURCE_GROUPS.get(as_str(metric.get("type")) or "", ("", ""))
        name = as_str(as_dict(as_dict(metric.get(field)).get("metric")).get("name"))
        if source_group == group and name and name not in names:
            names.append(name)
    return names


def followed_apis(apis: Iterable[JsonDict], hpas: Collection[JsonDict]) -> list[JsonDict]:
    """The APIServices of the metric APIs ``hpas`` cannot read that are not Available, or
    that are but answer an autoscaler they serve no such metric."""
    groups = metric_api_groups(hpas)
    down = unavailable_apis(apis, groups)
    return [
        api
        for api in apis
        if api in down or (_group(api) in groups and any(_not_served(h, _group(api)) for h in hpas))
    ]


def _available(api: JsonDict) -> JsonDict | None:
    conditions = dicts(as_dict(api.get("status")).get("conditions"))
    return next((c for c in conditions if c.get("type") == "Available"), None)


def _group(api: JsonDict) -> str:
    return as_str(as_dict(api.get("spec")).get("group")) or ""


def unavailable_apis(apis: Iterable[JsonDict], groups: Collection[str]) -> list[JsonDict]:
    """The APIServices of ``groups`` whose Available condition is False."""
    return [
        api
        for api in apis
        if _group(api) in groups and (as_dict(_available(api)).get("status") == "False")
    ]


def api_service_backend(api: JsonDict) -> ObjectRef | None:
    """The Service an APIService proxies to (None: served by the API server itself)."""
    service = as_dict(as_dict(api.get("spec")).get("service"))
    name, namespace = as_str(service.get("name")), as_str(service.get("namespace"))
    if not name or not namespace:
        return None
    return ObjectRef(kind="Service", namespace=namespace, name=name)


def _service_port(api: JsonDict) -> int:
    """The Service port an APIService calls (the API's default is 443)."""
    port = as_dict(as_dict(api.get("spec")).get("service")).get("port")
    return port if isinstance(port, int) else 443


def aggregated_api_summaries(
    index: ObjectIndex,
    namespace: str | None,
    limits: EvidenceLimits,
    unavailable: Collection[str] = (),
) -> list[AggregatedApiEvidence]:
    """The APIServices serving the metrics the HPAs of ``namespace`` could not get that are
    unavailable or serve no such metric (``followed_apis``), each with why and the Service
    (and what stands behind it) it proxies to."""
    if namespace is None:
        return []
    hpas = index.in_namespace("HorizontalPodAutoscaler", namespace)
    groups = metric_api_groups(hpas)
    if not groups:
        return []
    found: list[AggregatedApiEvidence] = []
    for api in followed_apis(index.kind("APIService"), hpas)[: limits.max_dependencies]:
        condition = as_dict(_available(api))
        message = as_str(condition.get("message")) or ""
        service = api_service_backend(api)
        blind = [
            ref_of(h)
            for h in hpas
            if (c := _blind_condition(h)) is not None and _group(api) in _groups_of(c)
        ]
        where = (
            landing(index, service, _service_port(api), limits)
            if service is not None and service.namespace
            else None
        )
        found.append(
            AggregatedApiEvidence(
                name=as_str(as_dict(api.get("metadata")).get("name")) or "",
                group=_group(api),
                reason=as_str(condition.get("reason")),
                message=clip_text(message, limits.max_string_length * 2) or "",
                failure=failure_of(message),
                service=service,
                autoscalers=blind,
                missing_metrics=[
                    m
                    for h in hpas
                    if _not_served(h, _group(api))
                    for m in _metric_names(h, _group(api))
                ][: limits.max_dependencies],
                backend=service_backend(index, service, unavailable, limits, "aggregated API"),
                backend_labels=where.labels if where else {},
                backend_port=where.port if where else None,
                backend_port_name=where.port_name if where else None,
                policies=where.policies if where else [],
            )
        )
    return found

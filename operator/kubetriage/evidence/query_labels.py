"""The label matchers of the query catalogue and the rewrites that let one template read the
series of kube-prometheus, of Prometheus Operator's ServiceMonitors and of an OpenTelemetry
pipeline: the workload's pods and containers, its scrape job, the pods of the Services it
calls. Pure strings with ``string.Template`` placeholders that ``kubetriage.evidence.queries``
fills with escaped values; the templates themselves are in
``kubetriage.evidence.query_templates``, ``...query_templates_causes`` and
``...query_templates_cluster``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from kubetriage.evidence.query_template import QueryTemplate

# Container matcher used by every per-container template: the alert's container when known,
# otherwise any real container (cAdvisor's pod-level cgroup has container="", and "POD" is
# the pause container).
CONTAINERS = 'container=~"$container_regex",container!="",container!="POD"'
POD = 'namespace="$namespace",pod=~"$pod_regex"'
POD_CONTAINERS = f"{POD},{CONTAINERS}"
JOB = 'namespace="$namespace",job=~"$job_regex"'
# Prometheus Operator's ServiceMonitors label every series with the Service they scraped, also
# when their ``jobLabel`` names the job after something else (an app label, a chart).
_SERVICE = 'namespace="$namespace",service=~"$job_regex"'
# Series an OpenTelemetry pipeline exported carry the resource attributes instead: the
# namespace as k8s_namespace_name (``namespace``, if any, is the collector's), the service as
# service_name and its workload as k8s_deployment_name (the k8sattributes processor).
_OTEL_SERVICE = 'k8s_namespace_name="$namespace",service_name=~"$job_regex"'
_OTEL_DEPLOYMENT = 'k8s_namespace_name="$namespace",k8s_deployment_name=~"$job_regex"'
# An OpenTelemetry pipeline that sets the Kubernetes namespace as ``namespace`` (a transform
# or a relabelling of the k8sattributes' attribute) and keeps the service as service_name.
_OTEL_SERVICE_IN_NAMESPACE = 'namespace="$namespace",service_name=~"$job_regex"'
_JOB_ALTERNATIVES = (_SERVICE, _OTEL_SERVICE, _OTEL_DEPLOYMENT, _OTEL_SERVICE_IN_NAMESPACE)
DEPLOYMENT_LABELS = 'namespace="$namespace",deployment="$deployment"'
# The pods of the workloads behind the Services the incident's workload calls.
CALLEE_CONTAINERS = (
    'namespace=~"$callee_namespaces",pod=~"$callee_pods",container!="",container!="POD"'
)
# The same pods' exporter series (a database's or cache's sidecar exporter labels them with
# the pod it scrapes, never with a container of it).
CALLEE_PODS = 'namespace=~"$callee_namespaces",pod=~"$callee_pods"'
POD_SET = frozenset({"namespace", "pod_regex"})
JOB_SET = frozenset({"namespace", "job"})


def or_by_service(promql: str) -> str:
    """A query of the service's scrape job, else (no series of that job) the same query of
    the series labelled with its Service, else of the series an OpenTelemetry pipeline
    labelled with its service or workload. Every side aggregates to the same labels, so the
    job's answer wins where it has one."""
    if JOB not in promql:
        return promql
    sides = [promql] + [promql.replace(JOB, other) for other in _JOB_ALTERNATIVES]
    return " or ".join(f"({side})" for side in sides)


# Per-container series an OpenTelemetry collector exported (kubeletstats and k8s_cluster
# receivers, through its Prometheus exporter) name the pod, its namespace and the container
# in resource attributes, and some metrics differently: kube-prometheus's selector -> the
# OTel metric holding the same quantity.
_OTEL_POD = (
    'k8s_namespace_name="$namespace",k8s_pod_name=~"$pod_regex",'
    'k8s_container_name=~"$container_regex"'
)
_OTEL_POD_SERIES: tuple[tuple[str, str], ...] = (
    (
        f"container_memory_working_set_bytes{{{POD_CONTAINERS}}}",
        "container_memory_working_set_bytes",
    ),
    (f"container_cpu_usage_seconds_total{{{POD_CONTAINERS}}}", "container_cpu_time_seconds_total"),
    (
        f'kube_pod_container_resource_limits{{{POD_CONTAINERS},resource="memory"}}',
        "k8s_container_memory_limit_bytes",
    ),
    (
        f'kube_pod_container_resource_limits{{{POD_CONTAINERS},resource="cpu"}}',
        "k8s_container_cpu_limit",
    ),
    (f"kube_pod_container_status_restarts_total{{{POD_CONTAINERS}}}", "k8s_container_restarts"),
)


def _as_kube_labels(promql: str) -> str:
    """An OTel series relabelled with the pod and container labels kube-prometheus uses
    (``$$1``: the ``string.Template`` escape of label_replace's ``$1``)."""
    pod = f'label_replace({promql}, "pod", "$$1", "k8s_pod_name", "(.+)")'
    return f'label_replace({pod}, "container", "$$1", "k8s_container_name", "(.+)")'


def or_otel_pod(promql: str) -> str:
    """Each per-container selector of kube-prometheus's series (bare, or under ``rate`` or
    ``increase`` over a range), or the same quantity from an OpenTelemetry collector's series
    relabelled to ``pod`` and ``container``: the aggregations around it see either."""
    for selector, otel in _OTEL_POD_SERIES:
        kube = re.escape(selector)
        otel_selector = f"{otel}{{{_OTEL_POD}}}"

        def ranged(m: re.Match[str], selector: str = selector, otel: str = otel_selector) -> str:
            fn, window = m[1], m[2]
            return f"({fn}({selector}[{window}]) or {_as_kube_labels(f'{fn}({otel}[{window}])')})"

        def bare(m: re.Match[str], selector: str = selector, otel: str = otel_selector) -> str:
            return f"({selector} or {_as_kube_labels(otel)})"

        promql = re.sub(rf"\b(rate|increase)\({kube}\[(\w+)\]\)", ranged, promql)
        promql = re.sub(rf"(?<!\w){kube}(?!\[)", bare, promql)
    return promql


def with_alternatives(templates: Iterable[QueryTemplate]) -> tuple[QueryTemplate, ...]:
    """The templates, each query also reading the series labelled with the Service or by an
    OpenTelemetry pipeline (``or_by_service``, then ``or_otel_pod``)."""
    return tuple(replace(t, promql=or_otel_pod(or_by_service(t.promql))) for t in templates)

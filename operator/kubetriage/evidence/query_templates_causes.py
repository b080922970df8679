"""The PromQL templates (``QueryTemplate``s) that separate the usual causes of a latency, error,
saturation or throttling alert, each asked only for the alert families it tells apart: the
demand (request rates, by the service's scrape job, its mesh sidecar, ingress-nginx, or a Redis
server's commands), CPU per request (costlier requests, new code), the pools in use (Tomcat
threads, pooled connections: short of capacity, or waiting on something slower) and the
deployment's generation (the rollout on the metrics' own clock). More traffic points at
capacity, the same traffic at a change or a dependency. The part of the catalogue
``kubetriage.evidence.queries`` runs right after the workload's own series
(``query_templates``), with the same ServiceMonitor/OpenTelemetry rewrites
(``kubetriage.evidence.query_labels``).
"""

from __future__ import annotations

from typing import Final

from kubetriage.evidence.query_labels import (
    DEPLOYMENT_LABELS,
    JOB,
    JOB_SET,
    POD,
    POD_CONTAINERS,
    POD_SET,
    with_alternatives,
)
from kubetriage.evidence.query_template import QueryTemplate
from kubetriage.models.vocabulary import Category

_C = Category

_SERVICE_FAMILIES: Final = frozenset({"latency", "errors", "saturation"})


def _by_job(
    name: str,
    categories: tuple[Category, ...],
    promql: str,
    description: str,
    families: frozenset[str] = _SERVICE_FAMILIES,
) -> QueryTemplate:
    """A template of the service's scrape job, run for the alert families whose causes it
    separates (latency, errors, saturation by default)."""
    return QueryTemplate(name, categories, JOB_SET, promql, description, families)


def _traffic(name: str, promql: str, description: str) -> QueryTemplate:
    """A request rate: more demand points at capacity, the same at a change. Asked for a
    throttling alert too: pods at their CPU limit under a request rate that grew are short of
    replicas (the load did it), under a flat one their limit is too tight."""
    return _by_job(
        name,
        (_C.RESOURCE_SATURATION, _C.BAD_ROLLOUT),
        promql,
        description,
        _SERVICE_FAMILIES | {"throttling"},
    )


def _busy(name: str, promql: str, description: str) -> QueryTemplate:
    """A share of a pool in use: with more traffic the pods are short of capacity, with the
    same traffic what they wait on is slower."""
    return _by_job(name, (_C.RESOURCE_SATURATION, _C.DEPENDENCY_FAILURE), promql, description)


_CATALOGUE: tuple[QueryTemplate, ...] = (
    _traffic(
        "http_request_rate",
        f"sum(rate(http_requests_total{{{JOB}}}[5m]))",
        "traffic: more of it points at capacity, the same at a change or a dependency",
    ),
    _traffic(
        "http_request_rate_from_histogram",
        # Services that count requests only in their latency histogram: the Prometheus
        # clients' default, Micrometer (Spring Boot) and OpenTelemetry names.
        "sum(rate({__name__=~"
        '"http_request_duration_seconds_count|http_server_requests_seconds_count|'
        f'http_server_request_duration_seconds_count",{JOB}}}[5m]))',
        "traffic, counted by the latency histogram",
    ),
    _traffic(
        "http_server_request_rate",
        f"sum(rate(http_server_requests_total{{{JOB}}}[5m]))",
        "traffic, counted with the server side named (http_server_requests_total)",
    ),
    _traffic(
        "http_request_rate_received",
        # prometheus-net (ASP.NET Core) counts requests as http_requests_received_total.
        f"sum(rate(http_requests_received_total{{{JOB}}}[5m]))",
        "traffic, as prometheus-net counts it",
    ),
    _traffic(
        "istio_request_rate",
        # The mesh's own count (the receiving sidecar), for services without app metrics.
        'sum(rate(istio_requests_total{reporter="destination",'
        'destination_workload_namespace="$namespace",destination_workload=~"$job_regex"}[5m]))',
        "traffic into the workload, as its Istio sidecar counts it",
    ),
    _traffic(
        "ingress_request_rate",
        # ingress-nginx labels its requests with the Ingress's namespace and backend Service;
        # scraped by a ServiceMonitor, they become exported_namespace and exported_service.
        'sum(rate(nginx_ingress_controller_requests{namespace="$namespace",'
        'service=~"$job_regex"}[5m])) or sum(rate(nginx_ingress_controller_requests'
        '{exported_namespace="$namespace",exported_service=~"$job_regex"}[5m]))',
        "traffic through ingress-nginx to the Service",
    ),
    QueryTemplate(
        "redis_request_rate",
        # A Redis server's demand is the commands it processes (redis_exporter's total, else
        # the sum of its per-command counters): flat while its CPU climbs, a client sends
        # costlier commands (KEYS, big ranges), not more of them.
        (_C.RESOURCE_SATURATION, _C.BAD_ROLLOUT),
        POD_SET,
        f"sum(rate(redis_commands_processed_total{{{POD}}}[5m]))"
        f" or sum(rate(redis_commands_total{{{POD}}}[5m]))",
        "traffic into a Redis server: the commands it processed",
        _SERVICE_FAMILIES | {"throttling"},
    ),
    QueryTemplate(
        "cpu_seconds_per_request",
        (_C.BAD_ROLLOUT, _C.RESOURCE_SATURATION),
        POD_SET | JOB_SET,
        f"sum(rate(container_cpu_usage_seconds_total{{{POD_CONTAINERS}}}[5m]))"
        f" / sum(rate(http_requests_total{{{JOB}}}[5m]))",
        "CPU per request: a step up means each request got costlier (new code), not more load",
        frozenset({"latency", "saturation", "throttling"}),
    ),
    # Pools in use (1.0: every worker thread or pooled connection is taken): with more
    # traffic, the pods are short of capacity; with the same traffic, what they wait on is
    # slower. Micrometer (Spring Boot: Tomcat, HikariCP) and OpenTelemetry client names.
    _busy(
        "tomcat_threads_busy_ratio",
        f"sum(tomcat_threads_busy_threads{{{JOB}}})"
        f" / sum(tomcat_threads_config_max_threads{{{JOB}}})",
        "Tomcat worker threads in use",
    ),
    _busy(
        "hikaricp_connections_busy_ratio",
        f"sum(hikaricp_connections_active{{{JOB}}}) / sum(hikaricp_connections_max{{{JOB}}})",
        "HikariCP pooled connections in use",
    ),
    _busy(
        "db_client_connections_busy_ratio",
        f'sum(db_client_connections_usage{{{JOB},state="used"}})'
        f" / sum(db_client_connections_max{{{JOB}}})",
        "database client pool connections in use (OpenTelemetry db.client.connections.*)",
    ),
    QueryTemplate(
        "deployment_generation",
        (_C.BAD_ROLLOUT,),
        frozenset({"namespace", "deployment"}),
        f"max(kube_deployment_status_observed_generation{{{DEPLOYMENT_LABELS}}})",
        "steps when a rollout happens: the change on the metrics' own clock",
        frozenset({"latency", "errors", "saturation", "restarts", "queue"}),
    ),
)

CAUSE_TEMPLATES: tuple[QueryTemplate, ...] = with_alternatives(_CATALOGUE)

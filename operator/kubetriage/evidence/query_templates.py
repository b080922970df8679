"""The PromQL templates of the workload's own series (``QueryTemplate``s): per-pod memory,
CPU and throttling, restarts, rollouts, per-service traffic, latency, errors and busy pools,
callee pods. Pure data, the first part of the catalogue; a queue's backlog, input and
consumers are the second (``kubetriage.evidence.query_templates_queues``), what the cluster
reports around the workload (volumes, replicas, nodes, probes, certificates) the third
(``kubetriage.evidence.query_templates_cluster``). ``kubetriage.evidence.queries`` decides which
of them apply to an incident and renders them with escaped values. The label matchers and the
rewrites for ServiceMonitor and OpenTelemetry series are in ``kubetriage.evidence.query_labels``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from kubetriage.evidence.query_labels import (
    CALLEE_CONTAINERS,
    CALLEE_PODS,
    DEPLOYMENT_LABELS,
    JOB,
    JOB_SET,
    POD,
    POD_CONTAINERS,
    POD_SET,
    or_by_service,
    or_otel_pod,
)
from kubetriage.evidence.query_template import QueryTemplate
from kubetriage.models.vocabulary import Category

# How far each replica among them is behind its primary, in seconds, in the names of the
# standard exporters: postgres_exporter (``pg_replication_lag_seconds``, before 0.15
# ``pg_replication_lag``), mysqld_exporter (``Seconds_Behind_Master``) and redis_exporter
# (a replica's silence from its master). A primary reports none of them (or zero).
_REPLICATION_LAG = (
    "pg_replication_lag_seconds",
    "pg_replication_lag",
    "mysql_slave_status_seconds_behind_master",
    "redis_master_last_io_seconds_ago",
)
# Sessions of each database among them that wait for a lock, in mysqld_exporter's processlist
# collector (one series per thread state: "Waiting for table metadata lock", "Waiting for
# table level lock", or "waiting for lock" where the exporter groups the states).
_LOCK_WAITS = (
    f'mysql_info_schema_processlist_threads{{{CALLEE_PODS},state=~"(?i)waiting for .*lock.*"}}'
)
# What each cache among them throws away to make room (memcached_exporter, redis_exporter),
# how often it answers a read, and how full it is.
_CACHE_HITS = f'memcached_commands_total{{{CALLEE_PODS},command="get",status="hit"}}'
_CACHE_GETS = f'memcached_commands_total{{{CALLEE_PODS},command="get"}}'
_REDIS_HITS = f"redis_keyspace_hits_total{{{CALLEE_PODS}}}"
_REDIS_MISSES = f"redis_keyspace_misses_total{{{CALLEE_PODS}}}"
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
    # --- memory -----------------------------------------------------------------------
    QueryTemplate(
        "memory_working_set_bytes",
        (_C.OOM_KILLED, _C.RESOURCE_SATURATION),
        POD_SET,
        f"max by (pod, container) (container_memory_working_set_bytes{{{POD_CONTAINERS}}})",
        "working set per container (what the OOM killer compares to the limit)",
    ),
    QueryTemplate(
        "memory_limit_bytes",
        (_C.OOM_KILLED,),
        POD_SET,
        "max by (pod, container) (kube_pod_container_resource_limits"
        f'{{{POD_CONTAINERS},resource="memory"}})',
    ),
    QueryTemplate(
        "memory_working_set_vs_limit",
        (_C.OOM_KILLED,),
        POD_SET,
        f"max by (pod, container) (container_memory_working_set_bytes{{{POD_CONTAINERS}}})"
        " / on (pod, container) max by (pod, container) (kube_pod_container_resource_limits"
        f'{{{POD_CONTAINERS},resource="memory"}})',
        "1.0 means at the limit",
    ),
    QueryTemplate(
        "last_terminated_oomkilled",
        (_C.OOM_KILLED,),
        POD_SET,
        "max by (pod, container) (kube_pod_container_status_last_terminated_reason"
        f'{{{POD_CONTAINERS},reason="OOMKilled"}})',
    ),
    # --- restarts and waiting ---------------------------------------------------------
    QueryTemplate(
        "container_restarts",
        (_C.CRASH_LOOP, _C.OOM_KILLED, _C.PROBE_FAILURE),
        POD_SET,
        f"max by (pod, container) (kube_pod_container_status_restarts_total{{{POD_CONTAINERS}}})",
    ),
    QueryTemplate(
        "container_restarts_increase_15m",
        (_C.CRASH_LOOP, _C.OOM_KILLED, _C.PROBE_FAILURE),
        POD_SET,
        "sum by (pod, container) (increase(kube_pod_container_status_restarts_total"
        f"{{{POD_CONTAINERS}}}[15m]))",
    ),
    QueryTemplate(
        "container_waiting_reason",
        (_C.CRASH_LOOP, _C.IMAGE_PULL, _C.CONFIG_MISSING),
        POD_SET,
        "max by (pod, container, reason) (kube_pod_container_status_waiting_reason"
        f"{{{POD_CONTAINERS}}}) > 0",
    ),
    QueryTemplate(
        "pod_pending",
        (_C.UNSCHEDULABLE,),
        POD_SET,
        f'max by (pod) (kube_pod_status_phase{{{POD},phase="Pending"}})',
    ),
    # --- CPU --------------------------------------------------------------------------
    QueryTemplate(
        "cpu_usage_cores",
        (_C.CPU_THROTTLING, _C.RESOURCE_SATURATION),
        POD_SET,
        "sum by (pod, container) (rate(container_cpu_usage_seconds_total"
        f"{{{POD_CONTAINERS}}}[5m]))",
    ),
    # A broker's demand is the messages its clients publish to it, counted by the broker
    # itself (rabbitmq_prometheus' global counters, Kafka's JMX exporter): flat while its CPU
    # steps up, the work per message (or per connection) grew, not the traffic.
    QueryTemplate(
        "broker_message_throughput",
        (_C.RESOURCE_SATURATION, _C.BAD_ROLLOUT),
        POD_SET,
        "sum(rate({__name__=~"
        '"rabbitmq_global_messages_received_total|kafka_server_brokertopicmetrics_messagesin_total",'
        f"{POD}}}[5m]))",
        "messages published to the broker per second: its demand",
    ),
    QueryTemplate(
        "cpu_limit_cores",
        (_C.CPU_THROTTLING,),
        POD_SET,
        "max by (pod, container) (kube_pod_container_resource_limits"
        f'{{{POD_CONTAINERS},resource="cpu"}})',
    ),
    QueryTemplate(
        "cpu_throttled_ratio",
        (_C.CPU_THROTTLING,),
        POD_SET,
        "sum by (pod, container) (rate(container_cpu_cfs_throttled_periods_total"
        f"{{{POD_CONTAINERS}}}[5m])) / sum by (pod, container) "
        f"(rate(container_cpu_cfs_periods_total{{{POD_CONTAINERS}}}[5m]))",
        "share of CFS periods in which the container was throttled",
    ),
    QueryTemplate(
        "callee_cpu_throttled_ratio",
        (_C.CPU_THROTTLING,),
        frozenset({"callees"}),
        "sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total"
        f"{{{CALLEE_CONTAINERS}}}[5m])) / sum by (namespace, pod, container) "
        f"(rate(container_cpu_cfs_periods_total{{{CALLEE_CONTAINERS}}}[5m]))",
        "share of CFS periods in which a called workload's container was throttled",
    ),
    QueryTemplate(
        "callee_cpu_usage_cores",
        (_C.RESOURCE_SATURATION, _C.NETWORK),
        frozenset({"callees"}),
        "sum by (namespace, pod) (rate(container_cpu_usage_seconds_total"
        f"{{{CALLEE_CONTAINERS}}}[5m]))",
        "CPU each pod of a called workload uses: how evenly its replicas share the calls",
    ),
    QueryTemplate(
        "callee_replication_lag_seconds",
        (_C.DEPENDENCY_FAILURE,),
        frozenset({"callees"}),
        "max by (namespace, pod) ("
        + " or ".join(f"{name}{{{CALLEE_PODS}}}" for name in _REPLICATION_LAG)
        + ")",
        "seconds each replica among the called workloads' pods is behind its primary",
    ),
    QueryTemplate(
        "callee_lock_waiting_sessions",
        (_C.DEPENDENCY_FAILURE,),
        frozenset({"callees"}),
        f"sum by (namespace, pod) ({_LOCK_WAITS})",
        "sessions of each called database waiting for a lock",
    ),
    QueryTemplate(
        "callee_cache_evictions_rate",
        (_C.RESOURCE_SATURATION,),
        frozenset({"callees"}),
        f"sum by (namespace, pod) (rate(memcached_items_evicted_total{{{CALLEE_PODS}}}[5m]))"
        f" or sum by (namespace, pod) (rate(redis_evicted_keys_total{{{CALLEE_PODS}}}[5m]))",
        "items per second each called cache evicts to make room for new ones",
    ),
    QueryTemplate(
        "callee_cache_hit_ratio",
        (_C.RESOURCE_SATURATION,),
        frozenset({"callees"}),
        f"sum by (namespace, pod) (rate({_CACHE_HITS}[5m]))"
        f" / sum by (namespace, pod) (rate({_CACHE_GETS}[5m]))"
        f" or sum by (namespace, pod) (rate({_REDIS_HITS}[5m]))"
        f" / (sum by (namespace, pod) (rate({_REDIS_HITS}[5m]))"
        f" + sum by (namespace, pod) (rate({_REDIS_MISSES}[5m])))",
        "share of each called cache's reads it answers from memory",
    ),
    QueryTemplate(
        "callee_cache_fill_ratio",
        (_C.RESOURCE_SATURATION,),
        frozenset({"callees"}),
        f"max by (namespace, pod) (memcached_current_bytes{{{CALLEE_PODS}}})"
        f" / max by (namespace, pod) (memcached_limit_bytes{{{CALLEE_PODS}}})"
        f" or max by (namespace, pod) (redis_memory_used_bytes{{{CALLEE_PODS}}})"
        f" / max by (namespace, pod) (redis_memory_max_bytes{{{CALLEE_PODS}}} > 0)",
        "share of each called cache's memory limit in use",
    ),
    QueryTemplate(
        "namespace_cpu_throttled_ratio",
        (_C.CPU_THROTTLING,),
        # A slow service whose alert names no workload (an OpenTelemetry service_name, a
        # frontend SLO): which of the namespace's containers does its CFS quota stall?
        frozenset({"namespace", "namespace_wide"}),
        "sum by (pod, container) (rate(container_cpu_cfs_throttled_periods_total"
        '{namespace="$namespace",container!="",container!="POD"}[5m])) / sum by (pod, '
        "container) (rate(container_cpu_cfs_periods_total"
        '{namespace="$namespace",container!="",container!="POD"}[5m]))',
        "share of CFS periods throttled, per container of the namespace",
        frozenset({"latency", "saturation", "throttling"}),
    ),
    QueryTemplate(
        "neighbour_cpu_throttled_ratio",
        (_C.CPU_THROTTLING,),
        # A slow workload that is not throttled itself, whose callee no env or log names
        # (found through a service registry): which container of its namespace did its CFS
        # quota begin to stall when the latency rose? (``analyzers.fresh_throttling``)
        frozenset({"namespace"}),
        "sum by (pod, container) (rate(container_cpu_cfs_throttled_periods_total"
        '{namespace="$namespace",container!="",container!="POD"}[5m])) / sum by (pod, '
        "container) (rate(container_cpu_cfs_periods_total"
        '{namespace="$namespace",container!="",container!="POD"}[5m]))',
        "share of CFS periods throttled, per container of the workload's namespace",
        frozenset({"latency"}),
    ),
    # --- HTTP (the service's own metrics, by scrape job) -----------------------------
    QueryTemplate(
        "http_5xx_ratio",
        (_C.DEPENDENCY_FAILURE, _C.BAD_ROLLOUT, _C.RESOURCE_SATURATION),
        JOB_SET,
        f'sum(rate(http_requests_total{{{JOB},code=~"5.."}}[5m]))'
        f" / sum(rate(http_requests_total{{{JOB}}}[5m]))",
    ),
    QueryTemplate(
        "http_5xx_ratio_status_label",
        (_C.DEPENDENCY_FAILURE, _C.BAD_ROLLOUT, _C.RESOURCE_SATURATION),
        JOB_SET,
        f'sum(rate(http_requests_total{{{JOB},status=~"5.."}}[5m]))'
        f" / sum(rate(http_requests_total{{{JOB}}}[5m]))",
    ),
    QueryTemplate(
        "http_5xx_ratio_status_code_label",
        (_C.DEPENDENCY_FAILURE, _C.BAD_ROLLOUT, _C.RESOURCE_SATURATION),
        JOB_SET,
        # prom-client middlewares (express-prom-bundle...) label the code status_code.
        f'sum(rate(http_requests_total{{{JOB},status_code=~"5.."}}[5m]))'
        f" / sum(rate(http_requests_total{{{JOB}}}[5m]))",
    ),
    QueryTemplate(
        "http_server_5xx_ratio",
        (_C.DEPENDENCY_FAILURE, _C.BAD_ROLLOUT, _C.RESOURCE_SATURATION),
        JOB_SET,
        # Micrometer (Spring Boot) names and labels.
        f'sum(rate(http_server_requests_seconds_count{{{JOB},status=~"5.."}}[5m]))'
        f" / sum(rate(http_server_requests_seconds_count{{{JOB}}}[5m]))",
    ),
    QueryTemplate(
        "otel_http_server_5xx_ratio",
        (_C.DEPENDENCY_FAILURE, _C.BAD_ROLLOUT, _C.RESOURCE_SATURATION),
        JOB_SET,
        # OpenTelemetry semantic conventions, as exported to Prometheus.
        "sum(rate(http_server_request_duration_seconds_count"
        f'{{{JOB},http_response_status_code=~"5.."}}[5m]))'
        f" / sum(rate(http_server_request_duration_seconds_count{{{JOB}}}[5m]))",
    ),
    QueryTemplate(
        "http_server_requests_5xx_ratio",
        (_C.DEPENDENCY_FAILURE, _C.BAD_ROLLOUT, _C.RESOURCE_SATURATION),
        JOB_SET,
        # The same counter with the server side named, as Go and JVM middlewares spell it.
        f'sum(rate(http_server_requests_total{{{JOB},code=~"5.."}}[5m]))'
        f" / sum(rate(http_server_requests_total{{{JOB}}}[5m]))",
    ),
    QueryTemplate(
        "http_received_5xx_ratio",
        (_C.DEPENDENCY_FAILURE, _C.BAD_ROLLOUT, _C.RESOURCE_SATURATION),
        JOB_SET,
        # prometheus-net (ASP.NET Core) names and labels.
        f'sum(rate(http_requests_received_total{{{JOB},code=~"5.."}}[5m]))'
        f" / sum(rate(http_requests_received_total{{{JOB}}}[5m]))",
    ),
    QueryTemplate(
        "http_latency_p99_seconds",
        (_C.CPU_THROTTLING, _C.RESOURCE_SATURATION, _C.DEPENDENCY_FAILURE),
        JOB_SET,
        "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket"
        f"{{{JOB}}}[5m])))"
        # Else the p99 a summary exports as a gauge (Go and Java clients, Micrometer).
        ' or max({__name__=~"http_request_duration_seconds|http_server_requests_seconds",'
        f'{JOB},quantile="0.99"}})',
    ),
    QueryTemplate(
        "istio_latency_p99_milliseconds",
        (_C.CPU_THROTTLING, _C.RESOURCE_SATURATION, _C.DEPENDENCY_FAILURE),
        JOB_SET,
        # What callers see through the mesh (the receiving sidecar's view, in milliseconds).
        "histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket"
        '{reporter="destination",destination_workload_namespace="$namespace",'
        'destination_workload=~"$job_regex"}[5m])))',
    ),
    QueryTemplate(
        "otel_http_server_latency_p99_seconds",
        (_C.CPU_THROTTLING, _C.RESOURCE_SATURATION, _C.DEPENDENCY_FAILURE),
        JOB_SET,
        "histogram_quantile(0.99, sum by (le) (rate("
        f"http_server_request_duration_seconds_bucket{{{JOB}}}[5m])))",
    ),
    QueryTemplate(
        "ingress_latency_p99_seconds",
        (_C.CPU_THROTTLING, _C.RESOURCE_SATURATION, _C.DEPENDENCY_FAILURE),
        JOB_SET,
        # What clients see at ingress-nginx, for services that export no latency of their
        # own; labelled as ``ingress_request_rate`` is (exported_* behind a ServiceMonitor).
        "histogram_quantile(0.99, sum by (le) (rate(nginx_ingress_controller_request_duration"
        '_seconds_bucket{namespace="$namespace",service=~"$job_regex"}[5m]))) or '
        "histogram_quantile(0.99, sum by (le) (rate(nginx_ingress_controller_request_duration"
        '_seconds_bucket{exported_namespace="$namespace",exported_service=~"$job_regex"}[5m])))',
        "p99 latency of the Service's requests through ingress-nginx",
    ),
    QueryTemplate(
        "client_call_seconds",
        (_C.DEPENDENCY_FAILURE,),
        POD_SET,
        # What each call to a server costs the workload's pods, by the server they call
        # (OpenTelemetry's http.client.request.duration, labelled with server.address): a
        # callee that got slow shows here before any error does.
        "sum by (server_address) (rate(http_client_request_duration_seconds_sum"
        f"{{{POD}}}[5m])) / sum by (server_address) (rate("
        f"http_client_request_duration_seconds_count{{{POD}}}[5m]))",
        "mean seconds per outgoing HTTP call, by the server called",
    ),
    QueryTemplate(
        "pod_latency_p99_seconds",
        (_C.NODE_FAILURE,),
        POD_SET,
        # Per replica: one slow replica among fast ones follows where it runs (its node), not
        # the code or the load every replica shares. The clients' default, Micrometer and
        # OpenTelemetry histogram names, all in seconds.
        "histogram_quantile(0.99, sum by (pod, le) (rate({__name__=~"
        '"http_request_duration_seconds_bucket|http_server_requests_seconds_bucket|'
        f'http_server_request_duration_seconds_bucket",{POD}}}[5m])))',
        "p99 latency per pod",
        frozenset({"latency", "errors"}),
    ),
    QueryTemplate(
        "pod_summary_latency_p99_seconds",
        (_C.NODE_FAILURE,),
        POD_SET,
        # The p99 a summary exports per pod as a gauge (Go and Java clients, Micrometer): no
        # rate, so a new pod's first minutes (its warm-up) are kept.
        'max by (pod) ({__name__=~"http_request_duration_seconds|http_server_requests_seconds",'
        f'{POD},quantile="0.99"}})',
        "p99 latency per pod, from a summary",
        frozenset({"latency", "errors"}),
    ),
    # --- what separates the causes of latency, errors and saturation --------------------
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

WORKLOAD_TEMPLATES: tuple[QueryTemplate, ...] = tuple(
    replace(t, promql=or_otel_pod(or_by_service(t.promql))) for t in _CATALOGUE
)

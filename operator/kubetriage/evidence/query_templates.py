"""The PromQL templates of the workload's own series (``QueryTemplate``s): per-pod memory,
CPU and throttling, restarts, per-service latency and errors, callee pods. Pure data, the
first part of the catalogue; the series that separate an alert's usual causes (traffic, CPU
per request, busy pools, the rollout step) follow it
(``kubetriage.evidence.query_templates_causes``), then a queue's backlog, input and consumers
(``kubetriage.evidence.query_templates_queues``) and what the cluster reports around the
workload (volumes, replicas, nodes, probes, certificates:
``kubetriage.evidence.query_templates_cluster``). ``kubetriage.evidence.queries`` decides which
of them apply to an incident and renders them with escaped values. The label matchers and the
rewrites for ServiceMonitor and OpenTelemetry series are in ``kubetriage.evidence.query_labels``.
"""

from __future__ import annotations

from kubetriage.evidence.query_labels import (
    CALLEE_CONTAINERS,
    CALLEE_PODS,
    JOB,
    JOB_SET,
    POD,
    POD_CONTAINERS,
    POD_SET,
    with_alternatives,
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
    # A search store's demand is the searches its clients send, counted by the store itself:
    # elasticsearch_exporter labels each node's series with the node's name (the pod's, under
    # ECK and the Helm charts), the OpenSearch exporter plugin with ``node``. Flat while its
    # CPU or latency steps up: the work per search grew, or something else loads it.
    QueryTemplate(
        "search_store_query_throughput",
        (_C.RESOURCE_SATURATION, _C.BAD_ROLLOUT),
        POD_SET,
        "sum(rate(elasticsearch_indices_search_query_total"
        '{namespace="$namespace",name=~"$pod_regex"}[5m]))'
        " or sum(rate(opensearch_indices_search_query_count"
        '{namespace="$namespace",node=~"$pod_regex"}[5m]))',
        "searches the store's nodes serve per second: its demand",
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
    QueryTemplate(
        "own_failure_counters",
        (_C.BAD_ROLLOUT, _C.DEPENDENCY_FAILURE),
        POD_SET,
        # The failures the program counts itself, read as counters: when they stopped
        # counting dates the end of an episode (``analyzers.ended_symptoms``).
        f'{{__name__=~".+_(errors?|failures?|failed)_total",{POD}}}',
        "the workload's own failure counters, per pod",
    ),
)

WORKLOAD_TEMPLATES: tuple[QueryTemplate, ...] = with_alternatives(_CATALOGUE)

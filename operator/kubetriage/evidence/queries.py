"""PromQL query templates for Prometheus evidence, and which of them apply to an incident.

Pure data and pure functions; ``PrometheusEvidenceCollector`` calls ``build_scope`` and
``select_queries`` and runs what they return. Templates use ``$name`` placeholders
(``string.Template``) that are filled only with escaped values: label values come from
alerts, which anyone able to reach the webhook can write, so every value is escaped for a
PromQL string literal (and, for ``=~`` matchers, as a regular expression first). A template
whose scope labels are unknown for this incident is skipped rather than run unscoped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from string import Template
from urllib.parse import parse_qs, urlsplit

from kubetriage.evidence.targets import _is_monitoring_name, _label, queue_names
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Category

ALERT_EXPR_NAME = "alert_expr"

# Characters RE2 treats specially; Kubernetes names only ever contain "." and "-" of these
# (and "-" is literal outside brackets), but alert labels are free text.
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def escape_label_value(value: str) -> str:
    """Escape text for the inside of a double-quoted PromQL string literal."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_regex(value: str) -> str:
    """Escape text so an RE2 ``=~`` matcher matches it literally (before string escaping)."""
    return _RE2_SPECIAL.sub(r"\\\1", value)


@dataclass(frozen=True)
class QueryTemplate:
    """One PromQL template; ``requires`` lists the ``Scope`` fields it cannot run without;
    ``families`` the alert families it is run for (empty: every incident)."""

    name: str
    categories: tuple[Category, ...]
    requires: frozenset[str]
    promql: str
    description: str = ""
    families: frozenset[str] = frozenset()


# Alert families, from the alert's name and summary: each asks for the series that separate
# its usual causes (a rollout, more traffic, costlier requests, throttling, a dependency).
_FAMILY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("latency", re.compile(r"(?i)(latency|slow|duration|response.?time|p9[059])")),
    ("errors", re.compile(r"(?i)(error|5xx|fail|burn|budget|availability|success.?rate)")),
    ("saturation", re.compile(r"(?i)(saturat|hpa.*max|maxed|capacity|cpu.?high|overload)")),
    ("throttling", re.compile(r"(?i)throttl")),
    ("queue", re.compile(r"(?i)(lag|queue|backlog|consumer)")),
    ("restarts", re.compile(r"(?i)(restart|crashloop|oom|notready|replicas.?mismatch)")),
)


def alert_families(alerts: Sequence[Alert | AlertEvidence]) -> frozenset[str]:
    """The families of the incident's alerts (by alertname and summary annotation); an alert
    whose labels name a queue, topic or consumer group is of the queue family too. The
    analyzers read the same families from the alerts in the evidence."""
    text = " ".join(
        f"{a.labels.get('alertname', '')} {a.annotations.get('summary', '')}" for a in alerts
    )
    families = {name for name, pattern in _FAMILY_PATTERNS if pattern.search(text)}
    if any(queue_names(a.labels) for a in alerts):
        families.add("queue")
    return frozenset(families)


@dataclass(frozen=True)
class Scope:
    """What the queries may be scoped by, raw (unescaped) as learnt from target and alerts.

    ``pod_regex`` is already a regular expression (its literal parts escaped); all other
    values are literal label values. ``dependency_hosts`` are hostnames the workload calls
    (ExternalName Services, ingress hosts), used to find blackbox probes of them.
    ``callees`` are the workloads behind the Services it calls (followed dependencies),
    whose own throttling can be why its calls time out.
    """

    namespace: str | None = None
    pod_regex: str | None = None
    container: str | None = None
    node: str | None = None
    persistentvolumeclaim: str | None = None
    deployment: str | None = None
    statefulset: str | None = None
    job: str | None = None
    namespace_wide: bool = False
    dependency_hosts: tuple[str, ...] = field(default_factory=tuple)
    callees: tuple[ObjectRef, ...] = field(default_factory=tuple)

    def known(self) -> frozenset[str]:
        names = {
            name
            for name in (
                "namespace",
                "pod_regex",
                "container",
                "node",
                "persistentvolumeclaim",
                "deployment",
                "statefulset",
                "job",
            )
            if getattr(self, name)
        }
        if self.namespace_wide:
            names.add("namespace_wide")
        if self.dependency_hosts:
            names.add("dependency_hosts")
        if self.callees:
            names.add("callees")
        return frozenset(names)


@dataclass(frozen=True)
class RenderedQuery:
    name: str
    promql: str
    categories: tuple[Category, ...] = ()


# Container matcher used by every per-container template: the alert's container when known,
# otherwise any real container (cAdvisor's pod-level cgroup has container="", and "POD" is
# the pause container).
_CONTAINERS = 'container=~"$container_regex",container!="",container!="POD"'
_POD = 'namespace="$namespace",pod=~"$pod_regex"'
_POD_CONTAINERS = f"{_POD},{_CONTAINERS}"
_JOB = 'namespace="$namespace",job=~"$job_regex"'
_DEPLOYMENT = 'namespace="$namespace",deployment="$deployment"'
_STATEFULSET = 'namespace="$namespace",statefulset="$statefulset"'
_PVC = 'namespace="$namespace",persistentvolumeclaim="$persistentvolumeclaim"'
# The pods of the workloads behind the Services the incident's workload calls.
_CALLEE_CONTAINERS = (
    'namespace=~"$callee_namespaces",pod=~"$callee_pods",container!="",container!="POD"'
)
_POD_SET = frozenset({"namespace", "pod_regex"})
_JOB_SET = frozenset({"namespace", "job"})

_C = Category


def _pvc_ratio(used: str, total: str) -> str:
    """``used / total`` of one PersistentVolumeClaim's kubelet volume stats."""
    return (
        f"max by (persistentvolumeclaim) ({used}{{{_PVC}}})"
        f" / max by (persistentvolumeclaim) ({total}{{{_PVC}}})"
    )


def _by_job(
    name: str, categories: tuple[Category, ...], promql: str, description: str
) -> QueryTemplate:
    """A template of the service's scrape job, run for the alert families whose causes it
    separates (latency, errors, saturation)."""
    return QueryTemplate(
        name,
        categories,
        _JOB_SET,
        promql,
        description,
        frozenset({"latency", "errors", "saturation"}),
    )


def _traffic(name: str, promql: str, description: str) -> QueryTemplate:
    """A request rate: more demand points at capacity, the same at a change."""
    return _by_job(name, (_C.RESOURCE_SATURATION, _C.BAD_ROLLOUT), promql, description)


def _busy(name: str, promql: str, description: str) -> QueryTemplate:
    """A share of a pool in use: with more traffic the pods are short of capacity, with the
    same traffic what they wait on is slower."""
    return _by_job(name, (_C.RESOURCE_SATURATION, _C.DEPENDENCY_FAILURE), promql, description)


TEMPLATES: tuple[QueryTemplate, ...] = (
    # --- memory -----------------------------------------------------------------------
    QueryTemplate(
        "memory_working_set_bytes",
        (_C.OOM_KILLED, _C.RESOURCE_SATURATION),
        _POD_SET,
        f"max by (pod, container) (container_memory_working_set_bytes{{{_POD_CONTAINERS}}})",
        "working set per container (what the OOM killer compares to the limit)",
    ),
    QueryTemplate(
        "memory_limit_bytes",
        (_C.OOM_KILLED,),
        _POD_SET,
        "max by (pod, container) (kube_pod_container_resource_limits"
        f'{{{_POD_CONTAINERS},resource="memory"}})',
    ),
    QueryTemplate(
        "memory_working_set_vs_limit",
        (_C.OOM_KILLED,),
        _POD_SET,
        f"max by (pod, container) (container_memory_working_set_bytes{{{_POD_CONTAINERS}}})"
        " / on (pod, container) max by (pod, container) (kube_pod_container_resource_limits"
        f'{{{_POD_CONTAINERS},resource="memory"}})',
        "1.0 means at the limit",
    ),
    QueryTemplate(
        "last_terminated_oomkilled",
        (_C.OOM_KILLED,),
        _POD_SET,
        "max by (pod, container) (kube_pod_container_status_last_terminated_reason"
        f'{{{_POD_CONTAINERS},reason="OOMKilled"}})',
    ),
    # --- restarts and waiting ---------------------------------------------------------
    QueryTemplate(
        "container_restarts",
        (_C.CRASH_LOOP, _C.OOM_KILLED, _C.PROBE_FAILURE),
        _POD_SET,
        f"max by (pod, container) (kube_pod_container_status_restarts_total{{{_POD_CONTAINERS}}})",
    ),
    QueryTemplate(
        "container_restarts_increase_15m",
        (_C.CRASH_LOOP, _C.OOM_KILLED, _C.PROBE_FAILURE),
        _POD_SET,
        "sum by (pod, container) (increase(kube_pod_container_status_restarts_total"
        f"{{{_POD_CONTAINERS}}}[15m]))",
    ),
    QueryTemplate(
        "container_waiting_reason",
        (_C.CRASH_LOOP, _C.IMAGE_PULL, _C.CONFIG_MISSING),
        _POD_SET,
        "max by (pod, container, reason) (kube_pod_container_status_waiting_reason"
        f"{{{_POD_CONTAINERS}}}) > 0",
    ),
    QueryTemplate(
        "pod_pending",
        (_C.UNSCHEDULABLE,),
        _POD_SET,
        f'max by (pod) (kube_pod_status_phase{{{_POD},phase="Pending"}})',
    ),
    # --- CPU --------------------------------------------------------------------------
    QueryTemplate(
        "cpu_usage_cores",
        (_C.CPU_THROTTLING, _C.RESOURCE_SATURATION),
        _POD_SET,
        "sum by (pod, container) (rate(container_cpu_usage_seconds_total"
        f"{{{_POD_CONTAINERS}}}[5m]))",
    ),
    QueryTemplate(
        "cpu_limit_cores",
        (_C.CPU_THROTTLING,),
        _POD_SET,
        "max by (pod, container) (kube_pod_container_resource_limits"
        f'{{{_POD_CONTAINERS},resource="cpu"}})',
    ),
    QueryTemplate(
        "cpu_throttled_ratio",
        (_C.CPU_THROTTLING,),
        _POD_SET,
        "sum by (pod, container) (rate(container_cpu_cfs_throttled_periods_total"
        f"{{{_POD_CONTAINERS}}}[5m])) / sum by (pod, container) "
        f"(rate(container_cpu_cfs_periods_total{{{_POD_CONTAINERS}}}[5m]))",
        "share of CFS periods in which the container was throttled",
    ),
    QueryTemplate(
        "callee_cpu_throttled_ratio",
        (_C.CPU_THROTTLING,),
        frozenset({"callees"}),
        "sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total"
        f"{{{_CALLEE_CONTAINERS}}}[5m])) / sum by (namespace, pod, container) "
        f"(rate(container_cpu_cfs_periods_total{{{_CALLEE_CONTAINERS}}}[5m]))",
        "share of CFS periods in which a called workload's container was throttled",
    ),
    # --- HTTP (the service's own metrics, by scrape job) -----------------------------
    QueryTemplate(
        "http_5xx_ratio",
        (_C.DEPENDENCY_FAILURE, _C.BAD_ROLLOUT, _C.RESOURCE_SATURATION),
        _JOB_SET,
        f'sum(rate(http_requests_total{{{_JOB},code=~"5.."}}[5m]))'
        f" / sum(rate(http_requests_total{{{_JOB}}}[5m]))",
    ),
    QueryTemplate(
        "http_5xx_ratio_status_label",
        (_C.DEPENDENCY_FAILURE, _C.BAD_ROLLOUT, _C.RESOURCE_SATURATION),
        _JOB_SET,
        f'sum(rate(http_requests_total{{{_JOB},status=~"5.."}}[5m]))'
        f" / sum(rate(http_requests_total{{{_JOB}}}[5m]))",
    ),
    QueryTemplate(
        "http_5xx_ratio_status_code_label",
        (_C.DEPENDENCY_FAILURE, _C.BAD_ROLLOUT, _C.RESOURCE_SATURATION),
        _JOB_SET,
        # prom-client middlewares (express-prom-bundle...) label the code status_code.
        f'sum(rate(http_requests_total{{{_JOB},status_code=~"5.."}}[5m]))'
        f" / sum(rate(http_requests_total{{{_JOB}}}[5m]))",
    ),
    QueryTemplate(
        "http_server_5xx_ratio",
        (_C.DEPENDENCY_FAILURE, _C.BAD_ROLLOUT, _C.RESOURCE_SATURATION),
        _JOB_SET,
        # Micrometer (Spring Boot) names and labels.
        f'sum(rate(http_server_requests_seconds_count{{{_JOB},status=~"5.."}}[5m]))'
        f" / sum(rate(http_server_requests_seconds_count{{{_JOB}}}[5m]))",
    ),
    QueryTemplate(
        "otel_http_server_5xx_ratio",
        (_C.DEPENDENCY_FAILURE, _C.BAD_ROLLOUT, _C.RESOURCE_SATURATION),
        _JOB_SET,
        # OpenTelemetry semantic conventions, as exported to Prometheus.
        "sum(rate(http_server_request_duration_seconds_count"
        f'{{{_JOB},http_response_status_code=~"5.."}}[5m]))'
        f" / sum(rate(http_server_request_duration_seconds_count{{{_JOB}}}[5m]))",
    ),
    QueryTemplate(
        "http_received_5xx_ratio",
        (_C.DEPENDENCY_FAILURE, _C.BAD_ROLLOUT, _C.RESOURCE_SATURATION),
        _JOB_SET,
        # prometheus-net (ASP.NET Core) names and labels.
        f'sum(rate(http_requests_received_total{{{_JOB},code=~"5.."}}[5m]))'
        f" / sum(rate(http_requests_received_total{{{_JOB}}}[5m]))",
    ),
    QueryTemplate(
        "http_latency_p99_seconds",
        (_C.CPU_THROTTLING, _C.RESOURCE_SATURATION, _C.DEPENDENCY_FAILURE),
        _JOB_SET,
        "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket"
        f"{{{_JOB}}}[5m])))",
    ),
    QueryTemplate(
        "istio_latency_p99_milliseconds",
        (_C.CPU_THROTTLING, _C.RESOURCE_SATURATION, _C.DEPENDENCY_FAILURE),
        _JOB_SET,
        # What callers see through the mesh (the receiving sidecar's view, in milliseconds).
        "histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket"
        '{reporter="destination",destination_workload_namespace="$namespace",'
        'destination_workload=~"$job_regex"}[5m])))',
    ),
    QueryTemplate(
        "otel_http_server_latency_p99_seconds",
        (_C.CPU_THROTTLING, _C.RESOURCE_SATURATION, _C.DEPENDENCY_FAILURE),
        _JOB_SET,
        "histogram_quantile(0.99, sum by (le) (rate("
        f"http_server_request_duration_seconds_bucket{{{_JOB}}}[5m])))",
    ),
    # --- what separates the causes of latency, errors and saturation --------------------
    _traffic(
        "http_request_rate",
        f"sum(rate(http_requests_total{{{_JOB}}}[5m]))",
        "traffic: more of it points at capacity, the same at a change or a dependency",
    ),
    _traffic(
        "http_request_rate_from_histogram",
        # Services that count requests only in their latency histogram: the Prometheus
        # clients' default, Micrometer (Spring Boot) and OpenTelemetry names.
        "sum(rate({__name__=~"
        '"http_request_duration_seconds_count|http_server_requests_seconds_count|'
        f'http_server_request_duration_seconds_count",{_JOB}}}[5m]))',
        "traffic, counted by the latency histogram",
    ),
    _traffic(
        "http_request_rate_received",
        # prometheus-net (ASP.NET Core) counts requests as http_requests_received_total.
        f"sum(rate(http_requests_received_total{{{_JOB}}}[5m]))",
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
        'sum(rate(nginx_ingress_controller_requests{namespace="$namespace",'
        'service=~"$job_regex"}[5m]))',
        "traffic through ingress-nginx to the Service",
    ),
    QueryTemplate(
        "cpu_seconds_per_request",
        (_C.BAD_ROLLOUT, _C.RESOURCE_SATURATION),
        _POD_SET | _JOB_SET,
        f"sum(rate(container_cpu_usage_seconds_total{{{_POD_CONTAINERS}}}[5m]))"
        f" / sum(rate(http_requests_total{{{_JOB}}}[5m]))",
        "CPU per request: a step up means each request got costlier (new code), not more load",
        frozenset({"latency", "saturation", "throttling"}),
    ),
    # Pools in use (1.0: every worker thread or pooled connection is taken): with more
    # traffic, the pods are short of capacity; with the same traffic, what they wait on is
    # slower. Micrometer (Spring Boot: Tomcat, HikariCP) and OpenTelemetry client names.
    _busy(
        "tomcat_threads_busy_ratio",
        f"sum(tomcat_threads_busy_threads{{{_JOB}}})"
        f" / sum(tomcat_threads_config_max_threads{{{_JOB}}})",
        "Tomcat worker threads in use",
    ),
    _busy(
        "hikaricp_connections_busy_ratio",
        f"sum(hikaricp_connections_active{{{_JOB}}}) / sum(hikaricp_connections_max{{{_JOB}}})",
        "HikariCP pooled connections in use",
    ),
    _busy(
        "db_client_connections_busy_ratio",
        f'sum(db_client_connections_usage{{{_JOB},state="used"}})'
        f" / sum(db_client_connections_max{{{_JOB}}})",
        "database client pool connections in use (OpenTelemetry db.client.connections.*)",
    ),
    QueryTemplate(
        "deployment_generation",
        (_C.BAD_ROLLOUT,),
        frozenset({"namespace", "deployment"}),
        f"max(kube_deployment_status_observed_generation{{{_DEPLOYMENT}}})",
        "steps when a rollout happens: the change on the metrics' own clock",
        frozenset({"latency", "errors", "saturation", "restarts", "queue"}),
    ),
    QueryTemplate(
        "kafka_consumergroup_lag",
        (_C.RESOURCE_SATURATION, _C.DEPENDENCY_FAILURE),
        frozenset({"namespace"}),
        'sum by (consumergroup, topic) (kafka_consumergroup_lag{namespace="$namespace"})',
        "consumer lag: growing with steady input means too few or too slow consumers",
        frozenset({"queue"}),
    ),
    # A backlog grows when input outruns the consumers: the input rate, the consumers' rate
    # and their CPU separate "more work" from "slower consumers" (a change, a dependency).
    QueryTemplate(
        "queue_messages_ready",
        (_C.RESOURCE_SATURATION,),
        frozenset({"namespace"}),
        "sum by (queue) ({__name__=~"
        '"rabbitmq_queue_messages_ready|celery_queue_length|sidekiq_queue_size",'
        'namespace="$namespace"})',
        "messages waiting in each queue (RabbitMQ, Celery, Sidekiq exporters)",
        frozenset({"queue"}),
    ),
    QueryTemplate(
        "queue_input_rate",
        (_C.RESOURCE_SATURATION,),
        frozenset({"namespace"}),
        "sum by (queue) (rate(rabbitmq_queue_messages_published_total"
        '{namespace="$namespace"}[5m]))',
        "messages published per second: the demand on the consumers",
        frozenset({"queue"}),
    ),
    QueryTemplate(
        "topic_input_rate",
        (_C.RESOURCE_SATURATION,),
        frozenset({"namespace"}),
        'sum by (topic) (rate(kafka_topic_partition_current_offset{namespace="$namespace"}[5m]))',
        "messages produced per second to each topic",
        frozenset({"queue"}),
    ),
    QueryTemplate(
        "queue_consumed_rate",
        (_C.RESOURCE_SATURATION, _C.DEPENDENCY_FAILURE, _C.BAD_ROLLOUT),
        frozenset({"namespace"}),
        "max by (queue) (rate({__name__=~"
        '"rabbitmq_queue_messages_acked_total|celery_tasks_succeeded_total|'
        'celery_task_succeeded_total",namespace="$namespace"}[5m]))',
        "messages the consumers finish per second: flat while input grows is capacity",
        frozenset({"queue"}),
    ),
    QueryTemplate(
        "namespace_pod_cpu_cores",
        (_C.RESOURCE_SATURATION,),
        frozenset({"namespace", "namespace_wide"}),
        "sum by (pod) (rate(container_cpu_usage_seconds_total"
        '{namespace="$namespace",container!="",container!="POD"}[5m]))',
        "CPU per pod when the consumers are not known up front",
        frozenset({"queue"}),
    ),
    # --- storage ----------------------------------------------------------------------
    QueryTemplate(
        "volume_used_ratio",
        (_C.STORAGE,),
        frozenset({"namespace", "persistentvolumeclaim"}),
        _pvc_ratio("kubelet_volume_stats_used_bytes", "kubelet_volume_stats_capacity_bytes"),
    ),
    QueryTemplate(
        "volume_inodes_used_ratio",
        (_C.STORAGE,),
        frozenset({"namespace", "persistentvolumeclaim"}),
        _pvc_ratio("kubelet_volume_stats_inodes_used", "kubelet_volume_stats_inodes"),
    ),
    # --- replicas ---------------------------------------------------------------------
    QueryTemplate(
        "deployment_replicas_available",
        (_C.BAD_ROLLOUT, _C.RESOURCE_SATURATION, _C.UNSCHEDULABLE, _C.IMAGE_PULL),
        frozenset({"namespace", "deployment"}),
        f"max(kube_deployment_status_replicas_available{{{_DEPLOYMENT}}})",
    ),
    QueryTemplate(
        "deployment_replicas_desired",
        (_C.BAD_ROLLOUT, _C.RESOURCE_SATURATION, _C.UNSCHEDULABLE, _C.IMAGE_PULL),
        frozenset({"namespace", "deployment"}),
        f"max(kube_deployment_spec_replicas{{{_DEPLOYMENT}}})",
    ),
    QueryTemplate(
        "deployment_replicas_updated",
        (_C.BAD_ROLLOUT, _C.IMAGE_PULL),
        frozenset({"namespace", "deployment"}),
        f"max(kube_deployment_status_replicas_updated{{{_DEPLOYMENT}}})",
    ),
    QueryTemplate(
        "statefulset_replicas_ready",
        (_C.BAD_ROLLOUT, _C.STORAGE, _C.UNSCHEDULABLE),
        frozenset({"namespace", "statefulset"}),
        f"max(kube_statefulset_status_replicas_ready{{{_STATEFULSET}}})",
    ),
    QueryTemplate(
        "statefulset_replicas_desired",
        (_C.BAD_ROLLOUT, _C.STORAGE, _C.UNSCHEDULABLE),
        frozenset({"namespace", "statefulset"}),
        f"max(kube_statefulset_replicas{{{_STATEFULSET}}})",
    ),
    # --- nodes ------------------------------------------------------------------------
    QueryTemplate(
        "node_condition_true",
        (_C.NODE_FAILURE,),
        frozenset({"node"}),
        'max by (condition) (kube_node_status_condition{node="$node",status="true"})',
        "1 while the condition (Ready, MemoryPressure, DiskPressure...) holds",
    ),
    QueryTemplate(
        "node_unschedulable",
        (_C.NODE_FAILURE, _C.UNSCHEDULABLE),
        frozenset({"node"}),
        'max(kube_node_spec_unschedulable{node="$node"})',
    ),
    # --- probes and certificates ------------------------------------------------------
    QueryTemplate(
        "probe_success",
        (_C.DEPENDENCY_FAILURE, _C.NETWORK, _C.PROBE_FAILURE),
        frozenset({"namespace"}),
        'min by (job, instance) (probe_success{namespace="$namespace"})',
    ),
    QueryTemplate(
        "dependency_probe_success",
        (_C.DEPENDENCY_FAILURE, _C.NETWORK),
        frozenset({"dependency_hosts"}),
        # Blackbox "instance" is a URL or host[:port] of the probed dependency.
        'min by (job, instance) (probe_success{instance=~"(https?://)?($hosts)([:/].*)?"})',
    ),
    QueryTemplate(
        "failing_probes",
        (_C.DEPENDENCY_FAILURE, _C.NETWORK),
        # Unscoped, so only for namespace-wide incidents where nothing narrower is known:
        # blackbox probes of external dependencies carry no namespace label.
        frozenset({"namespace_wide"}),
        "min by (job, instance) (probe_success) and on (job, instance)"
        " (min by (job, instance) (min_over_time(probe_success[$window] @ end())) < 1)",
        "probes that failed at least once in the window, over the whole window",
    ),
    QueryTemplate(
        "probe_ssl_expiry_seconds",
        (_C.CERTIFICATE_EXPIRY,),
        frozenset({"dependency_hosts"}),
        "min by (instance) (probe_ssl_earliest_cert_expiry"
        '{instance=~"(https?://)?($hosts)([:/].*)?"}) - time()',
    ),
    QueryTemplate(
        "expiring_probe_certificates_seconds",
        (_C.CERTIFICATE_EXPIRY,),
        frozenset({"namespace_wide"}),
        "(min by (instance) (probe_ssl_earliest_cert_expiry) - time()) < 14 * 86400",
        "certificates seen by blackbox probes that expire within 14 days",
    ),
    QueryTemplate(
        "certmanager_expiry_seconds",
        (_C.CERTIFICATE_EXPIRY,),
        frozenset({"namespace"}),
        "min by (name) (certmanager_certificate_expiration_timestamp_seconds"
        '{namespace="$namespace"}) - time()',
    ),
)


# Pod name patterns per owner kind: controllers append a 5-character random suffix, and a
# Deployment's ReplicaSet adds the pod-template hash (up to 10 characters) before it, so
# "checkout" does not match the pods of "checkout-db".
_POD_SUFFIX: dict[str, str] = {
    "Deployment": "-[a-z0-9]{1,10}-[a-z0-9]{5}",
    "ReplicaSet": "-[a-z0-9]{5}",
    "StatefulSet": "-[0-9]+",
    "DaemonSet": "-[a-z0-9]{5}",
    "Job": "-[a-z0-9]{5}",
    "CronJob": "-[0-9]+-[a-z0-9]{5}",
}


def _first_label(alerts: Sequence[Alert], name: str) -> str | None:
    for alert in alerts:
        value = _label(alert.labels, name)
        if value is not None:
            return value
    return None


# Targets whose metrics are their workload's: per-pod series (CPU, memory, throttling,
# restarts) and rollouts belong to the workload behind a Service, Ingress or autoscaler.
_SCOPED_BY_WORKLOAD = frozenset({"Service", "Ingress", "HorizontalPodAutoscaler", "Namespace"})


def metrics_target(target: ObjectRef | None, workload: ObjectRef | None) -> ObjectRef | None:
    """What the queries are scoped by: the workload the evidence found behind a Service, an
    autoscaler or a namespace-wide incident, else the target itself. A latency alert on a
    Service needs the CPU, throttling and rollout series of the pods behind it."""
    if workload is not None and (target is None or target.kind in _SCOPED_BY_WORKLOAD):
        return workload
    return target


def build_scope(
    target: ObjectRef | None,
    alerts: Sequence[Alert],
    dependency_hosts: Sequence[str] = (),
    callees: Sequence[ObjectRef] = (),
) -> Scope:
    """What the incident's queries can be scoped by: the target first, then alert labels."""
    namespace = target.namespace if target is not None else None
    if target is not None and target.kind == "Namespace":
        namespace = target.name
    namespace = namespace or _first_label(alerts, "namespace")

    pod_regex: str | None = None
    deployment = statefulset = node = pvc = None
    if target is not None:
        if target.kind == "Pod":
            pod_regex = escape_regex(target.name)
        elif target.kind in _POD_SUFFIX:
            pod_regex = escape_regex(target.name) + _POD_SUFFIX[target.kind]
        deployment = target.name if target.kind == "Deployment" else None
        statefulset = target.name if target.kind == "StatefulSet" else None
        node = target.name if target.kind == "Node" else None
        pvc = target.name if target.kind == "PersistentVolumeClaim" else None
    alert_pod = _first_label(alerts, "pod")
    if pod_regex is None and alert_pod is not None:
        pod_regex = escape_regex(alert_pod)

    job = _first_label(alerts, "job")
    if job is not None and _is_monitoring_name(job):
        job = None
    if job is None and target is not None and target.kind in {"Deployment", "StatefulSet"}:
        # Scrape jobs are usually named after the Service, which usually matches the workload.
        job = target.name
    if job is None and target is not None and target.kind == "Service":
        job = target.name

    return Scope(
        namespace=namespace,
        pod_regex=pod_regex,
        container=_first_label(alerts, "container"),
        node=node or _first_label(alerts, "node"),
        persistentvolumeclaim=pvc or _first_label(alerts, "persistentvolumeclaim"),
        deployment=deployment or _first_label(alerts, "deployment"),
        statefulset=statefulset or _first_label(alerts, "statefulset"),
        job=job,
        namespace_wide=target is None or target.kind == "Namespace",
        dependency_hosts=tuple(dict.fromkeys(h.strip() for h in dependency_hosts if h.strip())),
        callees=tuple(c for c in callees if c.kind in _POD_SUFFIX and c.namespace),
    )


def _go_duration(window: timedelta) -> str:
    return f"{max(1, int(window.total_seconds()))}s"


def render(template: QueryTemplate, scope: Scope, window: timedelta) -> str:
    """Fill a template's placeholders with escaped values from ``scope``."""
    job = scope.job or ""
    values = {
        "namespace": escape_label_value(scope.namespace or ""),
        "pod_regex": escape_label_value(scope.pod_regex or ".+"),
        "container_regex": escape_label_value(
            escape_regex(scope.container) if scope.container else ".+"
        ),
        "node": escape_label_value(scope.node or ""),
        "persistentvolumeclaim": escape_label_value(scope.persistentvolumeclaim or ""),
        "deployment": escape_label_value(scope.deployment or ""),
        "statefulset": escape_label_value(scope.statefulset or ""),
        # Prometheus Operator names jobs "<namespace>/<name>" for Pod/ServiceMonitors.
        "job_regex": escape_label_value(f"(.+/)?{escape_regex(job.rsplit('/', 1)[-1])}"),
        "hosts": escape_label_value("|".join(escape_regex(h) for h in scope.dependency_hosts)),
        "callee_namespaces": escape_label_value(
            "|".join(dict.fromkeys(escape_regex(c.namespace or "") for c in scope.callees))
        ),
        "callee_pods": escape_label_value(
            "|".join(escape_regex(c.name) + _POD_SUFFIX[c.kind] for c in scope.callees)
        ),
        "window": _go_duration(window),
    }
    return Template(template.promql).substitute(values)


def select_queries(
    scope: Scope,
    window: timedelta,
    templates: Sequence[QueryTemplate] = TEMPLATES,
    families: frozenset[str] = frozenset(),
) -> list[RenderedQuery]:
    """The templates whose required scope is known and that serve the incident's alert
    families (or every incident), rendered, in template order."""
    known = scope.known()
    return [
        RenderedQuery(name=t.name, promql=render(t, scope, window), categories=t.categories)
        for t in templates
        if t.requires <= known and (not t.families or t.families & families)
    ]


def alert_expression(generator_url: str | None) -> str | None:
    """The PromQL behind an alert, from its ``generatorURL`` (``/graph?g0.expr=...``)."""
    if not generator_url:
        return None
    query = parse_qs(urlsplit(generator_url).query)
    expressions = query.get("g0.expr")
    if not expressions:
        return None
    expression = expressions[0].strip()
    return expression or None


def alert_queries(alerts: Sequence[Alert]) -> list[RenderedQuery]:
    """The alerts' own expressions (deduplicated), each run as an ``alert_expr`` query."""
    seen: list[str] = []
    for alert in alerts:
        expression = alert_expression(alert.generator_url)
        if expression is not None and expression not in seen:
            seen.append(expression)
    return [RenderedQuery(name=ALERT_EXPR_NAME, promql=expr) for expr in seen]

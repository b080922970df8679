"""The label vocabularies in which alerts name Kubernetes objects.

Pure tables, shared by target resolution (``targets``) and the metric queries (``queries``):
which label names which kind (Prometheus' kube-state-metrics and cAdvisor labels, their
``exported_*`` variants when a target is scraped without honor_labels), the same kinds in other
monitoring stacks' words (OpenTelemetry's k8sattributes, Datadog's Kubernetes tags, service
meshes' destination labels), the labels naming a namespace, and the names of the monitoring
stack's own jobs, which say where a series was scraped, not what is broken.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kubetriage.models.images import repository_name
from kubetriage.models.vocabulary import WORKLOAD_KINDS

# Label -> kind for namespaced objects, most specific first. "exported_*" variants appear
# when Prometheus scrapes kube-state-metrics without honor_labels.
NAMESPACED_LABELS: tuple[tuple[str, str, str], ...] = (
    ("pod", "Pod", "v1"),
    ("deployment", "Deployment", "apps/v1"),
    ("statefulset", "StatefulSet", "apps/v1"),
    ("daemonset", "DaemonSet", "apps/v1"),
    ("replicaset", "ReplicaSet", "apps/v1"),
    ("job_name", "Job", "batch/v1"),
    ("cronjob", "CronJob", "batch/v1"),
    ("persistentvolumeclaim", "PersistentVolumeClaim", "v1"),
    ("horizontalpodautoscaler", "HorizontalPodAutoscaler", "autoscaling/v2"),
    ("service", "Service", "v1"),
)

# Datadog's tag for a pod's namespace; its ``service`` tag is the unified service tag (the
# pod label tags.datadoghq.com/service or DD_SERVICE), not a Kubernetes Service, which
# Datadog calls ``kube_service``.
DATADOG_NAMESPACE = "kube_namespace"

# Other vocabularies' labels for the same kinds: (label, namespace label, kind, apiVersion).
# OpenTelemetry's k8s attributes as Prometheus exports them, Datadog's Kubernetes tags (as a
# monitor's tags become an Alertmanager alert's labels), then service meshes' destination
# labels (the callee of a failing request).
ALIASED_LABELS: tuple[tuple[str, str, str, str], ...] = (
    ("k8s_pod_name", "k8s_namespace_name", "Pod", "v1"),
    ("k8s_deployment_name", "k8s_namespace_name", "Deployment", "apps/v1"),
    ("k8s_statefulset_name", "k8s_namespace_name", "StatefulSet", "apps/v1"),
    ("k8s_daemonset_name", "k8s_namespace_name", "DaemonSet", "apps/v1"),
    ("k8s_job_name", "k8s_namespace_name", "Job", "batch/v1"),
    ("k8s_cronjob_name", "k8s_namespace_name", "CronJob", "batch/v1"),
    ("pod_name", DATADOG_NAMESPACE, "Pod", "v1"),
    ("kube_deployment", DATADOG_NAMESPACE, "Deployment", "apps/v1"),
    ("kube_stateful_set", DATADOG_NAMESPACE, "StatefulSet", "apps/v1"),
    ("kube_daemon_set", DATADOG_NAMESPACE, "DaemonSet", "apps/v1"),
    ("kube_cronjob", DATADOG_NAMESPACE, "CronJob", "batch/v1"),
    ("kube_job", DATADOG_NAMESPACE, "Job", "batch/v1"),
    ("kube_replica_set", DATADOG_NAMESPACE, "ReplicaSet", "apps/v1"),
    ("kube_service", DATADOG_NAMESPACE, "Service", "v1"),
    ("destination_workload", "destination_workload_namespace", "Deployment", "apps/v1"),
    ("dst_deployment", "dst_namespace", "Deployment", "apps/v1"),
    ("dst_statefulset", "dst_namespace", "StatefulSet", "apps/v1"),
    ("destination_service_name", "destination_service_namespace", "Service", "v1"),
    ("dst_service", "dst_namespace", "Service", "v1"),
)

# Label pairs naming an object by kind and name: kube-prometheus's workload recording rules
# (``namespace_workload_pod:kube_pod_owner:relabel``: workload, workload_type in lower case),
# kube-state-metrics' ``kube_pod_owner`` (owner_kind, owner_name) and ``kube_pod_info``
# (created_by_kind, created_by_name).
KIND_NAME_LABELS: tuple[tuple[str, str], ...] = (
    ("workload_type", "workload"),
    ("owner_kind", "owner_name"),
    ("created_by_kind", "created_by_name"),
    ("kube_ownerref_kind", "kube_ownerref_name"),
)
NAMED_KINDS: dict[str, tuple[str, str]] = {
    kind.lower(): (kind, api_version)
    for _, kind, api_version in NAMESPACED_LABELS
    if kind in WORKLOAD_KINDS
}
# The application's name as recommended labels carry it into series (kube-state-metrics'
# ``label_`` prefix when its pod labels are joined in): a hint at the workload and Service of
# that name, like a scrape job's.
APP_LABELS: tuple[str, ...] = (
    "app_kubernetes_io_name",
    "label_app_kubernetes_io_name",
    "app",
    "label_app",
    "k8s_app",
    "kube_app_name",
)

# A delivery tool's application as its metrics name it: (application label, destination
# namespace label). Argo CD's ``argocd_app_info`` carries the Application's ``name``, its own
# ``namespace`` (where Argo CD runs) and ``dest_namespace``, where what it deploys runs. The
# application is the delivery tool's, the workloads it deploys are usually named after it,
# and its destination namespace is where they fail: a hint like a scrape job's, read only
# in that pair (a bare ``name`` label names nothing in particular).
DELIVERY_APP_LABELS: tuple[tuple[str, str], ...] = (("name", "dest_namespace"),)

# Labels that name where the alert's namespace is, when ``namespace`` itself is absent.
NAMESPACE_LABELS: tuple[str, ...] = (
    "namespace",
    "k8s_namespace_name",
    DATADOG_NAMESPACE,
    "destination_workload_namespace",
    "destination_service_namespace",
    "dst_namespace",
)

# Labels naming the container an alert is about, in each vocabulary.
CONTAINER_LABELS: tuple[str, ...] = ("container", "k8s_container_name", "kube_container_name")

# Scrape jobs and exporter Services of the monitoring stack itself. A ``job``/``service``
# label containing one of these names the metrics source, not the workload in trouble.
MONITORING_NAMES: tuple[str, ...] = (
    "kube-state-metrics",
    "kubelet",
    "cadvisor",
    "node-exporter",
    "apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
    "prometheus",
    "alertmanager",
    "blackbox",
    "pushgateway",
    "kube-etcd",
)


def is_monitoring_name(value: str) -> bool:
    lowered = value.lower()
    return any(name in lowered for name in MONITORING_NAMES)


# Images of servers and agents that scrape targets the way Prometheus does, and record for
# each target the synthetic ``scrape_samples_scraped`` series (Prometheus, in server or agent
# mode, and VictoriaMetrics' single server and vmagent): a repository's last path segment.
METRICS_SERVER_IMAGES = frozenset({"prometheus", "victoria-metrics", "vmagent", "vmsingle"})


def runs_metrics_server(images: Iterable[str]) -> bool:
    """Whether one of these container images is a scraping metrics server."""
    return any(repository_name(image).lower() in METRICS_SERVER_IMAGES for image in images)


def label_value(labels: dict[str, str], name: str) -> str | None:
    value = labels.get(f"exported_{name}") or labels.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def names_kubernetes_service(labels: dict[str, str]) -> bool:
    """Whether a ``service`` label names a Kubernetes Service: not in an alert that speaks
    Datadog (its namespace only in ``kube_namespace``), where ``service`` is the unified
    service tag, an application's name."""
    return label_value(labels, "namespace") is not None or DATADOG_NAMESPACE not in labels


# Kong's Prometheus plugin labels a series with the Kong service, which the Kong Ingress
# Controller names after the Kubernetes backend it translated: "<namespace>.<service>.<port>".
# Neither name may hold a dot (DNS labels), so the split is unambiguous; a Service's name
# starts with a letter, and the port is a number (a host name such as "api.example.com" is
# none).
_KONG_BACKEND = re.compile(
    r"^(?P<namespace>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\."
    r"(?P<service>[a-z](?:[-a-z0-9]*[a-z0-9])?)\.(?P<port>\d{1,5})$"
)


def kong_backend(value: str) -> tuple[str, str] | None:
    """The (namespace, Service) a Kong service name such as ``reviews.reviews-api.80`` stands
    for, or None for any other name."""
    match = _KONG_BACKEND.match(value.strip())
    return (match["namespace"], match["service"]) if match else None

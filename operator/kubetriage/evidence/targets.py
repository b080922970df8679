"""Decide what an incident is about, from its explicit target or its alerts' labels.

Pure functions. ``KubeEvidenceCollector`` asks ``candidate_targets`` for an ordered list and
keeps the first candidate that exists in the cluster; ``build_evidence`` does the same against
an object list when it is given no target (replayed cases).

Alert labels are read most specific first: pod, the workload kinds, PVC, HPA, Service, Node.
The ``job`` label is only a weak hint: in most alerts it is the Prometheus scrape job
(``kube-state-metrics``, ``kubelet``...), which says nothing about the broken workload, but an
application's own alert often carries its job name (``job: mailer``), which usually is the
name of its Deployment or Service. So a ``job`` becomes several candidates after all the
strong labels, and the namespace itself comes last for namespace-wide incidents. The
``container`` label narrows the focus inside a pod (see ``focus_containers``); it is never a
target.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert

# Label -> kind for namespaced objects, most specific first. "exported_*" variants appear
# when Prometheus scrapes kube-state-metrics without honor_labels.
_NAMESPACED_LABELS: tuple[tuple[str, str, str], ...] = (
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

# Kinds a bare ``job`` label may name, in the order we try them.
_JOB_HINT_KINDS: tuple[tuple[str, str], ...] = (
    ("Deployment", "apps/v1"),
    ("StatefulSet", "apps/v1"),
    ("DaemonSet", "apps/v1"),
    ("Service", "v1"),
)

# Scrape jobs and exporter Services of the monitoring stack itself. A ``job``/``service``
# label containing one of these names the metrics source, not the workload in trouble.
_MONITORING_NAMES: tuple[str, ...] = (
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


def _is_monitoring_name(value: str) -> bool:
    lowered = value.lower()
    return any(name in lowered for name in _MONITORING_NAMES)


def _label(labels: dict[str, str], name: str) -> str | None:
    value = labels.get(f"exported_{name}") or labels.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def target_namespace(labels: dict[str, str]) -> str | None:
    """The namespace the targets named by ``labels`` live in (``exported_namespace`` wins
    over ``namespace``, as for every other label), None when no label names one."""
    return _label(labels, "namespace")


def _ordered_alerts(alerts: list[Alert]) -> list[Alert]:
    # Firing alerts describe the present; resolved ones only add hints.
    return [a for a in alerts if a.status != "resolved"] + [
        a for a in alerts if a.status == "resolved"
    ]


def _alert_candidates(labels: dict[str, str]) -> tuple[list[ObjectRef], list[ObjectRef]]:
    """Strong and weak candidates from one alert's labels."""
    namespace = _label(labels, "namespace")
    strong: list[ObjectRef] = []
    weak: list[ObjectRef] = []
    for label, kind, api_version in _NAMESPACED_LABELS:
        value = _label(labels, label)
        if value is None or namespace is None:
            continue
        if label == "service" and _is_monitoring_name(value):
            continue
        strong.append(
            ObjectRef(kind=kind, name=value, namespace=namespace, api_version=api_version)
        )
    node = _label(labels, "node")
    if node is not None:
        strong.append(ObjectRef(kind="Node", name=node, api_version="v1"))
    service = _label(labels, "service")
    if service is not None and namespace is not None and not _is_monitoring_name(service):
        # A ServiceMonitor's `service` label names the Service; its workload usually shares
        # the name, which is all that is left when the Service itself is gone.
        weak.extend(
            ObjectRef(kind=kind, name=service, namespace=namespace, api_version=api_version)
            for kind, api_version in _JOB_HINT_KINDS
            if kind != "Service"
        )
    job = _label(labels, "job")
    if job is not None and namespace is not None and not _is_monitoring_name(job):
        # Prometheus Operator names PodMonitor/ServiceMonitor jobs "<namespace>/<name>".
        name = job.rsplit("/", 1)[-1]
        if name:
            weak.extend(
                ObjectRef(kind=kind, name=name, namespace=namespace, api_version=api_version)
                for kind, api_version in _JOB_HINT_KINDS
            )
    if namespace is not None:
        weak.append(ObjectRef(kind="Namespace", name=namespace, api_version="v1"))
    return strong, weak


def candidate_targets(spec_target: ObjectRef | None, alerts: list[Alert]) -> list[ObjectRef]:
    """Possible targets, best first, without duplicates; empty when nothing is known.

    An explicit spec target comes first; then the strong labels of every alert, then the weak
    ones (``job`` hints, the bare namespace), so one alert's ``job`` never outranks another
    alert's ``pod``.
    """
    strong: list[ObjectRef] = []
    weak: list[ObjectRef] = []
    if spec_target is not None:
        strong.append(spec_target)
    for alert in _ordered_alerts(alerts):
        alert_strong, alert_weak = _alert_candidates(alert.labels)
        strong.extend(alert_strong)
        weak.extend(alert_weak)
    result: list[ObjectRef] = []
    seen: set[tuple[str, str, str]] = set()
    for ref in strong + weak:
        key = (ref.kind, ref.namespace or "", ref.name)
        if key not in seen:
            seen.add(key)
            result.append(ref)
    return result


def resolve_target(spec_target: ObjectRef | None, alerts: list[Alert]) -> ObjectRef | None:
    """The preferred target before checking existence: the spec's, else the best label."""
    candidates = candidate_targets(spec_target, alerts)
    return candidates[0] if candidates else None


def focus_containers(alerts: list[Alert]) -> list[str]:
    """Container names the alerts point at (their logs are fetched first), in order."""
    names: list[str] = []
    for alert in _ordered_alerts(alerts):
        name = _label(alert.labels, "container")
        # "POD" is the pause container cAdvisor reports; it never has useful logs.
        if name is not None and name != "POD" and name not in names:
            names.append(name)
    return names

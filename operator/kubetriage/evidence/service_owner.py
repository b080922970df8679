"""Which workload an alert means when it names only a telemetry service, no namespace.

An alert from an OpenTelemetry or Datadog pipeline may carry no Kubernetes namespace at all:
spanmetrics or an SDK's own metrics name the service (``service_name``, with a
``service_namespace`` that is OpenTelemetry's logical grouping, not a Kubernetes namespace),
and a Datadog monitor its unified ``service`` tag. An SRE then looks for the workload that
declares that service: its pod template sets ``OTEL_SERVICE_NAME`` or ``DD_SERVICE``, names
``service.name=`` in ``OTEL_RESOURCE_ATTRIBUTES``, or carries the pod label
``tags.datadoghq.com/service``; failing that, the workload named so (or labelled so by
``app.kubernetes.io/name``). Only a single answer is taken: two workloads declaring the same
service leave the alert without a target, as before. An alert with neither a namespace nor a
service, only a sentence ("checkout-api in shop answers 503"), is read the way a person reads
it: the one workload whose name the summary or description uses as a word (``ns/name`` or the
namespace named beside it settles between two of the same name).

Pure functions; the collector (``target_walk``) and the snapshot source list the workloads
of every namespace they may read and ask ``service_owner``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from kubetriage.evidence.label_vocabulary import is_monitoring_name, label_value
from kubetriage.evidence.raw import as_dict, dicts
from kubetriage.evidence.targets import ordered_alerts, target_namespace
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.objects import JsonDict

# Labels in which telemetry pipelines name the service an alert is about.
SERVICE_LABELS: tuple[str, ...] = ("service_name", "service")

# Workload kinds that run a service, as the collector lists them in every namespace (as it
# lists a queue's consumers).
OWNER_KINDS: tuple[str, ...] = ("Deployment", "StatefulSet")

# Env variables and pod labels in which a workload declares its telemetry service name.
_SERVICE_ENV: tuple[str, ...] = ("OTEL_SERVICE_NAME", "DD_SERVICE")
_RESOURCE_ATTRIBUTES_ENV = "OTEL_RESOURCE_ATTRIBUTES"
_SERVICE_POD_LABELS: tuple[str, ...] = ("tags.datadoghq.com/service",)
_NAME_POD_LABELS: tuple[str, ...] = ("app.kubernetes.io/name",)


def unplaced_services(alerts: list[Alert]) -> list[str]:
    """The service names of the alerts that carry no namespace label of any vocabulary, in
    order (a monitoring job's name is no service of the application's)."""
    names: list[str] = []
    for alert in ordered_alerts(alerts):
        if target_namespace(alert.labels) is not None:
            continue
        for label in SERVICE_LABELS:
            value = label_value(alert.labels, label)
            if value is not None and not is_monitoring_name(value) and value not in names:
                names.append(value)
    return names


def _template(workload: JsonDict) -> JsonDict:
    return as_dict(as_dict(workload.get("spec")).get("template"))


def declared_services(workload: JsonDict) -> set[str]:
    """The telemetry service names a workload's pod template declares."""
    template = _template(workload)
    labels = as_dict(as_dict(template.get("metadata")).get("labels"))
    found = {str(labels[k]) for k in _SERVICE_POD_LABELS if isinstance(labels.get(k), str)}
    spec = as_dict(template.get("spec"))
    for container in dicts(spec.get("containers")):
        for var in dicts(container.get("env")):
            value = var.get("value")
            if not isinstance(value, str):
                continue
            if var.get("name") in _SERVICE_ENV:
                found.add(value.strip())
            elif var.get("name") == _RESOURCE_ATTRIBUTES_ENV:
                # "service.name=checkout,deployment.environment=prod"
                for pair in value.split(","):
                    key, _, attribute = pair.partition("=")
                    if key.strip() == "service.name" and attribute.strip():
                        found.add(attribute.strip())
    return found


def _named(workload: JsonDict) -> set[str]:
    labels = as_dict(as_dict(_template(workload).get("metadata")).get("labels"))
    names = {str(labels[k]) for k in _NAME_POD_LABELS if isinstance(labels.get(k), str)}
    return names | {str(as_dict(workload.get("metadata")).get("name") or "")}


def service_owner(names: list[str], workloads: Iterable[JsonDict]) -> ObjectRef | None:
    """The one workload among ``workloads`` that declares one of the service ``names`` (or,
    when none declares it, is named after it); None when none or several do."""
    owners = [w for w in workloads if w.get("kind") in OWNER_KINDS]
    readers: tuple[Callable[[JsonDict], set[str]], ...] = (declared_services, _named)
    for name in names:
        for read in readers:
            matched = [w for w in owners if name in read(w)]
            if len(matched) > 1:
                return None  # several workloads claim the service: the alert cannot tell
            if matched:
                return _ref(matched[0])
    return None


# Annotations in which an alert describes what is wrong, in words.
_TEXT_ANNOTATIONS: tuple[str, ...] = ("summary", "description", "message")
# A Kubernetes name as a word of a sentence (dots split a host into its names).
_WORD = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
# Names this short are ordinary words more often than a workload's name.
_MIN_NAME = 4


def mentioned_workload(alerts: list[Alert], workloads: Iterable[JsonDict]) -> ObjectRef | None:
    """The one workload among ``workloads`` whose name the summary or description of an alert
    without any namespace label uses as a word, those whose namespace the text names too
    first; None when the alerts carry a namespace, or no or several workloads are named."""
    words: set[str] = set()
    for alert in ordered_alerts(alerts):
        if target_namespace(alert.labels) is not None:
            return None
        for key in _TEXT_ANNOTATIONS:
            text = (alert.annotations.get(key) or "").lower()
            words |= set(_WORD.findall(text.replace("/", " ")))
    named = [
        w
        for w in workloads
        if w.get("kind") in OWNER_KINDS
        and len(name := str(as_dict(w.get("metadata")).get("name") or "")) >= _MIN_NAME
        and name in words
    ]
    placed = [w for w in named if as_dict(w.get("metadata")).get("namespace") in words]
    chosen = placed or named
    if len(chosen) != 1:
        return None
    return _ref(chosen[0])


def _ref(workload: JsonDict) -> ObjectRef:
    meta = as_dict(workload.get("metadata"))
    return ObjectRef(
        kind=str(workload.get("kind")),
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        api_version="apps/v1",
    )


# How the kube-prometheus mixin's absence alerts (``absent(up{job="kubelet"} == 1)``:
# KubeletDown, KubeSchedulerDown, KubeProxyDown...) describe a job that has no target left.
_DISCOVERY_LOST = re.compile(r"(?i)disappeared from prometheus target discovery")
# The name Prometheus' own charts and operator give its server's pods.
_PROMETHEUS = "prometheus"


def _runs_prometheus(workload: JsonDict) -> bool:
    """Whether a workload is a Prometheus server: its pods are labelled so
    (``app.kubernetes.io/name: prometheus``, as its Helm chart and the Prometheus Operator
    label them) or run the ``prometheus`` image."""
    labels = as_dict(as_dict(_template(workload).get("metadata")).get("labels"))
    if any(labels.get(k) == _PROMETHEUS for k in _NAME_POD_LABELS):
        return True
    containers = dicts(as_dict(_template(workload).get("spec")).get("containers"))
    images = [str(c.get("image") or "") for c in containers]
    return any(i.split("@")[0].rsplit("/", 1)[-1].split(":")[0] == _PROMETHEUS for i in images)


def discovering_server(alerts: list[Alert], workloads: Iterable[JsonDict]) -> ObjectRef | None:
    """The one Prometheus server among ``workloads`` when an alert without any namespace
    label says its job's targets disappeared from Prometheus target discovery: nothing of
    that job is left to scrape, so the discovery (the server's own, with its credentials
    and configuration) is the first suspect, before the targets; None otherwise or when
    several servers run."""
    said = any(
        target_namespace(a.labels) is None
        and any(_DISCOVERY_LOST.search(a.annotations.get(k) or "") for k in _TEXT_ANNOTATIONS)
        for a in ordered_alerts(alerts)
    )
    if not said:
        return None
    servers = [w for w in workloads if w.get("kind") in OWNER_KINDS and _runs_prometheus(w)]
    return _ref(servers[0]) if len(servers) == 1 else None


def unplaced_owner(alerts: list[Alert], workloads: list[JsonDict]) -> ObjectRef | None:
    """Where an alert without any namespace label is placed: the workload declaring the
    service it names (``service_owner``), else the one its words name
    (``mentioned_workload``), else the Prometheus server whose discovery lost the alert's
    targets (``discovering_server``)."""
    return (
        service_owner(unplaced_services(alerts), workloads)
        or mentioned_workload(alerts, workloads)
        or discovering_server(alerts, workloads)
    )

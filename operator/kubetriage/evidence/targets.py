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

An ``ingress`` label (an ingress controller's metrics) hints at the Service and workload of
the same name, and an SLO burn-rate alert's ``sloth_service`` (Sloth) at the workload the
SLO's service is named after. Other vocabularies name the same objects: OpenTelemetry's
Kubernetes attributes (``k8s_deployment_name``...), Datadog's Kubernetes tags
(``kube_namespace``, ``kube_deployment``...; there ``service`` is the unified service tag, an
application's name, so only a hint at the workload of that name, never a Service), service
meshes' destination labels (Istio ``destination_workload``, Linkerd ``dst_deployment``; the
tables are in ``label_vocabulary``), and an Envoy proxy's cluster label
(``envoy_cluster_name="shop_cart_8080"``: Contour's name for Service shop/cart, port 8080)
names the backend Service in its own namespace, as a Traefik ``service`` label does
(``billing-invoice-web-http@kubernetes``: namespace, Service and port joined by dashes, so each
split is a candidate and the first that exists wins). An OpenTelemetry ``service_name`` is
deliberately no candidate: it names the service that reports the errors, usually the caller,
and the namespace-wide view finds the callee that fails (a demo's frontend alerting for its
checkout service); only an alert with no namespace at all is placed by it (``service_owner``).
An alert about a queue (``queue``, ``topic``, ``consumergroup``...) is about its consumers:
its ``service``/``job`` labels name the broker or its exporter, so they are no candidates;
a consumer group usually carries its application's name, and otherwise the namespace is the
scope in which the consumers are found (``queue_names`` gives the analyzers the names). When
that namespace is the broker's and none of its pods names the queue, the consumers run in
their own team's namespace: the one workload whose pod template names the queue there
(``AMQP_QUEUE=invoices.render``, ``celery -Q invoices``) is the target
(``queue_consumers.consumer_elsewhere``; the collector and the builder list the workloads
they may read).
A probe's alert (blackbox exporter) names a URL in ``instance``/``target``: a cluster DNS
host (``cart.shop.svc``) is a Service (``probed_services``); any other host is served by an
Ingress (``probed_hosts``; the caller finds the Ingress), which ``with_probed``
puts before the bare namespace when that namespace is another one (the exporter's own).
A delivery tool's application alert (Argo CD's ``argocd_app_info``: ``name`` and
``dest_namespace``) is about what the application deploys: the workloads named after it in its
destination namespace, then that namespace, before the tool's own namespace (``_delivered``).
A node's own alert (node-exporter) has no namespace and names the node only in ``instance``
(kube-prometheus relabels it to the node name): a host there, not an address, is a Node.
A node filesystem alert whose ``mountpoint`` is where the kubelet mounts a pod's volume is
about that volume (``volume_alerts``): its pod and namespace labels name the scraped exporter
then, so only its weak hints are kept.
"""

from __future__ import annotations

import re
from ipaddress import ip_address
from urllib.parse import urlsplit

from kubetriage.evidence.dependencies import (
    ENVOY_CLUSTER_LABELS,
    ServiceHost,
    envoy_cluster_service,
    service_hosts,
)
from kubetriage.evidence.label_vocabulary import (
    ALIASED_LABELS,
    APP_LABELS,
    CONTAINER_LABELS,
    DELIVERY_APP_LABELS,
    KIND_NAME_LABELS,
    NAMED_KINDS,
    NAMESPACE_LABELS,
    NAMESPACED_LABELS,
    is_monitoring_name,
    kong_backend,
    label_value,
    names_kubernetes_service,
)
from kubetriage.evidence.volume_alerts import kubelet_volume
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert

# Traefik's providers of Kubernetes backends; a backend service's name is
# "<namespace>-<service>-<port>@<provider>".
_TRAEFIK_PROVIDERS: tuple[str, ...] = ("kubernetes", "kubernetescrd", "kubernetesgateway")

# Labels naming a queue, topic or stream; and those naming its consumer (the NATS exporters,
# nats-surveyor and prometheus-nats-exporter, name a JetStream stream and its consumer
# ``stream_name`` and ``consumer_name``).
QUEUE_LABELS: tuple[str, ...] = (
    "queue",
    "queue_name",
    "topic",
    "stream",
    "stream_name",
    "subject",
    "consumergroup",
    "consumer_group",
    "consumer",
    "consumer_name",
    "durable_name",
)
CONSUMER_LABELS: tuple[str, ...] = (
    "consumergroup",
    "consumer_group",
    "consumer",
    "consumer_name",
    "durable_name",
)

# An alert that a series is missing: ``absent(...)``/``absent_over_time(...)`` in the text
# of its rule, or the convention of naming such a rule ``...Absent``.
_ABSENT_EXPR = re.compile(r"\babsent(?:_over_time)?\s*\(")
_ABSENT_NAME = re.compile(r"Absent(?![a-z])")

# Kinds a bare ``job`` label may name, in the order we try them.
_JOB_HINT_KINDS: tuple[tuple[str, str], ...] = (
    ("Deployment", "apps/v1"),
    ("StatefulSet", "apps/v1"),
    ("DaemonSet", "apps/v1"),
    ("Service", "v1"),
)


def target_namespace(labels: dict[str, str]) -> str | None:
    """The namespace the targets named by ``labels`` live in (``exported_namespace`` wins
    over ``namespace``, as for every other label; then OpenTelemetry's and the meshes'
    namespace labels), None when no label names one."""
    for name in NAMESPACE_LABELS:
        value = label_value(labels, name)
        if value is not None:
            return value
    return None


def about_absent_series(alert: Alert) -> bool:
    """Whether the alert says a series is missing (``absent(...)``): its labels are then the
    missing series' matchers, which name what the series measures (a consumer group, a
    topic), not who stopped exporting it; the exporter, in the series' namespace, is what
    to look at."""
    name = alert.labels.get("alertname", "")
    texts = [name, *alert.annotations.values()]
    return _ABSENT_NAME.search(name) is not None or any(_ABSENT_EXPR.search(t) for t in texts)


def placing_labels(alert: Alert) -> dict[str, str]:
    """The labels that place the alert: all of them, except a missing series' queue matchers
    (``about_absent_series``), which name the consumers the series measures and not the
    exporter that stopped producing it."""
    if not about_absent_series(alert):
        return alert.labels
    return {k: v for k, v in alert.labels.items() if k not in QUEUE_LABELS}


def queue_names(labels: dict[str, str]) -> list[str]:
    """The queues, topics and consumer groups an alert's labels name, in label order."""
    names: list[str] = []
    for label in QUEUE_LABELS:
        value = label_value(labels, label)
        if value is not None and value not in names:
            names.append(value)
    return names


def _instance_host(labels: dict[str, str]) -> str | None:
    """The host an ``instance`` label names (its port dropped), unless it is a URL or an IP
    address, which name no Node."""
    value = label_value(labels, "instance")
    if value is None or "/" in value or value.count(":") > 1 or "[" in value:
        return None  # a URL (a probe's), or an IPv6 address
    host = value.split(":", 1)[0]
    try:
        ip_address(host)
    except ValueError:
        return host or None
    return None


def traefik_backends(value: str) -> list[tuple[str, str]]:
    """The (namespace, Service) pairs a Traefik service name such as
    ``billing-invoice-web-http@kubernetes`` may stand for: Traefik joins namespace, Service
    and port with dashes, which names use too, so every split is a reading (the first one
    that exists is the one). Empty for any other name."""
    name, at, provider = value.strip().lower().rpartition("@")
    if not at or provider not in _TRAEFIK_PROVIDERS:
        return []
    words = name.split("-")[:-1]  # the last word is the port, by number or by name
    return [("-".join(words[:cut]), "-".join(words[cut:])) for cut in range(1, len(words))]


def proxy_backends(value: str) -> list[tuple[str, str]]:
    """The (namespace, Service) pairs a gateway's service label stands for: Traefik's
    (``traefik_backends``) or Kong's (``label_vocabulary.kong_backend``)."""
    kong = kong_backend(value)
    return [kong] if kong is not None else traefik_backends(value)


def ordered_alerts(alerts: list[Alert]) -> list[Alert]:
    # Firing alerts describe the present; resolved ones only add hints.
    return [a for a in alerts if a.status != "resolved"] + [
        a for a in alerts if a.status == "resolved"
    ]


def _alert_candidates(labels: dict[str, str]) -> tuple[list[ObjectRef], list[ObjectRef]]:
    """Strong and weak candidates from one alert's labels."""
    namespace = target_namespace(labels)
    # A queue's alert is about its consumers; its service and job name the broker.
    about_queue = bool(queue_names(labels))
    strong: list[ObjectRef] = []
    weak: list[ObjectRef] = []
    for label, kind, api_version in NAMESPACED_LABELS:
        value = label_value(labels, label)
        if value is None or namespace is None:
            continue
        if label == "service" and (
            is_monitoring_name(value)
            or about_queue
            or proxy_backends(value)
            or not names_kubernetes_service(labels)
        ):
            continue
        strong.append(
            ObjectRef(kind=kind, name=value, namespace=namespace, api_version=api_version)
        )
    for label, namespace_label, kind, api_version in ALIASED_LABELS:
        value = label_value(labels, label)
        where = label_value(labels, namespace_label) or namespace
        if value is not None and where is not None:
            strong.append(
                ObjectRef(kind=kind, name=value, namespace=where, api_version=api_version)
            )
    for kind_label, name_label in KIND_NAME_LABELS:
        named = NAMED_KINDS.get((label_value(labels, kind_label) or "").lower())
        value = label_value(labels, name_label)
        if named is not None and value is not None and namespace is not None:
            strong.append(
                ObjectRef(kind=named[0], name=value, namespace=namespace, api_version=named[1])
            )
    for label in ENVOY_CLUSTER_LABELS:
        # An Envoy proxy's stats name the backend only by its cluster (Contour: ns_svc_port).
        value = label_value(labels, label)
        if value is not None and (backend := envoy_cluster_service(value)) is not None:
            strong.append(
                ObjectRef(
                    kind="Service", name=backend.name, namespace=backend.namespace, api_version="v1"
                )
            )
    for where, name in proxy_backends(label_value(labels, "service") or ""):
        # A gateway's own metrics name the backend Service by namespace, name and port.
        strong.append(ObjectRef(kind="Service", name=name, namespace=where, api_version="v1"))
    for probed in probed_services(labels):
        # A probe of a URL by its cluster DNS name names the Service it reaches.
        strong.append(
            ObjectRef(
                kind="Service", name=probed.name, namespace=probed.namespace, api_version="v1"
            )
        )
    node = label_value(labels, "node") or label_value(labels, "k8s_node_name")
    if node is not None:
        strong.append(ObjectRef(kind="Node", name=node, api_version="v1"))
    elif namespace is None and (host := _instance_host(labels)) is not None:
        # A node's own alert (node-exporter: disk, filesystem, clock) carries no namespace;
        # kube-prometheus relabels its ``instance`` to the node's name.
        weak.append(ObjectRef(kind="Node", name=host, api_version="v1"))
    if namespace is not None:
        # A consumer group is named after its application far more often than not.
        for label in CONSUMER_LABELS:
            consumer = label_value(labels, label)
            if consumer is not None:
                weak.extend(
                    ObjectRef(kind=kind, name=consumer, namespace=namespace, api_version=version)
                    for kind, version in _JOB_HINT_KINDS
                    if kind != "Service"
                )
    service = label_value(labels, "service")
    if about_queue or proxy_backends(service or ""):
        service = None
    if service is not None and namespace is not None and not is_monitoring_name(service):
        # A ServiceMonitor's `service` label names the Service; its workload usually shares
        # the name, which is all that is left when the Service itself is gone.
        weak.extend(
            ObjectRef(kind=kind, name=service, namespace=namespace, api_version=api_version)
            for kind, api_version in _JOB_HINT_KINDS
            if kind != "Service"
        )
    ingress = label_value(labels, "ingress")
    if ingress is not None and namespace is not None:
        # An Ingress is usually named after the Service (and workload) behind it; its
        # controller's metrics carry no other name of the backend.
        weak.extend(
            ObjectRef(kind=kind, name=ingress, namespace=namespace, api_version=api_version)
            for kind, api_version in (("Service", "v1"), *_JOB_HINT_KINDS[:2])
        )
    app = next((v for label in APP_LABELS if (v := label_value(labels, label)) is not None), None)
    if app is not None and namespace is not None and not is_monitoring_name(app):
        weak.extend(
            ObjectRef(kind=kind, name=app, namespace=namespace, api_version=api_version)
            for kind, api_version in _JOB_HINT_KINDS
        )
    job = None if about_queue else label_value(labels, "job")
    if job is not None and namespace is not None and not is_monitoring_name(job):
        # Prometheus Operator names PodMonitor/ServiceMonitor jobs "<namespace>/<name>".
        name = job.rsplit("/", 1)[-1]
        if name:
            weak.extend(
                ObjectRef(kind=kind, name=name, namespace=namespace, api_version=api_version)
                for kind, api_version in _JOB_HINT_KINDS
            )
    slo_service = label_value(labels, "sloth_service")
    if slo_service is not None and namespace is not None:
        # An SLO generator's burn-rate alert (Sloth) names the service the SLO is about,
        # which teams name after the application.
        weak.extend(
            ObjectRef(kind=kind, name=slo_service, namespace=namespace, api_version=api_version)
            for kind, api_version in _JOB_HINT_KINDS
        )
    weak.extend(_delivered(labels))
    if namespace is not None:
        weak.append(ObjectRef(kind="Namespace", name=namespace, api_version="v1"))
    scraped = (labels.get("namespace") or "").strip()
    if scraped and scraped != namespace and not is_monitoring_name(scraped):
        # ``exported_namespace`` names what the series are about (an Ingress's namespace),
        # ``namespace`` where the scraped exporter runs: for a controller's own metrics (an
        # ingress controller's latency) that is where the trouble may be, the last resort.
        weak.append(ObjectRef(kind="Namespace", name=scraped, api_version="v1"))
    if kubelet_volume(label_value(labels, "mountpoint") or "") is not None:
        # A node filesystem alert about a pod's volume: its pod and namespace labels are the
        # scraped exporter's, which the alert is not about; the volume's claim is the target
        # (``mounted_volumes``), the bare namespace only the last resort.
        return [], weak
    return strong, weak


def _delivered(labels: dict[str, str]) -> list[ObjectRef]:
    """What a delivery tool's application alert (Argo CD: ``name`` and ``dest_namespace``)
    points at: the workloads named after the application in its destination namespace, then
    that namespace; the alert's own ``namespace`` is the delivery tool's."""
    found: list[ObjectRef] = []
    for app_label, destination_label in DELIVERY_APP_LABELS:
        app = label_value(labels, app_label)
        destination = label_value(labels, destination_label)
        if destination is None:
            continue
        if app is not None:
            found.extend(
                ObjectRef(kind=kind, name=app, namespace=destination, api_version=api_version)
                for kind, api_version in _JOB_HINT_KINDS
            )
        found.append(ObjectRef(kind="Namespace", name=destination, api_version="v1"))
    return found


def unplaced_names(alerts: list[Alert]) -> list[tuple[str, str]]:
    """(kind, name) of the callees that a service mesh's destination labels name without
    their own namespace label (``destination_service_name`` without
    ``destination_service_namespace``...): the alert's ``namespace`` is then where the
    reporting proxy runs (an ingress gateway's), not necessarily the callee's."""
    found: list[tuple[str, str]] = []
    for alert in ordered_alerts(alerts):
        for label, namespace_label, kind, _ in ALIASED_LABELS:
            value = label_value(alert.labels, label)
            if value is None or label_value(alert.labels, namespace_label) is not None:
                continue
            if kind in ("Service", "Deployment") and (kind, value) not in found:
                found.append((kind, value))
    return found


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
    for alert in ordered_alerts(alerts):
        alert_strong, alert_weak = _alert_candidates(placing_labels(alert))
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
    for alert in ordered_alerts(alerts):
        name = next(
            (v for label in CONTAINER_LABELS if (v := label_value(alert.labels, label))), None
        )
        # "POD" is the pause container cAdvisor reports; it never has useful logs.
        if name is not None and name != "POD" and name not in names:
            names.append(name)
    return names


# Labels in which a probe (blackbox exporter, uptime checks) names the URL it probes.
_PROBE_URL_LABELS: tuple[str, ...] = ("instance", "target", "url")


def probed_services(labels: dict[str, str]) -> list[ServiceHost]:
    """The Services an alert's probe URLs name by their cluster DNS name
    (``http://cart.shop.svc.cluster.local:8080/healthz``, ``http://cart.shop.svc/``)."""
    found: list[ServiceHost] = []
    for label in _PROBE_URL_LABELS:
        value = label_value(labels, label) or ""
        if value.lower().startswith(("http://", "https://")):
            found += [h for h in service_hosts(None, value) if h.cluster_dns and h.namespace]
    return found


def probed_hosts(alerts: list[Alert]) -> list[str]:
    """The hosts of the http(s) URLs the alerts' probe labels name, in order."""
    hosts: list[str] = []
    for alert in ordered_alerts(alerts):
        for label in _PROBE_URL_LABELS:
            value = label_value(alert.labels, label) or ""
            if not value.lower().startswith(("http://", "https://")):
                continue
            try:
                host = urlsplit(value).hostname
            except ValueError:
                continue
            if host and host not in hosts:
                hosts.append(host)
    return hosts


def with_probed(candidates: list[ObjectRef], probed: ObjectRef | None) -> list[ObjectRef]:
    """``candidates`` with the Ingress serving a probed host before the first bare namespace,
    unless that namespace is the Ingress's own (the namespace-wide view holds it already) or
    no namespace is a candidate (the alert names the objects it is about). When nothing is a
    candidate (a probe scraped from a static target list carries no namespace), the Ingress
    is the only lead."""
    if probed is not None and not candidates:
        return [probed]
    spots = [i for i, c in enumerate(candidates) if c.kind == "Namespace"]
    if probed is None or not spots or any(c.same_object(probed) for c in candidates):
        return candidates
    if any(candidates[i].name == probed.namespace for i in spots):
        return candidates
    return [*candidates[: spots[0]], probed, *candidates[spots[0] :]]


def before_bare_namespace(candidates: list[ObjectRef], leads: list[ObjectRef]) -> list[ObjectRef]:
    """``candidates`` with the ``leads`` not among them before the first bare namespace (the
    alert's own, where a controller runs), after any object an alert names itself; appended
    when no namespace is a candidate."""
    fresh = [d for d in leads if not any(c.same_object(d) for c in candidates)]
    spots = [i for i, c in enumerate(candidates) if c.kind == "Namespace"]
    if not fresh or not spots:
        return [*candidates, *fresh]
    return [*candidates[: spots[0]], *fresh, *candidates[spots[0] :]]

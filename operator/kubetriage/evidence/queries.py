"""Which PromQL templates (the catalogue in ``kubetriage.evidence.query_templates``,
``...query_templates_causes``, ``...query_templates_queues`` and ``...query_templates_cluster``,
in that order: ``TEMPLATES``) apply to an
incident, and rendering them for its scope.

Pure functions; ``PrometheusEvidenceCollector`` calls ``build_scope`` and
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

from kubetriage.evidence.label_vocabulary import is_monitoring_name, label_value
from kubetriage.evidence.query_template import QueryTemplate
from kubetriage.evidence.query_templates import WORKLOAD_TEMPLATES
from kubetriage.evidence.query_templates_caches import CACHE_TEMPLATES
from kubetriage.evidence.query_templates_callees import CALLEE_TEMPLATES
from kubetriage.evidence.query_templates_causes import CAUSE_TEMPLATES
from kubetriage.evidence.query_templates_cluster import CLUSTER_TEMPLATES
from kubetriage.evidence.query_templates_mesh import MESH_TEMPLATES
from kubetriage.evidence.query_templates_queues import QUEUE_TEMPLATES
from kubetriage.evidence.query_templates_replicas import REPLICA_TEMPLATES
from kubetriage.evidence.query_templates_volumes import VOLUME_TEMPLATES
from kubetriage.evidence.targets import queue_names
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Category

ALERT_EXPR_NAME = "alert_expr"

# The whole catalogue, in the order the queries are run and shown.
TEMPLATES: tuple[QueryTemplate, ...] = (
    *WORKLOAD_TEMPLATES,
    *CAUSE_TEMPLATES,
    *CALLEE_TEMPLATES,
    *REPLICA_TEMPLATES,
    *MESH_TEMPLATES,
    *QUEUE_TEMPLATES,
    *CACHE_TEMPLATES,
    *CLUSTER_TEMPLATES,
    *VOLUME_TEMPLATES,
)

# Characters RE2 treats specially; Kubernetes names only ever contain "." and "-" of these
# (and "-" is literal outside brackets), but alert labels are free text.
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def escape_label_value(value: str) -> str:
    """Escape text for the inside of a double-quoted PromQL string literal."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_regex(value: str) -> str:
    """Escape text so an RE2 ``=~`` matcher matches it literally (before string escaping)."""
    return _RE2_SPECIAL.sub(r"\\\1", value)


# Alert families, from the alert's name and summary: each asks for the series that separate
# its usual causes (a rollout, more traffic, costlier requests, throttling, a dependency).
_FAMILY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # "late" as a word ("log lines reach Loki late", "...ArriveLate"), never inside one
    # ("template", "Latest"): what arrives late is slow to arrive.
    (
        "latency",
        re.compile(r"(?i:latency|slow|duration|response.?time|p9[059]|\blate\b)|Late(?![a-z])"),
    ),
    ("errors", re.compile(r"(?i)(error|5xx|fail|burn|budget|availability|success.?rate)")),
    ("saturation", re.compile(r"(?i)(saturat|hpa.*max|maxed|capacity|cpu.?high|overload)")),
    ("throttling", re.compile(r"(?i)throttl")),
    ("queue", re.compile(r"(?i)(lag|queue|backlog|consumer)")),
    ("restarts", re.compile(r"(?i)(restart|crashloop|oom|notready|replicas.?mismatch)")),
    # A cache's share of reads it answers from what it holds ("VarnishCacheHitRatioLow").
    ("cache", re.compile(r"(?i)(hit.?ratio|hit.?rate|cache.?miss)")),
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
    whose own throttling can be why its calls time out. ``claims`` are the
    PersistentVolumeClaims its pods and its callees' pods mount, whose fill can be why.
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
    claims: tuple[ObjectRef, ...] = field(default_factory=tuple)
    # The pods of the workloads on the incident's Node: whose series of the node's resource.
    tenants: tuple[ObjectRef, ...] = field(default_factory=tuple)
    # The incident's pods run a scraping metrics server: what each scrape job feeds it counts.
    scrapes: bool = False

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
        if self.claims:
            names.add("claims")
        if self.tenants:
            names.add("tenants")
        if self.scrapes:
            names.add("scrapes")
        return frozenset(names)


@dataclass(frozen=True)
class RenderedQuery:
    name: str
    promql: str
    categories: tuple[Category, ...] = ()


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
        value = label_value(alert.labels, name)
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
    claims: Sequence[ObjectRef] = (),
    tenants: Sequence[ObjectRef] = (),
    *,
    namespace_wide: bool = False,
    workload: ObjectRef | None = None,
    scrapes: bool = False,
) -> Scope:
    """What the incident's queries can be scoped by: the target first, then alert labels.
    ``namespace_wide`` keeps a namespace-wide incident's unscoped queries (probes) when its
    metrics are scoped by the one workload found in the namespace. ``workload`` is the
    controller of a Pod target: its per-pod queries stay on the pod, while its rollout and
    replica series and its scrape job are the workload's. ``scrapes``: the target runs a
    scraping metrics server (``label_vocabulary.runs_metrics_server``)."""
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
    owner = workload if target is not None and target.kind == "Pod" else None
    if owner is not None and owner.namespace in (None, namespace):
        deployment = owner.name if owner.kind == "Deployment" else None
        statefulset = owner.name if owner.kind == "StatefulSet" else None
    alert_pod = _first_label(alerts, "pod")
    if pod_regex is None and alert_pod is not None:
        pod_regex = escape_regex(alert_pod)

    job = _first_label(alerts, "job")
    if job is not None and is_monitoring_name(job):
        job = None
    named = deployment or statefulset
    if job is None and named is not None:
        # Scrape jobs are usually named after the Service, which usually matches the workload.
        job = named
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
        namespace_wide=namespace_wide or target is None or target.kind == "Namespace",
        dependency_hosts=tuple(dict.fromkeys(h.strip() for h in dependency_hosts if h.strip())),
        callees=tuple(c for c in callees if c.kind in _POD_SUFFIX and c.namespace),
        claims=tuple(c for c in claims if c.kind == "PersistentVolumeClaim" and c.namespace),
        tenants=tuple(p for p in tenants if p.kind == "Pod" and p.namespace),
        scrapes=scrapes,
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
        "claim_namespaces": escape_label_value(
            "|".join(dict.fromkeys(escape_regex(c.namespace or "") for c in scope.claims))
        ),
        "claim_names": escape_label_value(
            "|".join(dict.fromkeys(escape_regex(c.name) for c in scope.claims))
        ),
        "tenant_namespaces": escape_label_value(
            "|".join(dict.fromkeys(escape_regex(p.namespace or "") for p in scope.tenants))
        ),
        "tenant_pods": escape_label_value(
            "|".join(dict.fromkeys(escape_regex(p.name) for p in scope.tenants))
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

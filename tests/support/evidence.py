"""Builders for ``Evidence`` objects used by the analyzer tests.

Each builder returns a real pydantic model with the defaults a healthy Deployment would show,
so a test states only what is broken. ``analyze`` runs the real analyzer registry and fails the
test if any analyzer raised.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from kubetriage.analyzers import AnalyzerRun, run_analyzers
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.naming import (
    NamingSource,
    args_source,
    config_map_source,
    env_source,
    event_source,
    log_source,
    route_source,
)
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import (
    ChangeEvidence,
    ContainerEvidence,
    ContainerPort,
    ContainerState,
    EventEvidence,
    LogSource,
    LogTail,
    MetricSummary,
    PodCondition,
    PodEvidence,
    ProbeSpec,
    RevisionEvidence,
    ServiceEvidence,
    ServicePort,
    WorkloadEvidence,
)
from kubetriage.models.vocabulary import Action, Category

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
# The one pod of ``checkout_evidence`` (and of most tests about the checkout Deployment).
CHECKOUT_POD = "checkout-7d9f6c8b5-abcde"


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def running() -> ContainerState:
    return ContainerState(state="running", started_at=ago(60))


def waiting(reason: str, message: str | None = None) -> ContainerState:
    return ContainerState(state="waiting", reason=reason, message=message)


def terminated(reason: str | None, exit_code: int, message: str | None = None) -> ContainerState:
    return ContainerState(
        state="terminated",
        reason=reason,
        exit_code=exit_code,
        message=message,
        started_at=ago(5),
        finished_at=ago(1),
    )


def http_probe(
    kind: Literal["liveness", "readiness", "startup"], path: str, port: int | str, **fields: Any
) -> ProbeSpec:
    """An httpGet probe of ``path`` on ``port`` (a number or a container port's name)."""
    return ProbeSpec(
        kind=kind, handler=f"httpGet {path} :{port}", mechanism="httpGet", port=str(port), **fields
    )


def tcp_probe(
    kind: Literal["liveness", "readiness", "startup"], port: int | str, **fields: Any
) -> ProbeSpec:
    """A tcpSocket probe of ``port`` (a number or a container port's name)."""
    return ProbeSpec(
        kind=kind, handler=f"tcpSocket :{port}", mechanism="tcpSocket", port=str(port), **fields
    )


def exec_probe(
    kind: Literal["liveness", "readiness", "startup"], command: str, **fields: Any
) -> ProbeSpec:
    """An exec probe running ``command``."""
    return ProbeSpec(kind=kind, handler=f"exec {command}", mechanism="exec", **fields)


def service_port(
    port: int,
    target: int | str | None = None,
    name: str | None = None,
    *,
    node_port: int | None = None,
    protocol: str = "TCP",
) -> ServicePort:
    """A Service port sending to ``target`` (a number or a container port's name)."""
    return ServicePort(
        port=port,
        target=None if target is None else str(target),
        protocol=protocol,
        name=name,
        node_port=node_port,
    )


def port(number: int, name: str | None = None, protocol: str = "TCP") -> ContainerPort:
    """A port a container declares."""
    return ContainerPort(number=number, name=name, protocol=protocol)


def container(
    name: str = "app",
    image: str = "ghcr.io/example/app:1.0",
    *,
    ready: bool = True,
    restarts: int = 0,
    state: ContainerState | None = None,
    last_state: ContainerState | None = None,
    **fields: Any,
) -> ContainerEvidence:
    return ContainerEvidence(
        name=name,
        image=image,
        ready=ready,
        started=ready,
        restart_count=restarts,
        state=state or running(),
        last_state=last_state,
        **fields,
    )


def crash_looping(
    name: str = "app",
    image: str = "ghcr.io/example/app:1.0",
    *,
    restarts: int = 5,
    exit_code: int = 1,
    reason: str | None = "Error",
    **fields: Any,
) -> ContainerEvidence:
    """A container in CrashLoopBackOff whose last run ended with ``exit_code``."""
    return container(
        name,
        image,
        ready=False,
        restarts=restarts,
        state=waiting("CrashLoopBackOff"),
        last_state=terminated(reason, exit_code),
        **fields,
    )


def pod(
    name: str,
    *containers: ContainerEvidence,
    namespace: str = "shop",
    replica_set: str | None = "checkout-7d9f6c8b5",
    phase: str = "Running",
    node: str | None = "worker-1",
    labels: dict[str, str] | None = None,
    **fields: Any,
) -> PodEvidence:
    owner = (
        ObjectRef(kind="ReplicaSet", namespace=namespace, name=replica_set) if replica_set else None
    )
    ready = all(c.ready for c in containers)
    fields.setdefault(
        "conditions", [PodCondition(type="Ready", status="True" if ready else "False")]
    )
    fields.setdefault("created_at", ago(120))
    return PodEvidence(
        name=name,
        namespace=namespace,
        phase=phase,
        node=node,
        owner=owner,
        labels=labels if labels is not None else {"app": "checkout"},
        containers=list(containers) or [container()],
        **fields,
    )


def app_pod(
    name: str, *containers: ContainerEvidence, namespace: str = "shop", **fields: Any
) -> PodEvidence:
    """A pod named as a Deployment's pods are (``<app>-<hash>-<suffix>``): its ReplicaSet
    (``<app>-<hash>``) and its ``app`` label follow from the name."""
    replica_set = name.rsplit("-", 1)[0]
    labels = {"app": replica_set.rsplit("-", 1)[0]}
    return pod(
        name, *containers, namespace=namespace, replica_set=replica_set, labels=labels, **fields
    )


def deployment(
    name: str = "checkout",
    namespace: str = "shop",
    *,
    replicas: int = 2,
    ready: int | None = None,
    containers: list[ContainerEvidence] | None = None,
    revision: int = 1,
    **fields: Any,
) -> WorkloadEvidence:
    ready_count = replicas if ready is None else ready
    return WorkloadEvidence(
        ref=ObjectRef(kind="Deployment", namespace=namespace, name=name),
        desired_replicas=replicas,
        ready_replicas=ready_count,
        available_replicas=ready_count,
        updated_replicas=replicas,
        unavailable_replicas=replicas - ready_count,
        selector={"app": name},
        containers=containers or [],
        revision=revision,
        **fields,
    )


def revision(
    name: str,
    number: int,
    images: dict[str, str],
    *,
    current: bool = False,
    ready: int = 0,
    created_minutes_ago: float = 60 * 24 * 30,
) -> RevisionEvidence:
    return RevisionEvidence(
        name=name,
        revision=number,
        images=images,
        replicas=ready,
        ready_replicas=ready,
        available_replicas=ready,
        created_at=ago(created_minutes_ago),
        current=current,
    )


def rollout_revisions(
    number: int,
    new: dict[str, str],
    old: dict[str, str],
    *,
    minutes_ago: float,
    ready: int = 0,
    old_ready: int = 0,
    names: tuple[str, str] = ("checkout-7d9f6c8b5", "checkout-5c6d7e8f9"),
) -> list[RevisionEvidence]:
    """Revision ``number`` (images ``new``, ``ready`` pods) rolled out ``minutes_ago`` over
    revision ``number - 1`` (images ``old``, ``old_ready`` pods, a month old); ``names``
    are the two ReplicaSets, new first."""
    return [
        revision(names[0], number, new, current=True, ready=ready, created_minutes_ago=minutes_ago),
        revision(names[1], number - 1, old, ready=old_ready),
    ]


def rollout_change(
    workload: ObjectRef, from_revision: int, *aspects: str, minutes_ago: float
) -> ChangeEvidence:
    """The timeline entry of ``workload``'s rollout from ``from_revision`` to the next one,
    ``minutes_ago``, changing ``aspects`` of the pod template ("image", "env", "probes"...)."""
    return ChangeEvidence(
        at=ago(minutes_ago),
        kind="rollout",
        object=workload,
        aspects=list(aspects),
        details=[f"revision {from_revision} -> {from_revision + 1}"],
        from_revision=from_revision,
        to_revision=from_revision + 1,
    )


def event(
    reason: str,
    message: str,
    *,
    name: str,
    kind: str = "Pod",
    namespace: str | None = "shop",
    type_: str = "Warning",
    count: int = 1,
) -> EventEvidence:
    return EventEvidence(
        type=type_,
        reason=reason,
        message=message,
        involved=ObjectRef(kind=kind, namespace=namespace, name=name),
        count=count,
        first_seen=ago(30),
        last_seen=ago(1),
    )


def service(
    name: str,
    namespace: str = "shop",
    *,
    selector: dict[str, str] | None = None,
    ready: int | None = None,
    matching: int | None = None,
    **fields: Any,
) -> ServiceEvidence:
    """A ClusterIP Service selecting ``app=<name>`` (or ``selector``) with ``ready`` ready
    endpoints and ``matching`` pods matching its selector (None: not collected)."""
    return ServiceEvidence(
        name=name,
        namespace=namespace,
        selector={"app": name} if selector is None else selector,
        ready_endpoints=ready,
        matching_pods=matching,
        **fields,
    )


def external_service(
    name: str, host: str, namespace: str = "shop", **fields: Any
) -> ServiceEvidence:
    """An ExternalName Service: ``name`` in the cluster stands for ``host`` outside it."""
    return ServiceEvidence(
        name=name, namespace=namespace, type="ExternalName", external_name=host, **fields
    )


def network_policy(
    name: str,
    *rules: str,
    namespace: str = "shop",
    ingress_rules: int | None = None,
    selects_target: bool = True,
    policy_types: tuple[str, ...] = ("Ingress",),
    **fields: Any,
) -> NetworkPolicyEvidence:
    """A NetworkPolicy with its compact ``rules``; ``ingress_rules`` counts the rules that
    allow something (default: the rules other than ``ingress: deny all``)."""
    if ingress_rules is None:
        ingress_rules = sum(1 for rule in rules if rule != "ingress: deny all")
    return NetworkPolicyEvidence(
        name=name,
        namespace=namespace,
        policy_types=list(policy_types),
        ingress_rules=ingress_rules,
        selects_target=selects_target,
        rules=list(rules),
        **fields,
    )


def log(
    pod_name: str,
    container_name: str,
    text: str,
    *,
    namespace: str = "shop",
    source: LogSource = "scope",
) -> LogTail:
    """A log tail read for ``source`` (default: one of the incident's own pods)."""
    return LogTail(
        namespace=namespace,
        pod=pod_name,
        container=container_name,
        lines=[line for line in text.strip().splitlines() if line.strip()],
        source=source,
    )


def checkout_log(text: str) -> LogTail:
    """The log of container ``app`` of ``CHECKOUT_POD``."""
    return log(CHECKOUT_POD, "app", text)


def metric(
    query: str,
    *,
    last: float,
    first: float | None = None,
    max_: float | None = None,
    min_: float | None = None,
    name: str | None = None,
    labels: dict[str, str] | None = None,
    trend: Literal["rising", "falling", "flat", "unknown"] = "unknown",
    changed_minutes_ago: float | None = None,
) -> MetricSummary:
    """A metric's summary; ``changed_minutes_ago``: when its level stepped."""
    values = [v for v in (first, last, max_, min_) if v is not None]
    changed = {} if changed_minutes_ago is None else {"changed_at": ago(changed_minutes_ago)}
    return MetricSummary(
        name=name or query.split("{", 1)[0],
        query=query,
        labels=labels or {},
        last=last,
        first=first,
        min=min_ if min_ is not None else min(values),
        max=max_ if max_ is not None else max(values),
        trend=trend,
        samples=60,
        **changed,
    )


def error_ratio(
    *,
    first: float,
    last: float,
    changed_minutes_ago: float,
    job: str | None = "checkout",
    trend: Literal["rising", "falling", "flat", "unknown"] = "unknown",
) -> MetricSummary:
    """The ratio of HTTP 5xx answers (of ``job``'s requests, or of all without a job),
    stepping from ``first`` to ``last`` ``changed_minutes_ago``."""
    errors, total = (
        (f'{{job="{job}",code=~"5.."}}', f'{{job="{job}"}}') if job else ('{code=~"5.."}', "")
    )
    query = (
        f"sum(rate(http_requests_total{errors}[5m])) / sum(rate(http_requests_total{total}[5m]))"
    )
    return metric(
        query,
        name="http_5xx_ratio",
        first=first,
        last=last,
        trend=trend,
        changed_minutes_ago=changed_minutes_ago,
    )


def named(text: str) -> NamingSource:
    """One naming source in the walk's own words (``naming``)."""
    return naming(text)[0]


def naming(*texts: str) -> list[NamingSource]:
    """The naming sources a test states in the walk's own words ("log ns/pod/container",
    "pod x env VAR", "Deployment x args", "event Pod/x Reason", "ConfigMap x"; anything
    else is a route's words), built with the product's constructors: a word that does not
    round-trip to the same text fails the test here, not in an analyzer."""
    found: list[NamingSource] = []
    for text in texts:
        head, _, rest = text.partition(" ")
        words = text.split(" ")
        if head == "log" and rest.count("/") == 2 and " " not in rest:
            source = log_source(*rest.split("/"))
        elif head == "event" and len(words) == 3 and "/" in words[1]:
            kind, _, name = words[1].partition("/")
            source = event_source(kind, name, words[2])
        elif head == "ConfigMap" and len(words) == 2:
            source = config_map_source(rest)
        elif len(words) == 4 and words[2] == "env":
            source = env_source(words[0], words[1], words[3])
        elif len(words) == 3 and words[2] == "args":
            source = args_source(words[0], words[1])
        else:
            source = route_source(text)
        assert source.text == text, (source.text, text)
        found.append(source)
    return found


def alert(**labels: str) -> AlertEvidence:
    return AlertEvidence(labels=labels, starts_at=ago(6), status="firing")


def evidence(**fields: Any) -> Evidence:
    fields.setdefault("collected_at", NOW)
    return Evidence(**fields)


def assert_leads(
    result: AnalyzerRun, category: Category, action: Action, target: ObjectRef
) -> Finding:
    """The first finding, once checked to name ``category``, ``action`` and ``target``."""
    first = result.findings[0]
    assert (first.category, first.action, first.target) == (category, action, target), first
    return first


def assert_ranks_below(result: AnalyzerRun, category: Category, leader: Finding) -> None:
    """A finding of ``category`` was made, and the first of them ranks below ``leader``."""
    found = by_category(result, category)
    assert found, f"no {category.value} finding"
    assert found[0].confidence < leader.confidence, (found[0], leader)


def checkout_evidence(*containers: ContainerEvidence, **fields: Any) -> Evidence:
    """Evidence about the ``checkout`` Deployment and its one pod ``CHECKOUT_POD`` running
    ``containers`` (default: a healthy ``app``), plus ``fields`` (what the test breaks:
    logs, services, policies...; ``workload`` replaces the healthy Deployment)."""
    fields.setdefault("workload", deployment())
    return evidence(pods=[pod(CHECKOUT_POD, *(containers or [container("app")]))], **fields)


def app_evidence(
    pod_name: str,
    *containers: ContainerEvidence,
    namespace: str = "shop",
    logs: str | None = None,
    **fields: Any,
) -> Evidence:
    """Evidence about a Deployment and its one pod ``pod_name`` (see ``app_pod``) running
    ``containers``; ``logs`` is what the first container logged. ``workload`` replaces the
    default Deployment (named after the app, two replicas, all ready)."""
    the_pod = app_pod(pod_name, *containers, namespace=namespace)
    app = the_pod.labels["app"]
    fields.setdefault("workload", deployment(app, namespace))
    if logs is not None:
        fields["logs"] = [log(pod_name, the_pod.containers[0].name, logs, namespace=namespace)]
    return evidence(pods=[the_pod], **fields)


def analyze(ev: Evidence) -> AnalyzerRun:
    result = run_analyzers(ev)
    assert not result.errors, result.errors
    return result


def top(ev: Evidence) -> Finding:
    result = analyze(ev)
    assert result.findings, "no analyzer fired"
    return result.findings[0]


def by_category(result: AnalyzerRun, category: Category) -> list[Finding]:
    return [f for f in result.findings if f.category is category]

"""The pinned-connections rule: a Service balances connections, not requests. Callers that
speak gRPC or HTTP/2 open a few long-lived connections and multiplex every call over them;
kube-proxy picks a pod once per connection, so pods added later (an autoscaler's scale-out)
get only the connections opened after they start, and those never come. Servers bound this
by closing connections after a maximum age (gRPC's MAX_CONNECTION_AGE, an HTTP/2 server's
max-connection-age or max-requests setting), which makes callers reconnect and spread over
every ready pod.

An SRE reads it from the load of the workload's ready pods of one revision: the pods that
started last sit idle beside saturated older siblings, behind a Service that declares gRPC or
HTTP/2 (appProtocol or port name). More replicas or more CPU leave the new pods idle. When the
revision they all run went out shortly before with changed code or settings (image, env,
args, command), and the imbalance shows on the first scale-out since, that release took away
what rebalanced the connections: roll it back (``bad-rollout``, ``rollback``).

Silent when the Service pins clients by ClientIP affinity (the sticky-service rule's), when
the idle pods are not the youngest or started too recently to have been offered calls, when
the pods run different revisions (a rollout in progress), and when no such release precedes
the scale-out: then nothing says the pinning is new.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.own_sockets import CODE_OR_SETTINGS, settings_rollout
from kubetriage.analyzers.revisions import current_and_previous_revision, pod_revision
from kubetriage.analyzers.session_affinity import (
    AFFINITY,
    pod_loads,
    ready,
    split_loads_fact,
    uneven_loads,
)
from kubetriage.analyzers.support import (
    item,
    seconds_before,
    service_source,
    timestamp,
    workload_ref,
)
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import PodEvidence, ServiceEvidence
from kubetriage.models.objects import service_selects
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a pinned-connections finding is, by the evidence that earns it."""

    # The youngest ready pods of one revision idle beside busy older ones behind a gRPC or
    # HTTP/2 Service, after a release that changed the server's code or settings and before
    # the scale-out that added them: above CPU throttling of the busy pods (0.75) and an
    # autoscaler at its maximum (0.8), which the idle pods show are not short of CPU or
    # replicas.
    pinned_after_release: float = 0.82


CONFIDENCE: Final = _Confidence()

# Protocols that multiplex many calls over one long-lived connection, as a Service port
# declares them (appProtocol, Istio-style port-name prefix, kubernetes.io/ prefixed forms).
MULTIPLEXED: Final = frozenset({"grpc", "grpc-web", "http2", "h2c", "h2"})
# Pods that started this recently may not have been offered a connection yet.
SETTLED: Final = timedelta(minutes=5)
# A release this long before the scale-out is still "what changed" for connections opened
# since: callers keep them for days.
RELEASE_WINDOW: Final = timedelta(hours=48)
# The per-pod CPU series of the workload's own pods (cores).
OWN_CPU: Final = "cpu_usage_cores"


def multiplexed_protocol(declared: str) -> str | None:
    """The multiplexed protocol a Service port's appProtocol or name declares, else None:
    ``kubernetes.io/h2c`` -> ``h2c``, ``grpc-api`` -> ``grpc``, ``http`` -> None."""
    lowered = declared.lower().removeprefix("kubernetes.io/")
    if lowered in MULTIPLEXED:
        return lowered
    prefix = lowered.split("-", 1)[0]
    return prefix if prefix in MULTIPLEXED else None


def _service(evidence: Evidence, pods: list[PodEvidence]) -> tuple[ServiceEvidence, str] | None:
    """The Service in front of ``pods`` that declares a multiplexed protocol, without
    ClientIP affinity, and that protocol."""
    for svc in evidence.services:
        if svc.session_affinity == AFFINITY or svc.headless or not svc.selector:
            continue
        if not any(
            p.namespace == svc.namespace and service_selects(svc.selector, p.labels) for p in pods
        ):
            continue
        protocol = next(filter(None, map(multiplexed_protocol, svc.declared_protocols)), None)
        if protocol is not None:
            return svc, protocol
    return None


def _started(pods: list[PodEvidence], names: list[str]) -> list[datetime]:
    return [p.created_at for p in pods if p.name in names and p.created_at is not None]


def check_pinned_connections(evidence: Evidence) -> list[Finding]:
    """Roll back the release after which a scale-out's pods get no calls."""
    target = workload_ref(evidence)
    current, _ = current_and_previous_revision(evidence)
    if target is None or current is None or target.kind not in ACTION_TARGET_KINDS[Action.ROLLBACK]:
        return []
    pods = [
        p
        for p in evidence.pods
        if ready(p) and (rev := pod_revision(p, evidence)) is not None and rev.name == current.name
    ]
    found = _service(evidence, pods)
    if found is None:
        return []
    svc, protocol = found
    loads = pod_loads(evidence, OWN_CPU, svc.namespace, {p.name for p in pods})
    if len(loads) < len(pods):
        return []  # a pod without a load series says nothing either way
    spread = uneven_loads(loads)
    if spread is None:
        return []
    busy, idle = spread
    busy_started, idle_started = _started(pods, busy), _started(pods, idle)
    if len(busy_started) < len(busy) or len(idle_started) < len(idle):
        return []
    scale_out = min(idle_started)
    if max(busy_started) >= scale_out:
        return []  # an idle pod older than a busy one: not the pods added last
    settled = seconds_before(evidence, max(idle_started))
    if settled is None or settled < SETTLED.total_seconds():
        return []
    change = settings_rollout(evidence, current)
    if change is None or change.at is None or change.at >= scale_out:
        return []
    if timestamp(scale_out) - timestamp(change.at) > RELEASE_WINDOW.total_seconds():
        return []
    released = seconds_before(evidence, change.at) or 0.0
    added = seconds_before(evidence, scale_out) or 0.0
    source = f"{target.kind.lower()}/{target.namespace}/{target.name}"
    facts = [
        split_loads_fact(loads, busy, idle),
        item(
            source,
            f"{prose.count(len(idle), 'pod')} added {prose.duration(added)} ago, after the "
            f"{prose.count(len(busy), 'pod')} that carry the load",
        ),
        item(
            service_source(svc),
            f"declares {protocol}: callers multiplex calls over long-lived connections",
        ),
        item(
            source,
            f"revision {current.revision} went out {prose.duration(released)} ago, changing "
            f"{', '.join(sorted(CODE_OR_SETTINGS & set(change.aspects)))}",
        ),
    ]
    fix = (
        f"roll back the release of revision {current.revision}, so connections are "
        "recycled and spread again"
    )
    text = prose.narrative(
        prose.fitting_problem(
            [
                f"{prose.obj(target)}'s callers keep their {protocol} connections on "
                f"{prose.count(len(busy), 'pod')}; the {prose.count(len(idle), 'pod')} "
                "added since get no calls",
                f"{prose.obj(target)}'s {protocol} connections stay pinned to its older pods",
            ],
            fix,
        ),
        fix,
        because=[
            prose.claim(
                f"{prose.count(len(busy), 'pod')} carry the load while "
                f"{prose.count(len(idle), 'ready pod')} sit idle",
                facts[0],
            ),
            prose.claim("The idle pods are the ones added last", facts[1]),
            prose.claim(
                "A Service picks a pod once per connection, and these callers hold theirs open",
                facts[2],
            ),
            prose.claim("The revision all of them run changed the server shortly before", facts[3]),
        ],
    )
    return [
        make_finding(
            "pinned-connections",
            Category.BAD_ROLLOUT,
            CONFIDENCE.pinned_after_release,
            text,
            facts,
            Action.ROLLBACK,
            target,
        )
    ]


PINNED_CONNECTION_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("pinned-connections", (Category.BAD_ROLLOUT,), check_pinned_connections),
)

"""The other components of the incident's application: the workloads of its namespace that
carry the same application labels (``app.kubernetes.io/part-of``, else
``app.kubernetes.io/name``, else the legacy ``app``, with ``app.kubernetes.io/instance`` when
set) under another ``app.kubernetes.io/component``, kept when they are short of ready
replicas, with their pods and those pods' events. Pure: the collector lists the candidates
by ``application_selector`` (``kubetriage.evidence.sibling_walk``) and the builder
summarises what was read, so a case replayed offline sees the same objects.

An SRE who finds the alerted component healthy, and no callee named in its env or logs,
looks next at the other components of the same application: a distributor whose pushes fail
because its ingesters cannot be scheduled names neither them nor their addresses. An
application deployed without application labels (kompose output, hand-written manifests:
each workload labelled by its own name only) is held together by its namespace alone, so a
workload carrying none has as siblings the namespace's other workloads carrying none.

With them, the one workload of the namespace (of any application) whose pods began
restarting with the alert (``kubetriage.evidence.summaries.fresh_restarts``), ready or not.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from functools import partial
from typing import Final

from kubetriage.evidence.index import ObjectIndex, same_object, sort_pods
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.notes import Notes, safe, summarise_all
from kubetriage.evidence.raw import as_dict, as_int, kind_of, obj_key
from kubetriage.evidence.summaries.events import event_summaries
from kubetriage.evidence.summaries.fresh_restarts import fresh_neighbour, restarts_began
from kubetriage.evidence.summaries.nodes import node_summary
from kubetriage.evidence.summaries.pods import ConfigLookup, pod_summary
from kubetriage.evidence.summaries.workloads import workload_summary
from kubetriage.models.neighbours import SiblingEvidence
from kubetriage.models.objects import JsonDict, selector_matches, selector_query
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

PART_OF: Final = "app.kubernetes.io/part-of"
NAME: Final = "app.kubernetes.io/name"
INSTANCE: Final = "app.kubernetes.io/instance"
COMPONENT: Final = "app.kubernetes.io/component"
# The application's name before the recommended labels (``app``, what most charts and
# manifests still set): the same name under the older key, read when the recommended one is
# absent, so an application is found however its labels are spelled.
LEGACY_NAME: Final = "app"
# The workload kinds a component runs as.
SIBLING_KINDS: Final = ("Deployment", "StatefulSet", "DaemonSet")
# Degraded siblings kept, by name.
MAX_SIBLINGS: Final = 3


def application_of(obj: JsonDict) -> dict[str, str]:
    """The labels naming the application a workload belongs to: its ``part-of`` (the
    higher-level application), else its ``name`` (else its legacy ``app``), with its
    ``instance``; empty when it carries none."""
    labels = _labels(obj)
    group = next((key for key in (PART_OF, NAME, LEGACY_NAME) if labels.get(key)), None)
    if group is None:
        return {}
    found = {group: labels[group]}
    if labels.get(INSTANCE):
        found[INSTANCE] = labels[INSTANCE]
    return found


def application_selector(obj: JsonDict) -> str | None:
    """The label selector listing the workloads of the same application (None: none)."""
    application = application_of(obj)
    return selector_query({"matchLabels": application}) if application else None


def short_of_ready(obj: JsonDict) -> bool:
    """Fewer replicas ready than it asks for (a DaemonSet: than it schedules)."""
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    if kind_of(obj) == "DaemonSet":
        desired = as_int(status.get("desiredNumberScheduled")) or 0
        return (as_int(status.get("numberReady")) or 0) < desired
    replicas = as_int(spec.get("replicas"))
    wanted = 1 if replicas is None and "replicas" not in spec else replicas or 0
    return (as_int(status.get("readyReplicas")) or 0) < wanted


def sibling_scope(obj: JsonDict) -> str:
    """The label selector listing the candidates for ``obj``'s siblings in its namespace:
    its application's (``application_selector``), or the empty selector (the whole
    namespace) when it carries no application labels."""
    return application_selector(obj) or ""


def degraded_siblings(workload: JsonDict, candidates: Iterable[JsonDict]) -> list[JsonDict]:
    """The other workloads of ``workload``'s application and namespace, of another component
    (when both name theirs), that are short of ready replicas; at most MAX_SIBLINGS, by name.
    Another application (another part-of, name or instance) is never one; for a workload
    without application labels, the application is the namespace's workloads without any."""
    application = application_of(workload)
    own_component = _labels(workload).get(COMPONENT)
    found = {
        obj_key(c): c
        for c in candidates
        if kind_of(c) in SIBLING_KINDS
        and _ns(c) == _ns(workload)
        and not same_object(c, workload)
        and application_of(c) == application
        and not (own_component and _labels(c).get(COMPONENT) == own_component)
        and short_of_ready(c)
    }
    return [found[key] for key in sorted(found)][:MAX_SIBLINGS]


def sibling_pods(index: ObjectIndex, sibling: JsonDict, limit: int) -> list[JsonDict]:
    """The sibling's pods (by its selector), troubled first, at most ``limit``."""
    selector = as_dict(as_dict(sibling.get("spec")).get("selector"))
    if not selector:
        return []
    pods = [
        p for p in index.in_namespace("Pod", _ns(sibling)) if selector_matches(selector, _labels(p))
    ]
    return sort_pods(pods)[:limit]


def fresh_neighbour_workload(
    index: ObjectIndex, workload: JsonDict, onset: datetime, now: datetime
) -> JsonDict | None:
    """The one workload of ``workload``'s namespace, outside it, whose pods' repeated
    restarts began with the alert (``fresh_restarts.fresh_neighbour``), as read; None."""
    namespace = _ns(workload)
    found = fresh_neighbour(
        index.in_namespace("Pod", namespace), (kind_of(workload), _name(workload)), onset, now
    )
    return index.get(found[0], namespace, found[1]) if found is not None else None


def pods_nodes(pods: Iterable[JsonDict]) -> list[str]:
    """The names of the nodes ``pods`` are placed on, each once, in the pods' order."""
    names: list[str] = []
    for pod in pods:
        node = as_dict(pod.get("spec")).get("nodeName")
        if isinstance(node, str) and node and node not in names:
            names.append(node)
    return names


def sibling_summaries(
    index: ObjectIndex,
    workload: JsonDict | None,
    unavailable: Collection[str],
    limits: EvidenceLimits,
    notes: Notes,
    *,
    onset: datetime,
    now: datetime,
) -> list[SiblingEvidence]:
    """The degraded siblings of the incident's workload among the objects read, and the
    neighbour whose restarts began with the alert, each with its first pods
    (``max_dependency_pods``) and the events about it and them."""
    if workload is None:
        return []
    namespace = _ns(workload)
    candidates = [o for kind in SIBLING_KINDS for o in index.in_namespace(kind, namespace)]
    found: list[SiblingEvidence] = []
    lookup = ConfigLookup(index, namespace, unavailable)
    chosen = degraded_siblings(workload, candidates)
    fresh = fresh_neighbour_workload(index, workload, onset, now)
    if fresh is not None and all(not same_object(fresh, c) for c in chosen):
        chosen.append(fresh)
    for sibling in chosen:
        summary = safe(notes, sibling, partial(workload_summary, sibling, limits, notes))
        if summary is None:
            continue
        pods = sibling_pods(index, sibling, limits.max_dependency_pods)
        keys = {obj_key(sibling)} | {obj_key(p) for p in pods}
        began = [t for p in pods if (t := restarts_began(p, now)) is not None]
        found.append(
            SiblingEvidence(
                workload=summary,
                application=application_of(sibling),
                component=_labels(sibling).get(COMPONENT),
                pods=summarise_all(
                    pods, notes, lambda pod: pod_summary(pod, lookup, limits, notes)
                ),
                events=event_summaries(index, keys.__contains__, limits, notes),
                nodes=summarise_all(
                    [
                        n
                        for name in pods_nodes(pods)[: limits.max_nodes]
                        if (n := index.get("Node", None, name)) is not None
                    ],
                    notes,
                    lambda n: node_summary(n, limits),
                ),
                restarts_since=min(began) if same_object(sibling, fresh) and began else None,
            )
        )
    return found

"""The PodDisruptionBudgets that hold a draining node: a budget selecting a pod on a cordoned
node (or a pod whose eviction an event says was refused) that allows no disruption now
(``status.disruptionsAllowed`` 0), with the workload owning those pods, its pods (troubled
first) and the events about them. Pure: the collector reads the candidates
(``kubetriage.evidence.disruption_walk``) and the builder summarises what was read, so a case
replayed offline sees the same objects.

An SRE paged for a stuck drain or node-group upgrade asks which budget refuses the eviction
and why it has no room: the eviction API refuses while ``currentHealthy`` is not above
``desiredHealthy``, and that is usually one replica of the covered workload down (OOM-killed,
crash-looping, Pending), not the node. A budget with room holds nothing and is left out.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from functools import partial
from typing import Final

from kubetriage.evidence.index import ObjectIndex, workload_of
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.notes import Notes, safe, summarise_all
from kubetriage.evidence.raw import as_dict, as_int, as_str, clip_text, obj_key, ref_of
from kubetriage.evidence.summaries.events import event_summaries
from kubetriage.evidence.summaries.pods import ConfigLookup, pod_summary
from kubetriage.evidence.summaries.siblings import sibling_pods
from kubetriage.evidence.summaries.workloads import workload_summary
from kubetriage.models.objects import JsonDict, selector_matches
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.models.relations import DisruptionBudgetEvidence

# Budgets kept, fewest disruptions allowed first.
MAX_BUDGETS: Final = 3
# Pods of one draining node (or named by refusals) looked at for budgets.
MAX_HELD_PODS: Final = 50

# What the eviction API, kubectl drain and the node-lifecycle tools (Karpenter, cluster
# autoscaler, managed node-group upgrades) say when a disruption budget refuses an eviction.
EVICTION_REFUSED: Final = re.compile(
    r"(?i)(would violate the pod's disruption budget"
    r"|disruption budget"
    r"|\bpdbs?\b[^.;]{0,80}\bprevents? (pod )?evictions?"
    r"|\bpdbs?\b[^.;]{0,40}\bviolat"
    r"|cannot evict pod)"
)
# A pod named in such a message: `evict pod ns/name`, `pod "name"`.
_NAMED_POD: Final = re.compile(
    r"(?i)\bpod\s+\"?(?:(?P<ns>[a-z0-9-]+)/)?(?P<name>[a-z0-9][a-z0-9.-]*[a-z0-9])\"?"
)


def draining_nodes(nodes: Iterable[JsonDict]) -> list[str]:
    """The names of the nodes cordoned (``spec.unschedulable``): being drained, or left so."""
    return [_name(n) for n in nodes if as_dict(n.get("spec")).get("unschedulable") is True]


def refusals(events: Iterable[JsonDict]) -> list[JsonDict]:
    """The events saying a disruption budget refused an eviction."""
    return [e for e in events if EVICTION_REFUSED.search(as_str(e.get("message")) or "")]


def _subject(event: JsonDict) -> tuple[str, str, str]:
    involved = as_dict(event.get("involvedObject")) or as_dict(event.get("regarding"))
    kind = as_str(involved.get("kind")) or ""
    namespace = "" if kind == "Node" else as_str(involved.get("namespace")) or _ns(event)
    return kind, namespace, as_str(involved.get("name")) or ""


def refused_pods(events: Iterable[JsonDict]) -> list[tuple[str, str]]:
    """(namespace, pod) of each pod whose eviction a refusal names: its subject, or the pod
    its message names (a node's event names the pod it could not evict)."""
    found: list[tuple[str, str]] = []
    for event in refusals(events):
        kind, namespace, name = _subject(event)
        if kind == "Pod" and namespace:
            found.append((namespace, name))
            continue
        match = _NAMED_POD.search(as_str(event.get("message")) or "")
        if match and match["ns"]:
            found.append((match["ns"], match["name"]))
    return list(dict.fromkeys(found))


def refusal_nodes(events: Iterable[JsonDict]) -> list[str]:
    """The nodes whose own events say a budget refused to let their pods go."""
    return list(
        dict.fromkeys(s[2] for e in refusals(events) if (s := _subject(e))[0] == "Node" and s[2])
    )


def held_pods(
    pods: Iterable[JsonDict], nodes: Collection[str], named: Collection[tuple[str, str]]
) -> list[JsonDict]:
    """The pods on ``nodes`` and those ``named`` by a refusal, at most MAX_HELD_PODS."""
    kept = [
        p
        for p in pods
        if as_dict(p.get("spec")).get("nodeName") in nodes or (_ns(p), _name(p)) in named
    ]
    return kept[:MAX_HELD_PODS]


def blocking(budget: JsonDict) -> bool:
    """The budget allows no disruption now (``status.disruptionsAllowed`` 0)."""
    return as_int(as_dict(budget.get("status")).get("disruptionsAllowed")) == 0


def selects(budget: JsonDict, pod: JsonDict) -> bool:
    """The budget covers the pod: same namespace, its selector matches (policy/v1: an empty
    selector covers every pod of the namespace, a missing one none)."""
    selector = as_dict(budget.get("spec")).get("selector")
    return (
        _ns(budget) == _ns(pod)
        and isinstance(selector, dict)
        and selector_matches(selector, _labels(pod))
    )


def holding_budgets(
    budgets: Iterable[JsonDict], pods: Iterable[JsonDict]
) -> list[tuple[JsonDict, list[JsonDict]]]:
    """The budgets with no room covering any of ``pods``, each with the pods it holds."""
    pods = list(pods)
    found: list[tuple[JsonDict, list[JsonDict]]] = []
    for budget in budgets:
        covered = [p for p in pods if selects(budget, p)]
        if covered and blocking(budget):
            found.append((budget, covered))
    return found[:MAX_BUDGETS]


def _quantity(value: object) -> str | None:
    return None if value is None else str(value)


def disruption_budget_summaries(
    index: ObjectIndex,
    scope_pods: list[JsonDict],
    node_objs: list[JsonDict],
    unavailable: Collection[str],
    limits: EvidenceLimits,
    notes: Notes,
) -> list[DisruptionBudgetEvidence]:
    """The budgets holding the incident's draining nodes among the objects read: those
    covering its pods on a cordoned node, or pods a refusal event names."""
    events = index.kind("Event")
    nodes = set(draining_nodes(node_objs)) | set(refusal_nodes(events))
    named = refused_pods(events)
    candidates = {obj_key(p): p for p in scope_pods}
    for namespace, pod in named:
        found = index.get("Pod", namespace, pod)
        if found is not None:
            candidates.setdefault(obj_key(found), found)
    held = held_pods(candidates.values(), nodes, named)
    if not held:
        return []
    budgets = [
        b
        for ns in sorted({_ns(p) for p in held})
        for b in index.in_namespace("PodDisruptionBudget", ns)
    ]
    quoted = refusals(events)
    found_budgets: list[DisruptionBudgetEvidence] = []
    for budget, covered in holding_budgets(budgets, held):
        summary = safe(
            notes,
            budget,
            partial(_budget, index, budget, covered, quoted, unavailable, limits, notes),
        )
        if summary is not None:
            found_budgets.append(summary)
    return found_budgets


def _budget(
    index: ObjectIndex,
    budget: JsonDict,
    covered: list[JsonDict],
    quoted: list[JsonDict],
    unavailable: Collection[str],
    limits: EvidenceLimits,
    notes: Notes,
) -> DisruptionBudgetEvidence:
    spec, status = as_dict(budget.get("spec")), as_dict(budget.get("status"))
    held_names = {_name(p) for p in covered}
    owners = [w for p in covered if (w := workload_of(index, p)) is not None]
    workload = owners[0] if owners else None
    pods = sibling_pods(index, workload, limits.max_dependency_pods) if workload else covered
    keys = {obj_key(p) for p in pods}
    if workload is not None:
        keys.add(obj_key(workload))
    lookup = ConfigLookup(index, _ns(budget), unavailable)
    nodes = {as_str(as_dict(p.get("spec")).get("nodeName")) or "" for p in covered}
    texts = [
        clip_text(as_str(e.get("message")), limits.max_string_length) or ""
        for e in quoted
        if _subject(e)[2] in held_names | nodes or _name(budget) in (as_str(e.get("message")) or "")
    ]
    return DisruptionBudgetEvidence(
        ref=ref_of(budget),
        selector={
            str(k): str(v)
            for k, v in as_dict(as_dict(spec.get("selector")).get("matchLabels")).items()
        },
        min_available=_quantity(spec.get("minAvailable")),
        max_unavailable=_quantity(spec.get("maxUnavailable")),
        disruptions_allowed=as_int(status.get("disruptionsAllowed")),
        current_healthy=as_int(status.get("currentHealthy")),
        desired_healthy=as_int(status.get("desiredHealthy")),
        expected_pods=as_int(status.get("expectedPods")),
        held_pods=sorted(held_names),
        nodes=sorted(n for n in nodes if n),
        refusals=list(dict.fromkeys(texts))[:3],
        workload=safe(notes, workload, partial(workload_summary, workload, limits, notes))
        if workload is not None
        else None,
        pods=summarise_all(pods, notes, lambda pod: pod_summary(pod, lookup, limits, notes)),
        events=event_summaries(index, keys.__contains__, limits, notes),
    )

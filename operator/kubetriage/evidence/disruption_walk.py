"""The disruption-budget walk of evidence collection: when the incident's pods sit on a
cordoned node, or an event says a disruption budget refused an eviction, the
PodDisruptionBudgets of those pods' namespaces; for each that covers one of them and allows no
disruption, the workload owning the pod (climbed through its owners), its pods and the events
about them. ``kubetriage.evidence.summaries.disruption_budgets`` decides what holds a drain and
summarises what was read; the reads go through the same ``KubeReader`` and ``CollectionRun``
as the rest of the walk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.index import sort_pods
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import kind_of
from kubetriage.evidence.reader import KubeReader
from kubetriage.evidence.sibling_walk import workload_pods
from kubetriage.evidence.summaries.disruption_budgets import (
    draining_nodes,
    held_pods,
    holding_budgets,
    refusal_nodes,
    refused_pods,
)
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope

# The owner climb of the collector: the top-most workload owning an object.
Climb = Callable[[CollectionRun, JsonDict], Awaitable[JsonDict | None]]


def _read(run: CollectionRun, kind: str) -> list[JsonDict]:
    return [o for (k, _, _), o in run.objects.items() if k == kind]


async def follow_disruption_budgets(
    reader: KubeReader,
    run: CollectionRun,
    pods: list[JsonDict],
    scope: Scope,
    climb: Climb,
    limits: EvidenceLimits,
) -> None:
    """Read the budgets holding the incident's draining nodes, with their workloads, those
    workloads' first pods and the events about them, into ``run``."""
    events = _read(run, "Event")
    nodes = set(draining_nodes(_read(run, "Node"))) | set(refusal_nodes(events))
    named = refused_pods(events)
    candidates = list(pods)
    for namespace, pod_name in named:
        if scope.may_read(namespace) and reader.readable("Pod"):
            found = await reader.read(run, "Pod", namespace, pod_name)
            candidates += [found] if found is not None else []
    held = held_pods(candidates, nodes, named)
    namespaces = sorted({_ns(p) for p in held if scope.may_read(_ns(p))})
    if not held or not reader.listable("PodDisruptionBudget"):
        return
    listed = await asyncio.gather(
        *(
            reader.list_of(
                run, "PodDisruptionBudget", ns, what=f"list PodDisruptionBudgets in {ns}"
            )
            for ns in namespaces
        )
    )
    for budget, covered in holding_budgets([b for objs in listed for b in objs], held):
        run.add(budget)
        workload = await climb(run, covered[0])
        if workload is None:
            continue
        run.add(workload)
        few = sort_pods(await workload_pods(reader, run, workload))[: limits.max_dependency_pods]
        for member in few:
            run.add(member)
        subjects = [(kind_of(workload), _name(workload))] + [("Pod", _name(m)) for m in few]
        await asyncio.gather(
            *(reader.events_about(run, kind, _ns(workload), name) for kind, name in subjects)
        )

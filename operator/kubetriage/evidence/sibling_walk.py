"""The sibling walk of evidence collection: the other components of the incident's
application (the workloads of its namespace carrying the same recommended application
labels, listed by label selector; every workload of its namespace when it carries none),
and, for those short of ready replicas, their pods and the events about them and their first
pods; and the one workload of its namespace whose pods (listed with the namespace's) began
restarting with the alert, with the events about it and its first pods
(``follow_fresh_neighbour``). ``kubetriage.evidence.summaries.siblings`` decides what a
sibling is and summarises what was read; the reads go through the same ``KubeReader`` and
``CollectionRun`` as the rest of the walk.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.index import sort_pods
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import kind_of
from kubetriage.evidence.reader import KubeReader, without_images
from kubetriage.evidence.summaries.fresh_restarts import fresh_neighbour
from kubetriage.evidence.summaries.siblings import (
    SIBLING_KINDS,
    degraded_siblings,
    pods_nodes,
    sibling_scope,
)
from kubetriage.models.objects import JsonDict, selector_query
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns


async def follow_siblings(
    reader: KubeReader, run: CollectionRun, workload: JsonDict | None, limits: EvidenceLimits
) -> None:
    """Read the degraded siblings of ``workload`` (in its own namespace, the incident's) with
    their pods and events into ``run``."""
    selector = sibling_scope(workload) if workload is not None else None
    if workload is None or selector is None:
        return
    namespace = _ns(workload)
    scope = {"label_selector": selector} if selector else {}
    listed = await asyncio.gather(
        *(
            reader.list_of(
                run,
                kind,
                namespace,
                what=f"list {kind}s of application {selector or '(unlabelled)'} in {namespace}",
                **scope,
            )
            for kind in SIBLING_KINDS
            if reader.listable(kind)
        )
    )
    for sibling in degraded_siblings(workload, [o for objs in listed for o in objs]):
        run.add(sibling)
        pods = await workload_pods(reader, run, sibling)
        few = sort_pods(pods)[: limits.max_dependency_pods]
        for pod in few:
            run.add(pod)
        await _events_and_nodes(reader, run, sibling, few, limits)


async def follow_fresh_neighbour(
    reader: KubeReader,
    run: CollectionRun,
    workload: JsonDict | None,
    onset: datetime,
    now: datetime,
    limits: EvidenceLimits,
) -> None:
    """Read the one workload of ``workload``'s namespace whose pods (listed with the
    namespace's) began restarting with the alert, and the events about it and its first
    pods, into ``run`` (``kubetriage.evidence.summaries.fresh_restarts``)."""
    if workload is None:
        return
    namespace = _ns(workload)
    pods = [o for (kind, ns, _), o in run.objects.items() if kind == "Pod" and ns == namespace]
    found = fresh_neighbour(pods, (kind_of(workload), _name(workload)), onset, now)
    if found is None:
        return
    neighbour = await reader.read(run, found[0], namespace, found[1])
    if neighbour is None:
        return
    few = sort_pods(await workload_pods(reader, run, neighbour))[: limits.max_dependency_pods]
    for pod in few:
        run.add(pod)
    await _events_and_nodes(reader, run, neighbour, few, limits)


async def _events_and_nodes(
    reader: KubeReader,
    run: CollectionRun,
    workload: JsonDict,
    pods: list[JsonDict],
    limits: EvidenceLimits,
) -> None:
    """The events about ``workload`` and ``pods``, and the Nodes those pods are placed on
    (replicas failing only on a node that reports a problem are the node's)."""
    namespace = _ns(workload)
    subjects = [(kind_of(workload), _name(workload))] + [("Pod", _name(p)) for p in pods]
    await asyncio.gather(
        *(reader.events_about(run, kind, namespace, name) for kind, name in subjects)
    )
    nodes = await asyncio.gather(
        *(reader.read(run, "Node", None, name) for name in pods_nodes(pods)[: limits.max_nodes])
    )
    for node in nodes:
        if node is not None:
            without_images(node)


async def workload_pods(
    reader: KubeReader, run: CollectionRun, workload: JsonDict
) -> list[JsonDict]:
    """The pods a workload's selector lists in its namespace (not added to ``run``)."""
    selector = selector_query((workload.get("spec") or {}).get("selector") or {})
    if selector is None:
        return []
    return await reader.list_of(
        run,
        "Pod",
        _ns(workload),
        what=f"list pods of {kind_of(workload)} {_ns(workload)}/{_name(workload)}",
        label_selector=selector,
    )

"""A node's other tenants: the pods of other workloads in the incident's namespace that run on
the same node and are not serving. Pure.

"Is it only my pod, or everything on that node?" is the question that tells a node fault from
an application fault when the node itself reports nothing (a full conntrack table, a broken
CNI or DNS path on one host): the incident's workload failing on one node while an unchanged
neighbour on that node went unready too, and earlier, points at the node. Only the incident's
namespace is read (the collector lists its pods anyway, and a tenancy rule may forbid more).
"""

from __future__ import annotations

from kubetriage.evidence.index import ObjectIndex, same_object, workload_of
from kubetriage.evidence.raw import as_dict, as_str, as_time, dicts, kind_of, obj_key
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import NodeNeighbour
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import meta as _meta
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# The troubled neighbours kept per node, longest troubled first.
MAX_NEIGHBOURS = 5


def _problem(pod: JsonDict) -> tuple[str, str | None] | None:
    """What keeps a running pod from serving, and since when (the Ready condition's last
    transition); None for a pod that serves or has finished."""
    status = as_dict(pod.get("status"))
    phase = as_str(status.get("phase"))
    if phase in ("Succeeded", None) or _meta(pod).get("deletionTimestamp"):
        return None
    ready = next((c for c in dicts(status.get("conditions")) if c.get("type") == "Ready"), None)
    since = as_str(ready.get("lastTransitionTime")) if ready is not None else None
    for container in dicts(status.get("containerStatuses")):
        waiting = as_dict(as_dict(container.get("state")).get("waiting"))
        if waiting:
            return as_str(waiting.get("reason")) or "waiting", since
    if phase != "Running":
        return phase, since
    if ready is not None and ready.get("status") == "False":
        return "not Ready", since
    return None


def troubled_neighbours(
    index: ObjectIndex,
    node: str,
    namespace: str,
    scope_pods: list[JsonDict],
    workload: JsonDict | None,
) -> list[NodeNeighbour]:
    """The pods in ``namespace`` on ``node`` that belong neither to the scope nor to its
    workload and do not serve, troubled longest first, at most ``MAX_NEIGHBOURS``."""
    in_scope = {obj_key(p) for p in scope_pods}
    found: list[tuple[str, NodeNeighbour]] = []
    for pod in index.in_namespace("Pod", namespace):
        if as_dict(pod.get("spec")).get("nodeName") != node or obj_key(pod) in in_scope:
            continue
        owner = workload_of(index, pod)
        if workload is not None and same_object(owner, workload):
            continue
        problem = _problem(pod)
        if problem is None:
            continue
        what, since = problem
        found.append(
            (
                since or "~",
                NodeNeighbour(
                    name=_name(pod),
                    namespace=_ns(pod),
                    owner=(
                        ObjectRef(kind=kind_of(owner), namespace=_ns(owner), name=_name(owner))
                        if owner is not None
                        else None
                    ),
                    problem=what,
                    since=as_time(since),
                ),
            )
        )
    found.sort(key=lambda pair: (pair[0], pair[1].name))
    return [neighbour for _, neighbour in found[:MAX_NEIGHBOURS]]

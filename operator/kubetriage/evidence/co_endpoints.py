"""The ready pods of other workloads that share a Service with the incident's workload.

A Service sends its connections to every ready pod its selector matches, whoever owns them.
An SRE whose workload looks healthy while its callers see errors lists the Service's
endpoints: a second workload whose pods carry the same labels (a template copied from the
first, a broad ``app: orders`` selector written before it existed) receives a share of the
traffic. Those pods belong in the incident's scope beside the workload's own, so the
analyzers can see the Service's whole endpoint set (``analyzers.stray_endpoints``). Only
ready pods are endpoints; at most ``MAX_CO_ENDPOINT_PODS`` are kept. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kubetriage.evidence.raw import as_dict, obj_key
from kubetriage.models.objects import JsonDict, pod_ready, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import namespace as _ns

# The pods of other workloads kept as a shared Service's endpoints.
MAX_CO_ENDPOINT_PODS = 5


def co_endpoint_pods(
    services: Iterable[JsonDict],
    own: list[JsonDict],
    candidates: Iterable[JsonDict],
    owner: Callable[[JsonDict], JsonDict | None],
) -> list[JsonDict]:
    """The ready pods among ``candidates``, owned by another workload than ``own``'s, that a
    Service selecting one of ``own`` also selects."""
    if not own:
        return []
    namespace = _ns(own[0])
    mine = {obj_key(w) for p in own if (w := owner(p)) is not None}
    selectors = [
        selector
        for svc in services
        if _ns(svc) == namespace
        and (selector := as_dict(as_dict(svc.get("spec")).get("selector")))
        and any(service_selects(selector, _labels(p)) for p in own)
    ]
    seen = {obj_key(p) for p in own}
    found: list[JsonDict] = []
    for pod in candidates:
        if len(found) >= MAX_CO_ENDPOINT_PODS:
            break
        if _ns(pod) != namespace or obj_key(pod) in seen or not pod_ready(pod):
            continue
        other = owner(pod)
        if other is None or obj_key(other) in mine:
            continue
        if any(service_selects(s, _labels(pod)) for s in selectors):
            found.append(pod)
    return found

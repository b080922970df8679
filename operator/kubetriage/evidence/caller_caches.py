"""The caches of the incident's callers: a caller that reads through a cache (Redis,
memcached, Valkey, KeyDB, Dragonfly: the image of the pods behind a Service its pod template
names besides the incident's) asks the incident's workload (a database, an API behind the
cache) only for what the cache misses. A cache that holds its data in memory comes back
empty from a restart, and every read misses at once: the load behind it multiplies with no
release and no more traffic. An SRE looking at a database suddenly short of connections asks
what its callers read through, and whether that just restarted.

Pure; ``with_caller_caches`` adds them to the callers ``build_evidence`` found, from the
objects the collector read (``caller_walk.follow_caller_caches``: the Services those callers
name, and the pods those select).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.dependencies import named_hosts, pod_texts
from kubetriage.evidence.front_restarts import restarts_of
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import as_dict, dicts
from kubetriage.evidence.summaries.ingress import controller_workload
from kubetriage.models.base import ObjectRef
from kubetriage.models.images import repository_name
from kubetriage.models.neighbours import CallerCacheEvidence, CallerEvidence
from kubetriage.models.objects import JsonDict, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import namespace as _ns

# In-memory caches, as their images' repository names spell them.
CACHE_IMAGES: Final = frozenset({"redis", "memcached", "valkey", "keydb", "dragonfly"})
# Services named per caller that are looked at, and restarts kept per cache.
MAX_NAMED: Final = 3
MAX_RESTARTS: Final = 3


def named_services(caller: JsonDict, callee: tuple[str, str]) -> list[tuple[str, str]]:
    """(namespace, name) of the Services the caller's pod template names (env, args),
    ``callee`` left out, at most ``MAX_NAMED``, by namespace and name."""
    home = _ns(caller)
    named = {
        (h.namespace or home, h.name)
        for h in named_hosts(pod_texts([], caller), [])
        if h.kind == "Service"
    }
    named.discard(callee)
    return sorted(named)[:MAX_NAMED]


def _cache_containers(pod: JsonDict) -> set[str]:
    spec = as_dict(pod.get("spec"))
    return {
        str(c.get("name"))
        for c in dicts(spec.get("containers"))
        if repository_name(str(c.get("image") or "")).lower() in CACHE_IMAGES
    }


def _selected(service: JsonDict, pods: Iterable[JsonDict]) -> list[JsonDict]:
    selector = as_dict(as_dict(service.get("spec")).get("selector"))
    wanted = {str(k): str(v) for k, v in selector.items()}
    if not wanted:
        return []
    return [p for p in pods if _ns(p) == _ns(service) and service_selects(wanted, _labels(p))]


def caches_of(
    index: ObjectIndex, caller: JsonDict, callee: tuple[str, str], limits: EvidenceLimits
) -> list[CallerCacheEvidence]:
    """The caches among the Services ``caller`` names besides ``callee``: those whose
    selected pods run a cache image, with the last runs of those containers that ended."""
    found: list[CallerCacheEvidence] = []
    for namespace, name in named_services(caller, callee):
        service = index.get("Service", namespace, name)
        if service is None:
            continue
        pods = _selected(service, index.in_namespace("Pod", namespace))
        caches = [p for p in pods if _cache_containers(p)]
        if not caches:
            continue
        found.append(
            CallerCacheEvidence(
                service=ObjectRef(kind="Service", namespace=namespace, name=name),
                workload=controller_workload(index, caches[0]),
                restarts=restarts_of(
                    caches, limits, containers=_cache_containers, most=MAX_RESTARTS
                ),
            )
        )
    return found


def with_caller_caches(
    index: ObjectIndex, callers: list[CallerEvidence], limits: EvidenceLimits
) -> list[CallerEvidence]:
    """``callers`` (of the incident's own Services) with the caches each names."""
    updated: list[CallerEvidence] = []
    for caller in callers:
        workload = index.get(caller.ref.kind, caller.ref.namespace, caller.ref.name)
        callee = (caller.callee.namespace or "", caller.callee.name)
        caches = caches_of(index, workload, callee, limits) if workload is not None else []
        updated.append(caller.model_copy(update={"caches": caches}) if caches else caller)
    return updated

"""The restarts and volumes of the proxies and caches in front of the incident's Services: a
caller that a mounted ConfigMap routes to a callee (a Varnish, nginx or Envoy whose
configuration file names the callee's Service, ``kubetriage.evidence.callers.find_config_callers``)
is read with its pods, and each of their containers that has restarted is kept with how it
last ended, with the claims they mount. A cache that restarts starts empty: every read it held
goes to the callee until it fills again, so the callee's load steps up at each restart while
nothing of its own changed; a cache whose volume is full cannot store what it fetches.

Pure: the collector reads those pods (``kubetriage.evidence.caller_walk``), the builder
keeps their restarts (``with_front_restarts``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from kubetriage.evidence.index import ObjectIndex, claim_names
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.notes import Notes
from kubetriage.evidence.summaries.pods import container_summaries
from kubetriage.models.neighbours import CallerEvidence, ContainerRestart
from kubetriage.models.objects import JsonDict, as_dict, selector_matches
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# At most this many restarted containers kept per caller.
MAX_RESTARTS = 6


def caller_pods(workload: JsonDict, pods: Iterable[JsonDict]) -> list[JsonDict]:
    """The pods of ``pods`` that ``workload``'s selector picks in its namespace."""
    selector = as_dict(as_dict(workload.get("spec")).get("selector"))
    if not selector:
        return []
    return [p for p in pods if _ns(p) == _ns(workload) and selector_matches(selector, _labels(p))]


def restarts_of(
    pods: Iterable[JsonDict],
    limits: EvidenceLimits,
    *,
    containers: Callable[[JsonDict], Collection[str]] | None = None,
    most: int = MAX_RESTARTS,
) -> list[ContainerRestart]:
    """Each container of ``pods`` that has restarted, with its last termination, by pod and
    container name; only those ``containers`` names in each pod, when given; at most ``most``."""
    found: list[ContainerRestart] = []
    for pod in sorted(pods, key=_name):
        spec, status = as_dict(pod.get("spec")), as_dict(pod.get("status"))
        wanted = containers(pod) if containers is not None else None
        for container in container_summaries(spec, status, limits, Notes(), f"pod {_name(pod)}"):
            if wanted is not None and container.name not in wanted:
                continue
            if container.restart_count > 0 and container.last_state is not None:
                found.append(
                    ContainerRestart(
                        pod=_name(pod),
                        container=container.name,
                        restarts=container.restart_count,
                        last=container.last_state,
                    )
                )
    return found[:most]


def with_front_restarts(
    callers: list[CallerEvidence], index: ObjectIndex, limits: EvidenceLimits
) -> list[CallerEvidence]:
    """``callers`` with the restarts of each one in front of its callee
    (``CallerEvidence.fronts``) and the claims its pods mount, read from the pods of
    ``index`` its workload selects."""
    updated: list[CallerEvidence] = []
    for caller in callers:
        workload = next(
            (
                w
                for w in index.in_namespace(caller.ref.kind, caller.ref.namespace or "")
                if _name(w) == caller.ref.name
            ),
            None,
        )
        if workload is None or not caller.fronts():
            updated.append(caller)
            continue
        pods = caller_pods(workload, index.in_namespace("Pod", _ns(workload)))
        claims = list(dict.fromkeys(c for pod in pods for c in claim_names(pod)))
        updated.append(
            caller.model_copy(update={"restarts": restarts_of(pods, limits), "claims": claims})
        )
    return updated

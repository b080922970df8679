"""The one failing application of a namespace: an alert that names only a namespace (a queue
backing up, a namespace's error budget) in a namespace that runs several workloads is about
the one whose pods fail while every other workload's pods run ready. Pure: the collector
(``kubetriage.evidence.kube``) and the snapshot builder (``kubetriage.evidence.index``) each
find the workload behind the pod it returns.

An SRE paged for "the billing queue is backing up" runs ``kubectl get pods -n billing``: the
worker's new pods in CrashLoopBackOff beside a ready Redis and the worker's last old pod
say which workload to open. Two workloads failing at once are not one explanation, so none
is chosen then; a pod that only waits for a node (Pending, no container started) is left to
the namespace-wide scheduling reading.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubetriage.evidence.raw import as_dict, as_int, as_str, dicts
from kubetriage.models.objects import JsonDict, pod_workload

# Waiting reasons of a container that has not started yet for reasons of its own start, not
# of the program's: the pod is being set up.
_STARTING = frozenset({"ContainerCreating", "PodInitializing"})


def failing(pod: JsonDict) -> bool:
    """Whether a started pod fails: one of its containers is not ready and has restarted or
    waits for a reason other than being set up (a back-off, a config or image error)."""
    status = as_dict(pod.get("status"))
    if as_str(status.get("phase")) in ("Succeeded", "Failed"):
        return False  # a finished run
    for container in dicts(status.get("containerStatuses")):
        if container.get("ready") is True:
            continue
        waiting = as_str(as_dict(as_dict(container.get("state")).get("waiting")).get("reason"))
        restarted = (as_int(container.get("restartCount")) or 0) > 0
        if restarted or (waiting is not None and waiting not in _STARTING):
            return True
    return False


def sole_failing_pod(pods: Iterable[JsonDict]) -> JsonDict | None:
    """A failing pod of the one workload among ``pods``' owners whose pods fail, while every
    other pod runs unfailing; None when none fails, when pods of two workloads fail, or when
    a failing pod belongs to no workload (a bare pod)."""
    found: dict[tuple[str, str], JsonDict] = {}
    for pod in pods:
        if not failing(pod):
            continue
        owner = pod_workload(pod)
        if owner is None:
            return None
        found.setdefault(owner, pod)
    return next(iter(found.values())) if len(found) == 1 else None

"""The pods of a namespace that are failing now, and the one owner they share.

A namespace-wide alert (a queue backing up, a quota almost full, containers waiting, a
namespace's error ratio or error budget) names no workload. An SRE runs ``kubectl get pods``
in the namespace and looks at the ones that fail now: crash-looping, waiting on an image or a
config error, running but not ready, stuck Pending with no node to run on. When all of those
belong to one workload (the surge pods of one stuck rollout beside its last old replica, the
replicas of one crash-looping Deployment), the incident is about that workload, however many
healthy ones run beside it. Pods that fail in two workloads, or none that fail, say nothing:
the namespace stays the scope. Not failing: a finished run (a Job's pod, Succeeded or
Failed), a pod being deleted, and a pod still being set up (its containers being created or
its init containers running). Pure: the collector (``kubetriage.evidence.kube``) and the
snapshot builder (``kubetriage.evidence.scope``) each climb from the pods it returns to
their workload.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubetriage.evidence.raw import as_dict, as_str, dicts
from kubetriage.models.objects import JsonDict, controller_ref
from kubetriage.models.objects import meta as _meta

# Waiting reasons of a container that has not started yet for reasons of its own start, not
# of the program's: the pod is being set up.
_STARTING = frozenset({"ContainerCreating", "PodInitializing"})

# Controllers of a pod that runs to completion: a Job, or a pod controlling pods (a Spark
# driver its executors).
_RUN_OWNERS = frozenset({"Job", "Pod"})


def _unschedulable(status: JsonDict) -> bool:
    """The scheduler found no node for the pod (its PodScheduled condition is False)."""
    return any(
        c.get("type") == "PodScheduled" and c.get("status") == "False"
        for c in dicts(status.get("conditions"))
    )


def unscheduled_reason(pod: JsonDict) -> str | None:
    """The scheduler's words for a pod no node takes (its PodScheduled condition False, not
    bound to a node: its message, "" without one); None for any other pod."""
    if as_dict(pod.get("spec")).get("nodeName"):
        return None
    for c in dicts(as_dict(pod.get("status")).get("conditions")):
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return as_str(c.get("message")) or ""
    return None


def failing_now(pod: JsonDict) -> bool:
    """Whether the pod fails at this moment: its node is lost (phase Unknown), no node takes
    it, or one of its containers is not ready for a reason other than being set up (a
    back-off, an image or config error, a failing readiness probe)."""
    if _meta(pod).get("deletionTimestamp"):
        return False
    status = as_dict(pod.get("status"))
    phase = status.get("phase")
    if phase in ("Succeeded", "Failed"):
        return False  # a finished run
    if phase == "Unknown" or _unschedulable(status):
        return True
    for container in dicts(status.get("containerStatuses")):
        if container.get("ready") is True:
            continue
        waiting = as_str(as_dict(as_dict(container.get("state")).get("waiting")).get("reason"))
        if waiting is None or waiting not in _STARTING:
            return True
    return False


def failing_owners(pods: Iterable[JsonDict]) -> dict[tuple[str, str], JsonDict]:
    """One failing pod per controller owner (kind, name) of the failing pods; empty when a
    failing pod has no controller (a bare pod is nobody's workload)."""
    owners: dict[tuple[str, str], JsonDict] = {}
    for pod in pods:
        if not failing_now(pod):
            continue
        ref = controller_ref(pod)
        if ref is None:
            return {}
        owners.setdefault((str(ref.get("kind")), str(ref.get("name"))), pod)
    return owners


def failed_run_owners(pods: Iterable[JsonDict]) -> dict[tuple[str, str], JsonDict]:
    """When no pod fails now: one pod per controller owner of the pods whose run ended
    Failed (a Job's pod that exited non-zero or was OOM-killed, and the pods it controlled,
    as a Spark driver its executors; an evicted replica of a Deployment is no run). A
    namespace-wide alert that fires after a batch run failed finds nothing failing now; the
    run that ended Failed is what ``kubectl get pods`` shows. Empty when some pod fails now,
    or a failed pod has no controller."""
    listed = list(pods)
    if any(failing_now(pod) for pod in listed):
        return {}
    owners: dict[tuple[str, str], JsonDict] = {}
    for pod in listed:
        ended = as_dict(pod.get("status")).get("phase") == "Failed"
        if not ended or _meta(pod).get("deletionTimestamp"):
            continue
        ref = controller_ref(pod)
        if ref is None:
            return {}
        if ref.get("kind") in _RUN_OWNERS:
            owners.setdefault((str(ref.get("kind")), str(ref.get("name"))), pod)
    return owners

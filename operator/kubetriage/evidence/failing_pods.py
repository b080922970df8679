"""The pods of a namespace that are failing now, and the one owner they share.

A namespace-wide alert (a quota almost full, containers waiting, a namespace's error ratio)
names no workload. An SRE lists the namespace's pods and looks at the ones that fail now:
crash-looping, waiting, not ready, stuck Pending. When all of those belong to one workload
(the surge pods of one stuck rollout, the replicas of one crash-looping Deployment), the
incident is about that workload, however many healthy ones run beside it. Pods that fail in
two workloads, or none that fail, say nothing: the namespace stays the scope. Completed
pods (a Job's) and pods being deleted are not failing. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubetriage.evidence.raw import as_dict, dicts
from kubetriage.models.objects import JsonDict, controller_ref
from kubetriage.models.objects import meta as _meta

# Phases of a pod that is not running as it should.
_STUCK_PHASES = frozenset({"Pending", "Failed", "Unknown"})


def failing_now(pod: JsonDict) -> bool:
    """Whether the pod fails at this moment: stuck in a phase other than Running or
    Succeeded, or one of its app containers waiting or not ready."""
    if _meta(pod).get("deletionTimestamp"):
        return False
    status = as_dict(pod.get("status"))
    phase = status.get("phase")
    if phase == "Succeeded":
        return False
    if phase in _STUCK_PHASES:
        return True
    containers = dicts(status.get("containerStatuses"))
    return any(
        c.get("ready") is not True or "waiting" in as_dict(c.get("state")) for c in containers
    )


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

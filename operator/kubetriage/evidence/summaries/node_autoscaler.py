"""What a node autoscaler owes an incident: pods that no node has room for and that it has
not acted on. Pure.

A pod the scheduler places on no node for want of room (its words: "Insufficient cpu",
"Insufficient memory", "Too many pods") is exactly what a node autoscaler (the Kubernetes
cluster-autoscaler, Karpenter) exists to serve: within seconds of seeing it, the
cluster-autoscaler posts an event on the pod, ``TriggeredScaleUp`` when it asks a node group
for a node or ``NotTriggerScaleUp`` saying why it will not (a group at its maximum size, a
pod no group's template fits); Karpenter nominates a node for it (``Nominated``) or says why
it cannot. A pod Pending for want of room for minutes with none of those events has not been
considered at all: an SRE asks *who should have added a node* and reads that controller's
state (``kubetriage.evidence.summaries.reconcilers``). A pod the autoscaler has spoken about
owes it nothing: whatever it said is the scheduling rule's evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from kubetriage.evidence.raw import as_dict, as_str, as_time, condition
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# The scheduler's words for a pod that fits on no node for want of room: what an autoscaler
# adds a node for (a taint, a selector or an affinity alone is not).
SHORT_OF_ROOM = re.compile(r"(?i)\binsufficient [\w./-]*\w|\btoo many pods\b")
# The reasons of the events a node autoscaler posts on a pending pod once it has considered
# it (cluster-autoscaler: scaled up, or why not; Karpenter: the node it nominated).
CONSIDERED = frozenset({"TriggeredScaleUp", "NotTriggerScaleUp", "Nominated"})
# The components that post them (an event from one of them about the pod is a sign of life).
AUTOSCALER_COMPONENTS = frozenset({"cluster-autoscaler", "karpenter"})
# A pod Pending for less than this may not have been considered yet (the cluster-autoscaler
# scans every 10 seconds; Karpenter batches pods for up to 10 seconds).
CONSIDERED_WITHIN = timedelta(minutes=3)


def _about(event: JsonDict, pod: JsonDict) -> bool:
    involved = as_dict(event.get("involvedObject"))
    return (
        involved.get("kind") == "Pod"
        and involved.get("name") == _name(pod)
        and (involved.get("namespace") or _ns(event)) == _ns(pod)
    )


def _considered(event: JsonDict) -> bool:
    component = as_str(as_dict(event.get("source")).get("component")) or ""
    reporter = as_str(event.get("reportingComponent")) or ""
    return (
        as_str(event.get("reason")) in CONSIDERED
        or component in AUTOSCALER_COMPONENTS
        or reporter in AUTOSCALER_COMPONENTS
    )


def _room_message(pod: JsonDict, events: list[JsonDict]) -> str | None:
    """The scheduler's words saying no node has room for ``pod``, if they do."""
    scheduled = condition(pod, "PodScheduled")
    texts = [as_str(scheduled.get("message")) or ""] if scheduled is not None else []
    texts += [
        as_str(e.get("message")) or ""
        for e in events
        if as_str(e.get("reason")) == "FailedScheduling"
    ]
    return next((t for t in texts if SHORT_OF_ROOM.search(t)), None)


def _pending_since(pod: JsonDict) -> datetime | None:
    scheduled = condition(pod, "PodScheduled")
    since = as_time(scheduled.get("lastTransitionTime")) if scheduled is not None else None
    return since or as_time(as_dict(pod.get("metadata")).get("creationTimestamp"))


def unserved_pending(
    pods: Iterable[JsonDict], events: Iterable[JsonDict], now: datetime
) -> list[tuple[JsonDict, str]]:
    """The pods Pending for want of room on any node, for at least ``CONSIDERED_WITHIN``
    before ``now``, that no node autoscaler has posted an event about, each with the
    scheduler's words."""
    events = list(events)
    found: list[tuple[JsonDict, str]] = []
    for pod in pods:
        status, spec = as_dict(pod.get("status")), as_dict(pod.get("spec"))
        if status.get("phase") != "Pending" or spec.get("nodeName"):
            continue
        about = [e for e in events if _about(e, pod)]
        message = _room_message(pod, about)
        since = _pending_since(pod)
        if message is None or any(_considered(e) for e in about):
            continue
        if since is not None and now - since < CONSIDERED_WITHIN:
            continue
        found.append((pod, message))
    return found

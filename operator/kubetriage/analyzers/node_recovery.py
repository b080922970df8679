"""Whether a node's pressure or NotReady event is history: the kubelet reports a condition's
end as its own event (``NodeHasDiskPressure`` is followed by ``NodeHasNoDiskPressure`` when
the disk is freed, ``NodeNotReady`` by ``NodeReady``). A node whose latest word on a condition
is its recovery, and whose status does not report that condition now, is not failing: an
SRE reads the pressure that ended hours before the alert as past, not as the cause.

Pure functions of Evidence, used by ``kubetriage.analyzers.nodes``.
"""

from __future__ import annotations

from typing import Final

from kubetriage.models.object_evidence import EventEvidence, NodeEvidence

# A condition event's reason, the kubelet's event for its end, and the condition it reports.
_RECOVERIES: Final = {
    "NodeHasDiskPressure": ("NodeHasNoDiskPressure", "DiskPressure"),
    "NodeHasInsufficientMemory": ("NodeHasSufficientMemory", "MemoryPressure"),
    "NodeHasInsufficientPID": ("NodeHasSufficientPID", "PIDPressure"),
    "NodeNotReady": ("NodeReady", "Ready"),
}


def recovered_since(
    event: EventEvidence, events: list[EventEvidence], node: NodeEvidence | None
) -> bool:
    """Whether the node reported the end of ``event``'s condition at or after its last
    occurrence and does not report the condition now (Ready for ``NodeNotReady``)."""
    recovery = _RECOVERIES.get(event.reason)
    if recovery is None or event.last_seen is None:
        return False
    reason, condition = recovery
    if node is not None:
        if condition == "Ready" and node.ready != "True":
            return False
        if any(c.type == condition and c.status == "True" for c in node.conditions):
            return False
    return any(
        e.reason == reason
        and e.involved.kind == "Node"
        and e.involved.name == event.involved.name
        and e.last_seen is not None
        and e.last_seen >= event.last_seen
        for e in events
    )

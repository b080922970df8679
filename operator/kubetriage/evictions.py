"""The kubelet's words when it evicts a pod for its node's lack of a resource. Pure.

Under node pressure the kubelet ranks the pods by their use of the starved resource over
their request and evicts the first, saying which container used the most ("The node was low
on resource: ephemeral-storage. ... Container worker was using 11943216Ki, request is 0, has
larger consumption of ephemeral-storage."). One table for every reader: the node-agent rule,
which rolls back the workload whose new revision fills its nodes' disks, the under-requested
rule, which raises the memory request of a workload evicted again and again for using many
times it, and the target step that chooses, among the workloads on an alerted node, the one
driving its resource.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage.models.quantity import parse_quantity

# The resource the node ran low on, when the kubelet names the container using the most, with
# that container's use and request as the kubelet printed them (quantities).
_TOP_USER: Final = re.compile(
    r"(?i)the node (?:was|had) low on resource: (?P<resource>[\w-]+)\b.*\bcontainer "
    r"(?P<container>\S+) was using (?P<used>[0-9.]+[a-z]*)"
    r"(?:, request is (?P<request>[0-9.]+[a-z]*))?"
)
# The kubelet's resource names, as the node's alerts speak of them.
_RESOURCES: Final = {"ephemeral-storage": "disk", "memory": "memory", "pids": "pids"}


@dataclass(frozen=True, slots=True)
class TopUser:
    """The container the kubelet named as the largest user of the resource its node lacked:
    the resource ("disk", "memory", "pids"), the container, and its use and request in base
    units as the kubelet reported them (None where the words carry no readable quantity)."""

    resource: str
    container: str
    used: float | None
    request: float | None


def top_user(message: str) -> TopUser | None:
    """What the kubelet's eviction message says of the container using the most of what its
    node ran low on; None when the message names no such container."""
    match = _TOP_USER.search(message)
    if not match:
        return None
    resource = _RESOURCES.get(match["resource"].lower())
    if resource is None:
        return None
    return TopUser(
        resource=resource,
        container=match["container"],
        used=parse_quantity(match["used"]),
        request=parse_quantity(match["request"]),
    )


def top_user_resource(message: str) -> str | None:
    """The resource ("disk", "memory", "pids") for which the kubelet evicted a pod naming its
    container as the largest user; None when the message says no such thing."""
    found = top_user(message)
    return found.resource if found else None

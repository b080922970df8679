"""The kubelet's words when it evicts a pod for its node's lack of a resource. Pure.

Under node pressure the kubelet ranks the pods by their use of the starved resource over
their request and evicts the first, saying which container used the most ("The node was low
on resource: ephemeral-storage. ... Container worker was using 11943216Ki, request is 0, has
larger consumption of ephemeral-storage."). One table for every reader: the node-agent rule,
which rolls back the workload whose new revision fills its nodes' disks, and the target step
that chooses, among the workloads on an alerted node, the one driving its resource.
"""

from __future__ import annotations

import re
from typing import Final

# The resource the node ran low on, when the kubelet names the container using the most.
_TOP_USER: Final = re.compile(
    r"(?i)the node (?:was|had) low on resource: (?P<resource>[\w-]+)\b.*\bcontainer \S+ was using"
)
# The kubelet's resource names, as the node's alerts speak of them.
_RESOURCES: Final = {"ephemeral-storage": "disk", "memory": "memory", "pids": "pids"}


def top_user_resource(message: str) -> str | None:
    """The resource ("disk", "memory", "pids") for which the kubelet evicted a pod naming its
    container as the largest user; None when the message says no such thing."""
    match = _TOP_USER.search(message)
    return _RESOURCES.get(match["resource"].lower()) if match else None

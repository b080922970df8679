"""A node's CSI plugin that cannot be reached, from the words the kubelet prints when it
mounts or unmounts a CSI volume. Pure.

One table for every reader: the storage rule, which does not blame a claim for a mount that
fails because the driver's node plugin on that node is down, and the dependency walk, which
follows that node plugin (the DaemonSet pod serving the driver on the node) as what the pod
waits on. The phrases are the kubelet's CSI client's: a driver that never registered on the
node (``driver name X not found in the list of registered CSI drivers``) and a registered
driver whose socket refuses (``dial unix /var/lib/kubelet/plugins/X/csi.sock: connect:
connection refused`` or ``no such file or directory``).
"""

from __future__ import annotations

import re
from typing import Final

_CSI_UNREACHABLE: Final = re.compile(
    r"(?i)driver name (?P<name>[\w.-]+) not found in the list of registered CSI drivers"
    r"|dial unix \S*/plugins/(?P<socket>[\w.-]+)/csi\.sock: connect: "
    r"(?:connection refused|no such file or directory)"
)


def unreachable_csi_driver(message: str) -> str | None:
    """The CSI driver whose node plugin the kubelet could not reach, as the message names
    it; None when the message says no such thing."""
    match = _CSI_UNREACHABLE.search(message)
    if match is None:
        return None
    return match["name"] or match["socket"]

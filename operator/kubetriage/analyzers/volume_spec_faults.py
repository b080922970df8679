"""Volume faults that come from how a claim or its pods are specified, not from a lack of
space: the words of the events that report them, what is wrong, and the fix in the
workload's spec. Used by the storage rule (``kubetriage.analyzers.storage``). Pure.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from kubetriage.models.vocabulary import Action


class VolumeFault(NamedTuple):
    """What is wrong with a claim or its pods, the fix, whether the fault is in the claim
    itself (then only a StatefulSet's claim template holds the fix), and the remediation."""

    problem: str
    fix: str
    in_claim: bool
    action: Action = Action.FIX_CONFIG


# Claims that fail because of how they or their pods are specified, not for lack of space:
# the fix is in the workload's spec, so the remediation corrects that workload. Each: what
# the events say, the problem, the fix, and whether the fault is in the claim itself (then
# only a StatefulSet, whose claim template stamps the claim, holds the fix) or in the pod.
_SPEC_FAULTS: tuple[tuple[re.Pattern[str], VolumeFault], ...] = (
    (
        re.compile(r"(?i)no storage class is set"),
        VolumeFault(
            "names no StorageClass and none is the default",
            "set its storageClassName or a default StorageClass",
            True,
        ),
    ),
    (
        re.compile(r"(?i)storageclass(\.storage\.k8s\.io)? \"?[\w.-]+\"? not found"),
        VolumeFault(
            "names a StorageClass that does not exist",
            "name an existing StorageClass in its template",
            True,
        ),
    ),
    (
        # The provisioner's cloud API refuses the class's parameters or its credentials: an
        # encryption key it may not use (EBS deletes such a volume right after creating it,
        # so the driver cannot find it), an invalid parameter, a denied operation. Retrying
        # or more space changes nothing; the claim must name a class the provisioner can use.
        re.compile(
            r"(?i)failed to provision volume with StorageClass .*("
            r"failed to get an available volume|InvalidParameter|InvalidKMSKey|KMS\.|"
            r"UnauthorizedOperation|AccessDenied|AuthorizationFailed|not authorized to perform)"
        ),
        VolumeFault(
            "cannot be provisioned with its StorageClass",
            "fix the class's key, parameters or grants",
            True,
        ),
    ),
    (
        # The cloud refuses to attach the disk to the VM the pod was placed on because that
        # machine type cannot take this disk type (Azure premium SSD on a size without an
        # 's', a Hyperdisk on a machine series that lacks it, an io2 Block Express volume on
        # an older instance type). The scheduler does not know this; the pods must be kept
        # to nodes whose machine type supports the disk.
        re.compile(
            r"(?i)(attach|mount)\w* .*("
            r"not supported (for|by|on|with) (the )?(vm|instance|machine)[ -]?(size|type)|"
            r"cannot be used (by|with) \S+ machine type|"
            r"features are not compatible for creating instance)"
        ),
        VolumeFault(
            "cannot attach on its node, whose machine type does not take that disk type",
            "keep its pods on nodes that take the disk",
            False,
        ),
    ),
    (
        # The cloud refuses the attach because the node has no attachment slot left (EBS
        # AttachmentLimitExceeded, Azure's maximum data disks for the VM size, GCE's
        # maximum_persistent_disks quota per instance). The slots are shared with network
        # interfaces and other disks the node's CSINode count may not know of, so the
        # scheduler placed the pod anyway: the volume is fine, the pod needs a node with a
        # free slot (another node, more nodes, or a per-node volume limit that tells the truth).
        re.compile(
            r"(?i)attach\w* .*("
            r"AttachmentLimitExceeded|maximum number of (volume |disk )?attachments|"
            r"maximum number of data disks|maximum_persistent_disks)"
        ),
        VolumeFault(
            "cannot attach: its node is out of attachment slots",
            "move its pods to nodes with a free slot",
            False,
            Action.FREE_CAPACITY,
        ),
    ),
    (
        re.compile(r"(?i)setting volume ownership for .* taking longer than expected"),
        VolumeFault(
            "mounts slowly: fsGroup makes the kubelet chown every file",
            "set fsGroupChangePolicy: OnRootMismatch",
            False,
        ),
    ),
)


def spec_fault(message: str) -> VolumeFault | None:
    """The first spec fault an event's message reports; None when it reports none."""
    for pattern, fault in _SPEC_FAULTS:
        if pattern.search(message):
            return fault
    return None

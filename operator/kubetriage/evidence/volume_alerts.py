"""A node filesystem alert about a pod's volume, not the node's disk.

node-exporter reports every filesystem mounted on the host, including where the kubelet
mounts a pod's volume (``/var/lib/kubelet/pods/<pod uid>/volumes/<plugin>/<volume>/mount``,
unless its ``mount-points-exclude`` drops them): an alert on such a ``mountpoint`` is about
that volume. The PersistentVolume of that name (``mounted_volumes``) and the claim bound to it
(``volume_claim``) are the incident's target, before any candidate of the alert's labels (the
collector, ``target_walk``, and the builder, ``scope.mounted_claim``, look the volume up); the
node-failure rule does not count such an alert against the node.

Pure.
"""

from __future__ import annotations

import re
from typing import Any

from kubetriage.evidence.label_vocabulary import label_value
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert

# Where the kubelet mounts a pod's volume: .../pods/<pod uid>/volumes/<plugin>/<volume>[/mount]
# (the ``mount`` directory is a CSI volume's; in-tree plugins mount the volume directory).
_KUBELET_VOLUME_MOUNT = re.compile(
    r"/pods/[0-9a-f-]{36}/volumes/[^/]+/(?P<volume>[^/]+?)(?:/mount)?/?$", re.IGNORECASE
)


def kubelet_volume(mountpoint: str) -> str | None:
    """The volume's name in a mountpoint where the kubelet mounts a pod's volume (the
    PersistentVolume's name for a claim's volume), else None."""
    found = _KUBELET_VOLUME_MOUNT.search(mountpoint.strip())
    return found.group("volume") if found else None


def mounted_volumes(alerts: list[Alert]) -> list[str]:
    """The volumes the alerts' ``mountpoint`` labels name where the kubelet mounts pod
    volumes, in order, without duplicates."""
    names: list[str] = []
    for alert in sorted(alerts, key=lambda a: a.status == "resolved"):  # firing first
        volume = kubelet_volume(label_value(alert.labels, "mountpoint") or "")
        if volume is not None and volume not in names:
            names.append(volume)
    return names


def volume_claim(volume: dict[str, Any] | None) -> ObjectRef | None:
    """The claim a PersistentVolume is bound to (its ``spec.claimRef``), if any."""
    spec = (volume or {}).get("spec")
    claim = spec.get("claimRef") if isinstance(spec, dict) else None
    if not isinstance(claim, dict):
        return None
    name, namespace = claim.get("name"), claim.get("namespace")
    if not isinstance(name, str) or not isinstance(namespace, str) or not name or not namespace:
        return None
    return ObjectRef(kind="PersistentVolumeClaim", name=name, namespace=namespace, api_version="v1")

"""A node's filesystem filled by a claim that lives on it: the alert names a node's
filesystem (its space or its inodes, with the ``mountpoint`` node_exporter labels it by),
and one workload on that node mounts a claim whose volume is a directory of the node
itself under that mountpoint (a hostPath or local PersistentVolume, as local-path
provisioners make them). Such a volume has no quota of its own: its capacity is a label,
and its data grows into the node's filesystem. An SRE moves that claim's data to storage of
its own (a larger volume or a dedicated disk), rather than cleaning the node.

Silent when no tenant, or several, mount such a claim under the alerted mountpoint, and for
alerts about anything but a node's filesystem running out of room (space or inodes; not
its I/O).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item, object_source
from kubetriage.evidence.node_tenants import alert_resource
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import NodeTenantEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a node-local-claim finding is, by the evidence that earns it."""

    # The one claim of the node's tenants stored in the alerted filesystem: structure, no
    # series of its own growth, so below the findings that measure it.
    local_claim: float = 0.62


CONFIDENCE: Final = _Confidence()
NAME: Final = "node-local-claim"
# A filesystem running out of room (space or inodes), not slow (I/O saturation, latency).
_FILLING: Final = re.compile(r"(?i)(space|inode|full|filling|files? free)")


def _said(alert: AlertEvidence) -> str:
    return " ".join((alert.labels.get("alertname", ""), alert.annotations.get("summary", "")))


def _under(path: str, mountpoint: str | None) -> bool:
    """Whether ``path`` lies in the filesystem mounted at ``mountpoint`` (any, unknown)."""
    if not mountpoint:
        return True
    root = mountpoint.rstrip("/")
    return path == mountpoint or path.startswith(f"{root}/")


def local_claim(evidence: Evidence) -> tuple[NodeTenantEvidence, str, str] | None:
    """The one (tenant, claim, node directory) stored in the alerted node filesystem."""
    target = evidence.target
    if target is None or target.kind != "Node" or not evidence.node_tenants:
        return None
    alerts = evidence.alerts
    if alert_resource(alerts) != "disk" or not any(_FILLING.search(_said(a)) for a in alerts):
        return None
    mountpoint = next((a.labels["mountpoint"] for a in alerts if "mountpoint" in a.labels), None)
    found = [
        (tenant, claim, path)
        for tenant in evidence.node_tenants
        for claim, path in tenant.local_claims.items()
        if _under(path, mountpoint)
    ]
    return found[0] if len(found) == 1 else None


def check_local_claim(evidence: Evidence) -> list[Finding]:
    """Move the claim that lives in the alerted node filesystem to storage of its own."""
    found = local_claim(evidence)
    if found is None or evidence.target is None:
        return []
    tenant, claim, path = found
    ref = ObjectRef(kind="PersistentVolumeClaim", namespace=tenant.ref.namespace, name=claim)
    node = evidence.target.name
    stored = item(object_source(ref), f"bound to a volume that is directory {path} of the node")
    because = [
        prose.claim(
            f"{prose.obj(tenant.ref)} runs on node {node} and keeps {prose.obj(ref)} in a "
            "directory of the node's own filesystem, the one the alert is about",
            stored,
        ),
        prose.claim(
            "Such a volume has no quota: its data grows into the node's filesystem, whatever "
            "capacity the claim names"
        ),
    ]
    return [
        make_finding(
            NAME,
            Category.STORAGE,
            CONFIDENCE.local_claim,
            prose.narrative(
                f"{prose.obj(ref)} fills its node's filesystem",
                "move it to a volume of its own",
                because=because,
            ),
            [stored],
            Action.EXPAND_STORAGE,
            ref,
            {"pvc": claim},
        )
    ]


LOCAL_VOLUME_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.STORAGE,), check_local_claim),
)

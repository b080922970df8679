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

The node-disk-release rule: the same alert, and one tenant of the node whose last release
(within ``RELEASE_WINDOW``) points a setting inside an emptyDir on the node's disk where the
revision before did not (``NodeTenantEvidence.node_disk_settings``: a cache moved from a
server into files): that release writes into the node's filesystem from every pod it runs
there, so it is rolled back (the node's own exhaustion findings stay below). Silent for
several such tenants, an older release, or an emptyDir in memory.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item, object_source
from kubetriage.evidence.node_tenants import alert_resource
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.neighbours import NodeTenantEvidence
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a node-local-claim finding is, by the evidence that earns it."""

    # The one claim of the node's tenants stored in the alerted filesystem: structure, no
    # series of its own growth, so below the findings that measure it.
    local_claim: float = 0.62
    # The one tenant whose last release moved a setting's writes into an emptyDir on the
    # node's disk: structure and timing, no per-pod series of the growth.
    node_disk_release: float = 0.72


CONFIDENCE: Final = _Confidence()
NAME: Final = "node-local-claim"
# A filesystem running out of room (space or inodes), not slow (I/O saturation, latency).
_FILLING: Final = re.compile(r"(?i)(space|inode|full|filling|files? free)")
# A release this recent can be what fills the node now.
RELEASE_WINDOW: Final = timedelta(hours=24)


def _said(alert: AlertEvidence) -> str:
    return " ".join((alert.labels.get("alertname", ""), alert.annotations.get("summary", "")))


def _under(path: str, mountpoint: str | None) -> bool:
    """Whether ``path`` lies in the filesystem mounted at ``mountpoint`` (any, unknown)."""
    if not mountpoint:
        return True
    root = mountpoint.rstrip("/")
    return path == mountpoint or path.startswith(f"{root}/")


def _filling_node(evidence: Evidence) -> bool:
    """The incident is a Node's whose alert says a filesystem of it runs out of room."""
    target, alerts = evidence.target, evidence.alerts
    if target is None or target.kind != "Node" or not evidence.node_tenants:
        return False
    return alert_resource(alerts) == "disk" and any(_FILLING.search(_said(a)) for a in alerts)


def local_claim(evidence: Evidence) -> tuple[NodeTenantEvidence, str, str] | None:
    """The one (tenant, claim, node directory) stored in the alerted node filesystem."""
    if not _filling_node(evidence):
        return None
    alerts = evidence.alerts
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


def check_node_disk_release(evidence: Evidence) -> list[Finding]:
    """Roll back the one tenant release that moved writes into an emptyDir on the node."""
    if not _filling_node(evidence) or evidence.target is None:
        return []
    found = [
        (tenant, tenant.changes[0])
        for tenant in evidence.node_tenants
        if tenant.node_disk_settings
        and tenant.changes
        and (at := tenant.changes[0].at) is not None
        and timedelta(0) <= evidence.collected_at - at <= RELEASE_WINDOW
        and tenant.ref.kind in ACTION_TARGET_KINDS[Action.ROLLBACK]
    ]
    if len(found) != 1:
        return []
    tenant, change = found[0]
    node = evidence.target.name
    released = item(
        object_source(tenant.ref),
        f"rollout at {change.at:%H:%M}: " + "; ".join(change.details[:3]),
    )
    settings = ", ".join(tenant.node_disk_settings)
    moved = item(
        object_source(tenant.ref),
        f"{settings} now inside an emptyDir on the node's disk; "
        f"{prose.count(len(tenant.pods), 'pod')} on node {node}",
    )
    fix = f"roll {tenant.ref.name} back" + (
        f" to revision {change.from_revision}" if change.from_revision else ""
    )
    return [
        make_finding(
            "node-disk-release",
            Category.BAD_ROLLOUT,
            CONFIDENCE.node_disk_release,
            prose.narrative(
                prose.fitting_problem(
                    [
                        f"The release of {prose.obj(tenant.ref)} writes into node {node}'s "
                        "filesystem",
                        f"The release of {tenant.ref.name} fills its nodes' filesystem",
                        "A release fills its nodes' filesystem",
                    ],
                    fix,
                ),
                fix,
                because=[
                    prose.claim(
                        f"{prose.obj(tenant.ref)} released a revision that points "
                        f"{settings} inside an emptyDir, a directory of the node's own disk",
                        released,
                        moved,
                    ),
                    prose.claim(
                        "Every pod of it on the node writes there with nothing bounding the "
                        "files it makes, the filesystem the alert is about"
                    ),
                ],
            ),
            [released, moved],
            Action.ROLLBACK,
            tenant.ref,
            {"revision": str(change.from_revision)} if change.from_revision else {},
        )
    ]


LOCAL_VOLUME_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.STORAGE,), check_local_claim),
    Analyzer("node-disk-release", (Category.BAD_ROLLOUT,), check_node_disk_release),
)

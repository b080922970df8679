"""The burst-credit rule: a claim the workload or one of its callees mounts sits on a cloud
volume whose I/O burst credits ran out in the window (``claims_burst_balance``: EBS gp2, st1
and sc1 report a balance in percent). From then on the volume serves only its baseline IOPS,
which its size sets (gp2: 3 IOPS per GiB), so every read and write waits while the process
using it sits idle on CPU: slow queries, long checkpoints, callers timing out. An SRE who
sees the balance at zero expands the claim (a larger gp2 volume has a higher baseline) or
moves it to a class with provisioned IOPS; escalating the database treats the surface.

Azure managed disks with credit-based bursting (Premium SSD P20 and smaller) report the
share of credits used instead, on the VM they are attached to, by LUN (``vm_disk_burst_used``):
the VM is a node (a scale set instance's node is named after the scale set and its instance
id in base 36, a plain VM's after the VM), and the disk is the one claim the evidence's pods
mount on that node, when the VM reports a single data disk.

Silent when the balance did not fall in the window (a volume always at its baseline, or
credits never drawn down) or is not near empty; for a VM's disk, also when the VM has several
data disks or the node several claims (which one ran out is not known).

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import item
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Claim, Finding
from kubetriage.models.object_evidence import MetricSummary, PVCEvidence
from kubetriage.models.quantity import parse_quantity
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a burst-credit finding is, by the evidence that earns it."""

    # The volume's balance fell to (near) zero in the window: its I/O is throttled to the
    # baseline, above a callee's failing calls (dependency-failure, 0.78-0.8) it explains.
    exhausted: float = 0.86


CONFIDENCE: Final = _Confidence()

SERIES = "claims_burst_balance"
VM_SERIES = "vm_disk_burst_used"
# At or below this many percent the volume is at its baseline.
EMPTY = 1.0
# It held at least this many percent more at some point in the window: it was drawn down.
DRAWN = 5.0


def exhausted_claims(evidence: Evidence) -> list[MetricSummary]:
    """The burst-balance series of the mounted claims that ran out in the window."""
    return [
        m
        for m in evidence.metrics
        if m.name == SERIES
        and m.last is not None
        and m.last <= EMPTY
        and (m.max or 0.0) - m.last >= DRAWN
        and m.labels.get("namespace")
        and m.labels.get("persistentvolumeclaim")
    ]


# An Azure VM's resource ID: a scale set instance, or a plain VM.
_SCALE_SET_VM = re.compile(
    r"(?i)/virtualmachinescalesets/(?P<set>[^/]+)/virtualmachines/(?P<id>\d+)$"
)
_PLAIN_VM = re.compile(r"(?i)/virtualmachines/(?P<vm>[^/]+)$")
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def vm_node(resource_id: str) -> str | None:
    """The node name of an Azure VM's resource ID: a scale set instance's computer name is the
    scale set's name and its instance id in base 36 on six digits (AKS node pools), a plain
    VM's its own name."""
    if (match := _SCALE_SET_VM.search(resource_id)) is not None:
        number, digits = int(match["id"]), ""
        while True:
            number, rest = divmod(number, 36)
            digits = _BASE36[rest] + digits
            if not number:
                break
        return f"{match['set'].lower()}{digits:0>6}"
    if (match := _PLAIN_VM.search(resource_id)) is not None:
        return match["vm"].lower()
    return None


def _claims_on(evidence: Evidence, node: str) -> list[ObjectRef]:
    """The claims the evidence's pods (the workload's and its callees') mount on ``node``."""
    found = [
        ObjectRef(kind="PersistentVolumeClaim", namespace=p.namespace, name=claim)
        for p in evidence.pods
        if p.node == node
        for claim in p.pvc_names
    ]
    found += [
        ObjectRef(kind="PersistentVolumeClaim", namespace=v.claim.namespace, name=v.claim.name)
        for d in evidence.dependencies
        for v in d.volumes
        if d.pod_nodes.get(v.pod) == node
    ]
    return list({r.key(): r for r in found}.values())


def exhausted_vm_disks(evidence: Evidence) -> list[tuple[ObjectRef, MetricSummary, str]]:
    """(claim, series, node) of each VM data disk whose burst credits ran out in the window,
    placed on the one claim mounted on the VM's node when the VM reports one data disk."""
    disks = [m for m in evidence.metrics if m.name == VM_SERIES and m.labels.get("resourceID")]
    found: list[tuple[ObjectRef, MetricSummary, str]] = []
    for metric in disks:
        if metric.last is None or metric.last < 100.0 - EMPTY:
            continue
        if metric.last - (metric.min if metric.min is not None else metric.last) < DRAWN:
            continue
        resource = metric.labels["resourceID"]
        node = vm_node(resource)
        same_vm = [m for m in disks if m.labels["resourceID"].lower() == resource.lower()]
        claims = _claims_on(evidence, node) if node is not None else []
        if node is not None and len(same_vm) == 1 and len(claims) == 1:
            found.append((claims[0], metric, node))
    return found


def _claim(evidence: Evidence, namespace: str, name: str) -> PVCEvidence | None:
    claims = [*evidence.pvcs, *(v.claim for d in evidence.dependencies for v in d.volumes)]
    return next((c for c in claims if (c.namespace, c.name) == (namespace, name)), None)


def _mounted_by(evidence: Evidence, ref: ObjectRef) -> Claim:
    """Who waits on the claim: a callee whose pod mounts it, else the workload's pods."""
    for dependency in evidence.dependencies:
        for volume in dependency.volumes:
            if (volume.claim.namespace, volume.claim.name) == (ref.namespace, ref.name):
                fact = item(f"pod/{ref.namespace}/{volume.pod}", f"mounts {prose.obj(ref)}")
                callee = dependency.workload or dependency.ref
                who = prose.obj(callee) if callee is not None else "A callee"
                return prose.claim(f"{who}, which the workload calls, keeps its data on it", fact)
    return prose.claim("The workload's pods keep their data on it")


def check_burst_credits(evidence: Evidence) -> list[Finding]:
    """Expand the claim whose volume ran out of I/O burst credits."""
    found = exhausted_claims(evidence)
    disks = exhausted_vm_disks(evidence)
    if len(found) + len(disks) != 1:
        return []
    if found:
        metric = found[0]
        namespace, name = metric.labels["namespace"], metric.labels["persistentvolumeclaim"]
        ref = ObjectRef(kind="PersistentVolumeClaim", namespace=namespace, name=name)
        when = f" at {metric.changed_at:%H:%M}" if metric.changed_at is not None else ""
        fact = item(
            "metrics",
            f"I/O burst balance of the volume of {prose.obj(ref)} fell from "
            f"{metric.max:.0f}% to {metric.last:.0f}%{when}",
        )
    else:
        ref, metric, node = disks[0]
        namespace, name = ref.namespace or "", ref.name
        when = f" at {metric.changed_at:%H:%M}" if metric.changed_at is not None else ""
        fact = item(
            "metrics",
            f"burst credits used of data disk LUN {metric.labels.get('lun', '?')} of node {node}, "
            f"where {prose.obj(ref)} is mounted, rose from {metric.min:.0f}% to "
            f"{metric.last:.0f}%{when}",
        )
    claim = _claim(evidence, namespace, name)
    size = parse_quantity(claim.capacity or claim.requested) if claim is not None else None
    params = {"pvc": name}
    if size:
        params["currentSize"] = prose.memory(size)
    text = prose.narrative(
        f"{prose.obj(ref)}'s volume ran out of I/O burst credits",
        "expand it: a larger volume has a higher baseline",
        because=[
            prose.claim(
                "Its cloud volume spent its burst credits, so it serves only its baseline "
                "IOPS and every read and write waits",
                fact,
            ),
            mounted := _mounted_by(evidence, ref),
        ],
    )
    return [
        make_finding(
            "burst-credits",
            Category.STORAGE,
            CONFIDENCE.exhausted,
            text,
            [fact, *mounted.evidence],
            Action.EXPAND_STORAGE,
            ref,
            params,
        )
    ]


BURST_CREDIT_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("burst-credits", (Category.STORAGE,), check_burst_credits),
)

"""The storage rule: a PersistentVolumeClaim that will not bind (Pending, Lost), fails to
attach, mount or provision (its Events), or is full (disk-full log lines, kubelet volume
metrics, volume alerts), with a size to expand it to when its capacity is known.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.log_signatures import DISK_FULL_LOG, SHARED_MEMORY_SPACE
from kubetriage.analyzers.support import (
    event_fact,
    grep_logs,
    item,
    logs_of,
    owner_workload,
    parse_quantity,
    suggest_memory,
)
from kubetriage.analyzers.volume_fills import FILLING, FULL, fullest_claim, volume_fills
from kubetriage.analyzers.volume_spec_faults import VolumeFault, spec_fault
from kubetriage.config_errors import claim_missing_secret
from kubetriage.csi_errors import unreachable_csi_driver
from kubetriage.evidence.run_claims import CLAIM_IN_TEXT
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.object_evidence import EventEvidence, PodEvidence, PVCEvidence
from kubetriage.models.vocabulary import Action, Category


@dataclass(frozen=True, slots=True)
class _Confidence:
    """How sure a storage finding is, by the evidence that earns it (the best observation of
    a claim counts)."""

    unbound: float = 0.9  # the claim is Pending or Lost
    volume_event: float = 0.85  # an Event: it fails to bind, attach, mount, provision, resize
    disk_full_log: float = 0.85  # a pod that mounts it logs "no space left on device"...
    full: float = 0.8  # kubelet volume metrics: at least FULL of it is used
    filling: float = 0.7  # ... at least FILLING
    alert: float = 0.8  # a volume alert fired for it (KubePersistentVolumeFillingUp...)
    agree_bonus: float = 0.03  # more than one observation agrees
    cap: float = 0.95  # the most a storage finding claims


CONFIDENCE: Final = _Confidence()
# Below this share in use a volume alert no longer holds: kube-prometheus'
# KubePersistentVolumeFillingUp needs less than 15% free (and inodes alike), so a claim
# measured under it now has had its space reclaimed (compaction, retention, a cleanup).
CLEARED = 0.85

# A claim that has no volume yet. A bound volume pinned to a zone or node where no schedulable
# node remains ("volume node affinity conflict") is a placement problem: the scheduling rule's.
UNBOUND_PVC = re.compile(
    r"(?i)(unbound (immediate )?persistentvolumeclaims|persistentvolumeclaim \"?[\w.-]+\"? not "
    r"found|waiting for first consumer)"
)
_VOLUME_EVENT_REASONS = (
    "FailedMount",
    "FailedAttachVolume",
    "ProvisioningFailed",
    "FailedBinding",
    "VolumeResizeFailed",
    "FailedScheduling",
    "VolumePermissionChangeInProgress",
)
_VOLUME_EVENT = re.compile(
    r"(?i)(persistentvolumeclaim|volume|multi-attach|attach|provision|storageclass|mount|pvc)"
)
_CONFIG_VOLUME = re.compile(r"(?i)(configmap|secret)s? \"?[\w.-]+\"? not found")


_MULTI_ATTACH = re.compile(r"(?i)multi-attach error")
# A claim of a WaitForFirstConsumer class says so while no pod using it has a node yet.
_AWAITS_CONSUMER = re.compile(r"(?i)waiting for first consumer")
# The scheduler's reasons that concern a pod's volumes (free storage, attach limits,
# volume zones, unbound claims) rather than the pod itself.
_SCHEDULER_VOLUME = re.compile(r"(?i)(volume|claim|storage|attach|pvc)")


def _awaits_unscheduled_pods(evidence: Evidence, pvc: PVCEvidence) -> bool:
    """A Pending claim of a WaitForFirstConsumer class binds only once a pod that mounts it
    is scheduled: while every such pod is still unscheduled, and the scheduler does not name
    the claim or volumes among its reasons, the claim waits on its pod. Nothing is wrong with
    it; why the pod cannot be placed is the scheduling rule's."""
    if pvc.phase != "Pending" or pvc.volume_name:
        return False
    if not any(
        e.involved.kind == "PersistentVolumeClaim"
        and e.involved.name == pvc.name
        and (e.involved.namespace in (None, pvc.namespace))
        and (e.reason == "WaitForFirstConsumer" or _AWAITS_CONSUMER.search(e.message))
        for e in evidence.events
    ):
        return False
    consumers = [
        p for p in evidence.pods if p.namespace == pvc.namespace and pvc.name in p.pvc_names
    ]
    if not consumers or any(p.node for p in consumers):
        return False
    names = {p.name for p in consumers}
    said = [
        e.message
        for e in evidence.events
        if e.reason == "FailedScheduling" and e.involved.name in names
    ]
    said += [c.message or "" for p in consumers for c in p.conditions if c.type == "PodScheduled"]
    return not any(_SCHEDULER_VOLUME.search(text) for text in said)


def _second_node_attach(evidence: Evidence, event: EventEvidence) -> VolumeFault | None:
    """A ReadWriteOnce volume asked for on a second node while a live pod of the same
    workload holds it on a ready node: the workload runs two pods on one single-node volume
    (more than one replica, or a rolling update that starts the new pod first). When the
    holder's node is down instead, the node is the cause and this is not the workload's."""
    if not _MULTI_ATTACH.search(event.message) or event.involved.kind != "Pod":
        return None
    asking = next((p for p in evidence.pods if p.name == event.involved.name), None)
    if asking is None:
        return None
    owner = owner_workload(asking)
    ready_nodes = {n.name for n in evidence.nodes if n.ready == "True"}

    def holds(pod: PodEvidence) -> bool:
        other = owner_workload(pod)
        return (
            pod.name != asking.name
            and not pod.deleting
            and pod.node in ready_nodes
            and pod.node != asking.node
            and bool(set(pod.pvc_names) & set(asking.pvc_names))
            and owner is not None
            and other is not None
            and other.same_object(owner)
        )

    holders = [p for p in evidence.pods if holds(p)]
    if not holders:
        return None
    return VolumeFault(
        "is ReadWriteOnce but its workload runs pods on two nodes",
        "run one replica with the Recreate strategy",
        False,
    )


def _started_since(evidence: Evidence, event: EventEvidence) -> bool:
    """Whether the pod an attach or mount failure is about has started an app container
    since the failure was last reported. The kubelet starts a pod's containers only once all
    its volumes are attached and mounted, so such a start shows the failure passed (a
    ReadWriteOnce volume still detaching from the previous node while a Recreate rollout
    hands it over); whatever the pod suffers now is not its volume's."""
    if event.reason not in ("FailedAttachVolume", "FailedMount") or event.involved.kind != "Pod":
        return False
    seen = event.last_seen or event.first_seen
    pod = next(
        (
            p
            for p in evidence.pods
            if p.name == event.involved.name and event.involved.namespace in (None, p.namespace)
        ),
        None,
    )
    if pod is None or seen is None:
        return False
    return any(
        state.started_at is not None and state.started_at > seen
        for c in pod.containers
        if not c.init
        for state in (c.state, c.last_state)
        if state is not None
    )


def _mounting_workload(
    evidence: Evidence, namespace: str, claim: str, *, templates_only: bool
) -> ObjectRef | None:
    """The workload whose pods mount the claim; with ``templates_only``, only a StatefulSet
    (whose claim template the claim comes from)."""
    for pod in evidence.pods:
        if pod.namespace == namespace and claim in pod.pvc_names:
            owner = owner_workload(pod)
            if owner is not None and (not templates_only or owner.kind == "StatefulSet"):
                return owner
    return None


def _pvc_ref(namespace: str, name: str) -> ObjectRef:
    return ObjectRef(kind="PersistentVolumeClaim", namespace=namespace, name=name)


def _size_params(pvc: PVCEvidence | None) -> dict[str, str]:
    if pvc is None:
        return {}
    return claim_size_params(pvc.name, parse_quantity(pvc.capacity or pvc.requested))


def claim_size_params(claim: str, size: float | None) -> dict[str, str]:
    """The expand-storage parameters of a claim of ``size`` bytes (when known): its name, a
    size to grow it to and its current size."""
    params = {"pvc": claim}
    if size:
        params["size"] = suggest_memory(size)
        params["currentSize"] = prose.memory(size)
    return params


def check_storage(evidence: Evidence) -> list[Finding]:
    pvcs = {(p.namespace, p.name): p for p in evidence.pvcs}
    namespace = (
        evidence.workload.ref.namespace
        if evidence.workload
        else (evidence.target.namespace if evidence.target else None)
    )
    found: dict[tuple[str, str], tuple[float, list[EvidenceItem], str]] = {}
    spec_faults: dict[tuple[str, str], VolumeFault] = {}

    # A claim whose CSI sidecar cannot read the Secret its StorageClass names waits on that
    # Secret: config-missing's case (it names the Secret), not the claim's.
    secret_blocked = {
        (e.involved.namespace, e.involved.name)
        for e in evidence.events
        if e.involved.kind == "PersistentVolumeClaim"
        and e.reason in ("ProvisioningFailed", "VolumeResizeFailed")
        and claim_missing_secret(e.message) is not None
    }

    def note(ns: str | None, name: str, confidence: float, fact: EvidenceItem, why: str) -> None:
        if ns is None or (ns, name) in secret_blocked:
            return
        best, facts, reason = found.get((ns, name), (0.0, [], why))
        found[(ns, name)] = (
            max(best, confidence),
            [*facts, fact],
            why if confidence > best else reason,
        )

    # Claims that wait on a provisioner whose controller is down: that controller is
    # followed (its trouble is read like a dependency's), the claims say nothing of their own.
    provisioner_down = {
        (namespace, claim)
        for d in evidence.dependencies
        if d.failing_pods
        for claim in d.provisioned_claims()
    }
    for pvc in evidence.pvcs:
        if (pvc.namespace, pvc.name) in provisioner_down:
            continue
        if _awaits_unscheduled_pods(evidence, pvc):
            continue
        if pvc.phase in ("Pending", "Lost"):
            note(
                pvc.namespace,
                pvc.name,
                CONFIDENCE.unbound,
                item(
                    f"pvc/{pvc.namespace}/{pvc.name}",
                    f"phase {pvc.phase}, storageClass {pvc.storage_class}, "
                    f"requested {pvc.requested}",
                ),
                f"is {pvc.phase}",
            )
    pod_pvcs = {p.name: p.pvc_names for p in evidence.pods}
    # Pods whose mounts fail because the kubelet cannot reach the CSI driver on their node:
    # their mount timeouts echo that, and say nothing about the claims.
    plugin_down = {
        e.involved.name
        for e in evidence.events
        if e.involved.kind == "Pod" and unreachable_csi_driver(e.message)
    }
    for event in evidence.events:
        if event.reason not in _VOLUME_EVENT_REASONS or not _VOLUME_EVENT.search(event.message):
            continue
        if _CONFIG_VOLUME.search(event.message):
            continue  # a missing ConfigMap/Secret volume is config-missing's case
        if event.reason == "FailedMount" and event.involved.name in plugin_down:
            continue  # the node's CSI plugin is down, not the claim: the plugin is followed
        if _started_since(evidence, event):
            continue  # the volume attached and mounted after all: a passing failure
        if event.reason == "FailedScheduling" and not UNBOUND_PVC.search(event.message):
            continue
        names: list[str] = []
        if event.involved.kind == "PersistentVolumeClaim":
            names = [event.involved.name]
        else:
            mentioned = [m["name"] for m in CLAIM_IN_TEXT.finditer(event.message)]
            names = [n for n in mentioned if (event.involved.namespace or namespace, n) in pvcs]
            names = names or pod_pvcs.get(event.involved.name, [])
        fault = spec_fault(event.message) or _second_node_attach(evidence, event)
        for name in names[:2]:
            if (event.involved.namespace or namespace, name) in provisioner_down:
                continue
            if fault is not None and (event.involved.namespace or namespace) is not None:
                spec_faults.setdefault((event.involved.namespace or namespace or "", name), fault)
            note(
                event.involved.namespace or namespace,
                name,
                CONFIDENCE.volume_event,
                item("events", event_fact(event)),
                f"fails with {event.reason}",
            )
    for pod in evidence.pods:
        hits = [
            hit
            for hit in grep_logs(logs_of(evidence, pod), DISK_FULL_LOG, limit=3)
            if not SHARED_MEMORY_SPACE.search(hit.line)  # /dev/shm, not a claim
        ]
        if not hits:
            continue
        logged = fullest_claim(evidence, pod.namespace, pod.pvc_names)
        if logged is not None:
            fact = item(hits[0].source, hits[0].line)
            note(pod.namespace, logged, CONFIDENCE.disk_full_log, fact, "is full")
    measured: dict[tuple[str | None, str], float] = {}  # the latest share in use of a claim
    for fill in volume_fills(evidence, namespace):
        key = (fill.namespace, fill.claim)
        if not fill.inodes:  # a volume alert of bytes is stale by the bytes alone
            measured[key] = max(measured.get(key, 0.0), fill.share)
        if fill.share < FILLING:
            continue
        size = "" if fill.capacity is None else f" of {prose.memory(fill.capacity)}"
        used = f"{prose.percent(fill.share)} full" + (" of inodes" if fill.inodes else "")
        note(
            fill.namespace,
            fill.claim,
            CONFIDENCE.full if fill.share >= FULL else CONFIDENCE.filling,
            item("metrics", f"volume {fill.claim} is {used}{size}"),
            f"is {used}",
        )
    for alert in evidence.alerts:
        name = alert.labels.get("alertname", "")
        claim = alert.labels.get("persistentvolumeclaim")
        if claim and name in (
            "KubePersistentVolumeFillingUp",
            "KubePersistentVolumeErrors",
            "KubePersistentVolumeInodesFillingUp",
        ):
            ns = alert.labels.get("namespace", namespace)
            share = measured.get((ns, claim))
            if name == "KubePersistentVolumeFillingUp" and share is not None and share < CLEARED:
                continue  # measured now, the volume has room again: the alert is stale
            note(
                ns,
                claim,
                CONFIDENCE.alert,
                item("alert", f"{name} for {claim}"),
                "is filling up",
            )

    findings: list[Finding] = []
    for (ns, name), (confidence, facts, why) in found.items():
        claim_evidence = pvcs.get((ns, name))
        ref = _pvc_ref(ns, name)
        params = _size_params(claim_evidence) or {"pvc": name}
        distinct: list[EvidenceItem] = []
        for fact in facts:
            if fact not in distinct:
                distinct.append(fact)
        full = "full" in why or "filling" in why
        because = [prose.claim(f"{prose.obj(ref)} {why}", *distinct[:2])]
        if len(distinct) > 2:
            because.append(prose.claim("Other signals agree", *distinct[2:4]))
        because.append(
            prose.claim(
                "Writes fail once the volume is full, and the application fails with them"
                if full
                else "Pods that mount the claim cannot start until it binds and mounts"
            )
        )
        fault = spec_faults.get((ns, name))
        workload = (
            _mounting_workload(evidence, ns, name, templates_only=fault.in_claim)
            if fault and not full
            else None
        )
        if fault is not None and workload is not None:
            problem, fix = fault.problem, fault.fix
            because = [
                prose.claim(f"{prose.obj(ref)} {problem}", *distinct[:2]),
                prose.claim(
                    f"The pods of {prose.obj(workload)} cannot start until it binds and mounts"
                ),
            ]
            findings.append(
                make_finding(
                    "storage",
                    Category.STORAGE,
                    min(confidence + CONFIDENCE.agree_bonus, CONFIDENCE.cap),
                    prose.narrative(f"{prose.obj(ref)} {problem}", fix, because=because),
                    facts,
                    fault.action,
                    workload,
                    {"pvc": name},
                )
            )
            continue
        if full and "size" in params:
            fix = f"expand it to {params['size']} or free space"
        elif full:
            fix = "expand it or free space"
        else:
            fix = "fix its storage class or provisioning"
        findings.append(
            make_finding(
                "storage",
                Category.STORAGE,
                min(
                    confidence + (CONFIDENCE.agree_bonus if len(facts) > 1 else 0.0), CONFIDENCE.cap
                ),
                prose.narrative(
                    f"{prose.obj(ref)} {why}",
                    fix,
                    because=because,
                ),
                facts,
                Action.EXPAND_STORAGE,
                ref,
                params,
            )
        )
    return findings


STORAGE_ANALYZERS: tuple[Analyzer, ...] = (Analyzer("storage", (Category.STORAGE,), check_storage),)

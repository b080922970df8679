"""Placement and infrastructure analyzers: pods that cannot be scheduled, failing nodes and
evictions, and volumes that cannot bind, mount or are full.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.support import (
    DISK_FULL_LOG,
    event_fact,
    events_for,
    grep_logs,
    item,
    logs_of,
    metrics_named,
    parse_quantity,
    pod_source,
    suggest_memory,
    workload_ref,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence, NodeEvidence, PodEvidence, PVCEvidence
from kubetriage.models.findings import EvidenceItem, Finding
from kubetriage.models.vocabulary import ACTION_TARGET_KINDS, Action, Category

_UNBOUND_PVC = re.compile(
    r"(?i)(unbound (immediate )?persistentvolumeclaims|persistentvolumeclaim \"?[\w.-]+\"? not "
    r"found|volume node affinity conflict|waiting for first consumer)"
)
_SCHEDULING_REASONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("insufficient cpu", re.compile(r"(?i)insufficient cpu")),
    ("insufficient memory", re.compile(r"(?i)insufficient memory")),
    ("insufficient resources", re.compile(r"(?i)insufficient [\w./-]+")),
    (
        "node selector or affinity",
        re.compile(r"(?i)didn't match (pod's )?node (affinity|selector)"),
    ),
    ("pod (anti-)affinity", re.compile(r"(?i)didn't (match|satisfy) pod (anti-)?affinity")),
    ("untolerated taint", re.compile(r"(?i)(untolerated taint|had taint|taint\(s\))")),
    ("too many pods", re.compile(r"(?i)too many pods")),
    ("node unschedulable", re.compile(r"(?i)node\(s\) (were|was) unschedulable")),
    ("host port conflict", re.compile(r"(?i)free ports")),
    ("topology spread", re.compile(r"(?i)topology spread")),
)
_NODES_DOWN = re.compile(
    r"(?i)node\.kubernetes\.io/(not-ready|unreachable)|node\(s\) were not ready"
)
_QUOTA = re.compile(r"(?i)exceeded quota|forbidden: .*quota|must specify (limits|requests)")
_NODE_PRESSURE_EVICTION = re.compile(
    r"(?i)the node (was|had) (low on resource|condition)[: ]*\[?(?P<resource>[\w-]+)"
)
_PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
_PRESSURE_WORDS = {
    "MemoryPressure": "under memory pressure",
    "DiskPressure": "under disk pressure",
    "PIDPressure": "out of process IDs",
    "NetworkUnavailable": "without a network",
}
_VOLUME_EVENT_REASONS = (
    "FailedMount",
    "FailedAttachVolume",
    "ProvisioningFailed",
    "FailedBinding",
    "VolumeResizeFailed",
    "FailedScheduling",
)
_VOLUME_EVENT = re.compile(
    r"(?i)(persistentvolumeclaim|volume|multi-attach|attach|provision|storageclass|mount|pvc)"
)
_CONFIG_VOLUME = re.compile(r"(?i)(configmap|secret)s? \"?[\w.-]+\"? not found")
_PVC_IN_TEXT = re.compile(
    r"(?i)(?:persistentvolumeclaim|pvc|claim)[s]? \"?(?:[\w.-]+/)?(?P<name>[a-z0-9][\w.-]*)\"?"
)


# --- unschedulable ------------------------------------------------------------------------


def check_unschedulable(evidence: Evidence) -> list[Finding]:
    messages: list[tuple[PodEvidence | None, str, EvidenceItem]] = []
    for pod in evidence.pods:
        if pod.phase != "Pending":
            continue
        for condition in pod.conditions:
            if condition.type == "PodScheduled" and condition.status == "False":
                text = f"{condition.reason or ''}: {condition.message or ''}"
                messages.append((pod, text, item(pod_source(pod), f"PodScheduled=False {text}")))
    pod_names = {p.name: p for p in evidence.pods}
    for event in events_for(evidence, "FailedScheduling"):
        messages.append(
            (pod_names.get(event.involved.name), event.message, item("events", event_fact(event)))
        )
    quota_events = [e for e in events_for(evidence, "FailedCreate") if _QUOTA.search(e.message)]

    findings: list[Finding] = []
    scheduling = [m for m in messages if not _only_volume_problem(m[1])]
    if scheduling:
        first_pod = next((p for p, _, _ in scheduling if p is not None), None)
        target = workload_ref(evidence, first_pod)
        text = " ".join(t for _, t, _ in scheduling)
        reasons = [label for label, rx in _SCHEDULING_REASONS if rx.search(text)]
        if "insufficient cpu" in reasons or "insufficient memory" in reasons:
            reasons = [r for r in reasons if r != "insufficient resources"]
        pending = sum(1 for p in evidence.pods if p.phase == "Pending")
        confidence = 0.9 if reasons else 0.8
        if _NODES_DOWN.search(text) and any(n.ready != "True" for n in evidence.nodes):
            confidence = 0.7  # nodes are down, not full: node-failure explains the Pending pods
        if target is not None and target.kind in ACTION_TARGET_KINDS[Action.FREE_CAPACITY]:
            facts = [fact for _, _, fact in scheduling[:4]]
            stuck = prose.count(pending, "pod") if pending else "Pods"
            because = [
                prose.claim(
                    f"The scheduler finds no node for {stuck.lower()} of {prose.obj(target)}"
                    + (f": {prose.listing(reasons)}" if reasons else ""),
                    *facts[:2],
                ),
                prose.claim(_SCHEDULING_FIXES.get(reasons[0] if reasons else "", _ANY_FIT)),
            ]
            if confidence < 0.8:
                because.append(prose.claim("Some nodes are not ready, which may be the real cause"))
            findings.append(
                make_finding(
                    "unschedulable",
                    Category.UNSCHEDULABLE,
                    confidence,
                    prose.narrative(
                        f"{stuck} of {prose.obj(target)} {prose.be(pending or 2)} stuck Pending"
                        + (f" on {prose.listing(reasons)}" if reasons else ""),
                        _SCHEDULING_FIX_WORDS.get(reasons[0] if reasons else "", "free capacity"),
                        because=because,
                    ),
                    facts,
                    Action.FREE_CAPACITY,
                    target,
                    {"reason": ", ".join(reasons) or "unschedulable"},
                )
            )
    if quota_events:
        target = workload_ref(evidence)
        if target is not None and target.kind in ACTION_TARGET_KINDS[Action.FREE_CAPACITY]:
            refused = [item("events", event_fact(e)) for e in quota_events[:3]]
            quotas = [
                item(
                    f"quota/{q.namespace}/{q.name}",
                    f"hard {prose.selector(q.hard, empty='none')}; "
                    f"used {prose.selector(q.used, empty='none')}",
                )
                for q in evidence.quotas[:2]
            ]
            because = [
                prose.claim("The API server refuses to create its pods over quota", *refused[:2])
            ]
            if quotas:
                because.append(prose.claim("The namespace's ResourceQuota is used up", *quotas))
            because.append(
                prose.claim("No new pod starts until usage drops or the quota is raised")
            )
            findings.append(
                make_finding(
                    "unschedulable",
                    Category.UNSCHEDULABLE,
                    0.85,
                    prose.narrative(
                        f"{prose.obj(target)} cannot create pods: a ResourceQuota is exhausted",
                        "raise the quota or lower the pods' requests",
                        because=because,
                    ),
                    refused + quotas,
                    Action.FREE_CAPACITY,
                    target,
                    {"reason": "exceeded quota"},
                )
            )
    return findings


# Why a pod does not fit, in the scheduler's terms, and what a person does about it.
_ANY_FIT = "No node satisfies the pod's requests and constraints"
_SCHEDULING_FIXES = {
    "insufficient cpu": "The nodes' allocatable CPU is already requested by other pods",
    "insufficient memory": "The nodes' allocatable memory is already requested by other pods",
    "insufficient resources": "The nodes lack a resource the pods request",
    "node selector or affinity": "No node has the labels the pods' selector or affinity ask for",
    "pod (anti-)affinity": "The pods' (anti-)affinity rules exclude every node",
    "untolerated taint": "The nodes carry taints the pods do not tolerate",
    "too many pods": "The nodes already run their maximum number of pods",
    "node unschedulable": "The nodes are cordoned",
    "host port conflict": "The host port the pods ask for is taken on every node",
    "topology spread": "The topology spread constraint cannot be met",
}
_SCHEDULING_FIX_WORDS = {
    "insufficient cpu": "add nodes or lower the CPU requests",
    "insufficient memory": "add nodes or lower the memory requests",
    "node selector or affinity": "fix the node selector or label a node",
    "untolerated taint": "add a toleration or untaint a node",
    "node unschedulable": "uncordon a node or add one",
}


def _only_volume_problem(message: str) -> bool:
    """A scheduling failure caused by an unbound claim is storage's case."""
    if not _UNBOUND_PVC.search(message):
        return False
    return not any(rx.search(message) for label, rx in _SCHEDULING_REASONS[:4])


# --- node-failure -------------------------------------------------------------------------


def _node_ref(name: str) -> ObjectRef:
    return ObjectRef(kind="Node", name=name)


def check_node_failure(evidence: Evidence) -> list[Finding]:
    hosting = {p.node for p in evidence.pods if p.node}
    # node name -> (confidence, facts)
    found: dict[str, tuple[float, list[EvidenceItem]]] = {}

    def note(node: str, confidence: float, fact: EvidenceItem) -> None:
        best, facts = found.get(node, (0.0, []))
        found[node] = (max(best, confidence), [*facts, fact])

    for node in evidence.nodes:
        ours = node.name in hosting or not hosting
        source = f"node/{node.name}"
        if node.ready in ("False", "Unknown"):
            condition = next((c for c in node.conditions if c.type == "Ready"), None)
            detail = f" ({condition.reason}: {condition.message})" if condition else ""
            note(node.name, 0.9 if ours else 0.5, item(source, f"Ready={node.ready}{detail}"))
        for condition in node.conditions:
            if condition.type in _PRESSURES and condition.status == "True":
                note(
                    node.name,
                    0.85 if ours else 0.45,
                    item(source, f"{condition.type}=True {condition.message or ''}"),
                )
        if node.unschedulable and ours:
            note(node.name, 0.4, item(source, "node is cordoned (unschedulable)"))
    for pod in evidence.pods:
        if pod.node is None:
            continue
        if pod.reason == "Evicted":
            match = _NODE_PRESSURE_EVICTION.search(pod.message or "")
            if match or "node" in (pod.message or "").lower():
                note(pod.node, 0.85, item(pod_source(pod), f"Evicted: {pod.message}"))
        elif pod.phase == "Unknown" or (pod.deleting and _node_down(evidence, pod.node)):
            note(pod.node, 0.8, item(pod_source(pod), f"phase {pod.phase}, terminating"))
    for event in evidence.events:
        node_name: str | None = None
        if event.involved.kind == "Node" and event.reason in (
            "NodeNotReady",
            "NodeHasDiskPressure",
            "NodeHasInsufficientMemory",
            "NodeHasInsufficientPID",
            "EvictionThresholdMet",
            "SystemOOM",
            "Rebooted",
            "KubeletNotReady",
        ):
            node_name = event.involved.name
        elif event.reason in ("Evicted", "NodeNotReady", "TaintManagerEviction"):
            evicted = next((p for p in evidence.pods if p.name == event.involved.name), None)
            if evicted is not None and evicted.node:
                node_name = evicted.node
            else:
                match = re.search(r"(?i)node \"?([\w.-]+)\"?", event.message)
                node_name = match.group(1) if match else None
        if node_name:
            confidence = 0.8 if node_name in hosting or not hosting else 0.5
            note(node_name, confidence, item("events", event_fact(event)))
    for metric in metrics_named(evidence, "kube_node_status_condition"):
        match = re.search(r'node="([^"]+)"', metric.query)
        node_name = metric.labels.get("node") or (match.group(1) if match else None)
        condition_type = metric.labels.get("condition")
        if node_name is None or condition_type is None or metric.last is None:
            continue
        broken = (condition_type in _PRESSURES and metric.last >= 1) or (
            condition_type == "Ready" and metric.last < 1
        )
        if broken:
            ours = node_name in hosting or not hosting
            note(
                node_name,
                0.8 if ours else 0.45,
                item(
                    "metrics",
                    f"kube_node_status_condition {condition} on {node_name}: {metric.last:g}",
                ),
            )
    for alert in evidence.alerts:
        name = alert.labels.get("alertname", "")
        node_label = alert.labels.get("node") or alert.labels.get("instance")
        if (
            name
            in (
                "KubeNodeNotReady",
                "KubeNodeUnreachable",
                "NodeFilesystemAlmostOutOfSpace",
                "KubeletDown",
                "NodeMemoryHighUtilization",
            )
            and node_label
        ):
            note(node_label.split(":")[0], 0.75, item("alert", f"{name} for {node_label}"))

    # Nodes that host none of the incident's pods are context, not the cause: keep only the
    # strongest of them so several weak ones cannot add up to outweigh the real finding.
    if hosting:
        elsewhere = sorted((n for n in found if n not in hosting), key=lambda n: -found[n][0])
        for name in elsewhere[1:]:
            del found[name]
    findings: list[Finding] = []
    for node_name, (confidence, facts) in found.items():
        affected = sum(1 for p in evidence.pods if p.node == node_name)
        if len(facts) > 1:
            confidence = min(confidence + 0.03, 0.95)
        seen_node = next((n for n in evidence.nodes if n.name == node_name), None)
        down = (
            [
                _PRESSURE_WORDS[c.type]
                for c in seen_node.conditions
                if c.type in _PRESSURES and c.status == "True"
            ]
            if seen_node
            else []
        )
        if seen_node is not None and seen_node.ready != "True":
            down.insert(0, "NotReady" if seen_node.ready == "False" else "unreachable")
        state = f"is {prose.listing(down)}" if down else "is failing"
        because = [prose.claim(f"{prose.obj(_node_ref(node_name))} {state}", *facts[:2])]
        if len(facts) > 2:
            because.append(
                prose.claim("Other signals from the node and its pods agree", *facts[2:4])
            )
        if affected:
            because.append(
                prose.claim(
                    f"{prose.count(affected, 'pod')} of this incident {prose.be(affected)} "
                    "scheduled there; draining the node moves its pods to healthy nodes"
                )
            )
        else:
            because.append(
                prose.claim(
                    "None of this incident's pods run there now (evicted or rescheduled), so "
                    "the node is the likely cause, not a bystander"
                    if not hosting
                    else "None of this incident's pods run there; it is context, not the cause"
                )
            )
        findings.append(
            make_finding(
                "node-failure",
                Category.NODE_FAILURE,
                confidence,
                prose.narrative(
                    f"{prose.obj(_node_ref(node_name))} {state}",
                    "cordon and drain it",
                    aside=f"{prose.count(affected, 'pod')} of this incident there"
                    if affected
                    else "",
                    because=because,
                ),
                facts,
                Action.DRAIN_NODE,
                _node_ref(node_name),
                {"node": node_name},
            )
        )
    return findings


def _node_down(evidence: Evidence, name: str) -> bool:
    node: NodeEvidence | None = next((n for n in evidence.nodes if n.name == name), None)
    return node is not None and node.ready != "True"


# --- storage ------------------------------------------------------------------------------


def _pvc_ref(namespace: str, name: str) -> ObjectRef:
    return ObjectRef(kind="PersistentVolumeClaim", namespace=namespace, name=name)


def _size_params(pvc: PVCEvidence | None) -> dict[str, str]:
    if pvc is None:
        return {}
    size = parse_quantity(pvc.capacity or pvc.requested)
    params = {"pvc": pvc.name}
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

    def note(ns: str | None, name: str, confidence: float, fact: EvidenceItem, why: str) -> None:
        if ns is None:
            return
        best, facts, reason = found.get((ns, name), (0.0, [], why))
        found[(ns, name)] = (
            max(best, confidence),
            [*facts, fact],
            why if confidence > best else reason,
        )

    for pvc in evidence.pvcs:
        if pvc.phase in ("Pending", "Lost"):
            note(
                pvc.namespace,
                pvc.name,
                0.9,
                item(
                    f"pvc/{pvc.namespace}/{pvc.name}",
                    f"phase {pvc.phase}, storageClass {pvc.storage_class}, "
                    f"requested {pvc.requested}",
                ),
                f"is {pvc.phase}",
            )
    pod_pvcs = {p.name: p.pvc_names for p in evidence.pods}
    for event in evidence.events:
        if event.reason not in _VOLUME_EVENT_REASONS or not _VOLUME_EVENT.search(event.message):
            continue
        if _CONFIG_VOLUME.search(event.message):
            continue  # a missing ConfigMap/Secret volume is config-missing's case
        if event.reason == "FailedScheduling" and not _UNBOUND_PVC.search(event.message):
            continue
        names: list[str] = []
        if event.involved.kind == "PersistentVolumeClaim":
            names = [event.involved.name]
        else:
            mentioned = [m["name"] for m in _PVC_IN_TEXT.finditer(event.message)]
            names = [n for n in mentioned if (event.involved.namespace or namespace, n) in pvcs]
            names = names or pod_pvcs.get(event.involved.name, [])
        for name in names[:2]:
            note(
                event.involved.namespace or namespace,
                name,
                0.85,
                item("events", event_fact(event)),
                f"fails with {event.reason}",
            )
    for pod in evidence.pods:
        hits = grep_logs(logs_of(evidence, pod), DISK_FULL_LOG, limit=3)
        if not hits:
            continue
        for name in pod.pvc_names[:1]:
            note(pod.namespace, name, 0.85, item(hits[0].source, hits[0].line), "is full")
    used = metrics_named(evidence, "kubelet_volume_stats_used_bytes")
    capacity = metrics_named(evidence, "kubelet_volume_stats_capacity_bytes")
    available = metrics_named(evidence, "kubelet_volume_stats_available_bytes")
    for metric in used + available:
        ratio_query = "/" in metric.query
        claim = metric.labels.get("persistentvolumeclaim")
        if claim is None:
            match = re.search(r'persistentvolumeclaim="([^"]+)"', metric.query)
            claim = match.group(1) if match else None
        if claim is None or metric.last is None:
            continue
        ns = metric.labels.get("namespace", namespace)
        if ratio_query:
            # "used / capacity" already: the value is the share in use.
            if metric.last >= 0.9:
                note(
                    ns,
                    claim,
                    0.8 if metric.last >= 0.97 else 0.7,
                    item("metrics", f"volume {claim} is {prose.percent(metric.last)} full"),
                    f"is {prose.percent(metric.last)} full",
                )
            continue
        cap = next(
            (
                c.last
                for c in capacity
                if c.last
                and "/" not in c.query
                and (c.labels.get("persistentvolumeclaim") == claim or claim in c.query)
            ),
            None,
        )
        if cap is None:
            known = pvcs.get((ns or "", claim))
            cap = parse_quantity(known.capacity or known.requested) if known else None
        if not cap:
            continue
        fraction = metric.last / cap
        if metric in available:
            fraction = 1.0 - fraction
        if fraction >= 0.9:
            note(
                ns,
                claim,
                0.8 if fraction >= 0.97 else 0.7,
                item(
                    "metrics",
                    f"volume {claim} is {prose.percent(fraction)} full of {prose.memory(cap)}",
                ),
                f"is {prose.percent(fraction)} full",
            )
    for alert in evidence.alerts:
        name = alert.labels.get("alertname", "")
        claim = alert.labels.get("persistentvolumeclaim")
        if claim and name in (
            "KubePersistentVolumeFillingUp",
            "KubePersistentVolumeErrors",
            "KubePersistentVolumeInodesFillingUp",
        ):
            note(
                alert.labels.get("namespace", namespace),
                claim,
                0.8,
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
                min(confidence + (0.03 if len(facts) > 1 else 0.0), 0.95),
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


SCHEDULING_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer("unschedulable", (Category.UNSCHEDULABLE,), check_unschedulable),
    Analyzer("node-failure", (Category.NODE_FAILURE,), check_node_failure),
    Analyzer("storage", (Category.STORAGE,), check_storage),
)

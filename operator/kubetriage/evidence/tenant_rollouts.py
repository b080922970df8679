"""The workloads with pods on the incident's Node, and their recent rollouts.

A node-level alert (its file descriptors, a filesystem's space or inodes, its disk I/O)
names only the node. An SRE lists the node's pods, reads each one's own series of that
resource and asks what changed in the workload whose series grew with the alert. This
module gives the second half its facts: each tenant workload (node agents, DaemonSets,
left out: they run everywhere alike), its pods on the node, and its last rollouts.

Pure; the collector (``kubetriage.evidence.node_tenant_walk``) reads the tenants' workloads
and ReplicaSets, and ``build_evidence`` summarises them (``tenant_summaries``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.callers import callee_services, caller_summaries, owned_history
from kubetriage.evidence.changes import recent_rollouts
from kubetriage.evidence.failing_pods import unscheduled_reason
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.node_disk_writes import node_disk_settings
from kubetriage.models.base import ObjectRef
from kubetriage.models.neighbours import NodeTenantEvidence
from kubetriage.models.objects import JsonDict, as_dict, dicts, pod_workload
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# Tenant workloads kept (a node runs tens of pods; the alert's driver is among the few
# that are not node agents), and rollouts kept of each.
MAX_TENANTS: Final = 12
_MAX_CHANGES: Final = 2
# Workload kinds whose pods on one node can drive it alone (a node agent runs on every node).
_TENANT_KINDS: Final = frozenset({"Deployment", "StatefulSet"})


def node_tenant_pods(node: str, pods: Iterable[JsonDict]) -> dict[tuple[str, str, str], list[str]]:
    """(kind, namespace, name) of each Deployment or StatefulSet with pods on ``node`` ->
    the names of those pods, at most ``MAX_TENANTS`` workloads."""
    tenants: dict[tuple[str, str, str], list[str]] = {}
    for pod in pods:
        workload = pod_workload(pod)
        if workload is None or workload[0] not in _TENANT_KINDS:
            continue
        if as_dict(pod.get("spec")).get("nodeName") != node:
            continue
        key = (workload[0], _ns(pod), workload[1])
        if key in tenants or len(tenants) < MAX_TENANTS:
            tenants.setdefault(key, []).append(_name(pod))
    return tenants


def pod_claims(pod: JsonDict) -> list[str]:
    """The PersistentVolumeClaims a pod's volumes name."""
    return [
        str(claim)
        for volume in dicts(as_dict(pod.get("spec")).get("volumes"))
        if (claim := as_dict(volume.get("persistentVolumeClaim")).get("claimName"))
    ]


def node_local_path(volume: JsonDict | None) -> str | None:
    """The node directory a PersistentVolume is (its hostPath or local path), else None."""
    spec = as_dict((volume or {}).get("spec"))
    for source in ("hostPath", "local"):
        path = as_dict(spec.get(source)).get("path")
        if isinstance(path, str) and path:
            return path
    return None


def _local_claims(index: ObjectIndex, namespace: str, pods: list[JsonDict]) -> dict[str, str]:
    found: dict[str, str] = {}
    for claim in (c for pod in pods for c in pod_claims(pod)):
        bound = as_dict(as_dict(index.get("PersistentVolumeClaim", namespace, claim)).get("spec"))
        path = node_local_path(index.get("PersistentVolume", None, bound.get("volumeName")))
        if path is not None:
            found[claim] = path
    return found


def unplaced(pods: Iterable[JsonDict], kind: str, name: str) -> dict[str, str]:
    """Name -> the scheduler's words, of each pod of the workload ``kind``/``name`` among
    ``pods`` (its namespace's) that no node took."""
    return {
        _name(p): reason
        for p in pods
        if pod_workload(p) == (kind, name) and (reason := unscheduled_reason(p)) is not None
    }


def tenant_summaries(index: ObjectIndex, target: ObjectRef | None) -> list[NodeTenantEvidence]:
    """The tenant workloads of the Node ``target`` among the objects of ``index``, with their
    pods there and their recent rollouts (a Deployment's, from its ReplicaSets); none for
    any other target."""
    if target is None or target.kind != "Node":
        return []
    replica_sets = index.kind("ReplicaSet")
    found: list[NodeTenantEvidence] = []
    for (kind, namespace, name), pods in node_tenant_pods(target.name, index.kind("Pod")).items():
        workload = index.get(kind, namespace, name)
        history = (
            owned_history(workload, replica_sets)
            if workload is not None and kind == "Deployment"
            else []
        )
        changes = recent_rollouts(workload, history, _MAX_CHANGES) if workload and history else []
        ref = ObjectRef(kind=kind, namespace=namespace, name=name, api_version="apps/v1")
        objs = [p for pod in pods if (p := index.get("Pod", namespace, pod)) is not None]
        local = _local_claims(index, namespace, objs)
        # One hop on: who calls it (the Services selecting its pods there, named by others).
        services = callee_services(index.in_namespace("Service", namespace), objs)
        callers = caller_summaries(index, services, workload) if services else []
        found.append(
            NodeTenantEvidence(
                ref=ref,
                pods=pods,
                changes=changes,
                local_claims=local,
                node_disk_settings=node_disk_settings(history),
                callers=callers,
                unplaced=unplaced(index.in_namespace("Pod", namespace), kind, name),
            )
        )
    return found

"""The walk to the workloads of a Node's pods: when the incident is about a Node, each
Deployment or StatefulSet with pods there (``tenant_rollouts.node_tenant_pods``) is read
with its ReplicaSets, whose diffs say what its last rollouts changed, and its Pending pods
(those no node took: a node out of room leaves them elsewhere), and then one hop on:
the Services selecting a tenant's pods and the Deployments whose pod template names one
of them (its callers, with their ReplicaSets): a server on the node is loaded by what
calls it, often from other nodes. ``build_evidence`` summarises them
(``tenant_rollouts.tenant_summaries``).

Called by ``KubeEvidenceCollector`` with the other walks; the reads go through the same
``KubeReader`` and ``CollectionRun`` as the rest of the walk.
"""

from __future__ import annotations

import asyncio

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.caller_walk import read_history
from kubetriage.evidence.callers import callee_services, find_callers
from kubetriage.evidence.reader import KubeReader
from kubetriage.evidence.tenant_rollouts import node_tenant_pods, pod_claims
from kubetriage.models.base import ObjectRef
from kubetriage.models.objects import JsonDict, pod_workload
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope


async def _read_claims(
    reader: KubeReader, run: CollectionRun, namespace: str, pods: list[JsonDict]
) -> None:
    """The claims ``pods`` mount and the PersistentVolumes bound to them, into ``run``:
    whether a claim's volume is a directory of the node itself."""
    if not reader.readable("PersistentVolumeClaim") or not reader.readable("PersistentVolume"):
        return
    for claim in dict.fromkeys(c for pod in pods for c in pod_claims(pod)):
        obj = await reader.read(run, "PersistentVolumeClaim", namespace, claim)
        volume = ((obj or {}).get("spec") or {}).get("volumeName")
        if volume:
            await reader.read(run, "PersistentVolume", None, str(volume))


async def follow_node_tenants(
    reader: KubeReader,
    run: CollectionRun,
    chosen: ObjectRef | None,
    pods: list[JsonDict],
    scope: Scope,
) -> None:
    """Read the workloads of ``pods`` on the Node ``chosen`` (those the tenancy rule lets be
    read), their ReplicaSets, and the claims their pods there mount with the volumes bound
    to them, into ``run``."""
    if chosen is None or chosen.kind != "Node":
        return
    workloads: list[JsonDict] = []
    for kind, namespace, name in node_tenant_pods(chosen.name, pods):
        if not scope.may_read(namespace) or not reader.readable(kind):
            continue
        workload = await reader.read(run, kind, namespace, name)
        if workload is not None:
            workloads.append(workload)
        if scope.may_read(None):  # PersistentVolumes are the cluster's
            mine = [p for p in pods if _ns(p) == namespace and pod_workload(p) == (kind, name)]
            await _read_claims(reader, run, namespace, mine)
    await asyncio.gather(
        *(read_history(reader, run, w) for w in workloads if w.get("kind") == "Deployment")
    )
    await _read_unplaced(reader, run, workloads)
    await _follow_tenant_callers(reader, run, workloads, pods, scope)


async def _read_unplaced(reader: KubeReader, run: CollectionRun, workloads: list[JsonDict]) -> None:
    """The tenants' pods that no node has taken (Pending, ``tenant_rollouts.unplaced``),
    into ``run``: a node out of room leaves its tenants' other replicas without one."""
    if not workloads or not reader.listable("Pod"):
        return
    tenants = {(_ns(w), str(w.get("kind")), _name(w)) for w in workloads}
    for namespace in dict.fromkeys(_ns(w) for w in workloads):
        listed = await reader.list_of(
            run,
            "Pod",
            namespace,
            what=f"list Pending pods in {namespace} (node tenants)",
            field_selector="status.phase=Pending",
        )
        for pod in listed:
            workload = pod_workload(pod)
            if workload is not None and (namespace, *workload) in tenants:
                run.add(pod)


async def _follow_tenant_callers(
    reader: KubeReader,
    run: CollectionRun,
    workloads: list[JsonDict],
    pods: list[JsonDict],
    scope: Scope,
) -> None:
    """The Services selecting the tenants' pods (into ``run``) and the Deployments naming
    one of them, in every namespace the tenancy rule lets be read, with their ReplicaSets."""
    if not workloads or not reader.readable("Service") or not reader.readable("Deployment"):
        return
    services: list[JsonDict] = []
    for namespace in dict.fromkeys(_ns(w) for w in workloads):
        listed = await reader.list_of(
            run, "Service", namespace, what=f"list Services in {namespace} (node tenants)"
        )
        for service in callee_services(listed, pods):
            run.add(service)
            services.append(service)
    if not services:
        return
    everywhere = scope.may_read(None)
    wheres: list[str | None] = [None] if everywhere else list(dict.fromkeys(map(_ns, workloads)))
    deployments: list[JsonDict] = []
    for where in wheres:
        deployments += await reader.list_of(
            run,
            "Deployment",
            where,
            what=f"list Deployments in {where or 'every namespace'} (node tenants' callers)",
        )
    found = {(_ns(c), _name(c)): c for c, _, _ in find_callers(deployments, services, workloads)}
    await asyncio.gather(*(read_history(reader, run, c) for c in found.values()))

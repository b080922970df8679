"""The walk to the workloads of a Node's pods: when the incident is about a Node, each
Deployment or StatefulSet with pods there (``tenant_rollouts.node_tenant_pods``) is read
with its ReplicaSets, whose diffs say what its last rollouts changed. ``build_evidence``
summarises them (``tenant_rollouts.tenant_summaries``).

Called by ``KubeEvidenceCollector`` with the other walks; the reads go through the same
``KubeReader`` and ``CollectionRun`` as the rest of the walk.
"""

from __future__ import annotations

import asyncio

from kubetriage.evidence.caller_walk import read_history
from kubetriage.evidence.reader import CollectionRun, KubeReader
from kubetriage.evidence.tenant_rollouts import node_tenant_pods, pod_claims
from kubetriage.models.base import ObjectRef
from kubetriage.models.objects import JsonDict, pod_workload
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

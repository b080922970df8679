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
from kubetriage.evidence.tenant_rollouts import node_tenant_pods
from kubetriage.models.base import ObjectRef
from kubetriage.models.objects import JsonDict
from kubetriage.tenancy import Scope


async def follow_node_tenants(
    reader: KubeReader,
    run: CollectionRun,
    chosen: ObjectRef | None,
    pods: list[JsonDict],
    scope: Scope,
) -> None:
    """Read the workloads of ``pods`` on the Node ``chosen`` (those the tenancy rule lets be
    read) and their ReplicaSets into ``run``."""
    if chosen is None or chosen.kind != "Node":
        return
    workloads: list[JsonDict] = []
    for kind, namespace, name in node_tenant_pods(chosen.name, pods):
        if not scope.may_read(namespace) or not reader.readable(kind):
            continue
        workload = await reader.read(run, kind, namespace, name)
        if workload is not None:
            workloads.append(workload)
    await asyncio.gather(
        *(read_history(reader, run, w) for w in workloads if w.get("kind") == "Deployment")
    )

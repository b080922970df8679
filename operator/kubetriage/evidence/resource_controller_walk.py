"""The walk to the controller reconciling the incident's custom resources: once what was
read holds a resource of a kind a well-known controller reconciles (a KEDA ScaledJob, an
Argo Workflow or CronWorkflow: ``kubetriage.evidence.summaries.resource_controllers``), or a
Service such a resource controls (a RedisFailover's master Service), that
controller's Deployment in any namespace, listed by its chart's labels, with its
ReplicaSets and pods and the current tails of its first pods (marked ``dependency``), which
say whether it keeps losing its lease or is refused its writes.

Called by ``KubeEvidenceCollector`` after the other walks. Nothing is read unless such a
resource was; in every namespace, so only under a scope that may read the cluster.
"""

from __future__ import annotations

import asyncio

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.reader import KubeReader
from kubetriage.evidence.reconciler_walk import list_reconcilers, read_controller
from kubetriage.evidence.summaries.resource_controllers import (
    controller_log_requests,
    owed_controllers,
)
from kubetriage.tenancy import Scope


async def follow_resource_controllers(reader: KubeReader, run: CollectionRun, scope: Scope) -> None:
    """Read the controllers of the custom resources read, and their tails, into ``run``."""
    if not scope.may_read(None):
        return
    controllers = owed_controllers(run.objects.values())
    kinds = [c.recognised for c in controllers]
    chosen = (await list_reconcilers(reader, run, scope, kinds))[:2]
    await asyncio.gather(*(read_controller(reader, run, w) for w in chosen))
    for workload in chosen:
        for namespace, pod, container in controller_log_requests(
            workload, list(run.objects.values())
        ):
            await reader.log(run, namespace, pod, container, previous=False, source="dependency")

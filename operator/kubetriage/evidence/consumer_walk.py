"""The walk to a consumer group's workload: for an alert naming a consumer group, the
Deployments the tenancy rule lets the collector list (every namespace's when it
may read them all, else the Incident's own), of which ``consumers.consuming_workload`` picks the
one that joins the group, so that the collector can take it as the target before the broker
exporter's bare namespace (``targets.with_probed``).
"""

from __future__ import annotations

from kubetriage.evidence.consumers import CONSUMER_KINDS, consuming_workload
from kubetriage.evidence.reader import CollectionRun, KubeReader
from kubetriage.evidence.targets import consumer_names
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope


async def consumer_workload(
    reader: KubeReader, run: CollectionRun, alerts: list[Alert], scope: Scope
) -> ObjectRef | None:
    """The workload joining the consumer group the alerts name, among those ``scope`` may
    read; None when no alert names a group."""
    if not any(consumer_names(a.labels) for a in alerts if a.status != "resolved"):
        return None
    where = None if scope.may_read(None) else scope.namespace
    listed = [
        workload
        for kind in CONSUMER_KINDS
        if reader.readable(kind)
        for workload in await reader.list_of(
            run, kind, where, what=f"list {kind}s joining the alert's consumer group"
        )
        if scope.may_read(_ns(workload))
    ]
    found = consuming_workload(listed, alerts)
    return found if found is not None and scope.may_target(found) else None

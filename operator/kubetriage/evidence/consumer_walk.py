"""Where a queue alert's consumer lives: the workload its consumer group names, wherever it
runs. A broker's exporter (kafka_exporter, the RabbitMQ or NATS exporters) raises the alert in
the broker's namespace, while the application consuming the group runs in its own; the
collector lists the Deployments it may read and ``targets.consumer_workload`` picks the one
the group belongs to, which ``targets.with_consumer`` puts before the broker's namespace.
Only read for alerts that name a consumer group.
"""

from __future__ import annotations

from kubetriage.evidence.reader import CollectionRun, KubeReader
from kubetriage.evidence.targets import consumer_names, consumer_workload
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope


async def consumer_workload_ref(
    reader: KubeReader, run: CollectionRun, alerts: list[Alert], scope: Scope
) -> ObjectRef | None:
    """The Deployment consuming the group an alert names, of those ``scope`` may read (every
    namespace's when it may read the cluster's objects); None when no alert names a group."""
    names = consumer_names(alerts)
    if not names:
        return None
    where = None if scope.may_read(None) else scope.namespace
    listed = await reader.list_of(
        run, "Deployment", where, what="list Deployments of the alert's consumer group"
    )
    found = consumer_workload([d for d in listed if scope.may_read(_ns(d))], names)
    return found if found is not None and scope.may_target(found) else None

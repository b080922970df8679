"""The admission-webhook walk of evidence collection: from a Warning event that reports
``failed calling webhook "<name>"`` to the webhook's configuration (cluster-scoped), the
cert-manager Certificates of the namespace its Service lives in, and the log tail of one of
that Service's pods (where a webhook that manages its own certificate says why it could not;
``kubetriage.evidence.logs.webhook_log_requests``, the rule the case replay marks by too).

Called by ``KubeEvidenceCollector`` after the dependency walk, which has already followed the
Service the event's URL names to its Endpoints, pods, ReplicaSets and workload. Nothing is read
unless an event names a failing webhook; Secrets are never read.
"""

from __future__ import annotations

import asyncio

from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import LogRequest, webhook_log_requests
from kubetriage.evidence.reader import CollectionRun, KubeReader
from kubetriage.evidence.summaries.webhooks import (
    WEBHOOK_CONFIGURATION_KINDS,
    configurations_naming,
    failing_webhook_names,
    webhook_services,
)
from kubetriage.models.base import ObjectRef
from kubetriage.tenancy import Scope


class WebhookWalk:
    """Follows the admission webhooks an incident's events report as failing."""

    def __init__(self, reader: KubeReader, limits: EvidenceLimits) -> None:
        self._reader = reader
        self._limits = limits

    async def follow(self, run: CollectionRun, scope: Scope) -> None:
        """Read the configurations of the webhooks the run's Warning events name, then, for
        each webhook Service the tenancy rule lets us read, its namespace's Certificates and
        the logs of one of its pods (tails marked ``webhook``); ``build_evidence``
        summarises them as ``Evidence.webhooks``."""
        events = [o for (kind, _, _), o in run.objects.items() if kind == "Event"]
        names = failing_webhook_names(events)[: self._limits.max_dependencies]
        if not names:
            return
        listed = await asyncio.gather(
            *(
                self._reader.list_of(run, kind, None, what=f"list {kind}s")
                for kind in WEBHOOK_CONFIGURATION_KINDS
            )
        )
        configurations = configurations_naming([c for items in listed for c in items], names)
        for configuration in configurations:
            run.add(configuration)
        for service in webhook_services(configurations, names):
            if not scope.may_read(service.namespace):
                run.error(f"webhook not followed: {scope.refusal(service)}")
                continue
            await self._backend(run, service)

    async def _backend(self, run: CollectionRun, service: ObjectRef) -> None:
        namespace = service.namespace or ""
        svc = run.objects.get(("Service", namespace, service.name))
        if svc is None:
            svc = await self._reader.read(run, "Service", namespace, service.name)
        pods = [o for (kind, ns, _), o in run.objects.items() if kind == "Pod" and ns == namespace]
        await asyncio.gather(
            self._reader.cert_manager_list(run, namespace, "Certificate", "certificates"),
            self._logs(run, webhook_log_requests(svc, pods)),
        )

    async def _logs(self, run: CollectionRun, requests: list[LogRequest]) -> None:
        """The backend's tails, marked ``webhook``, one after the other in request order."""
        for namespace, pod, container, previous in requests:
            await self._reader.log(
                run, namespace, pod, container, previous=previous, source="webhook"
            )

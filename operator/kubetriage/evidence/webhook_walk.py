"""The admission-webhook walk of evidence collection: from a Warning event that reports
``failed calling webhook "<name>"`` (or from a custom resource that is not Ready: its
controller reports a rejected write in its own logs only) to the webhook's configuration
(cluster-scoped), its Service with the Endpoints, pods, ReplicaSets, workload and events behind
it, the cert-manager Certificates and NetworkPolicies of that namespace, and the log tail of
one of the Service's pods (where a webhook that manages its own certificate says why it could not;
``kubetriage.evidence.logs.webhook_log_requests``, the rule the case replay marks by too).

A pod a mesh proxy's policy denied for presenting no mesh identity (read by the refused-client
walk) makes the mutating webhooks that fail open and inject pods it matches suspects too
(``kubetriage.evidence.pod_injectors``): their Services are followed the same way, as are
those of the fail-open injectors selecting a replica that runs nothing beyond its template
while another asking the same of them runs what they inject
(``kubetriage.evidence.skipped_injections``).

Called by ``KubeEvidenceCollector`` after the dependency walk (a Service it has already
followed is not read again). Nothing is read unless an event names a failing webhook or a
custom resource is not Ready; Secrets are never read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.backing_walk import BackingWalk
from kubetriage.evidence.conversion_webhooks import (
    CRD,
    alert_texts,
    conversion_service,
    named_conversions,
)
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import LogRequest, webhook_log_requests
from kubetriage.evidence.pod_injectors import pod_injectors, unmeshed_pods
from kubetriage.evidence.reader import KubeReader
from kubetriage.evidence.skipped_injections import skipped_pods
from kubetriage.evidence.summaries.webhooks import (
    WEBHOOK_CONFIGURATION_KINDS,
    configurations_naming,
    failing_webhook_names,
    intercepting,
    stuck_groups,
    webhook_services,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.tenancy import Scope


class WebhookWalk:
    """Follows the admission webhooks an incident's events report as failing."""

    def __init__(self, reader: KubeReader, limits: EvidenceLimits) -> None:
        self._reader = reader
        self._limits = limits
        self._backing = BackingWalk(reader, limits)

    async def follow(
        self, run: CollectionRun, scope: Scope, alerts: Sequence[Alert] = (), podless: bool = False
    ) -> None:
        """Read the configurations of the webhooks the run's Warning events name, and of those
        intercepting writes to a not-Ready custom resource's API group, then, for each
        webhook Service the tenancy rule lets us read, what stands behind it, its namespace's
        Certificates and the logs of one of its pods (tails marked ``webhook``);
        ``build_evidence`` summarises them as ``Evidence.webhooks``."""
        events = [o for (kind, _, _), o in run.objects.items() if kind == "Event"]
        names = failing_webhook_names(events)[: self._limits.max_dependencies]
        groups = stuck_groups(run.objects.values())
        objects = run.objects.items()
        pods = [o for (kind, _, _), o in objects if kind == "Pod"]
        unmeshed = unmeshed_pods(pods, run.logs)
        skipped = skipped_pods(pods, [o for (kind, _, _), o in objects if kind == "ReplicaSet"])
        conversions: list[ObjectRef] = []
        if podless and alerts:
            # The alert's objects run no pod: a custom resource it names may not even list.
            crds = await self._reader.list_of(run, CRD, None, what="list CRDs")
            for crd in named_conversions(crds, alert_texts(alerts)):
                run.add(crd)
                if (service := conversion_service(crd)) is not None:
                    conversions.append(service)
        if not names and not groups and not unmeshed and not skipped and not conversions:
            return
        listed = await asyncio.gather(
            *(
                self._reader.list_of(run, kind, None, what=f"list {kind}s")
                for kind in WEBHOOK_CONFIGURATION_KINDS
            )
        )
        every = [c for items in listed for c in items]
        names += [n for n in intercepting(every, groups) if n not in names]
        spaces = [o for (kind, _, _), o in run.objects.items() if kind == "Namespace"]
        for _, hook, _ in pod_injectors(every, unmeshed + skipped, spaces):
            if isinstance(name := hook.get("name"), str) and name not in names:
                names.append(name)
        names = names[: self._limits.max_dependencies]
        configurations = configurations_naming(every, names)
        for configuration in configurations:
            run.add(configuration)
        services = webhook_services(configurations, names)
        services += [s for s in conversions if s not in services]
        for service in services:
            if not scope.may_read(service.namespace):
                run.error(f"webhook not followed: {scope.refusal(service)}")
                continue
            await self._backend(run, service)

    async def _backend(self, run: CollectionRun, service: ObjectRef) -> None:
        namespace = service.namespace or ""
        svc = run.objects.get(("Service", namespace, service.name))
        if svc is None:
            svc = await self._reader.read(run, "Service", namespace, service.name)
        followed = ("Endpoints", namespace, service.name) in run.objects
        if svc is not None and not followed:
            # Its pods, workload and events: whether they are Pending, crash or never created.
            await self._backing.behind(run, svc)
        pods = [o for (kind, ns, _), o in run.objects.items() if kind == "Pod" and ns == namespace]
        await asyncio.gather(
            self._reader.cert_manager_list(run, namespace, "Certificate", "certificates"),
            # Whether its namespace's policies let the API server's call in at all.
            self._reader.add_listed(
                run, "NetworkPolicy", namespace, what=f"list NetworkPolicies in {namespace}"
            ),
            self._logs(run, webhook_log_requests(svc, pods)),
        )

    async def _logs(self, run: CollectionRun, requests: list[LogRequest]) -> None:
        """The backend's tails, marked ``webhook``, one after the other in request order."""
        for namespace, pod, container, previous in requests:
            await self._reader.log(
                run, namespace, pod, container, previous=previous, source="webhook"
            )

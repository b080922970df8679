"""The aggregated-API walk of evidence collection: when an autoscaler of the incident's
namespace cannot get its metrics (``ScalingActive=False``, ``FailedGet...Metric``), the
APIServices (apiregistration.k8s.io/v1, cluster-scoped) serving those metrics' API groups
that are not Available or answer they serve no such metric, and the Service each proxies to
with the pods, ReplicaSets, workload and events behind it (whose Secret mounts say where its
serving certificate is, whose ConfigMap mounts where its rules are), and the NetworkPolicies of
that Service's namespace (whether they let the API server's call in).

Called by ``KubeEvidenceCollector`` after the webhook walk (a Service already followed is not
read again). Nothing is read unless an HPA reports it cannot get a metric; which APIServices
count is ``kubetriage.evidence.summaries.aggregated_apis``' rule, shared with the builder.
Secrets are never read.
"""

from __future__ import annotations

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.backing_walk import BackingWalk
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.reader import KubeReader
from kubetriage.evidence.summaries.aggregated_apis import (
    api_service_backend,
    followed_apis,
    metric_api_groups,
)
from kubetriage.tenancy import Scope


class AggregatedApiWalk:
    """Follows the aggregated APIs the incident's autoscalers cannot read."""

    def __init__(self, reader: KubeReader, limits: EvidenceLimits) -> None:
        self._reader = reader
        self._limits = limits
        self._backing = BackingWalk(reader, limits)

    async def follow(self, run: CollectionRun, namespace: str | None, scope: Scope) -> None:
        """Read the unavailable (or metric-less) APIServices of the metric APIs the HPAs of
        ``namespace`` report they cannot get, then what stands behind each one's Service the
        tenancy rule lets us read; ``build_evidence`` summarises them as
        ``Evidence.aggregated_apis``."""
        if namespace is None:
            return
        hpas = [
            o
            for (kind, ns, _), o in run.objects.items()
            if kind == "HorizontalPodAutoscaler" and ns == namespace
        ]
        groups = metric_api_groups(hpas)
        if not groups:
            return
        listed = await self._reader.list_of(run, "APIService", None, what="list APIServices")
        for api in followed_apis(listed, hpas)[: self._limits.max_dependencies]:
            run.add(api)
            service = api_service_backend(api)
            if service is None:
                continue
            if not scope.may_read(service.namespace):
                run.error(f"aggregated API not followed: {scope.refusal(service)}")
                continue
            svc_namespace = service.namespace or ""
            svc = run.objects.get(("Service", svc_namespace, service.name))
            if svc is None:
                svc = await self._reader.read(run, "Service", svc_namespace, service.name)
            if svc is not None and ("Endpoints", svc_namespace, service.name) not in run.objects:
                await self._backing.behind(run, svc)
            # Whether its namespace's policies let the API server's call in at all (the
            # incident's own namespace has them listed already).
            if svc_namespace != namespace:
                await self._reader.add_listed(
                    run,
                    "NetworkPolicy",
                    svc_namespace,
                    what=f"list NetworkPolicies in {svc_namespace}",
                )

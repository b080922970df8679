"""The data plane of a Gateway in front of the incident's workload: the Gateway API
Gateway a route serving the workload attaches to, and the proxy pods its controller runs
for it (``kubetriage.evidence.summaries.gateway_proxies``). Part of
``kubetriage.models.evidence.Evidence``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from kubetriage.models.base import ObjectRef
from kubetriage.models.relations import PodTrouble


class GatewayProxyEvidence(BaseModel):
    """A Gateway whose route sends traffic to the incident's workload, and its proxies: how
    many run, how many are ready, what is wrong with the failing ones, and the workload that
    runs them (the proxy requests reach the workload through can fail itself)."""

    gateway: ObjectRef
    # The route of the incident's namespace attached to it; for an Istio waypoint, the
    # Service bound to it (``istio.io/use-waypoint``).
    route: ObjectRef
    workload: ObjectRef | None = None  # the proxies' workload (from their pods' owners)
    pods: int = 0
    ready_pods: int = 0
    failing_pods: list[PodTrouble] = Field(default_factory=list)

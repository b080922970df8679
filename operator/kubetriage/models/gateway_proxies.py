"""The data plane of a Gateway in front of the incident's workload: the Gateway API
Gateway a route serving the workload attaches to, and the proxy pods its controller runs
for it (``kubetriage.evidence.summaries.gateway_proxies``); and the LoadBalancer Service in
front of the incident's Ingress (``...summaries.front_balancers``). Part of
``kubetriage.models.evidence.Evidence``.
"""

from __future__ import annotations

from datetime import datetime

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
    # Container -> CPU limit in cores of its first pod: the most CPU a proxy can use before
    # the kernel throttles it, whatever the load.
    cpu_limits: dict[str, float] = Field(default_factory=dict)


class FrontBalancerEvidence(BaseModel):
    """A Service of type LoadBalancer in front of the incident's Ingress: the one whose
    external address the Ingress publishes (its controller's ``--publish-service``), which
    the load balancer (a cloud's, MetalLB's) sends the Ingress's traffic through
    (``kubetriage.evidence.summaries.front_balancers``)."""

    service: ObjectRef
    ingress: ObjectRef  # the Ingress publishing its address
    addresses: list[str] = Field(default_factory=list)  # the addresses both publish
    # spec.externalTrafficPolicy ("Local": a node forwards only to pods on itself, and the
    # load balancer must send only to nodes that have one) and spec.healthCheckNodePort.
    external_traffic_policy: str | None = None
    health_check_node_port: int | None = None
    # Port (name, else number) -> appProtocol: a cloud load balancer may probe an "http" or
    # "https" port with HTTP requests instead of opening a TCP connection.
    app_protocols: dict[str, str] = Field(default_factory=dict)
    # Its annotations that set the load balancer's health probe (protocol, path, port).
    probe_annotations: dict[str, str] = Field(default_factory=dict)
    # The nodes its ready selected pods run on (its local endpoints).
    endpoint_nodes: list[str] = Field(default_factory=list)
    # The nodes a ready load-balancer speaker (MetalLB) runs on, the only ones that can
    # announce its address; None when no speaker was found (a cloud load balancer).
    announcing_nodes: list[str] | None = None
    # The last write of its spec or annotations by a client (not the status a controller
    # records): when, by which manager, and which fields it set.
    spec_written_at: datetime | None = None
    spec_writer: str | None = None
    written_fields: list[str] = Field(default_factory=list)

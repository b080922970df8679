"""Evidence: a bounded, typed snapshot of what the Kubernetes API (and later Prometheus)
showed about an incident's target. Built from raw objects by ``kubetriage.evidence.build``;
read by the analyzers, the prompt renderer and the canonical text for memory.

Every list here is bounded at build time (see ``kubetriage.evidence.limits``), so an
oversized cluster state cannot blow up a prompt or the status.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import (
    AggregatedApiEvidence,
    ReconcilerEvidence,
    ScalerEvidence,
    ScalerOperatorEvidence,
    SecretWriterEvidence,
    WebhookEvidence,
)
from kubetriage.models.gateway_proxies import FrontBalancerEvidence, GatewayProxyEvidence
from kubetriage.models.neighbours import (
    AgentRolloutEvidence,
    CallerEvidence,
    DnsClientEvidence,
    HostPeerEvidence,
    NodeTenantEvidence,
    OverlayMtuEvidence,
    QueuePeerEvidence,
    QuotaPeerEvidence,
    RefusedClientEvidence,
    SiblingEvidence,
)
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import (
    AutoscalerEvidence,
    ConfigEndpoint,
    GenericObjectEvidence,
    NodeEvidence,
    PodEvidence,
    PVCEvidence,
    QuotaEvidence,
    RevisionEvidence,
    ServiceEvidence,
    WorkloadEvidence,
)
from kubetriage.models.relations import (
    DependencyEvidence,
    DisruptionBudgetEvidence,
    GatewayRouteEvidence,
    IngressControllerEvidence,
)
from kubetriage.models.signals import ChangeEvidence, EventEvidence, LogTail, MetricSummary


class AlertEvidence(BaseModel):
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = None
    status: str | None = None


class Evidence(BaseModel):
    collected_at: datetime
    title: str = ""
    description: str | None = None
    alerts: list[AlertEvidence] = Field(default_factory=list)
    target: ObjectRef | None = None
    workload: WorkloadEvidence | None = None
    pods: list[PodEvidence] = Field(default_factory=list)
    events: list[EventEvidence] = Field(default_factory=list)
    nodes: list[NodeEvidence] = Field(default_factory=list)
    revisions: list[RevisionEvidence] = Field(default_factory=list)
    pvcs: list[PVCEvidence] = Field(default_factory=list)
    services: list[ServiceEvidence] = Field(default_factory=list)
    network_policies: list[NetworkPolicyEvidence] = Field(default_factory=list)
    autoscalers: list[AutoscalerEvidence] = Field(default_factory=list)
    quotas: list[QuotaEvidence] = Field(default_factory=list)
    config_maps: dict[str, list[str]] = Field(default_factory=dict)  # name -> keys
    # Service host:port pairs the namespace's ConfigMaps name (``ConfigEndpoint``).
    config_endpoints: list[ConfigEndpoint] = Field(default_factory=list)
    other_objects: list[GenericObjectEvidence] = Field(default_factory=list)
    logs: list[LogTail] = Field(default_factory=list)
    metrics: list[MetricSummary] = Field(default_factory=list)
    # What changed around the target, newest first (``kubetriage.evidence.changes``).
    changes: list[ChangeEvidence] = Field(default_factory=list)
    # Labels of the namespaces seen (NetworkPolicy namespace selectors match them).
    namespace_labels: dict[str, dict[str, str]] = Field(default_factory=dict)
    # Services the workload calls, followed across namespaces.
    dependencies: list[DependencyEvidence] = Field(default_factory=list)
    # Workloads that name the incident's Services: who calls it, and what they changed.
    callers: list[CallerEvidence] = Field(default_factory=list)
    # Workloads that name the same outside host the incident's failing calls name.
    host_peers: list[HostPeerEvidence] = Field(default_factory=list)
    quota_peers: list[QuotaPeerEvidence] = Field(default_factory=list)
    # The node agents and their rollouts, when the API server throttles the workload.
    agent_rollouts: list[AgentRolloutEvidence] = Field(default_factory=list)
    # Where the node agents take the pod network's MTU, when transfers stall mid-response.
    overlay_mtu: list[OverlayMtuEvidence] = Field(default_factory=list)
    # The connections its clients may open to the incident's server (its max_connections
    # less reserved slots), where its configuration says (``evidence.connection_slots``).
    connection_limit: int | None = None
    # The clients a server out of connection slots names by address as it refuses them.
    refused_clients: list[RefusedClientEvidence] = Field(default_factory=list)
    # The clients a server names by address as it closes them as slow consumers.
    slow_consumers: list[RefusedClientEvidence] = Field(default_factory=list)
    # The other workloads naming the queue or topic the alert names (its producers).
    queue_peers: list[QueuePeerEvidence] = Field(default_factory=list)
    # Deployments whose releases changed their pods' DNS settings (the DNS server's clients).
    dns_clients: list[DnsClientEvidence] = Field(default_factory=list)
    # The workloads with pods on the incident's Node, with their rollouts (a node alert).
    node_tenants: list[NodeTenantEvidence] = Field(default_factory=list)
    # The other components of its application that are degraded (same recommended labels).
    siblings: list[SiblingEvidence] = Field(default_factory=list)
    # PodDisruptionBudgets with no room that hold a draining node, with their workloads.
    disruption_budgets: list[DisruptionBudgetEvidence] = Field(default_factory=list)
    # Admission webhooks that failed the incident's creates or updates.
    webhooks: list[WebhookEvidence] = Field(default_factory=list)
    # Aggregated APIs (metrics) reported unavailable while an autoscaler cannot read them.
    aggregated_apis: list[AggregatedApiEvidence] = Field(default_factory=list)
    # Event-driven autoscalers' scalers of the workload (KEDA), and who runs them.
    scalers: list[ScalerEvidence] = Field(default_factory=list)
    # The health of the operator running those scalers, once there are any.
    scaler_operator: ScalerOperatorEvidence | None = None
    # Who writes the Secrets the incident's pods cannot get, from what, and why they did not.
    secret_writers: list[SecretWriterEvidence] = Field(default_factory=list)
    # The controllers the incident waits on: a Certificate's issuer, a host's DNS publisher.
    reconcilers: list[ReconcilerEvidence] = Field(default_factory=list)
    # The controllers serving the namespace's Ingresses to the workload, with their pods.
    ingress_controllers: list[IngressControllerEvidence] = Field(default_factory=list)
    # Gateway API routes of the incident's namespace, with their backends.
    gateway_routes: list[GatewayRouteEvidence] = Field(default_factory=list)
    # The Gateways those routes attach to, with the proxy pods serving them.
    gateway_proxies: list[GatewayProxyEvidence] = Field(default_factory=list)
    # The LoadBalancer Services whose address the incident's Ingresses publish.
    front_balancers: list[FrontBalancerEvidence] = Field(default_factory=list)
    # Problems met while collecting (forbidden, timeouts...), surfaced as conditions.
    collection_errors: list[str] = Field(default_factory=list)
    # What was cut to fit EvidenceLimits ("events: kept 30 of 10000, newest first"); not an
    # error, but the prompt should know the picture is partial.
    truncated: list[str] = Field(default_factory=list)

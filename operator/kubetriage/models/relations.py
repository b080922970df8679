"""What stands around the incident's workload: the Services it calls (followed across
namespaces, with their pods, changes, logs and certificates), the workloads that call it,
the ingress controllers and Gateway API routes in front of it. The controllers it depends on
(admission webhooks, aggregated APIs, autoscaler scalers, secret writers, reconcilers) are in
``kubetriage.models.controllers``. Part of ``kubetriage.models.evidence.Evidence``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, Field

from kubetriage.models.base import ObjectRef
from kubetriage.models.naming import NamingSource, source_texts
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.object_evidence import (
    AutoscalerEvidence,
    ConfigMount,
    GenericObjectEvidence,
    PodEvidence,
    PVCEvidence,
    ServiceEvidence,
    WorkloadEvidence,
)
from kubetriage.models.signals import ChangeEvidence, EventEvidence, LogTail


class DisruptionBudgetEvidence(BaseModel):
    """A PodDisruptionBudget that refuses to let a draining node go
    (``kubetriage.evidence.summaries.disruption_budgets``): it selects a pod on a cordoned
    node, or one whose eviction was refused, and allows no disruption now. With it the
    workload those pods belong to, its pods and their events: a budget with no room is
    usually a workload with a replica down (OOM-killed, crash-looping, Pending), and its
    failure, not the node, is what holds the drain."""

    ref: ObjectRef
    selector: dict[str, str] = Field(default_factory=dict)  # its matchLabels
    min_available: str | None = None  # spec.minAvailable as written (2, "50%")
    max_unavailable: str | None = None  # spec.maxUnavailable as written
    disruptions_allowed: int | None = None
    current_healthy: int | None = None
    desired_healthy: int | None = None
    expected_pods: int | None = None
    held_pods: list[str] = Field(default_factory=list)  # its pods on the draining nodes
    nodes: list[str] = Field(default_factory=list)  # the draining nodes those pods are on
    refusals: list[str] = Field(default_factory=list)  # eviction refusals quoted from events
    workload: WorkloadEvidence | None = None
    pods: list[PodEvidence] = Field(default_factory=list)  # the workload's pods
    events: list[EventEvidence] = Field(default_factory=list)


class PodTrouble(BaseModel):
    """What is wrong with one of a dependency's pods (``kubetriage.evidence.dependencies``):
    a phase other than Running, or its first container that waits or is not ready."""

    pod: str
    phase: str | None = None  # Pending, Failed or Unknown
    container: str | None = None
    waiting: str | None = None  # the container's waiting reason: CrashLoopBackOff, ErrImagePull...
    restarts: int = 0
    last_terminated: str | None = None  # why its last run ended (lastState), when not ready
    last_finished: datetime | None = None  # when that last run ended (lastState.finishedAt)


class IngressControllerEvidence(BaseModel):
    """The controller that serves an Ingress of the incident's namespace (its IngressClass's
    ``spec.controller``, and that controller's pods, often in a namespace of their own):
    where the Ingress's traffic to the backend pods comes from
    (``kubetriage.evidence.summaries.ingress``)."""

    ingress: str  # the Ingress, in the incident's namespace
    backends: list[str] = Field(default_factory=list)  # the Services it sends to
    ingress_class: str | None = None
    controller: str | None = None  # the IngressClass's spec.controller
    namespace: str | None = None  # of the controller's pods; None: none was found
    labels: dict[str, str] = Field(default_factory=dict)  # one controller pod's labels
    ips: list[str] = Field(default_factory=list)  # the controller pods' addresses
    pods: int = 0
    ready_pods: int = 0
    # Backend Service -> the port the Ingress names (a name or a number) that the Service
    # does not have: the controller cannot route to it.
    unknown_ports: dict[str, str] = Field(default_factory=dict)
    # The controller's own workload (from its pods' owners) and what is wrong with its pods
    # (``dependency_summary.pod_trouble``): the proxy in front of the backends can fail itself.
    workload: ObjectRef | None = None
    failing_pods: list[PodTrouble] = Field(default_factory=list)
    # The ConfigMap of settings the controller pods' ``--configmap`` flag names (ingress-nginx,
    # HAProxy), and when it was last written (None: not read): the controller applies every
    # edit to all its Ingresses at once, no rollout of anything in front of the backends.
    settings: ObjectRef | None = None
    settings_written: datetime | None = None


class GatewayRouteEvidence(BaseModel):
    """A Gateway API route (HTTPRoute, GRPCRoute) of the incident's namespace and what its
    backendRefs resolve to (``kubetriage.evidence.summaries.gateway_routes``): the gateway
    sends the route's traffic only to Services (and ports) that exist."""

    route: ObjectRef
    hostnames: list[str] = Field(default_factory=list)
    gateways: list[str] = Field(default_factory=list)  # parentRefs, "namespace/name"
    backends: list[str] = Field(default_factory=list)  # the Services it sends to
    # Backend Service -> the port the route names that the Service does not expose.
    unknown_ports: dict[str, str] = Field(default_factory=dict)
    # Backend Services that do not exist (only when Services could be listed).
    missing: list[str] = Field(default_factory=list)
    # The controller's ResolvedRefs=False condition, "reason: message"; None when resolved.
    unresolved: str | None = None
    # That condition's reason alone (RefNotPermitted, BackendNotFound, ...).
    unresolved_reason: str | None = None
    # Backend Service -> its namespace, for backendRefs into another namespace than the route's.
    backend_namespaces: dict[str, str] = Field(default_factory=dict)
    # The controller's Accepted=False condition when no parent accepts the route (no listener
    # allows it, no hostname matches): "reason: message"; None when a parent accepts it.
    detached: str | None = None


class DependencyVolume(BaseModel):
    """A PersistentVolumeClaim one of a dependency's pods mounts, as the pod names it."""

    pod: str
    claim: PVCEvidence  # only name and namespace when the claim was not read


# How a dependency is named when it is a hop of the request path in front of the workload
# (``kubetriage.evidence.request_path``): the backend of an Ingress the alerts name.
REQUEST_PATH_SOURCE: Final = "backend"
# How a dependency that is the ingress controller serving the workload is named.
INGRESS_CONTROLLER_SOURCE: Final = "ingress controller"
# How a dependency is named when it is a node agent that programs the network of nodes
# whose pods cannot connect while the workload's pods on other nodes can
# (``kubetriage.evidence.node_hosts.node_network_hosts``): "node network of node <name>: <log>".
NODE_NETWORK_SOURCE: Final = "node network"
# How a dependency is named when it is the device plugin whose pods do not run on nodes meant
# for the workload's pending pods that advertise none of the device those pods request
# (``kubetriage.evidence.node_hosts.node_device_plugin_hosts``): "device plugin of node <name>:
# advertises no <resource>".
DEVICE_PLUGIN_SOURCE: Final = "device plugin"
# How a dependency is named when it serves the workload's network volume (an NFS export from
# a Service of the cluster) or provisions its claim (a CSI controller), as
# ``kubetriage.evidence.node_plugins`` names it: "volume <claim> served from <server>",
# "volume <claim> provisioned by <provisioner>".
VOLUME_SERVER_SOURCE: Final = "volume"
# How a dependency is named when it serves, from inside the cluster, the registry a pod's
# failed pull talked to (a pull-through cache or mirror), as ``kubetriage.evidence.
# pull_registries`` names it: "registry <host> of Pod/<name> <reason>".
REGISTRY_SOURCE: Final = "registry"
# How a followed mesh CA is named: "mesh CA <host> of <ns/pod/container>".
MESH_CA_SOURCE: Final = "mesh CA"
# ... when an Ingress serves that registry's host: "... through Ingress <ns>/<name> with TLS
# Secret <secret>" (the Secret of the certificate the runtime verifies).
REGISTRY_INGRESS: Final = "through Ingress"
REGISTRY_TLS_SECRET: Final = "with TLS Secret"
# How a dependency is named when it is a peer, on a topic or queue, of a followed callee that
# fails without naming what it calls (``kubetriage.evidence.topic_peers``): "topic <name>".
TOPIC_SOURCE: Final = "topic"

RouteKind = Literal[
    "backend",  # a Service between an alerted Ingress and the workload
    "ingress-controller",  # the proxy serving the workload's Ingress
    "node-network",  # a node agent that does not run on the nodes whose pods cannot connect
    "node-pressure",  # a node agent replaced shortly before its node came under pressure
    "node-neighbour",  # a node agent on the nodes of healthy alerted pods: failing or just replaced
    "device-plugin",  # a device plugin that does not run on nodes advertising none of its device
    "volume-server",  # serves the pods' network volume from inside the cluster
    "volume-provisioner",  # provisions a claim the pods wait on
    "registry",  # serves, inside the cluster, a registry the pods' failed pulls talked to
    "mesh-ca",  # the mesh CA the pods' sidecars could not reach
    "topic",  # a peer, on a topic or queue, of a failing callee
    "cloud-controller",  # the cloud controller manager that has not initialized Ready nodes
    "storage-backend",  # the in-cluster storage system behind a claim, reporting itself unhealthy
]


class StorageBackendHealth(BaseModel):
    """What a storage system running in the cluster reports of its own health, read from its
    custom resource (``kubetriage.evidence.storage_backends``): a Rook CephCluster's
    ``status.ceph`` (the cluster's health and the codes of its health checks), a Longhorn
    Volume's ``status`` (robustness and state)."""

    resource: ObjectRef  # the CephCluster, or the Longhorn Volume, read
    health: str  # Ceph: HEALTH_OK/WARN/ERR; Longhorn: healthy/degraded/faulted/unknown
    # Ceph: health check code -> its message ("OSD_FULL" -> "1 full osd(s)"); empty else.
    checks: dict[str, str] = Field(default_factory=dict)
    # Longhorn: the volume's state (attached, detached, ...); Ceph: None.
    state: str | None = None
    # Ceph: the cluster's raw capacity used, as a fraction (None when not reported).
    used_fraction: float | None = None


class DependencyRoute(BaseModel):
    """How the evidence walk reached a dependency other than by the workload naming it as a
    callee, as data: what analyzers decide on. The walk also names it in
    ``DependencyEvidence.named_by`` (a ``route`` source, built from the same values)."""

    kind: RouteKind
    # backend, ingress-controller: the alerted or served Ingress; registry: the Ingress that
    # serves the registry's host, when one does.
    ingress: ObjectRef | None = None
    # registry behind an Ingress: the Secret of the certificate the runtime verifies.
    tls_secret: ObjectRef | None = None
    # node-network, node-pressure, node-neighbour, device-plugin: the node; node-pressure:
    # its pressure condition; device-plugin: the extended resource the node advertises none
    # of.
    node: str | None = None
    condition: str | None = None
    resource: str | None = None
    # node-network: where the failing call was read (a log line of one of its pods).
    seen_in: NamingSource | None = None
    # volume-server, volume-provisioner: the claim (or volume) waiting on it.
    claim: str | None = None
    # registry, mesh-ca, volume-server: the host the pods dialled; topic: the topic.
    host: str | None = None
    topic: str | None = None
    # cloud-controller: the Secret holding its cloud credentials (named by its cloud config,
    # else the one Secret its pod template reads); the node is one it has not initialized.
    credentials: ObjectRef | None = None
    # storage-backend: what the storage system says of its own health (the claim is in
    # ``claim``, the Ceph cluster or Longhorn volume name in ``host``).
    backend: StorageBackendHealth | None = None


class DnsForward(BaseModel):
    """A zone a DNS server's configuration forwards to upstream resolvers
    (``kubetriage.evidence.corefile``): a stub zone of a Corefile, and the ConfigMap key
    that holds it."""

    config_map: ObjectRef
    key: str
    zone: str  # fully qualified, lower case: "consul."
    upstreams: list[str] = Field(default_factory=list)  # "ip:port"


class DependencyEvidence(BaseModel):
    """A Service (or workload) the incident's workload calls, named in its logs, env or
    ConfigMaps, possibly in another namespace, with what stands behind it
    (``kubetriage.evidence.dependencies``)."""

    # The Service called; None when an error line names the workload itself, or when the
    # Service could not be read (then ``followed`` is False and ``ref`` names it).
    service: ServiceEvidence | None = None
    ref: ObjectRef | None = None
    # The Service the caller names, when it does not exist and this is the workload of its
    # name (``x`` for ``x`` or ``x-headless``): the name the caller resolves has no record.
    missing_service: str | None = None
    followed: bool = True
    # The texts that named it (a log line, an env value, a ConfigMap, ...), as data.
    named_by: list[NamingSource] = Field(default_factory=list)
    # How the walk reached it when not as a callee the workload names (request path, node
    # agent, volume server, registry, mesh CA, topic peer), first route first.
    routes: list[DependencyRoute] = Field(default_factory=list)
    workload: ObjectRef | None = None
    desired_replicas: int | None = None
    ready_replicas: int | None = None
    pods: int = 0
    failing_pods: list[PodTrouble] = Field(default_factory=list)
    # Its pods that run and are ready again but whose containers restarted (bounded), with
    # why and when their last run ended: a dependency killed again and again recovers
    # between kills, so its readiness alone hides that it keeps dropping its callers.
    restarted_pods: list[PodTrouble] = Field(default_factory=list)
    # The node each of its pods runs on (pod name -> node name, bounded): replicas that fail
    # together on one node point at the node, not at the dependency.
    pod_nodes: dict[str, str] = Field(default_factory=dict)
    # Those nodes that report themselves not Ready (node name -> "<status>: <why>", from
    # their Ready condition): a lone replica cannot be compared with another, its node can.
    down_nodes: dict[str, str] = Field(default_factory=dict)
    changes: list[ChangeEvidence] = Field(default_factory=list)  # its rollouts, newest first
    # The HorizontalPodAutoscalers scaling its workload: a callee whose autoscaler cannot read
    # its metric never grows with the load its callers bring.
    autoscalers: list[AutoscalerEvidence] = Field(default_factory=list)
    # Edits of the ConfigMaps its pods mount or read env from (metadata only: when the data
    # was last written after creation), newest first: a dependency that reloads its
    # configuration (the cluster DNS's Corefile, a flag service's flags) changes with no
    # rollout.
    config_changes: list[ChangeEvidence] = Field(default_factory=list)
    # The zones those ConfigMaps forward to upstream addresses, when they hold a DNS
    # server's Corefile: where a stub zone's queries go.
    dns_forwards: list[DnsForward] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    # Secrets its pods mount as volumes (names from the pod spec; Secrets are never read):
    # where its serving certificate lives.
    mounted_secrets: list[str] = Field(default_factory=list)
    # Those Secret volumes with the paths its containers mount them at: a Secret mounted at
    # /etc/tls holds a certificate whatever its name.
    secret_mounts: list[ConfigMount] = Field(default_factory=list)
    # The ConfigMap volumes of its first pods with their mount paths: the configuration
    # files a server reads at start (an adapter's rules, a proxy's routes).
    config_mounts: list[ConfigMount] = Field(default_factory=list)
    # The cert-manager Certificates of its namespace that write one of those Secrets: the
    # serving certificate its clients verify, renewed there.
    certificates: list[GenericObjectEvidence] = Field(default_factory=list)
    # What the dependency itself says: bounded log tails of a few of its pods (a database
    # that is up but refuses: full disk, no connection slots, failed logins), and the
    # PersistentVolumeClaims those pods mount (their Warning events are in ``warnings``).
    logs: list[LogTail] = Field(default_factory=list)
    volumes: list[DependencyVolume] = Field(default_factory=list)
    # Its other callers (``kubetriage.evidence.shared_callers``): the Deployments, besides the
    # incident's own workload, whose pod template names its Service, with their rollouts: a
    # shared database or cache saturated by another team's new revision.
    callers: list[CallerEvidence] = Field(default_factory=list)

    def named_by_texts(self, limit: int | None = None) -> list[str]:
        """The words shown for the first ``limit`` (else all) sources that named it."""
        return source_texts(self.named_by, limit)

    def service_ref(self) -> ObjectRef | None:
        """The Service the caller calls it through: the one read, else the one named but
        not readable here (None when the walk reached a workload with no Service)."""
        if self.service is not None:
            return self.service.ref()
        return self.ref if self.ref is not None and self.ref.kind == "Service" else None

    def routed(self, kind: RouteKind) -> list[DependencyRoute]:
        """The routes of ``kind`` by which the walk reached this dependency."""
        return [route for route in self.routes if route.kind == kind]

    def in_request_path(self) -> bool:
        """A hop of the request path in front of the workload (an alerted Ingress's backend),
        not a Service the workload calls."""
        return bool(self.routed("backend"))

    def fronts_workload(self) -> bool:
        """The ingress controller serving the workload's Ingress: the proxy requests reach the
        workload through, not a Service the workload calls."""
        return bool(self.routed("ingress-controller"))

    def programs_failing_nodes(self) -> bool:
        """A node agent that does not run on the nodes whose pods cannot connect, while the
        workload's pods on other nodes can."""
        return bool(self.routed("node-network"))

    def fronted_ingresses(self) -> list[ObjectRef]:
        """The Ingresses this ingress controller serves for the workload; empty for any other
        dependency."""
        return [r.ingress for r in self.routed("ingress-controller") if r.ingress is not None]

    def serves_volumes(self) -> bool:
        """The server of a network volume the workload's pods mount, or the provisioner of
        their claim: they wait on it with every file access, or to start at all, whether or
        not they log a call to it."""
        return bool(self.routed("volume-server") or self.routed("volume-provisioner"))

    def serves_pulls(self) -> bool:
        """The in-cluster server of a registry the workload's failed pulls talked to: its pods
        wait on it to start at all."""
        return bool(self.routed("registry"))

    def registry_hosts(self) -> list[str]:
        """The registry hosts the failed pulls talked to that this dependency serves."""
        return [r.host for r in self.routed("registry") if r.host is not None]

    def registry_tls_secret(self) -> ObjectRef | None:
        """The TLS Secret of the Ingress that serves this registry's host, where the
        certificate its pulls verify lives; else None."""
        return next((r.tls_secret for r in self.routed("registry") if r.tls_secret), None)

    def on_callee_topic(self) -> bool:
        """A peer of a failing callee on a topic or queue that callee configures: the consumer
        its requests wait on, reached through a broker."""
        return bool(self.routed("topic"))

    def provisioned_claims(self) -> list[str]:
        """The claims of the workload's pods that wait on this dependency to provision them."""
        return [r.claim for r in self.routed("volume-provisioner") if r.claim is not None]

    def short_of_ready(self) -> bool:
        """Fewer replicas ready than desired, both known."""
        return (
            self.desired_replicas is not None
            and self.ready_replicas is not None
            and self.ready_replicas < self.desired_replicas
        )

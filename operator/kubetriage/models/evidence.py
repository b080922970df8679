"""Evidence: a bounded, typed snapshot of what the Kubernetes API (and later Prometheus)
showed about an incident's target. Built from raw objects by ``kubetriage.evidence.build``;
read by the analyzers, the prompt renderer and the canonical text for memory.

Every list here is bounded at build time (see ``kubetriage.evidence.limits``), so an
oversized cluster state cannot blow up a prompt or the status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from kubetriage.models.base import ObjectRef
from kubetriage.models.network_policies import NetworkPolicyEvidence


class ContainerState(BaseModel):
    state: Literal["running", "waiting", "terminated", "unknown"]
    reason: str | None = None
    message: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ProbeSpec(BaseModel):
    kind: Literal["liveness", "readiness", "startup"]
    handler: str  # "httpGet /healthz :8080", "tcpSocket :5432", "exec ...", "grpc :9090"
    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 1
    failure_threshold: int = 3


class ConfigReference(BaseModel):
    """A ConfigMap or Secret a pod depends on, and whether it (and the key) exist.

    Secrets are never read: their existence is known only from the object list's names,
    which the operator's RBAC does not grant either; see ``exists`` semantics below.
    """

    kind: Literal["ConfigMap", "Secret"]
    name: str
    key: str | None = None
    optional: bool = False
    via: str  # "env FOO", "envFrom", "volume config"
    # None means "could not be checked" (e.g. Secrets are never fetched).
    exists: bool | None = None
    key_exists: bool | None = None


class ConfigMount(BaseModel):
    """A ConfigMap or Secret volume mounted into a container (``subPath``: one key, mounted
    as the file at ``path``)."""

    path: str
    kind: Literal["ConfigMap", "Secret"]
    name: str
    sub_path: str | None = None


class ContainerEvidence(BaseModel):
    name: str
    image: str
    init: bool = False
    ready: bool | None = None
    started: bool | None = None
    restart_count: int = 0
    state: ContainerState = Field(default_factory=lambda: ContainerState(state="unknown"))
    last_state: ContainerState | None = None
    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)
    probes: list[ProbeSpec] = Field(default_factory=list)
    ports: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)  # plain values only, redacted later
    args: list[str] = Field(default_factory=list)
    config_mounts: list[ConfigMount] = Field(default_factory=list)


class PodCondition(BaseModel):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None


class PodEvidence(BaseModel):
    name: str
    namespace: str
    phase: str | None = None
    reason: str | None = None  # e.g. "Evicted"
    message: str | None = None
    node: str | None = None
    owner: ObjectRef | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    conditions: list[PodCondition] = Field(default_factory=list)
    containers: list[ContainerEvidence] = Field(default_factory=list)
    config_refs: list[ConfigReference] = Field(default_factory=list)
    pvc_names: list[str] = Field(default_factory=list)
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[str] = Field(default_factory=list)
    has_affinity: bool = False
    created_at: datetime | None = None
    deleting: bool = False
    # status.podIPs (or podIP): what NetworkPolicy ipBlock peers are matched against.
    ips: list[str] = Field(default_factory=list)


class EventEvidence(BaseModel):
    type: str  # Normal | Warning
    reason: str
    message: str
    involved: ObjectRef
    count: int = 1
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    source: str | None = None


class NodeNeighbour(BaseModel):
    """A pod of another workload in the incident's namespace on the same node that is not
    serving: whether a node's other tenants fail too is how one node is told from one app."""

    name: str
    namespace: str
    owner: ObjectRef | None = None
    problem: str  # "not Ready", a waiting reason, or a pod phase
    since: datetime | None = None


class NodeEvidence(BaseModel):
    name: str
    ready: str = "Unknown"  # "True" | "False" | "Unknown"
    conditions: list[PodCondition] = Field(default_factory=list)
    taints: list[str] = Field(default_factory=list)
    unschedulable: bool = False
    allocatable: dict[str, str] = Field(default_factory=dict)
    capacity: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    troubled_neighbours: list[NodeNeighbour] = Field(default_factory=list)


class RevisionEvidence(BaseModel):
    """A ReplicaSet (or ControllerRevision) of the workload with its images."""

    name: str
    revision: int
    images: dict[str, str] = Field(default_factory=dict)
    replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    created_at: datetime | None = None
    current: bool = False


class WorkloadEvidence(BaseModel):
    ref: ObjectRef
    desired_replicas: int | None = None
    ready_replicas: int = 0
    available_replicas: int = 0
    updated_replicas: int = 0
    unavailable_replicas: int = 0
    conditions: list[PodCondition] = Field(default_factory=list)
    selector: dict[str, str] = Field(default_factory=dict)
    containers: list[ContainerEvidence] = Field(default_factory=list)
    revision: int | None = None
    generation: int | None = None
    observed_generation: int | None = None
    annotations: dict[str, str] = Field(default_factory=dict)
    # The workload that stamps this one out from its template (a Job's CronJob): a change to
    # the template is made there, or the next run repeats the fault.
    controller: ObjectRef | None = None


class PVCEvidence(BaseModel):
    name: str
    namespace: str
    phase: str | None = None
    storage_class: str | None = None
    requested: str | None = None
    capacity: str | None = None
    volume_name: str | None = None
    access_modes: list[str] = Field(default_factory=list)


class PodPort(BaseModel):
    """A port the pods behind a Service receive its traffic on (after the Service's
    translation): what NetworkPolicies, which see pod ports, are evaluated against."""

    number: int | None = None  # None: a named targetPort no selected pod declares
    name: str | None = None  # the container port's name, when known


class ServiceEvidence(BaseModel):
    name: str
    namespace: str
    type: str = "ClusterIP"
    selector: dict[str, str] = Field(default_factory=dict)
    ports: list[str] = Field(default_factory=list)
    # The numbers clients and pods may use: each port, and each numeric targetPort.
    port_numbers: list[int] = Field(default_factory=list)
    # Each Service port's destination on the selected pods (its targetPort, resolved).
    pod_ports: list[PodPort] = Field(default_factory=list)
    # Each Service port's declared application protocol, in the same order: its appProtocol,
    # else its name ("" when it has neither). Service meshes pick the protocol from these.
    declared_protocols: list[str] = Field(default_factory=list)
    external_name: str | None = None
    ready_endpoints: int | None = None  # None when no Endpoints object was found
    not_ready_endpoints: int = 0
    matching_pods: int | None = None  # pods in the namespace matching the selector
    annotations: dict[str, str] = Field(default_factory=dict)
    # With no pod matching: the Deployment or StatefulSet of its namespace whose pod template
    # the selector matches while it asks for 0 replicas. The Service is empty because that
    # workload was scaled to zero, not because the selector is wrong.
    scaled_to_zero: ObjectRef | None = None
    # spec.publishNotReadyAddresses: its endpoints list pods that fail readiness as ready
    # (EndpointSlice ready=true, serving=false), so proxies and ingresses send to them too.
    publish_not_ready: bool = False


class ConfigEndpoint(BaseModel):
    """A Service host with a port that a ConfigMap value names (``DB_ADDR: mongo:27018``):
    where a workload configured by it connects. Only these survive from the values."""

    config_map: str
    key: str
    service: str
    namespace: str | None = None  # None: a short name, the ConfigMap's namespace
    port: int


class AutoscalerEvidence(BaseModel):
    name: str
    namespace: str
    target: ObjectRef | None = None
    min_replicas: int | None = None
    max_replicas: int = 0
    current_replicas: int | None = None
    desired_replicas: int | None = None
    conditions: list[PodCondition] = Field(default_factory=list)


class QuotaEvidence(BaseModel):
    name: str
    namespace: str
    hard: dict[str, str] = Field(default_factory=dict)
    used: dict[str, str] = Field(default_factory=dict)


class GenericObjectEvidence(BaseModel):
    """Any other object in scope (cert-manager Certificate, Ingress, Job...), summarised."""

    ref: ObjectRef
    conditions: list[PodCondition] = Field(default_factory=list)
    fields: dict[str, str] = Field(default_factory=dict)  # selected spec/status scalars


# Why a log tail was read, set where the read is issued: the incident's own pods
# (``scope``: ``Evidence.logs``, and where dependencies are named), a followed dependency's
# pods (``dependency``: its own words, ``DependencyEvidence.logs``), or the backend of an
# admission webhook that failed a call (``webhook``: ``WebhookEvidence.log_lines``). The same
# container may be read for more than one reason, as one tail per reason.
LogSource = Literal["scope", "dependency", "webhook"]


class LogTail(BaseModel):
    namespace: str
    pod: str
    container: str
    previous: bool = False
    lines: list[str] = Field(default_factory=list)
    truncated: bool = False
    source: LogSource = "scope"


class MetricSummary(BaseModel):
    """A Prometheus series summarised for analyzers and the prompt (filled by issue 3)."""

    name: str  # template name, e.g. "memory_working_set_vs_limit"
    query: str
    labels: dict[str, str] = Field(default_factory=dict)
    last: float | None = None
    min: float | None = None
    max: float | None = None
    first: float | None = None
    trend: Literal["rising", "falling", "flat", "unknown"] = "unknown"
    changed_at: datetime | None = None
    samples: int = 0
    # The series' shape: a "step" to a new level at ``changed_at`` (with the mean level
    # ``before`` and ``after`` it), a "ramp" (steady slope, no single jump), a "spike" that
    # came back, or "flat" (``kubetriage.evidence.prometheus.summarize_series``).
    shape: Literal["step", "ramp", "spike", "flat", "unknown"] = "unknown"
    before: float | None = None
    after: float | None = None


ChangeKind = Literal["rollout", "config", "node", "scaling", "image-digest"]


class ChangeEvidence(BaseModel):
    """One entry of the change timeline: what changed on which object, and when.

    ``aspects`` is structured (analyzers read it): for a rollout the parts of the pod template
    that differ from the previous revision ("image", "args", "command", "env", "resources",
    "probes", "serviceAccount"...); for a ConfigMap "data"; for a Secret "metadata" (its data
    is never read).
    ``details`` are short display lines for the prompt and status, never parsed back.
    """

    at: datetime | None = None
    kind: ChangeKind
    object: ObjectRef
    aspects: list[str] = Field(default_factory=list)
    details: list[str] = Field(default_factory=list)
    from_revision: int | None = None
    to_revision: int | None = None
    # For a rollout: the ConfigMaps and Secrets it says changed (Stakater Reloader's hash env
    # var or last-reloaded-from annotation name them); empty when the template does not say.
    configs: list[ObjectRef] = Field(default_factory=list)


class CallerEvidence(BaseModel):
    """A workload whose pod template names one of the incident's Services (env, args),
    possibly in another namespace, with its recent rollouts (``kubetriage.evidence.callers``):
    a caller whose new revision changed how it calls can load or break a healthy callee."""

    ref: ObjectRef
    callee: ObjectRef  # the Service it names
    named_by: list[str] = Field(default_factory=list)  # "Deployment x env DB_URL"
    changes: list[ChangeEvidence] = Field(default_factory=list)  # its rollouts, newest first


class PodTrouble(BaseModel):
    """What is wrong with one of a dependency's pods (``kubetriage.evidence.dependencies``):
    a phase other than Running, or its first container that waits or is not ready."""

    pod: str
    phase: str | None = None  # Pending, Failed or Unknown
    container: str | None = None
    waiting: str | None = None  # the container's waiting reason: CrashLoopBackOff, ErrImagePull...
    restarts: int = 0
    last_terminated: str | None = None  # why its last run ended (lastState), when not ready


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


class DependencyVolume(BaseModel):
    """A PersistentVolumeClaim one of a dependency's pods mounts, as the pod names it."""

    pod: str
    claim: PVCEvidence  # only name and namespace when the claim was not read


class DependencyEvidence(BaseModel):
    """A Service (or workload) the incident's workload calls, named in its logs, env or
    ConfigMaps, possibly in another namespace, with what stands behind it
    (``kubetriage.evidence.dependencies``)."""

    # The Service called; None when an error line names the workload itself, or when the
    # Service could not be read (then ``followed`` is False and ``ref`` names it).
    service: ServiceEvidence | None = None
    ref: ObjectRef | None = None
    followed: bool = True
    named_by: list[str] = Field(default_factory=list)  # "pod x env DB_URL", "ConfigMap cfg"
    workload: ObjectRef | None = None
    desired_replicas: int | None = None
    ready_replicas: int | None = None
    pods: int = 0
    failing_pods: list[PodTrouble] = Field(default_factory=list)
    # The node each of its pods runs on (pod name -> node name, bounded): replicas that fail
    # together on one node point at the node, not at the dependency.
    pod_nodes: dict[str, str] = Field(default_factory=dict)
    changes: list[ChangeEvidence] = Field(default_factory=list)  # its rollouts, newest first
    # Edits of the ConfigMaps its pods mount or read env from (metadata only: when the data
    # was last written after creation), newest first: a dependency that reloads its
    # configuration (the cluster DNS's Corefile, a flag service's flags) changes with no
    # rollout.
    config_changes: list[ChangeEvidence] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    # Secrets its pods mount as volumes (names from the pod spec; Secrets are never read):
    # where its serving certificate lives.
    mounted_secrets: list[str] = Field(default_factory=list)
    # Those Secret volumes with the paths its containers mount them at: a Secret mounted at
    # /etc/tls holds a certificate whatever its name.
    secret_mounts: list[ConfigMount] = Field(default_factory=list)
    # The cert-manager Certificates of its namespace that write one of those Secrets: the
    # serving certificate its clients verify, renewed there.
    certificates: list[GenericObjectEvidence] = Field(default_factory=list)
    # What the dependency itself says: bounded log tails of a few of its pods (a database
    # that is up but refuses: full disk, no connection slots, failed logins), and the
    # PersistentVolumeClaims those pods mount (their Warning events are in ``warnings``).
    logs: list[LogTail] = Field(default_factory=list)
    volumes: list[DependencyVolume] = Field(default_factory=list)


WebhookFailure = Literal[
    "expired",  # x509: the serving certificate expired (or the caller's clock is ahead)
    "not-yet-valid",  # x509: "is before": a clock behind, or a certificate from the future
    "unknown-authority",  # x509: signed by a CA the caBundle does not hold
    "hostname",  # x509: the certificate does not name the host called
    "no-endpoints",  # the webhook's Service has no ready endpoint
    "refused",  # connection refused: nothing listens on the target port
    "timeout",  # context deadline exceeded / i/o timeout
    "other",
]


class WebhookEvidence(BaseModel):
    """An admission webhook the API server failed to call while creating or changing an
    object of the incident (``failed calling webhook "<name>"`` in a Warning event), with
    its configuration and what stands behind it (``kubetriage.evidence.summaries.webhooks``).
    The Service's pods, workload and endpoints are in ``Evidence.dependencies``."""

    name: str  # the webhook's name inside its configuration
    failure: WebhookFailure
    message: str  # the newest failing call as the API server reported it (clipped)
    blocked: list[ObjectRef] = Field(default_factory=list)  # objects whose events report it
    count: int = 0  # failing calls reported by those events
    configuration: ObjectRef | None = None  # Validating/MutatingWebhookConfiguration
    failure_policy: str | None = None  # "Fail" blocks the request; "Ignore" lets it through
    service: ObjectRef | None = None  # clientConfig.service (None: a URL webhook)
    # cert-manager's cainjector annotation: the Certificate whose CA the caBundle carries.
    ca_injected_from: ObjectRef | None = None
    # cert-manager Certificates in the Service's namespace (its serving certificate is one).
    certificates: list[GenericObjectEvidence] = Field(default_factory=list)
    # Secrets the backend's log lines name ('secrets "x" is forbidden'): where a webhook that
    # manages its own certificate keeps it. Names only; Secrets are never read.
    secrets_named: list[str] = Field(default_factory=list)
    log_lines: list[str] = Field(default_factory=list)  # the backend's certificate lines
    # False: no failed call was seen; a custom resource of an API group the webhook
    # intercepts stays not Ready while the webhook's Service has no ready endpoint.
    observed: bool = True
    # Its Service with the pods, workload and events behind it, as the webhook walk read them
    # (the dependency walk follows only the Services the incident's own evidence names).
    backend: DependencyEvidence | None = None
    # Where the API server's call lands: the labels of one backend pod, the container port
    # the Service forwards the webhook's port to (number and name, when known), and the
    # NetworkPolicies of the backend's namespace that select that pod.
    backend_labels: dict[str, str] = Field(default_factory=dict)
    backend_port: int | None = None
    backend_port_name: str | None = None
    policies: list[NetworkPolicyEvidence] = Field(default_factory=list)


class AggregatedApiEvidence(BaseModel):
    """An aggregated API (an ``APIService`` of apiregistration.k8s.io, cluster-scoped) the
    API server reports unavailable while an autoscaler of the incident cannot read the
    metrics it serves (``kubetriage.evidence.summaries.aggregated_apis``)."""

    name: str  # the APIService's name: "<version>.<group>"
    group: str
    reason: str | None = None  # its Available condition's reason (FailedDiscoveryCheck...)
    message: str = ""  # ... and message (clipped): why the API server's call failed
    failure: WebhookFailure = "other"  # that message classified
    service: ObjectRef | None = None  # spec.service: the Service the API server proxies to
    # The autoscalers that cannot read the metrics this API serves.
    autoscalers: list[ObjectRef] = Field(default_factory=list)
    # Its Service with the pods, workload and events behind it, as read.
    backend: DependencyEvidence | None = None


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
    # Admission webhooks that failed the incident's creates or updates.
    webhooks: list[WebhookEvidence] = Field(default_factory=list)
    # Aggregated APIs (metrics) reported unavailable while an autoscaler cannot read them.
    aggregated_apis: list[AggregatedApiEvidence] = Field(default_factory=list)
    # The controllers serving the namespace's Ingresses to the workload, with their pods.
    ingress_controllers: list[IngressControllerEvidence] = Field(default_factory=list)
    # Gateway API routes of the incident's namespace, with their backends.
    gateway_routes: list[GatewayRouteEvidence] = Field(default_factory=list)
    # Problems met while collecting (forbidden, timeouts...), surfaced as conditions.
    collection_errors: list[str] = Field(default_factory=list)
    # What was cut to fit EvidenceLimits ("events: kept 30 of 10000, newest first"); not an
    # error, but the prompt should know the picture is partial.
    truncated: list[str] = Field(default_factory=list)

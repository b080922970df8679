"""What the objects around an incident's target say, each as a bounded, typed fact: its
containers and pods (states, probes, config references), events, nodes, revisions and the
workload, claims, Services, autoscalers, quotas, other objects, log tails, metric summaries
and the change timeline. Part of ``kubetriage.models.evidence.Evidence``; built by
``kubetriage.evidence.build``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kubetriage.models.base import ObjectRef
from kubetriage.models.quantity import parse_quantity

# The scheduler the API server names in a pod that names none (spec.schedulerName).
DEFAULT_SCHEDULER = "default-scheduler"


class ContainerState(BaseModel):
    state: Literal["running", "waiting", "terminated", "unknown"]
    reason: str | None = None
    message: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


ProbeMechanism = Literal["httpGet", "tcpSocket", "grpc", "exec", "unknown"]


class ProbeSpec(BaseModel):
    """A container's probe. ``handler`` is its display ("httpGet /healthz :8080",
    "tcpSocket :5432", "exec ...", "grpc :9090"), never parsed back: ``mechanism`` and
    ``port`` (a number or a container port's name, as the spec gives it) are the data."""

    kind: Literal["liveness", "readiness", "startup"]
    handler: str
    mechanism: ProbeMechanism = "unknown"
    port: str | None = None
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
    as the file at ``path``). ``items`` is the source's own key-to-path projection, as the
    file path within the volume to the key it holds; empty when every key is a file of its
    own name."""

    path: str
    kind: Literal["ConfigMap", "Secret"]
    name: str
    sub_path: str | None = None
    items: dict[str, str] = Field(default_factory=dict)


class ContainerPort(BaseModel):
    """A port a container declares: its number, protocol and optional name."""

    model_config = ConfigDict(frozen=True)

    number: int | None = None
    protocol: str = "TCP"
    name: str | None = None

    @property
    def text(self) -> str:
        """``http:8080/TCP``, or ``8080/TCP`` unnamed: the display."""
        spec = f"{self.number if self.number is not None else '?'}/{self.protocol}"
        return f"{self.name}:{spec}" if self.name else spec

    def __str__(self) -> str:
        return self.text

    def answers(self, target: str | int) -> bool:
        """Whether a Service's or a probe's target port (a number, or a port's name) is
        this port."""
        if isinstance(target, int) or target.isdigit():
            return self.number == int(target)
        return self.name == target


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
    ports: list[ContainerPort] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)  # plain values only, redacted later
    args: list[str] = Field(default_factory=list)
    config_mounts: list[ConfigMount] = Field(default_factory=list)
    # The container's own restartPolicy; "Always" on an init container makes it a sidecar
    # (Kubernetes 1.29+): it keeps running beside the main containers instead of completing.
    restart_policy: str | None = None


class PodCondition(BaseModel):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition_time: datetime | None = None


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
    # spec.hostNetwork and spec.dnsPolicy (ClusterFirst when unset): which resolver the
    # kubelet gives the pod (``kubetriage.pod_dns``).
    host_network: bool = False
    dns_policy: str = "ClusterFirst"
    # spec.schedulerName (the API server's default when unset): which scheduler binds the pod.
    scheduler_name: str = DEFAULT_SCHEDULER


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
    # The keys of those taints, as the Node spec sets them: what rules read (``taints`` is
    # rendered for people).
    taint_keys: list[str] = Field(default_factory=list)
    unschedulable: bool = False
    allocatable: dict[str, str] = Field(default_factory=dict)
    capacity: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    troubled_neighbours: list[NodeNeighbour] = Field(default_factory=list)
    # status.addresses (InternalIP, ExternalIP, Hostname): how a scrape target names the node.
    addresses: list[str] = Field(default_factory=list)
    # status.nodeInfo.kubeletVersion ("v1.30.6-eks-7f9249a"): what the node's kubelet supports.
    kubelet_version: str | None = None


class RevisionEvidence(BaseModel):
    """A ReplicaSet (or ControllerRevision) of the workload with its images."""

    name: str
    revision: int
    images: dict[str, str] = Field(default_factory=dict)
    # Each container's command and args as its template sets them (empty: the image's own).
    commands: dict[str, list[str]] = Field(default_factory=dict)
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


class ServicePort(BaseModel):
    """One port of a Service: its own number, where it sends (``target``: the targetPort as
    the spec gives it, a number or a container port's name; None when unset, the same
    number), its protocol, name and nodePort."""

    model_config = ConfigDict(frozen=True)

    port: int | None = None
    target: str | None = None
    protocol: str = "TCP"
    name: str | None = None
    node_port: int | None = None

    @property
    def text(self) -> str:
        """``http:80->8080/TCP``, ``443/TCP nodePort 31443``: the display."""
        spec = f"{self.port}" + (f"->{self.target}" if self.target is not None else "")
        spec += f"/{self.protocol}"
        if self.name:
            spec = f"{self.name}:{spec}"
        return spec + (f" nodePort {self.node_port}" if self.node_port is not None else "")

    def __str__(self) -> str:
        return self.text

    @property
    def remaps(self) -> bool:
        """Whether it sends to another port than its own (a name counts as another)."""
        return self.target is not None and self.target != str(self.port)

    @property
    def numbers(self) -> set[int]:
        """Every number it names: its port, a numeric target, its nodePort."""
        found = {n for n in (self.port, self.node_port) if n is not None}
        if self.target is not None and self.target.isdigit():
            found.add(int(self.target))
        return found


class ServiceEvidence(BaseModel):
    name: str
    namespace: str
    type: str = "ClusterIP"
    selector: dict[str, str] = Field(default_factory=dict)
    ports: list[ServicePort] = Field(default_factory=list)
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
    # spec.clusterIP "None": no virtual IP, its DNS name resolves to the selected pods
    # themselves (and ``pod.<service>`` to one of them), whatever role each plays.
    headless: bool = False
    # spec.sessionAffinity when not "None" ("ClientIP": kube-proxy sends every connection
    # from one client address to the same pod for ``affinity_timeout_seconds``), and when a
    # write to it was last recorded (its managedFields entry touching the field): behind few
    # client addresses (an ingress controller, a gateway, a NAT) it pins traffic to few pods.
    session_affinity: str | None = None
    affinity_timeout_seconds: int | None = None
    affinity_written_at: datetime | None = None
    # spec.internalTrafficPolicy "Local": the nodes its selected pods run on. kube-proxy
    # then sends a client pod's traffic only to a pod on the client's own node, and drops it
    # on any other node (None: the default "Cluster", every ready pod serves every node).
    local_traffic_nodes: list[str] | None = None
    # spec.clusterIP: the virtual address clients dial (None when headless or unset).
    # kube-proxy rewrites it to a selected pod's address before NetworkPolicies apply.
    cluster_ip: str | None = None

    def ref(self) -> ObjectRef:
        """The Service as an object reference (a diagnosis target, a fact's source)."""
        return ObjectRef(kind="Service", namespace=self.namespace, name=self.name)

    def port_texts(self) -> list[str]:
        """Its ports as displayed (``http:80->8080/TCP``)."""
        return [p.text for p in self.ports]


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
    # What it scales on: a resource ("cpu", "memory") or "pods:", "object:" or "external:"
    # and the metric's name.
    metrics: list[str] = Field(default_factory=list)

    def scales(self, workload: ObjectRef) -> bool:
        """Whether this autoscaler's ``scaleTargetRef`` is ``workload``: the same kind and
        name, in the autoscaler's own namespace (a scale target has no namespace of its own)."""
        return (
            self.target is not None
            and (self.target.kind, self.target.name) == (workload.kind, workload.name)
            and (workload.namespace or self.namespace) == self.namespace
        )


class QuotaEvidence(BaseModel):
    name: str
    namespace: str
    hard: dict[str, str] = Field(default_factory=dict)
    used: dict[str, str] = Field(default_factory=dict)

    def at_limit(self) -> list[str]:
        """The resources whose usage has reached their hard limit (``requests.cpu``...)."""
        reached: list[str] = []
        for resource, limit in self.hard.items():
            hard, used = parse_quantity(limit), parse_quantity(self.used.get(resource))
            if hard is not None and used is not None and used >= hard:
                reached.append(resource)
        return reached


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
LogSource = Literal["scope", "dependency", "webhook", "scaler"]


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
    # When the series first left the level it began at, where ``changed_at`` is its latest
    # step: the onset of a symptom that rose and then eased (``analyzers.onset.series_onset``).
    departed_at: datetime | None = None
    # When it rose into the episode it still shows (``evidence.series_rises``): a first sign.
    rose_at: datetime | None = None
    samples: int = 0
    # When the first sample of the answer was taken: how far back the series shows the
    # workload's state (a query's window, or the moment a new pod began to report).
    first_at: datetime | None = None
    # The series' shape: a "step" to a new level at ``changed_at`` (with the mean level
    # ``before`` and ``after`` it), a "ramp" (steady slope, no single jump), a "spike" that
    # came back, or "flat" (``kubetriage.evidence.prometheus.summarize_series``).
    shape: Literal["step", "ramp", "spike", "flat", "unknown"] = "unknown"
    before: float | None = None
    after: float | None = None
    held_since: datetime | None = None  # the first sample of the final run of equal values


ChangeKind = Literal["rollout", "config", "node", "scaling", "image-digest"]


class ChangeEvidence(BaseModel):
    """One entry of the change timeline: what changed on which object, and when.

    ``aspects`` is structured (analyzers read it): for a rollout the parts of the pod template
    that differ from the previous revision ("image", "args", "command", "env", "resources",
    "probes", "serviceAccount", "tokenUnmounted" when automountServiceAccountToken turned
    false, "dns" for hostNetwork, dnsPolicy or dnsConfig, "security" for a securityContext
    field, a host port or a profile annotation, "restart" for a
    ``kubectl rollout restart``'s stamp...); for a ConfigMap "data"; for a Secret "metadata"
    (its data is never read).
    ``details`` are short display lines for the prompt and status, never parsed back;
    ``aspect_details`` (rollouts) holds the same lines by the aspect that noted them, for an
    analyzer that shows one aspect's.
    """

    at: datetime | None = None
    kind: ChangeKind
    object: ObjectRef
    aspects: list[str] = Field(default_factory=list)
    details: list[str] = Field(default_factory=list)
    aspect_details: dict[str, list[str]] = Field(default_factory=dict)
    from_revision: int | None = None
    to_revision: int | None = None
    # For a rollout: the ConfigMaps and Secrets it says changed (Stakater Reloader's hash env
    # var or last-reloaded-from annotation name them); empty when the template does not say.
    configs: list[ObjectRef] = Field(default_factory=list)

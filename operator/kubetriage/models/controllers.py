"""The controllers the incident's workload depends on without calling them: the admission
webhooks the API server failed to call for its objects, the aggregated APIs behind its
autoscaler, the KEDA scalers and their operator, the controllers that write the Secrets it
mounts, and the reconcilers that should have acted on it. Part of
``kubetriage.models.evidence.Evidence``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from kubetriage.models.base import ObjectRef
from kubetriage.models.network_policies import NetworkPolicyEvidence
from kubetriage.models.object_evidence import GenericObjectEvidence
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.signals import ChangeEvidence

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
    API server reports unavailable, or that answers it does not serve a metric, while an
    autoscaler of the incident cannot read the metrics it serves
    (``kubetriage.evidence.summaries.aggregated_apis``)."""

    name: str  # the APIService's name: "<version>.<group>"
    group: str
    reason: str | None = None  # its Available condition's reason (FailedDiscoveryCheck...)
    message: str = ""  # ... and message (clipped): why the API server's call failed
    failure: WebhookFailure = "other"  # that message classified
    service: ObjectRef | None = None  # spec.service: the Service the API server proxies to
    # The autoscalers that cannot read the metrics this API serves.
    autoscalers: list[ObjectRef] = Field(default_factory=list)
    # The metrics (names from those autoscalers' specs) the API answered it does not serve
    # ("could not find the requested resource"): it runs, but nothing defines them.
    missing_metrics: list[str] = Field(default_factory=list)
    # Its Service with the pods, workload and events behind it, as read.
    backend: DependencyEvidence | None = None
    # Where the API server's call lands, as for a webhook: one backend pod's labels, the
    # container port its Service forwards to, the NetworkPolicies selecting that pod.
    backend_labels: dict[str, str] = Field(default_factory=dict)
    backend_port: int | None = None
    backend_port_name: str | None = None
    policies: list[NetworkPolicyEvidence] = Field(default_factory=list)
    log_lines: list[str] = Field(default_factory=list)  # none read: no certificate lines


class ScalerSecretParam(BaseModel):
    """A trigger parameter that KEDA takes from a Secret key (its TriggerAuthentication's
    ``secretTargetRef``): the connection string, password or token the scaler needs."""

    parameter: str  # the trigger parameter (connection, password, host...)
    secret: str  # the Secret, in the scaler's namespace
    key: str  # the key of that Secret


class ScalerEvidence(BaseModel):
    """An event-driven autoscaler's scaler for the incident's workload (a KEDA ScaledObject's
    trigger, ``kubetriage.evidence.summaries.scalers``): where it reads its metric from, and
    where the process reading it runs (the KEDA operator's pods), so that the flow from that
    process to the metric source can be checked against NetworkPolicies."""

    ref: ObjectRef  # the ScaledObject or ScaledJob
    trigger: str  # its trigger type: kafka, rabbitmq, redis, prometheus, aws-sqs-queue...
    hosts: list[str] = Field(default_factory=list)  # "host" or "host:port", as its metadata names
    queues: list[str] = Field(default_factory=list)  # the queues or topics it measures
    ready: bool | None = None  # its Ready condition (False: TriggerError, a failing scaler)
    reader_namespace: str | None = None  # the namespace of the pods that run the scaler
    reader_labels: dict[str, str] = Field(default_factory=dict)  # ... and their labels
    # The Service the first host designates, and the labels of a pod behind it (what the
    # NetworkPolicies of its namespace select), when both were read.
    source: ObjectRef | None = None
    source_labels: dict[str, str] = Field(default_factory=dict)
    # The parameters its TriggerAuthentication takes from Secret keys, when that was read.
    secret_params: list[ScalerSecretParam] = Field(default_factory=list)


class ScalerOperatorEvidence(BaseModel):
    """The health of the process that runs the workload's scalers (the KEDA operator,
    ``kubetriage.evidence.summaries.scaler_operator``): when it is down nothing scales the
    workload, whatever its backlog."""

    workload: ObjectRef  # the operator's Deployment (its pod when no owner is known)
    pods: int = 0  # its pods read
    ready: int = 0  # ... that run without trouble
    troubles: list[PodTrouble] = Field(default_factory=list)  # what is wrong with the others
    # Its log lines saying an API it needs is not served ("no matches for kind ... in
    # version autoscaling/v2beta2"): a release older than the cluster's API (clipped).
    unserved: list[str] = Field(default_factory=list)

    @property
    def failing(self) -> bool:
        """No pod of it runs without trouble."""
        return self.pods > 0 and self.ready == 0 and bool(self.troubles)


class SecretWriterEvidence(BaseModel):
    """A Secret the incident's pods cannot get (absent, or without a key they read) that no
    person writes but a controller, from a source object
    (``kubetriage.evidence.summaries.secret_writers``): the object that asks for it (a
    Crossplane claim's connection Secret, a Kyverno generate rule's clone, a Strimzi
    KafkaUser's credentials), what it is written from, and why it was not."""

    secret: ObjectRef  # the Secret the pods miss
    writer: ObjectRef  # the object whose controller writes it
    how: str  # how it writes it, for a person: "generates", "writes its connection details to"
    # The input the writer copies or needs (a clone's source, the credentials Secret its
    # provider reads), when the evidence says it is what is wrong, and what it is to the
    # writer, for a person ("as a clone of", "its ProviderConfig default reads credentials from").
    source: ObjectRef | None = None
    source_role: str = ""
    # The object reporting why the writer could not write (a managed resource not Synced),
    # and what it says (clipped).
    failing: ObjectRef | None = None
    message: str = ""
    ready: bool | None = None  # the writer's own Ready condition, when it has one
    # The workload that writes the Secret, and its containers that keep failing:
    # "pod/container: OOMKilled (exit 137), 11 restarts".
    controller: ObjectRef | None = None
    controller_failures: list[str] = Field(default_factory=list)
    controller_oom_killed: bool = False


class ReconcilerEvidence(BaseModel):
    """A controller whose work the incident waits on (``kubetriage.evidence.summaries.
    reconcilers``): the certificate issuer that should have renewed a Certificate past its
    renewal time, the DNS controller that should publish a host the cluster declares but no
    resolver knows, the CA injector that should keep an injected webhook caBundle current,
    the failover operator that should promote a member to the role a Service selects, or the
    node autoscaler that should add a node for pods no node has room for, or the mesh control
    plane that should sign the certificates of sidecars that cannot reach it, or the
    load-balancer controller that should register the pods an Ingress's backends created, or
    the controller reconciling the custom resources the incident's workloads come from. Its
    workload's state and what its current revision watches against the previous revision's."""

    role: Literal[
        "certificate-issuer",
        "dns-publisher",
        "ca-injector",
        "failover-operator",
        "node-autoscaler",
        "mesh-control-plane",
        "target-registrar",
        "resource-controller",
    ]
    # What it owes: the overdue Certificates, the objects declaring the unresolved hosts
    # (an Ingress, a Service's hostname annotation, a route), with the hosts, or the webhook
    # configurations whose injected caBundle the API server found stale, or the pods waiting
    # for a node that the autoscaler has not acted on.
    subjects: list[ObjectRef] = Field(default_factory=list)
    hosts: list[str] = Field(default_factory=list)
    # What says each is owed, for a person: "Certificate shop/web-tls: renewalTime ... has
    # passed", "Ingress shop/web checkout.example.com: <the text saying it does not resolve>".
    owed: list[str] = Field(default_factory=list)
    workload: ObjectRef
    desired_replicas: int | None = None
    ready_replicas: int | None = None
    failing_pods: list[PodTrouble] = Field(default_factory=list)
    # What it watches and which domains it manages, now and in its previous revision
    # (external-dns' --source and --domain-filter; empty filters: every domain).
    sources: list[str] = Field(default_factory=list)
    previous_sources: list[str] = Field(default_factory=list)
    domain_filters: list[str] = Field(default_factory=list)
    previous_domain_filters: list[str] = Field(default_factory=list)
    # The owner id it writes into the TXT records that mark the DNS records it created, now
    # and in its previous revision (external-dns' --txt-owner-id, "default" when unset): a
    # record marked with another owner is not its own, so it neither updates nor deletes it.
    owner_id: str | None = None
    previous_owner_id: str | None = None
    # Its newest rollout (from the change timeline's revision diff), when it has a previous one.
    change: ChangeEvidence | None = None
    # Every failing pod is of that rollout's new revision: it has failed since the rollout.
    change_failing: bool = False
    # Its containers' restarts (ready or not) and when the last run that ended did, and its
    # lines saying it lost its leader-election lease (client-go's "failed to renew lease",
    # "leader election lost"): a controller that keeps restarting leaves its work undone
    # even while its pods look ready (clipped).
    restarts: int = 0
    last_restart: datetime | None = None
    lost_leadership: list[str] = Field(default_factory=list)
    # The lines of its tails where the API server refused its own ServiceAccount a write
    # (``kubetriage.api_refusals``: "cannot patch resource pods"): it watches and decides, but
    # what it manages is left as it was (clipped).
    refused_writes: list[str] = Field(default_factory=list)

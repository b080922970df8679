"""The neighbours of the incident's workload that share something with it and may have
changed: the workloads calling its Services, the workloads naming the same outside host, the
node agents asking the API server, the clients a server refuses by address, the CNI agent
setting the pod network's MTU, the other components of its application. Part of
``kubetriage.models.evidence.Evidence``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from kubetriage.models.base import ObjectRef
from kubetriage.models.naming import NamingSource, source_texts
from kubetriage.models.object_evidence import (
    ContainerEvidence,
    ContainerState,
    NodeEvidence,
    PodEvidence,
    WorkloadEvidence,
)
from kubetriage.models.signals import ChangeEvidence, EventEvidence, LogTail


class ClientMention(BaseModel):
    """A shared server's own error lines naming a caller as their client
    (``kubetriage.evidence.callers.find_named_clients``): the server's log they were read
    in, how many lines, and the client identity they name."""

    log: NamingSource
    lines: int
    client: str

    def said(self) -> str:
        """The words for it: "3 error lines name client web"."""
        verb = "1 error line names" if self.lines == 1 else f"{self.lines} error lines name"
        return f"{verb} client {self.client}"


class ContainerRestart(BaseModel):
    """A container of a neighbour's pod that has restarted, and how its last run ended
    (``kubetriage.evidence.front_restarts.restarts_of``): the caches a caller reads through,
    the proxies and caches in front of a callee."""

    pod: str
    container: str
    restarts: int
    last: ContainerState


class CallerCacheEvidence(BaseModel):
    """A cache the caller's pod template names besides the incident's Service (a Service
    whose pods run Redis, memcached, Valkey...; ``kubetriage.evidence.caller_caches``), with
    the restarts of its cache containers: a cache that holds its data in memory comes back
    empty, and every read it no longer answers falls through to what the caller calls next."""

    service: ObjectRef
    workload: ObjectRef | None = None
    restarts: list[ContainerRestart] = Field(default_factory=list)


class ConfiguredPool(BaseModel):
    """The largest connection pool each pod of a caller opens, as its configuration names it
    (``kubetriage.evidence.connection_slots``): the size, the setting's key, and the ConfigMap
    it comes from with that ConfigMap's last write (None when its own env sets it)."""

    size: int
    key: str
    config: ObjectRef | None = None
    written_at: datetime | None = None


class CallerEvidence(BaseModel):
    """A workload whose pod template names one of the incident's Services (env, args),
    possibly in another namespace, with its recent rollouts (``kubetriage.evidence.callers``):
    a caller whose new revision changed how it calls can load or break a healthy callee."""

    ref: ObjectRef
    callee: ObjectRef  # the Service it names
    # The texts of its pod template or ConfigMaps that name ``callee``, as data; when it was
    # found by ``in_errors``, the callee's log those lines were read in.
    named_by: list[NamingSource] = Field(default_factory=list)
    # The callee's own error lines naming it as their client, when that is how it was found.
    in_errors: ClientMention | None = None
    # The env var, taken from a Secret, whose database URL alone links it to ``callee`` (a
    # SQL database it does not name; ``kubetriage.evidence.shared_callers.secret_clients``): a
    # possible caller, weaker than one naming it. None for a caller that names ``callee``.
    secret_env: str | None = None
    changes: list[ChangeEvidence] = Field(default_factory=list)  # its rollouts, newest first
    # Its spec.replicas (None: not set or not a scalable kind): a caller scaled to zero runs
    # no pod at all, so it neither calls nor consumes what the callee queues for it.
    replicas: int | None = None
    # What it says itself, read only for the other callers of a dependency the incident's
    # workload names: bounded log tails of its first pod
    # (``shared_callers.caller_log_requests``).
    # An unchanged caller failing on the same dependency at the same time clears a release.
    logs: list[LogTail] = Field(default_factory=list)
    # The caches it names besides ``callee``, read only for the callers of the incident's own
    # Services: one emptied by a restart sends its reads to the incident's workload.
    caches: list[CallerCacheEvidence] = Field(default_factory=list)
    # Its restarted containers, read only for a caller a mounted ConfigMap routes to the
    # callee (a proxy or cache in front of it): each restart of a cache empties it and sends
    # every read it held to the callee.
    restarts: list[ContainerRestart] = Field(default_factory=list)
    # The PersistentVolumeClaims its pods mount, read only for a caller in front of the
    # callee (as ``restarts``): a cache whose volume is full cannot keep what it fetches, so
    # every read of something new misses and goes to the callee.
    claims: list[str] = Field(default_factory=list)
    # The pool each of its pods opens, where its configuration says (a database's clients).
    pool: ConfiguredPool | None = None
    # Whether its pod template sends every lookup to the node's resolver
    # (``kubetriage.pod_dns.resolves_via_node``: dnsPolicy Default, or the host network with
    # ClusterFirst), which knows no cluster Service name.
    node_resolver: bool = False

    def fronts(self) -> bool:
        """Whether a mounted ConfigMap routes it to the callee (a proxy or cache in front of
        it), rather than its env or args naming it."""
        return any(source.kind == "config-map" for source in self.named_by)

    def naming_texts(self, limit: int | None = None) -> list[str]:
        """The words for how it was found: the callee's error lines naming it, else the
        texts that name the callee, at most ``limit``."""
        if self.in_errors is not None:
            return [f"{self.in_errors.log.text}: {self.in_errors.said()}"]
        return source_texts(self.named_by, limit)


class HostPeerEvidence(BaseModel):
    """Another workload whose pod template names the same host outside the cluster that the
    incident's own failing calls name (``kubetriage.evidence.host_peers``), with its recent
    rollouts: calls to one outside host share the way out (the nodes' SNAT ports, an egress
    gateway), so a neighbour's new revision that opens more connections starves the others."""

    ref: ObjectRef
    host: str  # the outside host both name
    # The texts of its pod template that name ``host``, as data.
    named_by: list[NamingSource] = Field(default_factory=list)
    changes: list[ChangeEvidence] = Field(default_factory=list)  # its rollouts, newest first


class QuotaPeerEvidence(BaseModel):
    """Another workload whose pod template names a resource of the cloud service, region and
    account whose calls the incident's workload logs as throttled by the provider
    (``kubetriage.evidence.quota_peers``), with its recent rollouts: the provider meters that
    request quota per account and region, so a neighbour's new revision that calls far more
    throttles every other caller."""

    ref: ObjectRef
    service: str  # the provider's service, as its resource names spell it: "kms"
    region: str
    account: str
    # The texts of its pod template that name such a resource, as data.
    named_by: list[NamingSource] = Field(default_factory=list)
    changes: list[ChangeEvidence] = Field(default_factory=list)  # its rollouts, newest first


class AgentRolloutEvidence(BaseModel):
    """A DaemonSet (a node agent) and its recent rollouts, read when the API server throttles
    the incident's workload (``kubetriage.evidence.agent_rollouts``): one client per node, so
    a revision that asks the API server more multiplies that by the node count."""

    ref: ObjectRef
    nodes: int | None = None  # status.desiredNumberScheduled
    changes: list[ChangeEvidence] = Field(default_factory=list)  # its rollouts, newest first


class OverlayMtuEvidence(BaseModel):
    """Where a node agent (a DaemonSet, the CNI's) takes the MTU it gives the pod network,
    read when the incident's lines say transfers stall mid-response
    (``kubetriage.evidence.overlay_mtu``): an env var named for the MTU, from a ConfigMap key
    (``config_map``/``key``) or a literal ``value``."""

    ref: ObjectRef  # the DaemonSet
    env: str  # "FELIX_VXLANMTU"
    config_map: str = ""
    key: str = ""
    value: str = ""


class RefusedClientEvidence(BaseModel):
    """A Deployment whose pod's address a server names as it refuses it
    (``kubetriage.evidence.refused_clients``), with its recent rollouts: a client of the
    server's shared slots (``refusal`` "slots"), a TLS client that rejected the server's
    certificate as signed by an authority it does not trust ("untrusted"), then with that
    pod's containers (what CA file each trusts and where it is mounted from) and the last
    write of each ConfigMap the pod mounts, or a slow consumer whose connection the server
    closed ("slow-consumer"), or a client a mesh proxy's inbound policy denied for presenting
    no mesh identity ("unmeshed"), then with that pod's containers (whether it runs a mesh
    proxy), or the scrape target exporting series a metrics server's remote store refused
    ("series")."""

    ref: ObjectRef
    address: str  # the pod address the refusal names
    pod: str = ""
    line: str = ""  # the server's refusal (or its close of a slow consumer)
    changes: list[ChangeEvidence] = Field(default_factory=list)  # its rollouts, newest first
    refusal: Literal["slots", "untrusted", "slow-consumer", "unmeshed", "series"] = "slots"
    # "untrusted" and "unmeshed" only
    containers: list[ContainerEvidence] = Field(default_factory=list)
    config_written: dict[str, datetime] = Field(default_factory=dict)  # ConfigMap -> last write


class QueuePeerEvidence(BaseModel):
    """Another workload whose pod template names the queue or topic the alert names
    (``kubetriage.evidence.queue_peers``), with its recent rollouts: its producer (or
    another consumer). A producer whose new revision publishes more messages for the same
    work floods the consumers the alert is about."""

    ref: ObjectRef
    queue: str  # the queue or topic it names
    # The texts of its pod template (or the ConfigMap values it takes) that name ``queue``.
    named_by: list[NamingSource] = Field(default_factory=list)
    changes: list[ChangeEvidence] = Field(default_factory=list)  # its rollouts, newest first


class DnsClientEvidence(BaseModel):
    """A Deployment whose recent rollout changed its pods' DNS settings (``dnsPolicy``,
    ``dnsConfig``), read when the incident's workload is the cluster's DNS server
    (``kubetriage.evidence.dns_clients``): how many queries each of its lookups costs."""

    ref: ObjectRef
    changes: list[ChangeEvidence] = Field(default_factory=list)  # its rollouts, newest first


class NodeTenantEvidence(BaseModel):
    """A workload with pods on the incident's Node, read when a node-level alert names only
    the node (``kubetriage.evidence.node_tenants.tenant_summaries``), with its pods there and
    its recent rollouts: one tenant's release can use up what the whole node is short of
    (file descriptors, disk, inodes), and its own series say which one."""

    ref: ObjectRef
    pods: list[str] = Field(default_factory=list)  # its pods on the node
    changes: list[ChangeEvidence] = Field(default_factory=list)  # its rollouts, newest first
    # The claims its pods there mount whose volume is a directory of the node itself (a
    # hostPath or local PersistentVolume, as local-path provisioners make them) -> that
    # directory: their data fills the node's own filesystem, whatever their capacity says.
    local_claims: dict[str, str] = Field(default_factory=dict)
    # The env settings (``container/VARIABLE``) its newest revision points inside an emptyDir
    # on the node's disk, where the revision before did not (``evidence.node_disk_writes``):
    # that release writes to the node's own filesystem.
    node_disk_settings: list[str] = Field(default_factory=list)
    # The Deployments naming a Service that selects its pods there, with their rollouts
    # (``evidence.callers.caller_summaries``): a server on the node is loaded by its callers,
    # which often run on other nodes.
    callers: list[CallerEvidence] = Field(default_factory=list)
    # Its pods no node took (Pending) -> the scheduler's words: a node out of room (its pod
    # slots, CPU, memory) leaves the tenant's other replicas waiting elsewhere.
    unplaced: dict[str, str] = Field(default_factory=dict)


class SiblingEvidence(BaseModel):
    """Another component of the incident's application (``kubetriage.evidence.summaries.
    siblings``): a workload of its namespace carrying the same recommended application labels
    (``app.kubernetes.io/part-of``, else ``name``, and ``instance``) that is short of ready
    replicas, with its pods and their events. An application's components fail each other
    (a distributor's pushes fail while its ingesters cannot be scheduled) without one naming
    the other in its env or logs. Also the one workload of the namespace, of any
    application, whose pods began restarting with the alert (``restarts_since`` set)."""

    workload: WorkloadEvidence
    application: dict[str, str] = Field(default_factory=dict)  # the labels shared
    component: str | None = None  # its app.kubernetes.io/component
    pods: list[PodEvidence] = Field(default_factory=list)
    events: list[EventEvidence] = Field(default_factory=list)
    # The nodes those pods are placed on (their conditions): replicas that fail only on a
    # node reporting a problem point at the node, not at the component.
    nodes: list[NodeEvidence] = Field(default_factory=list)
    # Set for a workload of the namespace outside the application, kept because its pods'
    # repeated restarts began with the alert (``kubetriage.evidence.summaries.
    # fresh_restarts``): the earliest they can have begun.
    restarts_since: datetime | None = None

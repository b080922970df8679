"""The controllers an incident waits on, and what they owe it. Pure.

Some objects are only as good as the controller that reconciles them: a cert-manager
Certificate past its renewal time is renewed by cert-manager's controller, a webhook
configuration annotated ``cert-manager.io/inject-ca-from`` gets its caBundle from
cert-manager's CA injector (cainjector), and a host the cluster declares (an Ingress rule, a
route's hostnames, the external-dns hostname annotation) resolves only once external-dns has
published it. A Service that a failover operator's custom resource owns, selecting the member
its operator marks with a role (CloudNativePG's ``-rw`` Service: ``cnpg.io/instanceRole=
primary``), with no ready endpoint is a role nobody holds: promoting a member is that
operator's work. Pods Pending for want of room on any node that no node autoscaler has spoken
about (``kubetriage.evidence.summaries.node_autoscaler``) wait on the cluster-autoscaler or
Karpenter to add a node; sidecars that say they cannot reach the mesh's control plane for
their certificates (``kubetriage.evidence.summaries.mesh_control_plane``) wait on istiod. A
call to such a webhook that the API server refused as signed by an
unknown authority is a caBundle the injector did not bring up to date. When a Certificate is
overdue (its ``renewalTime`` has passed, it is not Ready, or it has expired) or such a host
does not resolve (the resolver's no-such-name words, ``kubetriage.dns_errors``, naming it), an
SRE asks *who should have done that* and reads that controller's state: its replicas and
failing pods, whether those failing pods are all of its newest rollout's revision, and what its
current revision watches against the previous one (external-dns' ``--source`` and
``--domain-filter``, from args or their ``EXTERNAL_DNS_*`` environment variables), and the
owner id it marks its records with (``--txt-owner-id``) against the previous one's.

The controllers are recognised by the labels their charts set (``app.kubernetes.io/name``,
else ``app``, with the chart's ``app.kubernetes.io/component`` when it has one) or their
image, in any namespace. The collector (``kubetriage.evidence.reconciler_walk``) reads them
by the same labels; the builder summarises them here, with what they owe as
``kubetriage.evidence.summaries.reconciler_debts`` finds it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kubetriage import prose
from kubetriage.evidence.changes import revision_of, rollout_changes
from kubetriage.evidence.dependency_summary import pod_trouble
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import as_dict, as_int, as_str, clip_text, dicts, ref_of
from kubetriage.evidence.summaries.ingress import host_matches
from kubetriage.evidence.summaries.mesh_control_plane import owed_by_mesh
from kubetriage.evidence.summaries.node_autoscaler import unserved_pending
from kubetriage.evidence.summaries.reconciler_debts import (
    DNS_SOURCES,
    leaderless_services,
    overdue_certificates,
    stale_ca_bundles,
    unresolved_hosts,
)
from kubetriage.evidence.summaries.secret_writers import controller_pods
from kubetriage.evidence.summaries.target_registrars import down_since, unregistered
from kubetriage.evidence.summaries.webhooks import WEBHOOK_CONFIGURATION_KINDS
from kubetriage.models.base import ObjectRef
from kubetriage.models.controllers import ReconcilerEvidence
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict, as_list, controlled_by
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

CERTIFICATE_ISSUER = "certificate-issuer"
DNS_PUBLISHER = "dns-publisher"
CA_INJECTOR = "ca-injector"
FAILOVER_OPERATOR = "failover-operator"
NODE_AUTOSCALER = "node-autoscaler"
MESH_CONTROL_PLANE = "mesh-control-plane"
TARGET_REGISTRAR = "target-registrar"
RESOURCE_CONTROLLER = "resource-controller"


@dataclass(frozen=True, slots=True)
class ReconcilerKind:
    """A controller the incident may wait on: the role it plays, the values of its chart's
    name label, the component label its chart sets (None: none), and its image."""

    role: str
    names: frozenset[str]
    component: str | None
    image: re.Pattern[str]

    def selectors(self) -> list[str]:
        """The label selectors it is listed by."""
        return [f"{key}={name}" for name in sorted(self.names) for key in _NAME_LABELS]


_NAME_LABELS = ("app.kubernetes.io/name", "app")
RECONCILER_KINDS = (
    ReconcilerKind(
        CERTIFICATE_ISSUER,
        frozenset({"cert-manager"}),
        "controller",
        re.compile(r"/cert-manager-controller(?:[:@]|$)"),
    ),
    ReconcilerKind(
        DNS_PUBLISHER, frozenset({"external-dns"}), None, re.compile(r"/external-dns(?:[:@]|$)")
    ),
    ReconcilerKind(
        CA_INJECTOR,
        frozenset({"cainjector"}),
        "cainjector",
        re.compile(r"/cert-manager-cainjector(?:[:@]|$)"),
    ),
    ReconcilerKind(
        FAILOVER_OPERATOR,
        frozenset({"cloudnative-pg"}),
        None,
        re.compile(r"/cloudnative-pg(?:[:@]|$)"),
    ),
    # The cluster-autoscaler chart names it after its cloud provider; the upstream example
    # manifests label it ``app: cluster-autoscaler``; Karpenter's chart, ``karpenter``.
    ReconcilerKind(
        NODE_AUTOSCALER,
        frozenset(
            {
                "cluster-autoscaler",
                "aws-cluster-autoscaler",
                "azure-cluster-autoscaler",
                "gce-cluster-autoscaler",
                "clusterapi-cluster-autoscaler",
                "karpenter",
            }
        ),
        None,
        re.compile(r"/(?:cluster-autoscaler|karpenter/controller)(?:[:@]|$)"),
    ),
    # Istio's control plane: the chart labels istiod ``app: istiod``; its image is pilot.
    ReconcilerKind(
        MESH_CONTROL_PLANE, frozenset({"istiod"}), None, re.compile(r"/pilot(?:[:@]|$)")
    ),
    # The AWS Load Balancer Controller registers pod addresses in ALB/NLB target groups
    # (``kubetriage.evidence.summaries.target_registrars``).
    ReconcilerKind(
        TARGET_REGISTRAR,
        frozenset({"aws-load-balancer-controller"}),
        None,
        re.compile(r"/aws-load-balancer-controller(?:[:@]|$)"),
    ),
)


def _containers(template: JsonDict) -> list[JsonDict]:
    return dicts(as_dict(template.get("spec")).get("containers"))


def _template(workload: JsonDict) -> JsonDict:
    return as_dict(as_dict(workload.get("spec")).get("template"))


def is_reconciler(kind: ReconcilerKind, workload: JsonDict) -> bool:
    """Whether ``workload`` is a controller of ``kind``: by its chart's labels, else image."""
    labels = _labels(workload)
    name = next((labels[k] for k in _NAME_LABELS if k in labels), None)
    if name in kind.names:
        component = labels.get("app.kubernetes.io/component")
        return kind.component is None or component in (None, kind.component)
    images = [as_str(c.get("image")) or "" for c in _containers(_template(workload))]
    return any(kind.image.search(image) for image in images)


# --- what a controller watches ----------------------------------------------------------------


def flag_values(template: JsonDict, flag: str) -> list[str]:
    """The values of a repeatable ``--flag`` in the template's containers' args (``--flag=v``
    or ``--flag v``), else of its ``EXTERNAL_DNS_<FLAG>`` environment variable."""
    values: list[str] = []
    env_name = "EXTERNAL_DNS_" + flag.upper().replace("-", "_")
    for container in _containers(template):
        args = as_list(container.get("command")) + as_list(container.get("args"))
        words = [a for a in args if isinstance(a, str)]
        for i, word in enumerate(words):
            if word.startswith(f"--{flag}="):
                values.append(word.split("=", 1)[1])
            elif word == f"--{flag}" and i + 1 < len(words):
                values.append(words[i + 1])
        for env in dicts(container.get("env")):
            if env.get("name") == env_name and isinstance(env.get("value"), str):
                values += re.split(r"[\s,]+", str(env["value"]).strip())
    return [v for v in dict.fromkeys(values) if v]


# external-dns' owner id when --txt-owner-id is not given.
DEFAULT_OWNER_ID = "default"


def _owner_id(template: JsonDict) -> str:
    """The owner id a DNS controller marks its records with (``--txt-owner-id``)."""
    return next(iter(flag_values(template, "txt-owner-id")), DEFAULT_OWNER_ID)


def covers(sources: Sequence[str], filters: Sequence[str], kind: str, host: str) -> bool:
    """Whether a DNS controller watching ``sources`` for the domains ``filters`` (none:
    every domain) publishes ``host`` declared by an object of ``kind``."""
    source = DNS_SOURCES.get(kind)
    in_domain = not filters or any(
        host_matches(f, host) or host.endswith("." + f.lower().strip(".")) for f in filters
    )
    return source is not None and source in sources and in_domain


def _ref(obj: JsonDict) -> ObjectRef:
    """The object as a finding's target names it: kind, namespace and name."""
    return ref_of(obj).model_copy(update={"api_version": None})


def _previous_template(workload: JsonDict, history: Sequence[JsonDict], revision: int) -> JsonDict:
    for obj in history:
        number, template = revision_of(obj)
        if number == revision and controlled_by(obj, workload):
            return template
    return {}


def _revision(index: ObjectIndex, pod: JsonDict) -> int | None:
    """The revision of the ReplicaSet owning ``pod``."""
    for owner in dicts(as_dict(pod.get("metadata")).get("ownerReferences")):
        if owner.get("kind") == "ReplicaSet":
            for rs in index.in_namespace("ReplicaSet", _ns(pod)):
                if as_str(as_dict(rs.get("metadata")).get("name")) == owner.get("name"):
                    return revision_of(rs)[0]
    return None


def reconciler_summary(
    index: ObjectIndex,
    kind: ReconcilerKind,
    workload: JsonDict,
    subjects: list[tuple[str, JsonDict, str]],
    limits: EvidenceLimits,
) -> ReconcilerEvidence:
    spec, status = as_dict(workload.get("spec")), as_dict(workload.get("status"))
    history = index.in_namespace("ReplicaSet", _ns(workload))
    changes = rollout_changes(workload, [rs for rs in history if controlled_by(rs, workload)])
    change = changes[-1] if changes else None
    failing = [p for p in controller_pods(index, workload) if pod_trouble(p) is not None]
    found = ReconcilerEvidence(
        role=kind.role,
        subjects=list({_ref(o).key(): _ref(o) for _, o, _ in subjects}.values())[
            : limits.max_list_items
        ],
        hosts=list(dict.fromkeys(h for h, _, _ in subjects if h))[: limits.max_list_items],
        owed=[
            clip_text(
                f"{prose.obj(ref_of(o))}{' ' + h if h else ''}: {said}", limits.max_string_length
            )
            or ""
            for h, o, said in subjects[: limits.max_list_items]
        ],
        workload=_ref(workload),
        desired_replicas=as_int(spec.get("replicas")) if "replicas" in spec else 1,
        ready_replicas=as_int(status.get("readyReplicas")) or 0,
        failing_pods=[t for p in failing if (t := pod_trouble(p)) is not None][
            : limits.max_dependency_pods
        ],
        change=change,
        change_failing=change is not None
        and bool(failing)
        and all(_revision(index, p) == change.to_revision for p in failing),
    )
    if kind.role == DNS_PUBLISHER:
        current = _template(workload)
        found.sources = flag_values(current, "source")
        found.domain_filters = flag_values(current, "domain-filter")
        found.owner_id = _owner_id(current)
        if change is not None and change.from_revision is not None:
            previous = _previous_template(workload, history, change.from_revision)
            found.previous_sources = flag_values(previous, "source")
            found.previous_domain_filters = flag_values(previous, "domain-filter")
            found.previous_owner_id = _owner_id(previous)
    return found


def reconciler_summaries(
    index: ObjectIndex,
    texts: Sequence[str],
    now: datetime,
    limits: EvidenceLimits,
    tails: Sequence[LogTail] = (),
) -> list[ReconcilerEvidence]:
    """The controllers owing the incident an overdue Certificate, an unresolved host, a
    stale caBundle, a member holding a role, a node for pods no node has room for, or the
    certificates of sidecars that cannot reach their control plane (said in ``tails``)."""
    owed: dict[str, list[tuple[str, JsonDict, str]]] = {
        CERTIFICATE_ISSUER: [
            ("", c, said) for c, said in overdue_certificates(index.kind("Certificate"), now)
        ],
        DNS_PUBLISHER: unresolved_hosts(
            (o for kind in DNS_SOURCES for o in index.kind(kind)), texts
        ),
        CA_INJECTOR: [
            ("", c, said)
            for c, said in stale_ca_bundles(
                (o for kind in WEBHOOK_CONFIGURATION_KINDS for o in index.kind(kind)), texts
            )
        ],
        FAILOVER_OPERATOR: [
            ("", svc, said)
            for svc, said in leaderless_services(
                index.kind("Service"), lambda svc: index.get("Endpoints", _ns(svc), _name(svc))
            )
        ],
        NODE_AUTOSCALER: [
            ("", pod, said)
            for pod, said in unserved_pending(index.kind("Pod"), index.kind("Event"), now)
        ],
        MESH_CONTROL_PLANE: [
            ("", pod, said) for pod, said in owed_by_mesh(index.kind("Pod"), tails)
        ],
    }
    summaries: list[ReconcilerEvidence] = []
    for kind in RECONCILER_KINDS:
        for workload in index.kind("Deployment"):
            if not is_reconciler(kind, workload):
                continue
            subjects = (
                _unregistered(index, workload) if kind.role == TARGET_REGISTRAR else owed[kind.role]
            )
            if subjects:
                summaries.append(reconciler_summary(index, kind, workload, subjects, limits))
    return summaries[: limits.max_dependencies]


def _unregistered(index: ObjectIndex, workload: JsonDict) -> list[tuple[str, JsonDict, str]]:
    """The Ingresses whose backend pods all came after the registrar ``workload`` went down."""
    since = down_since(workload)
    if since is None:
        return []
    return unregistered(
        index.kind("Ingress"),
        index.kind("IngressClass"),
        index.kind("Service"),
        index.kind("Pod"),
        since,
    )

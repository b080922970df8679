"""The tenancy rule: what an Incident may read from and act on. Pure; the one place it lives.

The rule (also in docs/security.md):

- An Incident reads from and acts on **its own namespace only**. Whoever may create an
  Incident in ``team-a`` must not get kubetriage (which reads and, with a policy, writes
  across the cluster) to show or change anything in ``media``.
- **Cluster-scoped** objects (Nodes, PersistentVolumes, Namespaces other than its own) and
  objects in **other namespaces** are allowed only for Incidents that live in a
  *cluster-scope namespace*: ``settings.cluster_scope_namespaces`` (Helm value
  ``clusterScopeNamespaces``), by default just ``settings.incident_namespace``, the
  operator's own namespace, where the receiver puts alerts that name no single namespace.
  Only people who may create Incidents there can point kubetriage at the whole cluster.
- Context an in-namespace target needs is not "other": the Node a pod of the Incident's own
  namespace runs on, or every Node's taints when its pod cannot be scheduled, is read; the
  other pods on that Node are not.
- ``namespace=None`` (a replayed case, no Incident object) is unrestricted.

Enforced where the target is chosen (``kubetriage.handlers`` refuses an explicit target
outside the rule with the reason ``TargetOutsideNamespace``; alert-label candidates outside
it are dropped), in evidence collection (``kubetriage.evidence.kube``), in remediation policy
matching (``kubetriage.remediation.policy.evaluate``) and again when an approval executes
(``kubetriage.remediation.actions.execute_approval``). The receiver places an alert's
Incident in the namespace its target lives in (``kubetriage.receiver.state.placement``).

Code that reads across namespaces (dependency evidence, say) calls ``may_read``.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubetriage.errors import InvalidIncident
from kubetriage.evidence.targets import candidate_targets
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.settings import Settings

OUTSIDE_NAMESPACE = "TargetOutsideNamespace"
# Kinds without a namespace: reading or acting on them is cluster-wide.
CLUSTER_SCOPED_KINDS = frozenset({"Node", "PersistentVolume", "Namespace", "StorageClass"})


def cluster_scope_namespaces(settings: Settings) -> frozenset[str]:
    """Namespaces whose Incidents may reach the whole cluster."""
    listed = settings.cluster_scope_namespaces
    return frozenset(listed if listed is not None else [settings.incident_namespace])


@dataclass(frozen=True)
class Scope:
    """What one Incident may reach. ``namespace`` None: no Incident (replay), unrestricted."""

    namespace: str | None
    cluster_wide: bool

    @classmethod
    def unrestricted(cls) -> Scope:
        return cls(None, True)

    def may_read(self, object_namespace: str | None) -> bool:
        """An object in ``object_namespace`` (None: cluster-scoped) may be read."""
        if self.namespace is None or self.cluster_wide:
            return True
        return object_namespace == self.namespace

    def may_target(self, ref: ObjectRef) -> bool:
        """``ref`` may be what the Incident is about, and what a remediation changes."""
        if self.namespace is None or self.cluster_wide:
            return True
        if ref.kind == "Namespace":
            return ref.name == self.namespace
        if ref.kind in CLUSTER_SCOPED_KINDS:
            return False
        return ref.namespace == self.namespace

    def refusal(self, ref: ObjectRef) -> str:
        """Why ``ref`` is refused, for a condition or a remediation record."""
        where = "cluster-scoped" if ref.namespace is None else f"in namespace {ref.namespace}"
        return (
            f"{ref.display()} is {where}; an Incident in namespace {self.namespace} may only "
            f"read from and act on objects in {self.namespace}. Create the Incident in "
            f"{ref.namespace or 'a cluster-scope namespace'} instead, or list "
            f"{self.namespace} in KUBETRIAGE_CLUSTER_SCOPE_NAMESPACES "
            f"(Helm: clusterScopeNamespaces)"
        )


@dataclass(frozen=True)
class Tenancy:
    """The rule's configuration, built once from the settings."""

    cluster_scope: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> Tenancy:
        return cls(cluster_scope_namespaces(settings))

    def scope(self, incident_namespace: str | None) -> Scope:
        if incident_namespace is None:
            return Scope.unrestricted()
        return Scope(incident_namespace, incident_namespace in self.cluster_scope)


def may_read(incident_namespace: str, object_namespace: str | None, settings: Settings) -> bool:
    """Whether an Incident in ``incident_namespace`` may read an object in
    ``object_namespace`` (None: a cluster-scoped object)."""
    return Tenancy.from_settings(settings).scope(incident_namespace).may_read(object_namespace)


def may_target(incident_namespace: str, ref: ObjectRef, settings: Settings) -> bool:
    """Whether an Incident in ``incident_namespace`` may be about, and act on, ``ref``."""
    return Tenancy.from_settings(settings).scope(incident_namespace).may_target(ref)


def allowed_candidates(
    scope: Scope, target: ObjectRef | None, alerts: list[Alert]
) -> tuple[list[ObjectRef], list[ObjectRef]]:
    """The candidate targets (``candidate_targets``) split into allowed and refused."""
    allowed: list[ObjectRef] = []
    refused: list[ObjectRef] = []
    for candidate in candidate_targets(target, alerts):
        (allowed if scope.may_target(candidate) else refused).append(candidate)
    return allowed, refused


def check_target(scope: Scope, target: ObjectRef | None, alerts: list[Alert]) -> None:
    """Raise ``InvalidIncident`` (reason ``TargetOutsideNamespace``) when the explicit target,
    or every target the alert labels name, is outside ``scope``. Alert-label candidates
    outside the scope are otherwise just skipped by the collector."""
    if target is not None and not scope.may_target(target):
        raise InvalidIncident(OUTSIDE_NAMESPACE, scope.refusal(target))
    allowed, refused = allowed_candidates(scope, target, alerts)
    if refused and not allowed:
        raise InvalidIncident(
            OUTSIDE_NAMESPACE,
            "the alert labels name no object this Incident may read: " + scope.refusal(refused[0]),
        )

"""Where a delivery tool's application alert points when its labels do not say: the
Application object does. Pure.

Argo CD's application metrics (``argocd_app_info``, ``argocd_app_sync_total``...) carry the
Application's ``name`` and its own ``namespace`` (where Argo CD runs), with ``project``,
``health_status``, ``sync_status``, ``repo`` and ``dest_server``; ``dest_namespace`` is often
lost on the way to the alert (a rule that aggregates ``by (name, namespace, project)``, an
alert written from ``argocd_app_health_status``). The alert is about what the application
deploys, not about Argo CD: an SRE opens the Application and reads its destination, and the
resources Argo CD itself reports unhealthy. ``targets._delivered`` covers the alert that
keeps ``dest_namespace``; this covers the one that does not.

- ``named_applications``: the Applications such alerts name (a ``name`` label with a
  namespace and at least one other label of that vocabulary; a bare ``name`` names nothing in
  particular);
- ``delivered_targets``: from the Application object, its workloads Argo CD reports Degraded
  or Missing, then the workloads its last sync applied when that sync failed (a PostSync
  smoke test or a later wave failing after the workload rolled out: the sync is about what it
  changed, its hook Jobs only check it), then its destination namespace; nothing for a
  destination in another cluster (its objects are not here);
- ``with_delivered``: the candidate targets with those before the first bare namespace (the
  delivery tool's own).

The collector (``target_walk``) reads the Application by name; the snapshot takes it from the
case's objects.
"""

from __future__ import annotations

from typing import Final

from kubetriage.evidence.label_vocabulary import DELIVERY_APP_LABELS, label_value
from kubetriage.evidence.raw import as_dict, as_str, dicts
from kubetriage.evidence.targets import before_bare_namespace, ordered_alerts
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.objects import JsonDict
from kubetriage.models.vocabulary import WORKLOAD_KINDS

# Argo CD's Application: group, version, kind, plural.
APPLICATION_API: Final = ("argoproj.io", "v1alpha1", "Application", "applications")

# The labels Argo CD's application metrics carry besides ``name`` and ``namespace``: one of
# them with a ``name`` says the alert is about an Application.
_APP_METRIC_LABELS: Final = ("project", "health_status", "sync_status", "repo", "dest_server")

# How an Application names the cluster Argo CD runs in (its default destination).
_IN_CLUSTER_SERVER: Final = "https://kubernetes.default.svc"
_IN_CLUSTER_NAME: Final = "in-cluster"

# The health Argo CD reports for a resource that does not serve: failed, or never created.
_UNHEALTHY: Final = frozenset({"Degraded", "Missing"})

# The phases of a sync operation that ended without completing (``operationState.phase``).
_FAILED_OPERATION: Final = frozenset({"Failed", "Error"})

# The sync phase of the resources a sync applies (hooks run in PreSync, PostSync, SyncFail).
_SYNC_PHASE: Final = "Sync"


def named_applications(alerts: list[Alert]) -> list[ObjectRef]:
    """The Applications the alerts name without their destination namespace, in order."""
    found: list[ObjectRef] = []
    for alert in ordered_alerts(alerts):
        labels = alert.labels
        if any(label_value(labels, dest) for _, dest in DELIVERY_APP_LABELS):
            continue  # the destination is in the labels (``targets._delivered``)
        name, namespace = label_value(labels, "name"), label_value(labels, "namespace")
        if name is None or namespace is None:
            continue
        if not any(label_value(labels, label) for label in _APP_METRIC_LABELS):
            continue
        group, version, kind, _ = APPLICATION_API
        ref = ObjectRef(kind=kind, name=name, namespace=namespace, api_version=f"{group}/{version}")
        if not any(ref.same_object(f) for f in found):
            found.append(ref)
    return found


def _in_cluster(destination: JsonDict) -> bool:
    """Whether an Application deploys into the cluster Argo CD runs in."""
    server = as_str(destination.get("server"))
    if server is not None:
        return server.rstrip("/").removesuffix(":443") == _IN_CLUSTER_SERVER
    cluster = as_str(destination.get("name"))
    return cluster is None or cluster == _IN_CLUSTER_NAME


def delivered_targets(application: JsonDict) -> list[ObjectRef]:
    """What the Application deploys here, best first: the workloads Argo CD reports Degraded
    or Missing, then the destination namespace; empty for another cluster."""
    destination = as_dict(as_dict(application.get("spec")).get("destination"))
    if not _in_cluster(destination):
        return []
    namespace = as_str(destination.get("namespace"))
    status = as_dict(application.get("status"))
    found: list[ObjectRef] = []
    for resource in dicts(status.get("resources")):
        health = as_str(as_dict(resource.get("health")).get("status"))
        ref = _workload(resource, namespace)
        if health in _UNHEALTHY and ref is not None:
            found.append(ref)
    for ref in _failed_sync_workloads(status, namespace):
        if not any(ref.same_object(f) for f in found):
            found.append(ref)
    if namespace is not None:
        found.append(ObjectRef(kind="Namespace", name=namespace, api_version="v1"))
    return found


def _workload(resource: JsonDict, namespace: str | None) -> ObjectRef | None:
    """The workload an Application's resource entry names, in its destination namespace
    unless the entry names its own; None for another kind."""
    kind, name = as_str(resource.get("kind")), as_str(resource.get("name"))
    where = as_str(resource.get("namespace")) or namespace
    if kind not in WORKLOAD_KINDS or not name or not where:
        return None
    group, version = as_str(resource.get("group")), as_str(resource.get("version"))
    api_version = f"{group}/{version}" if group and version else version
    return ObjectRef(kind=kind, name=name, namespace=where, api_version=api_version)


def _failed_sync_workloads(status: JsonDict, namespace: str | None) -> list[ObjectRef]:
    """The workloads the Application's last sync applied, when that sync failed: a hook
    (a PostSync smoke test, a SyncFail job) only checks or reports, what the failed operation
    is about is the workload it rolled out."""
    operation = as_dict(status.get("operationState"))
    if as_str(operation.get("phase")) not in _FAILED_OPERATION:
        return []
    found: list[ObjectRef] = []
    for resource in dicts(as_dict(operation.get("syncResult")).get("resources")):
        if resource.get("hookType") or as_str(resource.get("syncPhase")) != _SYNC_PHASE:
            continue
        ref = _workload(resource, namespace)
        if ref is not None:
            found.append(ref)
    return found


def with_delivered(candidates: list[ObjectRef], delivered: list[ObjectRef]) -> list[ObjectRef]:
    """``candidates`` with what an Application deploys before the first bare namespace (the
    delivery tool's own namespace), after any object an alert names itself."""
    return before_bare_namespace(candidates, delivered)

"""Where the work a controller's alert is about runs, when that is not the alert's namespace.
Pure.

A batch controller's alert is labelled with the controller's own namespace, while the work it
holds or launches runs in others. An SRE paged for it opens the controller's objects, follows
them to the namespaces of that work and runs ``kubectl get pods`` there:

- a batch queue's alert: Kueue's metrics name a ClusterQueue by ``cluster_queue``
  (``kueue_pending_workloads``, ``kueue_admitted_active_workloads``...) and carry the namespace
  Kueue's controller is scraped in; the Jobs the ClusterQueue admits are submitted to the
  LocalQueues pointing at it (``spec.clusterQueue``), in their namespaces;
- a task launcher's alert: a scheduler that starts each task as a pod of its own, in the
  namespace its documented setting names (Airflow's KubernetesExecutor,
  ``[kubernetes_executor] namespace`` as the ``AIRFLOW__KUBERNETES_EXECUTOR__NAMESPACE``
  variable, ``AIRFLOW__KUBERNETES__NAMESPACE`` before Airflow 2.5), alerts in the scheduler's
  namespace about the tasks' runs.

Those namespaces are where the incident is only when the alert's own namespace has no pod
failing now (``failing_pods.failing_now``: the controller itself runs) and they have one;
``with_work_namespaces`` then puts them before the alert's bare namespace among the candidate
targets. The collector (``target_walk``) lists the LocalQueues (only under a scope that reads
every namespace), the alert namespace's workloads and the pods of both; the snapshot takes them
from the case's objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Final

from kubetriage.evidence.failing_pods import failing_now
from kubetriage.evidence.label_vocabulary import label_value
from kubetriage.evidence.raw import as_dict, as_str, dicts
from kubetriage.evidence.targets import before_bare_namespace, ordered_alerts
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope

# Kueue's LocalQueue: group, version, kind, plural.
LOCAL_QUEUE_API: Final = ("kueue.x-k8s.io", "v1beta1", "LocalQueue", "localqueues")

# The label Kueue's ClusterQueue metrics name their queue by.
_CLUSTER_QUEUE_LABEL: Final = "cluster_queue"

# The documented variables naming the namespace a scheduler launches its task pods in.
LAUNCH_NAMESPACE_ENV: Final = frozenset(
    {"AIRFLOW__KUBERNETES_EXECUTOR__NAMESPACE", "AIRFLOW__KUBERNETES__NAMESPACE"}
)

# Namespaces of a controller's work checked for failing pods.
MAX_WORK_NAMESPACES: Final = 3

# The kinds whose pod template may run a task launcher.
LAUNCHER_KINDS: Final = ("Deployment", "StatefulSet")


def own_namespace(candidates: list[ObjectRef]) -> str | None:
    """The alert's namespace when the candidate targets begin with it (a namespace-wide
    alert, naming no object of its own); else None."""
    return candidates[0].name if candidates and candidates[0].kind == "Namespace" else None


def checked_namespaces(
    found: Iterable[str], own: str, may_take: Callable[[str], bool]
) -> list[str]:
    """The namespaces of the work to check for failing pods: ``found`` in order, once each,
    other than ``own`` and those the scope may not take, at most ``MAX_WORK_NAMESPACES``."""
    names = [n for n in dict.fromkeys(found) if n != own and may_take(n)]
    return names[:MAX_WORK_NAMESPACES]


def cluster_queues(alerts: list[Alert]) -> list[str]:
    """The Kueue ClusterQueues the alerts name, in order."""
    found: list[str] = []
    for alert in ordered_alerts(alerts):
        queue = label_value(alert.labels, _CLUSTER_QUEUE_LABEL)
        if queue is not None and queue not in found:
            found.append(queue)
    return found


def queue_namespaces(local_queues: Iterable[JsonDict], queues: list[str]) -> list[str]:
    """The namespaces of the LocalQueues that submit to one of ``queues``, sorted."""
    return sorted(
        {
            _ns(q)
            for q in local_queues
            if as_str(as_dict(q.get("spec")).get("clusterQueue")) in queues and _ns(q)
        }
    )


def launch_namespaces(workloads: Iterable[JsonDict], own: str) -> list[str]:
    """The other namespaces the workloads' containers are configured to launch task pods in
    (a literal value of ``LAUNCH_NAMESPACE_ENV``), sorted."""
    found: set[str] = set()
    for workload in workloads:
        template = as_dict(as_dict(workload.get("spec")).get("template"))
        for container in dicts(as_dict(template.get("spec")).get("containers")):
            for env in dicts(container.get("env")):
                value = as_str(env.get("value"))
                if env.get("name") in LAUNCH_NAMESPACE_ENV and value and value.strip() != own:
                    found.add(value.strip())
    return sorted(found)


def failing_elsewhere(
    own_pods: Iterable[JsonDict], elsewhere: Mapping[str, Iterable[JsonDict]]
) -> list[str]:
    """The namespaces of ``elsewhere`` (name -> its pods) with a pod failing now, when none of
    ``own_pods`` fails; empty when the alert's own namespace has a failing pod."""
    if any(failing_now(p) for p in own_pods):
        return []
    return [ns for ns, pods in elsewhere.items() if any(failing_now(p) for p in pods)]


def namespace_ref(namespace: str) -> ObjectRef:
    """A namespace as a candidate target."""
    return ObjectRef(kind="Namespace", name=namespace, api_version="v1")


def may_take(scope: Scope, namespace: str) -> bool:
    """Whether ``scope`` may read ``namespace`` and be about it: the ``may_take`` test of
    ``checked_namespaces`` for the collector and the snapshot alike."""
    return scope.may_read(namespace) and scope.may_target(namespace_ref(namespace))


def with_work_namespaces(candidates: list[ObjectRef], namespaces: list[str]) -> list[ObjectRef]:
    """``candidates`` with the work's namespaces before the first bare namespace (the
    controller's own), after any object an alert names itself."""
    if not namespaces or own_namespace(candidates) is None:
        return candidates
    return before_bare_namespace(candidates, [namespace_ref(ns) for ns in namespaces])

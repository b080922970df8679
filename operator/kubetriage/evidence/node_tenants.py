"""The workload on an alerted node that drives the node's resource, when one clearly does.

A node-level alert (CPU, memory, disk of one node, named by its address: ``instance_nodes``)
says which node is short of what, not why. An SRE then asks which tenant of that node uses up
what the alert names, and answers about that workload when the cluster says so plainly:

- the kubelet, evicting for the node's disk or memory, names one of the workload's containers
  as the largest user of that resource (``kubetriage.evictions``), on this node or another it
  runs on (its replicas write alike);
- the workload's HorizontalPodAutoscaler scales on the alert's resource (CPU or memory) and
  is held at its ``maxReplicas`` with more wanted (``ScalingLimited``/``TooManyReplicas``, or
  desired above the ceiling): its demand outgrew its ceiling, and its pods keep the nodes hot;
- for a node's network counters (its conntrack table filling, UDP receive buffer errors: the
  traffic its tenants take in), the workload short of the replicas it wants: its autoscaler
  held at its ceiling (whatever it scales on), or pods of it Pending because no node can take
  them. Its running pods carry the traffic of the missing ones, and the node's kernel counts it.

Exactly one tenant with such a sign is the answer; none or several leave the Node. The node
itself at fault (not Ready, or a problem condition of its own: the kernel, the runtime, the
network, as node-problem-detector reports them) keeps the Node too. Pure; the snapshot builder
and the live target walk both call ``node_tenant``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Final

from kubetriage.evictions import top_user_resource
from kubetriage.evidence.raw import as_int, as_time
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence
from kubetriage.models.incident import Alert
from kubetriage.models.objects import JsonDict, as_dict, dicts, pod_workload
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# The resource a node alert is about, from its name and summary (node-mixin, kube-prometheus
# and cloud agents' wording): disk first ("NodeFilesystem...", "ephemeral storage").
_RESOURCE_WORDS: Final = (
    ("disk", re.compile(r"(?i)(filesystem|disk|storage|inode)")),
    ("memory", re.compile(r"(?i)(memory|\bmem\b|oom)")),
    ("cpu", re.compile(r"(?i)(cpu|\bload\b|load.?average)")),
    ("network", re.compile(r"(?i)(conntrack|\budp\b|rcvbuf|receive.?buffer)")),
)
# Conditions every node reports; pressure is the symptom, not the node's own fault.
_ORDINARY_CONDITIONS: Final = frozenset({"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"})
# An eviction this long before the alert began is history, not this incident.
EVICTION_BEFORE_ONSET: Final = timedelta(hours=6)
# The resources an autoscaler's resource metrics can name, as node alerts name them.
_AUTOSCALED: Final = frozenset({"cpu", "memory"})


def alert_resource(alerts: Sequence[Alert] | Sequence[AlertEvidence]) -> str | None:
    """The node resource ("disk", "memory", "cpu", "network": its conntrack table or UDP
    receive buffers) the alerts are about, by the first alert's name and summary that names
    one; None for any other (an interface, the clock, a service's)."""
    for alert in alerts:
        text = f"{alert.labels.get('alertname', '')} {alert.annotations.get('summary', '')}"
        for resource, words in _RESOURCE_WORDS:
            if words.search(text):
                return resource
    return None


def node_at_fault(node: JsonDict) -> bool:
    """A node whose own state is the problem: not Ready, or a problem condition of its own
    (KernelDeadlock, ReadonlyFilesystem, NetworkUnavailable, ...) is True."""
    for condition in dicts(as_dict(node.get("status")).get("conditions")):
        kind, status = condition.get("type"), condition.get("status")
        if kind == "Ready" and status != "True":
            return True
        if kind not in _ORDINARY_CONDITIONS and status == "True":
            return True
    return False


def _eviction_time(pod: JsonDict) -> datetime | None:
    """When the kubelet evicted ``pod``: its DisruptionTarget condition's transition."""
    for condition in dicts(as_dict(pod.get("status")).get("conditions")):
        if condition.get("type") == "DisruptionTarget":
            return as_time(condition.get("lastTransitionTime"))
    return None


def _evicted_as_top_user(pod: JsonDict, resource: str, onset: datetime | None) -> bool:
    """The kubelet evicted ``pod`` for its node's ``resource``, naming its container as the
    largest user, not long before ``onset`` (or at any time after it)."""
    status = as_dict(pod.get("status"))
    if top_user_resource(str(status.get("message") or "")) != resource:
        return False
    at = _eviction_time(pod)
    return onset is None or at is None or at >= onset - EVICTION_BEFORE_ONSET


def _at_ceiling(autoscaler: JsonDict, resource: str | None) -> bool:
    """An autoscaler that scales on ``resource`` (any, for None) and is held at its
    maxReplicas with more replicas wanted."""
    spec, status = as_dict(autoscaler.get("spec")), as_dict(autoscaler.get("status"))
    scaled_on = {as_dict(m.get("resource")).get("name") for m in dicts(spec.get("metrics"))} or {
        "cpu"
    }  # autoscaling/v1: targetCPUUtilizationPercentage only
    ceiling = as_int(spec.get("maxReplicas"))
    current = as_int(status.get("currentReplicas"))
    if resource is not None and resource not in scaled_on:
        return False
    if ceiling is None or current is None or current < ceiling:
        return False
    limited = any(
        c.get("type") == "ScalingLimited"
        and c.get("status") == "True"
        and c.get("reason") == "TooManyReplicas"
        for c in dicts(status.get("conditions"))
    )
    desired = as_int(status.get("desiredReplicas"))
    return limited or (desired is not None and desired > ceiling)


def _unplaceable(pod: JsonDict) -> bool:
    """A Pending pod the scheduler found no node for (PodScheduled False, Unschedulable)."""
    status = as_dict(pod.get("status"))
    return status.get("phase") == "Pending" and any(
        c.get("type") == "PodScheduled"
        and c.get("status") == "False"
        and c.get("reason") == "Unschedulable"
        for c in dicts(status.get("conditions"))
    )


def _scaled(autoscaler: JsonDict) -> tuple[str, str, str]:
    ref = as_dict(as_dict(autoscaler.get("spec")).get("scaleTargetRef"))
    return str(ref.get("kind")), _ns(autoscaler), str(ref.get("name"))


def node_tenant(
    node: JsonDict,
    pods: Iterable[JsonDict],
    autoscalers: Iterable[JsonDict],
    alerts: Sequence[Alert],
) -> ObjectRef | None:
    """The one workload with pods on ``node`` that drives the alerts' resource (the module's
    signs), else None. ``pods`` are the node's pods and may hold the tenants' pods elsewhere
    (their evictions count); ``autoscalers`` the HPAs of the tenants' namespaces."""
    resource = alert_resource(alerts)
    if resource is None or node_at_fault(node):
        return None
    onset = min((a.starts_at for a in alerts if a.starts_at is not None), default=None)
    pods = list(pods)
    here = _name(node)
    tenants: dict[tuple[str, str, str], None] = {}
    for pod in pods:
        workload = pod_workload(pod)
        if workload is not None and as_dict(pod.get("spec")).get("nodeName") == here:
            tenants.setdefault((workload[0], _ns(pod), workload[1]), None)
    driving: set[tuple[str, str, str]] = set()
    if resource in ("disk", "memory"):
        for pod in pods:
            workload = pod_workload(pod)
            if workload is None:
                continue
            key = (workload[0], _ns(pod), workload[1])
            if key in tenants and _evicted_as_top_user(pod, resource, onset):
                driving.add(key)
    if resource in _AUTOSCALED:
        driving |= {
            key for a in autoscalers if (key := _scaled(a)) in tenants and _at_ceiling(a, resource)
        }
    if resource == "network":
        driving |= {
            key for a in autoscalers if (key := _scaled(a)) in tenants and _at_ceiling(a, None)
        }
        for pod in pods:
            owner = pod_workload(pod)
            if owner is None or not _unplaceable(pod):
                continue
            pending = (owner[0], _ns(pod), owner[1])
            if pending in tenants:
                driving.add(pending)
    if len(driving) != 1:
        return None
    kind, namespace, name = driving.pop()
    return ObjectRef(kind=kind, namespace=namespace, name=name, api_version="apps/v1")


# At most this many of the node's namespaces are read for their pods and autoscalers.
MAX_TENANT_NAMESPACES: Final = 4


def tenant_namespaces(node: str, pods: Iterable[JsonDict]) -> list[str]:
    """The namespaces of the pods on ``node`` whose workloads may drive it, those of
    Deployments' and StatefulSets' pods before the node agents' (DaemonSets), at most
    ``MAX_TENANT_NAMESPACES``: where their other pods and their autoscalers are read."""
    ranked: dict[str, bool] = {}
    for pod in pods:
        workload = pod_workload(pod)
        if workload is None or as_dict(pod.get("spec")).get("nodeName") != node:
            continue
        agent = workload[0] == "DaemonSet"
        ranked[_ns(pod)] = ranked.get(_ns(pod), True) and agent
    return sorted(ranked, key=lambda ns: (ranked[ns], ns))[:MAX_TENANT_NAMESPACES]

"""The node agents an incident's pods depend on without calling them, for the dependency walk
and the offline builder alike. Pure.

The CSI node plugin a pod's volume mount waits on:
A pod whose mount fails because the kubelet cannot reach a CSI driver on the pod's node
(``kubetriage.csi_errors``) waits on that node's plugin: the pod of a DaemonSet, on the same
node, that serves the driver (its registration path or its plugin directory on the host names
the driver, or its arguments do). That DaemonSet is followed like a callee, named by the
failing event, so what is wrong with it (its pod OOMKilled, crash-looping, not scheduled
there) is read like any dependency's trouble.

The node agent that changed before its node came under pressure: a node hosting the
incident's pods reports memory, disk or PID pressure, and a DaemonSet's pod there was replaced
shortly before the pressure began (its DaemonSet rolled out): that DaemonSet is followed,
named by the node and its condition, so its rollout can be weighed against draining the node.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from kubetriage.csi_errors import unreachable_csi_driver
from kubetriage.evidence.dependencies import ServiceHost, serving_daemonsets
from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.raw import as_time
from kubetriage.evidence.raw import dicts as _dicts
from kubetriage.models.objects import JsonDict, controller_ref


def csi_failing_nodes(
    lines: Iterable[tuple[str, str]], pods: Iterable[JsonDict]
) -> list[tuple[str, str, str]]:
    """(node, driver, event source) for each node where one of ``pods`` cannot mount because
    the kubelet there cannot reach a CSI driver, as its Warning events (``event_texts``:
    "event Pod/<name> <reason>") say; first source each."""
    nodes = {
        str(_d(p.get("metadata")).get("name")): node
        for p in pods
        if isinstance(node := _d(p.get("spec")).get("nodeName"), str) and node
    }
    found: dict[str, tuple[str, str]] = {}
    for source, line in lines:
        kind, _, rest = source.removeprefix("event ").partition("/")
        if not source.startswith("event ") or kind != "Pod":
            continue
        driver = unreachable_csi_driver(line)
        node = nodes.get(rest.partition(" ")[0])
        if driver and node:
            found.setdefault(node, (driver, source))
    return [(node, driver, source) for node, (driver, source) in found.items()]


def _serves_driver(pod: JsonDict, driver: str) -> bool:
    """A pod whose host paths or container arguments name the driver: its node plugin
    (``/var/lib/kubelet/plugins/<driver>``, ``--drivername=<driver>``)."""
    spec = _d(pod.get("spec"))
    paths = [str(_d(v.get("hostPath")).get("path") or "") for v in _dicts(spec.get("volumes"))]
    args = [
        str(a)
        for c in _dicts(spec.get("containers"))
        for a in [*(c.get("args") or []), *(c.get("command") or [])]
    ]
    return any(f"/{driver}" in p for p in paths) or any(driver in a for a in args)


def node_csi_hosts(
    pods: Iterable[JsonDict], failing: Sequence[tuple[str, str, str]]
) -> list[ServiceHost]:
    """The DaemonSets whose pods serve the unreachable CSI driver on the nodes where mounts
    fail (``failing``: ``csi_failing_nodes``), named by the failing event's source."""
    drivers = {node: driver for node, driver, _ in failing}
    sources = {node: source for node, _, source in failing}
    return serving_daemonsets(
        pods, sources, lambda pod, node: _serves_driver(pod, drivers[node]), port=None
    )


# The node conditions under which the kubelet evicts pods: something on the node uses up
# what the condition names.
_PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")
# A node agent replaced this long before its node came under pressure is "what changed on
# the node" (its DaemonSet rolled out); replaced earlier, it is the node's steady state.
AGENT_REPLACED_BEFORE = timedelta(hours=6)
# At most this many node agents are followed for a node under pressure.
MAX_AGENTS = 2


def pressured_nodes(
    nodes: Iterable[JsonDict], pods: Iterable[JsonDict]
) -> list[tuple[str, str, datetime]]:
    """(node, condition, since) for each node that hosts one of ``pods`` (running there or
    evicted from there) and reports a pressure condition, with when it began."""
    hosting = {n for p in pods if isinstance(n := _d(p.get("spec")).get("nodeName"), str)}
    found: list[tuple[str, str, datetime]] = []
    for node in nodes:
        name = _d(node.get("metadata")).get("name")
        if name not in hosting:
            continue
        for condition in _dicts(_d(node.get("status")).get("conditions")):
            since = as_time(condition.get("lastTransitionTime"))
            if condition.get("type") in _PRESSURES and condition.get("status") == "True" and since:
                found.append((str(name), str(condition["type"]), since))
                break
    return found


def node_agent_hosts(
    pods: Iterable[JsonDict], pressured: Sequence[tuple[str, str, datetime]]
) -> list[ServiceHost]:
    """The DaemonSets whose pods on the pressured nodes (``pressured_nodes``) were replaced
    shortly before their node came under pressure (within ``AGENT_REPLACED_BEFORE``): a
    node agent's new revision is what changed on those nodes. Those on most of the nodes
    first, at most ``MAX_AGENTS``; one host per node, named by the node and its condition."""
    when = {node: (condition, since) for node, condition, since in pressured}
    seen: dict[tuple[str, str], list[str]] = {}
    for pod in pods:
        node = _d(pod.get("spec")).get("nodeName")
        meta = _d(pod.get("metadata"))
        created = as_time(meta.get("creationTimestamp"))
        if not isinstance(node, str) or node not in when or created is None:
            continue
        condition, since = when[node]
        if not timedelta(0) <= since - created <= AGENT_REPLACED_BEFORE:
            continue
        owner = controller_ref(pod) or {}
        if owner.get("kind") == "DaemonSet" and isinstance(owner.get("name"), str):
            key = (str(meta.get("namespace")), owner["name"])
            seen.setdefault(key, []).append(f"node {node} {condition}")
    ranked = sorted(seen.items(), key=lambda kv: -len(kv[1]))[:MAX_AGENTS]
    return [
        ServiceHost(name=name, namespace=ns, port=None, source=source, kind="DaemonSet")
        for (ns, name), sources in ranked
        for source in sources
    ]

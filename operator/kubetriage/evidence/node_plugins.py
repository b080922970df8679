"""The CSI node plugin a pod's volume mount waits on, for the dependency walk and the offline
builder alike. Pure.

A pod whose mount fails because the kubelet cannot reach a CSI driver on the pod's node
(``kubetriage.csi_errors``) waits on that node's plugin: the pod of a DaemonSet, on the same
node, that serves the driver (its registration path or its plugin directory on the host names
the driver, or its arguments do). That DaemonSet is followed like a callee, named by the
failing event, so what is wrong with it (its pod OOMKilled, crash-looping, not scheduled
there) is read like any dependency's trouble.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from kubetriage.csi_errors import unreachable_csi_driver
from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.models.objects import JsonDict


def _d(value: Any) -> JsonDict:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[JsonDict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


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
    wanted = {node: (driver, source) for node, driver, source in failing}
    found: list[ServiceHost] = []
    for pod in pods:
        node = _d(pod.get("spec")).get("nodeName")
        if not isinstance(node, str) or node not in wanted:
            continue
        driver, source = wanted[node]
        if not _serves_driver(pod, driver):
            continue
        meta = _d(pod.get("metadata"))
        for owner in _dicts(meta.get("ownerReferences")):
            if owner.get("kind") != "DaemonSet" or not isinstance(owner.get("name"), str):
                continue
            host = ServiceHost(
                name=owner["name"],
                namespace=str(meta.get("namespace")),
                port=None,
                source=source,
                kind="DaemonSet",
            )
            if all((h.name, h.namespace) != (host.name, host.namespace) for h in found):
                found.append(host)
    return found

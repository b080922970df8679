"""The node agents sharing the nodes of an incident whose pods are healthy. Pure; the
dependency walk and the offline builder both call these.

When the alerted pods run and are ready, yet the alert says their requests fail or slow
down, an SRE looks at what else runs on exactly their nodes: a DaemonSet's pod there is what
they share with nothing else.

- A host-network agent that does not run there (it crash-loops, is OOMKilled, is not ready):
  the node's network path (a node-local L7 proxy, a CNI agent, kube-proxy) carries the pods'
  traffic, so requests fail in front of pods that serve every request they receive.
- An agent whose pods there were all replaced shortly before the alert began, while the
  incident's pods were not: the one thing that changed under them (a new revision that takes
  the nodes' CPU or memory); the analyzers weigh it against what the nodes' own series say.
- When the alert says the pods' logs are absent from the log backend (``logs_absent``), the
  log shipper on their nodes (Fluent Bit, Fluentd, Promtail, Vector, Alloy, Filebeat): the
  pods write, the agent tailing their files is what loses or cannot label the lines.

Each is followed like a callee, named by the node (``NODE_NEIGHBOUR_SOURCE``), so its trouble
and its rollout are read like a dependency's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.evidence.dependency_summary import pod_trouble
from kubetriage.evidence.node_hosts import serving_daemonsets
from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.raw import as_time
from kubetriage.models.images import repository_name
from kubetriage.models.naming import route_source
from kubetriage.models.objects import JsonDict, controller_ref
from kubetriage.models.relations import DependencyRoute

NODE_NEIGHBOUR_SOURCE: Final = "node neighbour"
# An agent's pod created this long before the alert began counts as replaced before it (the
# alert fires some minutes after its condition began: a ``for`` clause, a rate window).
REPLACED_BEFORE_ALERT: Final = timedelta(hours=1)
# An alert (its name) that the workload's log lines stopped arriving in the log backend.
_LOGS_ABSENT: Final = re.compile(r"Logs?(?:Absent|Missing|NotReceived|Stopped)(?![a-z])")
# The log shippers' image repositories (``aws-for-fluent-bit``, ``fluent-bit``, ``promtail``).
_LOG_SHIPPER: Final = re.compile(
    r"(?:^|-)(?:fluent-?bit|fluentd|promtail|vector|alloy|grafana-agent|filebeat)(?:$|-)"
)


def logs_absent(alert_labels: Sequence[Mapping[str, str]]) -> bool:
    """Whether an alert says the workload's logs are absent from the log backend."""
    return any(_LOGS_ABSENT.search(labels.get("alertname", "")) for labels in alert_labels)


def _ships_logs(pod: JsonDict) -> bool:
    return any(
        _LOG_SHIPPER.search(repository_name(str(c.get("image") or "")))
        for c in _d(pod.get("spec")).get("containers") or []
        if isinstance(c, dict)
    )


def healthy_nodes(pods: Iterable[JsonDict]) -> list[str]:
    """The nodes of ``pods`` when every one of them is scheduled, runs and is ready (the
    incident's trouble is not in its pods); otherwise none."""
    pods = list(pods)
    nodes: list[str] = []
    for pod in pods:
        node = _d(pod.get("spec")).get("nodeName")
        if not isinstance(node, str) or not node or pod_trouble(pod) is not None:
            return []
        if _d(pod.get("status")).get("phase") != "Running":
            return []
        if node not in nodes:
            nodes.append(node)
    return nodes


def _daemon(pod: JsonDict) -> bool:
    return (controller_ref(pod) or {}).get("kind") == "DaemonSet"


def _failing_proxy(pod: JsonDict) -> bool:
    """A host-network pod that does not run and is ready."""
    return _d(pod.get("spec")).get("hostNetwork") is True and pod_trouble(pod) is not None


def node_neighbour_hosts(
    pods: Iterable[JsonDict],
    nodes: list[str],
    alert_start: datetime | None,
    alert_labels: Sequence[Mapping[str, str]] = (),
) -> list[ServiceHost]:
    """The DaemonSets whose pods on ``nodes`` (``healthy_nodes``) are host-network pods that
    do not run (or ship the pods' logs, when the alert says they are absent: ``logs_absent``),
    and those whose pods on every one of ``nodes`` were created within
    ``REPLACED_BEFORE_ALERT`` before ``alert_start``, each once, named by its first node."""
    if not nodes:
        return []
    pods = [p for p in pods if _daemon(p) and _d(p.get("spec")).get("nodeName") in nodes]
    sources = {node: route_source(f"{NODE_NEIGHBOUR_SOURCE} on node {node}") for node in nodes}
    routes = {node: DependencyRoute(kind="node-neighbour", node=node) for node in nodes}
    shipping = logs_absent(alert_labels)
    found = serving_daemonsets(
        pods,
        sources,
        lambda pod, _node: _failing_proxy(pod) or (shipping and _ships_logs(pod)),
        None,
        routes,
    )
    if alert_start is None:
        return found
    replaced: dict[tuple[str, str], set[str]] = {}
    spread: dict[tuple[str, str], set[str]] = {}
    for pod in pods:
        meta = _d(pod.get("metadata"))
        key = (str(meta.get("namespace")), str((controller_ref(pod) or {}).get("name")))
        node = str(_d(pod.get("spec")).get("nodeName"))
        spread.setdefault(key, set()).add(node)
        created = as_time(meta.get("creationTimestamp"))
        if created is not None and timedelta(0) <= alert_start - created <= REPLACED_BEFORE_ALERT:
            replaced.setdefault(key, set()).add(node)
    fresh = [
        pod
        for pod in pods
        if (
            key := (
                str(_d(pod.get("metadata")).get("namespace")),
                str((controller_ref(pod) or {}).get("name")),
            )
        )
        in replaced
        and replaced[key] == spread[key] == set(nodes)
    ]
    for host in serving_daemonsets(fresh, sources, lambda _pod, _node: True, None, routes):
        if all((h.name, h.namespace) != (host.name, host.namespace) for h in found):
            found.append(host)
    return found

"""The node agent a pod talks to through a directory of its node: a pod that mounts a host
directory another DaemonSet's pod on the same node also mounts shares files with that agent,
in practice the Unix socket it serves (a workload identity agent's Workload API, an APM or
StatsD agent, a secrets or certificate agent). When the pod's own log lines report trouble
(a line at warning level or above), the agent behind that socket on its node is followed like
a callee, named by the shared directory: what is wrong with the agent (its pod failing, or
its own errors naming the server it cannot work with) is read like a dependency's trouble.
Directories every node agent and many workloads mount for other reasons (the host's root,
``/proc``, ``/sys``, ``/dev``, ``/etc``, the logs, the container runtime's and the kubelet's
state) share nothing in particular and are never a reason. Pure; the dependency walk and the
offline builder both call these.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.evidence.log_levels import warns
from kubetriage.evidence.node_hosts import pod_nodes, serving_daemonsets, source_node
from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.raw import dicts as _dicts
from kubetriage.models.naming import NamingSource, route_source
from kubetriage.models.objects import JsonDict

HOST_DIRECTORY_SOURCE: Final = "host directory"
# Host paths mounted for what the node itself is, not to talk to one agent: sharing one (or
# a directory above one) is no reason to follow anything.
_SYSTEM_PATHS: Final = frozenset(
    {
        "/",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib/modules",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sys",
        "/tmp",
        "/usr",
        "/var",
        "/var/lib",
        "/var/lib/containerd",
        "/var/lib/docker",
        "/var/lib/docker/containers",
        "/var/lib/kubelet",
        "/var/lib/kubelet/pods",
        "/var/log",
        "/var/log/containers",
        "/var/log/pods",
        "/var/run",
        "/run/containerd",
        "/var/run/containerd",
        "/run/crio",
        "/var/run/crio",
    }
)


def _norm(path: str) -> str:
    return "/" + path.strip("/") if path.strip("/") else "/"


def host_directories(pod: JsonDict) -> list[str]:
    """The host paths the pod's volumes mount that are not the node's own system paths."""
    paths = (
        _norm(str(_d(v.get("hostPath")).get("path") or ""))
        for v in _dicts(_d(pod.get("spec")).get("volumes"))
        if v.get("hostPath")
    )
    return [p for p in paths if p not in _SYSTEM_PATHS and not p.startswith("/proc/")]


def _shared(mine: str, theirs: str) -> bool:
    """The same directory, or one inside the other (below the system paths)."""
    return mine == theirs or mine.startswith(theirs + "/") or theirs.startswith(mine + "/")


def socket_failing_nodes(
    lines: Iterable[tuple[NamingSource, str]], pods: Iterable[JsonDict]
) -> list[tuple[str, list[str], NamingSource]]:
    """(node, the host directories its pod mounts, log source) for each node where one of
    ``pods`` that mounts a host directory logs a line at warning level or above; the first
    such line each."""
    pods = list(pods)
    nodes = pod_nodes(pods)
    directories = {
        (str(_d(p.get("metadata")).get("namespace")), str(_d(p.get("metadata")).get("name"))): d
        for p in pods
        if (d := host_directories(p))
    }
    found: dict[str, tuple[list[str], NamingSource]] = {}
    for source, line in lines:
        node = source_node(source, nodes)
        key = (str(source.namespace), str(source.pod))
        if node is None or key not in directories or not warns(line):
            continue
        found.setdefault(node, (directories[key], source))
    return [(node, dirs, source) for node, (dirs, source) in found.items()]


def node_socket_hosts(
    pods: Iterable[JsonDict], failing: Sequence[tuple[str, list[str], NamingSource]]
) -> list[ServiceHost]:
    """The DaemonSets whose pods on the nodes of ``failing`` (``socket_failing_nodes``) mount
    a host directory the failing pod there mounts too, named by that directory and the node."""
    wanted = {node: dirs for node, dirs, _ in failing}
    sources = {
        node: route_source(f"{HOST_DIRECTORY_SOURCE} {dirs[0]} of node {node}: {source.text}")
        for node, dirs, source in failing
    }

    def serves(pod: JsonDict, node: str) -> bool:
        return any(_shared(m, t) for m in wanted[node] for t in host_directories(pod))

    return serving_daemonsets(pods, sources, serves, port=None)

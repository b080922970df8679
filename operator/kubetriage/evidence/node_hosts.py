"""Node agents followed like callees: the DaemonSets whose pods serve what fails on the nodes
where it fails (``serving_daemonsets``), among them the node's own DNS cache when the pods of
a node say their resolver failed (``resolver_failing_nodes``, ``node_dns_hosts``), and the
agents that program a node's network (kube-proxy, the CNI agent: host-network DaemonSet pods)
when they do not run on the nodes whose pods cannot connect while the workload's pods on
other nodes can (``connect_failing_nodes``, ``node_network_hosts``): a Service's virtual IP
answers from a node only as its agent last programmed it, so calls from that node time out
or are refused whatever the callee does. And the device plugin of nodes meant for pending pods
that advertise none of the device those pods request (``device_starved_nodes``,
``node_device_plugin_hosts``): a node counts a device (``nvidia.com/gpu``) only once its
plugin registers it with the kubelet, so a plugin pod that cannot start there leaves the node
without it, however many the machine has. Pure functions over raw objects; the dependency walk
and the offline builder both call them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

from kubetriage.dns_errors import DNS_RESOLVER_FAILURE
from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.evidence.dependency_summary import pod_trouble
from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.raw import dicts as _dicts
from kubetriage.models.naming import NamingSource, route_source
from kubetriage.models.objects import JsonDict, controller_ref
from kubetriage.models.objects import meta as _meta
from kubetriage.models.relations import (
    DEVICE_PLUGIN_SOURCE,
    NODE_NETWORK_SOURCE,
    DependencyRoute,
)

# A call that could not connect to the address it dialled (no answer, refused, no route):
# Go's dial errors, Node.js's and the JVM's socket errors, PHP's stream and mysqlnd errors
# ("Connection timed out [tcp://host:port]", "SQLSTATE[HY000] [2002] Connection refused"),
# Python's socket errno text, redis-rb's "Connection timed out connecting to host:port". A
# Service's virtual IP that a node's rules do not (or no longer) map to a ready endpoint
# fails this way from that node.
CONNECT_FAILURE: Final = re.compile(
    r"(?i)dial tcp [^\s\"]+: (?:i/o timeout|connect: (?:connection refused|no route to host"
    r"|connection timed out))"
    r"|\bconnect (?:ETIMEDOUT|ECONNREFUSED|EHOSTUNREACH) [\d.]+:\d+"
    r"|java\.net\.(?:SocketTimeoutException: connect timed out|NoRouteToHostException"
    r"|ConnectException: Connection refused)"
    r"|Connection (?:timed out|refused) \[(?:tcp|tls|ssl)://[^\]\s]+\]"
    r"|\[2002\] Connection (?:timed out|refused)"
    r"|\[Errno 11[013]\] (?:Connection timed out|Connection refused|No route to host)"
    r"|Connection (?:timed out|refused) connecting to [\w.-]+:\d+"
)


def pod_nodes(pods: Iterable[JsonDict]) -> dict[tuple[str, str], str]:
    """(namespace, pod) -> the node each scheduled pod runs on."""
    return {
        (str(_meta(p).get("namespace")), str(_meta(p).get("name"))): node
        for p in pods
        if isinstance(node := _d(p.get("spec")).get("nodeName"), str) and node
    }


def _failing_nodes(
    lines: Iterable[tuple[NamingSource, str]],
    nodes: Mapping[tuple[str, str], str],
    failure: re.Pattern[str],
) -> dict[str, NamingSource]:
    """Node -> the first source of the pods' own log lines there that ``failure`` matches."""
    found: dict[str, NamingSource] = {}
    for source, line in lines:
        if failure.search(line) and (node := source_node(source, nodes)) is not None:
            found.setdefault(node, source)
    return found


def resolver_failing_nodes(
    lines: Iterable[tuple[NamingSource, str]], pods: Iterable[JsonDict]
) -> list[tuple[str, NamingSource]]:
    """(node, log source) of each node whose pods' own log lines say the resolver failed
    (EAI_AGAIN, SERVFAIL, a lookup timeout), first source each."""
    return list(_failing_nodes(lines, pod_nodes(pods), DNS_RESOLVER_FAILURE).items())


def connect_failing_nodes(
    lines: Iterable[tuple[NamingSource, str]], pods: Iterable[JsonDict]
) -> list[tuple[str, NamingSource]]:
    """(node, log source) of each node whose pods' own log lines say a connection could not be
    made (``CONNECT_FAILURE``), only when some of the pods run on other nodes whose logs were
    read and say no such thing: the failure then follows the node, not the callee. Empty
    when every node's pods fail alike (a callee down fails them all)."""
    nodes = pod_nodes(pods)
    found = _failing_nodes(lines, nodes, CONNECT_FAILURE)
    read = {n for source, _ in lines if (n := source_node(source, nodes)) is not None}
    return list(found.items()) if read - set(found) else []


def source_node(source: NamingSource, nodes: Mapping[tuple[str, str], str]) -> str | None:
    """The node of the pod whose log line ``source`` is, if it is one of ``nodes``' pods."""
    if source.kind != "log" or source.namespace is None or source.pod is None:
        return None
    return nodes.get((source.namespace, source.pod))


def _serves_dns(pod: JsonDict) -> bool:
    """A pod on the node's own network that listens on port 53: the node's DNS cache
    (NodeLocal DNSCache's node-cache, a per-node CoreDNS or dnsmasq)."""
    spec = _d(pod.get("spec"))
    return spec.get("hostNetwork") is True and any(
        port.get("containerPort") == 53
        for container in _dicts(spec.get("containers"))
        for port in _dicts(container.get("ports"))
    )


def serving_daemonsets(
    pods: Iterable[JsonDict],
    sources: Mapping[str, NamingSource],
    serves: Callable[[JsonDict, str], bool],
    port: int | None,
    routes: Mapping[str, DependencyRoute] | None = None,
) -> list[ServiceHost]:
    """The DaemonSets whose pods on the nodes of ``sources`` (node -> the evidence line that
    named it) serve what fails there (``serves(pod, node)``), each once, named by its node's
    line (and reached by its node's ``routes``, if any): a node agent is followed like a
    callee, so what is wrong with it is read like any dependency's trouble."""
    found: list[ServiceHost] = []
    for pod in pods:
        node = _d(pod.get("spec")).get("nodeName")
        if not isinstance(node, str) or node not in sources or not serves(pod, node):
            continue
        owner = controller_ref(pod) or {}
        if owner.get("kind") == "DaemonSet" and isinstance(owner.get("name"), str):
            host = ServiceHost(
                name=owner["name"],
                namespace=str(_meta(pod).get("namespace")),
                port=port,
                source=sources[node],
                kind="DaemonSet",
                route=(routes or {}).get(node),
            )
            if all((h.name, h.namespace) != (host.name, host.namespace) for h in found):
                found.append(host)
    return found


def node_dns_hosts(
    pods: Iterable[JsonDict], failing: Sequence[tuple[str, NamingSource]]
) -> list[ServiceHost]:
    """The DaemonSets whose pods serve DNS on the nodes where lookups fail (``failing``:
    ``resolver_failing_nodes``): pods of a node resolve through its cache before the cluster
    DNS, so the cache on that node is the suspect, named by the failing line's source."""
    return serving_daemonsets(pods, dict(failing), lambda pod, _node: _serves_dns(pod), 53)


def _programs_node_network(pod: JsonDict) -> bool:
    """A pod on the node's own network that does not run and is ready: a node agent (kube-proxy,
    a CNI agent) that is not programming its node's Service and pod routes."""
    return _d(pod.get("spec")).get("hostNetwork") is True and pod_trouble(pod) is not None


def node_network_hosts(
    pods: Iterable[JsonDict], failing: Sequence[tuple[str, NamingSource]]
) -> list[ServiceHost]:
    """The DaemonSets whose host-network pods do not run on the nodes where the workload's
    pods cannot connect while its pods elsewhere can (``failing``: ``connect_failing_nodes``):
    the agent that programs those nodes' Service rules is the suspect, named by the node and
    the failing line's source (``NODE_NETWORK_SOURCE``)."""
    sources = {
        node: route_source(f"{NODE_NETWORK_SOURCE} of node {node}: {source.text}")
        for node, source in failing
    }
    routes = {
        node: DependencyRoute(kind="node-network", node=node, seen_in=source)
        for node, source in failing
    }
    return serving_daemonsets(
        pods, sources, lambda pod, _node: _programs_node_network(pod), None, routes
    )


# The scheduler's words for a resource no node it considered has enough of.
_INSUFFICIENT: Final = re.compile(r"Insufficient (?P<resource>[\w.-]+/[\w./-]*\w)")
# Where device plugins register with the kubelet: a pod mounting it from the host is one.
_DEVICE_PLUGIN_DIR: Final = "/var/lib/kubelet/device-plugins"


def _requested(pod: JsonDict) -> set[str]:
    """The extended resources (``vendor.domain/name``) the pod's containers request."""
    return {
        str(name)
        for c in _dicts(_d(pod.get("spec")).get("containers"))
        for part in ("requests", "limits")
        for name, value in _d(_d(c.get("resources")).get(part)).items()
        if "/" in str(name) and str(value) not in ("", "0")
    }


def _usable(node: JsonDict, selector: Mapping[str, object]) -> bool:
    """A Ready, schedulable node whose labels satisfy ``selector``."""
    labels = _d(_meta(node).get("labels"))
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in _dicts(_d(node.get("status")).get("conditions"))
    )
    return (
        ready
        and _d(node.get("spec")).get("unschedulable") is not True
        and all(labels.get(k) == v for k, v in selector.items())
    )


def device_starved_nodes(
    pods: Iterable[JsonDict], nodes: Sequence[JsonDict]
) -> list[tuple[str, str]]:
    """(node, resource) for each Ready, schedulable node a pending pod's node selector allows
    that advertises none (no allocatable, or zero) of an extended resource the pod requests
    and the scheduler finds insufficient: whatever registers that device there is not."""
    found: dict[str, str] = {}
    for pod in pods:
        status = _d(pod.get("status"))
        if status.get("phase") != "Pending":
            continue
        said = " ".join(
            str(c.get("message") or "")
            for c in _dicts(status.get("conditions"))
            if c.get("type") == "PodScheduled" and c.get("status") == "False"
        )
        short = {m["resource"] for m in _INSUFFICIENT.finditer(said)} & _requested(pod)
        selector = _d(_d(pod.get("spec")).get("nodeSelector"))
        for resource in sorted(short):
            for node in nodes:
                free = _d(_d(node.get("status")).get("allocatable")).get(resource)
                if _usable(node, selector) and str(free or "0") == "0":
                    found.setdefault(str(_meta(node).get("name")), resource)
    return list(found.items())


def _registers_devices(pod: JsonDict) -> bool:
    """A pod that mounts the kubelet's device-plugin directory from its host (a device
    plugin) and does not run and is ready there."""
    paths = [
        str(_d(v.get("hostPath")).get("path") or "")
        for v in _dicts(_d(pod.get("spec")).get("volumes"))
    ]
    return any(p.rstrip("/") == _DEVICE_PLUGIN_DIR for p in paths) and pod_trouble(pod) is not None


def node_device_plugin_hosts(
    pods: Iterable[JsonDict], starved: Sequence[tuple[str, str]]
) -> list[ServiceHost]:
    """The DaemonSets whose device-plugin pods do not run on the nodes that advertise none of
    the device the workload's pending pods request (``starved``: ``device_starved_nodes``),
    named by the node and the resource (``DEVICE_PLUGIN_SOURCE``)."""
    sources = {
        node: route_source(f"{DEVICE_PLUGIN_SOURCE} of node {node}: advertises no {resource}")
        for node, resource in starved
    }
    routes = {
        node: DependencyRoute(kind="device-plugin", node=node, resource=resource)
        for node, resource in starved
    }
    return serving_daemonsets(
        pods, sources, lambda pod, _node: _registers_devices(pod), None, routes
    )

"""Node agents followed like callees: the DaemonSets whose pods serve what fails on the nodes
where it fails (``serving_daemonsets``), among them the node's own DNS cache when the pods of
a node say their resolver failed (``resolver_failing_nodes``, ``node_dns_hosts``). Pure
functions over raw objects; the dependency walk and the offline builder both call them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from kubetriage.dns_errors import DNS_RESOLVER_FAILURE
from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.raw import dicts as _dicts
from kubetriage.models.objects import JsonDict, controller_ref
from kubetriage.models.objects import meta as _meta


def resolver_failing_nodes(
    lines: Iterable[tuple[str, str]], pods: Iterable[JsonDict]
) -> list[tuple[str, str]]:
    """(node, log source) of each node whose pods' own log lines (``log ns/pod/container``)
    say the resolver failed (EAI_AGAIN, SERVFAIL, a lookup timeout), first source each."""
    nodes = {
        (str(_meta(p).get("namespace")), str(_meta(p).get("name"))): node
        for p in pods
        if isinstance(node := _d(p.get("spec")).get("nodeName"), str) and node
    }
    found: dict[str, str] = {}
    for source, line in lines:
        if not source.startswith("log ") or not DNS_RESOLVER_FAILURE.search(line):
            continue
        namespace, _, rest = source.removeprefix("log ").partition("/")
        node = nodes.get((namespace, rest.partition("/")[0]))
        if node is not None:
            found.setdefault(node, source)
    return list(found.items())


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
    sources: Mapping[str, str],
    serves: Callable[[JsonDict, str], bool],
    port: int | None,
) -> list[ServiceHost]:
    """The DaemonSets whose pods on the nodes of ``sources`` (node -> the evidence line that
    named it) serve what fails there (``serves(pod, node)``), each once, named by its node's
    line: a node agent is followed like a callee, so what is wrong with it is read like any
    dependency's trouble."""
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
            )
            if all((h.name, h.namespace) != (host.name, host.namespace) for h in found):
                found.append(host)
    return found


def node_dns_hosts(
    pods: Iterable[JsonDict], failing: Sequence[tuple[str, str]]
) -> list[ServiceHost]:
    """The DaemonSets whose pods serve DNS on the nodes where lookups fail (``failing``:
    ``resolver_failing_nodes``): pods of a node resolve through its cache before the cluster
    DNS, so the cache on that node is the suspect, named by the failing line's source."""
    return serving_daemonsets(pods, dict(failing), lambda pod, _node: _serves_dns(pod), 53)

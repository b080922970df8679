"""The node agent a pod's calls to a link-local address reach: pods ask some services of
their own node at a link-local address (169.254.0.0/16) that a host-network DaemonSet pod on
that node answers: the EKS Pod Identity agent's credentials endpoint (169.254.170.23), a
credentials or metadata proxy, a node-local cache. When the pods' own log lines say such an
address cannot be reached, the suspect is the agent serving it on their node, not a remote
dependency: its pod there is followed like a callee (its rollout, its crash loop are read
like any dependency's), named by the failing line. The cloud's own instance metadata address
(169.254.169.254) is answered by the hypervisor unless an agent's spec names it, so only an
agent that names it is followed for it. Pure; the dependency walk and the offline builder
both call these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.evidence.node_hosts import pod_nodes, serving_daemonsets, source_node
from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.raw import dicts as _dicts
from kubetriage.models.naming import NamingSource
from kubetriage.models.objects import JsonDict

# A link-local IPv4 address with its port, as a URL or host:port names it.
_LINK_LOCAL: Final = re.compile(
    r"(?<![\d.])(?P<host>169\.254\.\d{1,3}\.\d{1,3})(?::(?P<port>\d{1,5}))?(?![\d.])"
)
# The words of a call that could not reach its address (not an error the server returned).
_UNREACHED: Final = re.compile(
    r"(?i)(could not connect|connection refused|ECONNREFUSED|ETIMEDOUT|connect: |"
    r"timed? ?out|no route to host|failed to establish a new connection|connection reset)"
)
# The cloud's instance metadata service: the hypervisor's, unless an agent names it.
CLOUD_METADATA: Final = "169.254.169.254"


def link_local_failing_nodes(
    lines: Iterable[tuple[NamingSource, str]], pods: Iterable[JsonDict]
) -> list[tuple[str, str, int, NamingSource]]:
    """(node, address, port, log source) for each node whose pods' own log lines fail to
    reach a link-local address; the first such line each. A URL without a port is taken as
    port 80."""
    nodes = pod_nodes(pods)
    found: dict[str, tuple[str, int, NamingSource]] = {}
    for source, line in lines:
        if not _UNREACHED.search(line):
            continue
        match = _LINK_LOCAL.search(line)
        if match is None:
            continue
        node = source_node(source, nodes)
        if node is not None:
            found.setdefault(node, (match["host"], int(match["port"] or 80), source))
    return [(node, host, port, source) for node, (host, port, source) in found.items()]


def _names(pod: JsonDict, address: str) -> bool:
    """Whether the pod's containers name the address in their command, args or env."""
    for container in _dicts(_d(pod.get("spec")).get("containers")):
        words = [*(container.get("command") or []), *(container.get("args") or [])]
        words += [str(e.get("value") or "") for e in _dicts(container.get("env"))]
        if any(address in str(w) for w in words):
            return True
    return False


def _serves(pod: JsonDict, address: str, port: int) -> bool:
    """A host-network pod that names the address, or (for any address but the cloud's
    metadata service) declares the port in its containers."""
    spec = _d(pod.get("spec"))
    if spec.get("hostNetwork") is not True:
        return False
    if _names(pod, address):
        return True
    return address != CLOUD_METADATA and any(
        port in (p.get("containerPort"), p.get("hostPort"))
        for container in _dicts(spec.get("containers"))
        for p in _dicts(container.get("ports"))
    )


def node_link_local_hosts(
    pods: Iterable[JsonDict], failing: Sequence[tuple[str, str, int, NamingSource]]
) -> list[ServiceHost]:
    """The DaemonSets whose host-network pods serve the unreached link-local address on the
    nodes where the calls fail (``failing``: ``link_local_failing_nodes``), named by the
    failing line's source."""
    wanted = {node: (host, port) for node, host, port, _ in failing}
    sources = {node: source for node, _, _, source in failing}
    return serving_daemonsets(
        pods, sources, lambda pod, node: _serves(pod, *wanted[node]), port=None
    )

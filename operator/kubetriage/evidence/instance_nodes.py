"""The Node a node agent's alert is about when its scrape ``instance`` is an address.

node_exporter (and every agent that runs in the host's network namespace) is scraped at the
node's own address, so its alerts name the node only by ``instance`` = "<InternalIP>:9100";
their ``namespace`` and ``pod`` labels are the exporter's, the scrape target, not the subject.
An ordinary pod has an address of its own, distinct from every node's: an ``instance`` that is
exactly one node's address (``status.addresses``) therefore names that node. kube-prometheus
relabels the exporter's ``instance`` to the node's name instead (from the pod's node name): an
``instance`` whose host is exactly one Node's name names that node too; a host name no Node
bears names none. Pure; used by ``target_walk`` (the live collection) and the snapshot
builder alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from ipaddress import ip_address

from kubetriage.evidence.label_vocabulary import label_value
from kubetriage.evidence.targets import candidate_targets, ordered_alerts
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.objects import JsonDict, as_dict

# A DNS host name as Kubernetes names Nodes (RFC 1123 subdomain).
_HOST_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _address(value: str) -> str | None:
    """The host an ``instance`` value names, its port dropped: an IP address
    ("10.0.3.12:9100", "[fd00::1]:9100") or a host name ("ip-10-0-3-12.ec2.internal:9100",
    "w2"), as a Node could be named; None for a URL or anything else."""
    if "/" in value:
        return None
    if value.startswith("[") and "]" in value:
        host = value[1 : value.index("]")]
    else:
        host = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    try:
        return str(ip_address(host))
    except ValueError:
        return host if _HOST_NAME.fullmatch(host) else None


def instance_addresses(alerts: list[Alert]) -> list[str]:
    """The hosts (IP addresses or host names) the alerts' ``instance`` labels name, each once,
    for the alerts that name no node by label (a ``node`` label already says which one)."""
    found: list[str] = []
    for alert in ordered_alerts(alerts):
        labels = alert.labels
        if label_value(labels, "node") or label_value(labels, "k8s_node_name"):
            continue
        address = _address(label_value(labels, "instance") or "")
        if address is not None and address not in found:
            found.append(address)
    return found


def node_addresses(node: JsonDict) -> list[str]:
    """A Node's ``status.addresses`` (InternalIP, ExternalIP), as strings."""
    listed = as_dict(node.get("status")).get("addresses")
    return [
        str(a.get("address"))
        for a in (listed if isinstance(listed, list) else [])
        if isinstance(a, dict) and isinstance(a.get("address"), str)
    ]


def node_at(nodes: Iterable[JsonDict], addresses: list[str]) -> ObjectRef | None:
    """The one Node that owns the first of ``addresses`` it can be told by (one of its
    ``status.addresses``, or its name); None when no node (or more than one) carries it."""
    listed = list(nodes)
    for address in addresses:
        owners = [
            n
            for n in listed
            if address in node_addresses(n) or as_dict(n.get("metadata")).get("name") == address
        ]
        if len(owners) == 1:
            name = as_dict(owners[0].get("metadata")).get("name")
            if isinstance(name, str) and name:
                return ObjectRef(kind="Node", name=name, api_version="v1")
    return None


def own_target(target: ObjectRef | None, alerts: list[Alert]) -> bool:
    """Whether ``target`` was set by the Incident itself rather than taken from what the
    alerts' labels name (the pipeline hands the collector the first candidate as its target):
    an Incident's own object target is never replaced."""
    if target is None or target.kind == "Namespace":
        return False
    return not any(target.same_object(c) for c in candidate_targets(None, alerts))


def with_instance_node(candidates: list[ObjectRef], node: ObjectRef | None) -> list[ObjectRef]:
    """``candidates`` with the Node the alerts' ``instance`` names first: the alert's own
    namespace and pod labels are the agent's (the scrape target), not the subject."""
    if node is None:
        return candidates
    return [node, *(c for c in candidates if not c.same_object(node))]

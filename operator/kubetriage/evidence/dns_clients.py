"""The client workloads whose releases changed how their pods resolve names, read when the
incident's workload is the cluster's DNS server (CoreDNS or kube-dns: the ``k8s-app:
kube-dns`` label every distribution keeps, or its image). Every pod with the default
``dnsPolicy`` asks it, and a pod's DNS settings (``dnsPolicy``, ``dnsConfig``: the ``ndots``
option, searches) decide how many queries each lookup costs: a release that drops an
``ndots:1`` override sends every outside name through the whole search path first, five
queries answered NXDOMAIN before the real one. One client's release multiplies the server's
load; an SRE asks "who changed their DNS settings just before?" before raising its limits.

Pure; the collector (``kubetriage.evidence.dns_client_walk``) reads the most recently
rolled-out Deployments of every namespace with their ReplicaSets, and ``build_evidence``
summarises those whose rollouts changed DNS settings (``dns_client_summaries``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.callers import last_rollout, owned_history
from kubetriage.evidence.changes import recent_rollouts
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.raw import as_dict, dicts
from kubetriage.evidence.triggers import pod_template
from kubetriage.models.base import ObjectRef
from kubetriage.models.images import repository_name
from kubetriage.models.neighbours import DnsClientEvidence
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# The label the cluster DNS server's pods carry (CoreDNS kept kube-dns's), and its images.
DNS_SERVER_LABEL: Final = ("k8s-app", "kube-dns")
_DNS_SERVER_IMAGES: Final = frozenset({"coredns", "k8s-dns-kube-dns"})
# The aspect of a rollout that changed the pods' DNS settings (``template_diff``).
DNS_ASPECT: Final = "dns"
# Deployments whose history is read (the most recently rolled out), and rollouts kept.
MAX_DNS_CLIENTS: Final = 5
_MAX_CHANGES: Final = 2


def serves_cluster_dns(workload: JsonDict | None) -> bool:
    """Whether the workload runs the cluster's DNS server: its pods carry the kube-dns label
    or run a CoreDNS or kube-dns image."""
    return workload is not None and runs_dns_server(pod_template(workload))


def runs_dns_server(pod: JsonDict) -> bool:
    """Whether a pod (or a pod template) runs the cluster's DNS server: it carries the
    kube-dns label or runs a CoreDNS or kube-dns image."""
    labels = as_dict(as_dict(pod.get("metadata")).get("labels"))
    if labels.get(DNS_SERVER_LABEL[0]) == DNS_SERVER_LABEL[1]:
        return True
    containers = dicts(as_dict(pod.get("spec")).get("containers"))
    return any(repository_name(str(c.get("image") or "")) in _DNS_SERVER_IMAGES for c in containers)


def _same(a: JsonDict, b: JsonDict) -> bool:
    return (a.get("kind"), _ns(a), _name(a)) == (b.get("kind"), _ns(b), _name(b))


def recent_clients(deployments: Iterable[JsonDict], server: JsonDict) -> list[JsonDict]:
    """The most recently rolled-out Deployments (their Progressing condition's last update),
    the server's own left out, at most ``MAX_DNS_CLIENTS``."""
    others = [d for d in deployments if d.get("kind") == "Deployment" and not _same(d, server)]
    return sorted(others, key=last_rollout, reverse=True)[:MAX_DNS_CLIENTS]


def dns_client_summaries(index: ObjectIndex, server: JsonDict | None) -> list[DnsClientEvidence]:
    """The Deployments among the objects of ``index`` whose recent rollouts changed their
    pods' DNS settings, with those rollouts, when ``server`` runs the cluster's DNS."""
    if server is None or not serves_cluster_dns(server):
        return []
    replica_sets = index.kind("ReplicaSet")
    found: list[DnsClientEvidence] = []
    for deployment in recent_clients(index.kind("Deployment"), server):
        changes = recent_rollouts(deployment, owned_history(deployment, replica_sets), _MAX_CHANGES)
        if any(DNS_ASPECT in c.aspects for c in changes):
            ref = ObjectRef(kind="Deployment", namespace=_ns(deployment), name=_name(deployment))
            found.append(DnsClientEvidence(ref=ref, changes=changes))
    return found

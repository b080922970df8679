"""Neighbours on an outside host: the other workloads configured to call the same host outside
the cluster (a partner's API, a SaaS endpoint) that the incident's own failing calls name.

Calls that leave the cluster share what stands between it and the host: the nodes' source
ports behind a cloud NAT or load balancer (SNAT), an egress gateway or proxy, a per-client
quota at the host. When an unchanged workload cannot connect to such a host, an SRE asks
"who else calls it, and which of them changed right before?": a neighbour whose new revision
opens a connection per request uses up the ports every caller to that host shares. The
incident's workload must name the host in its own configuration (env values, args) and in its
own error lines; a neighbour names it in its pod template the same way.

Pure; used by the collector (``kubetriage.evidence.caller_walk``, to decide whose rollout
history to read) and by ``build_evidence`` (to summarise what was read).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from kubetriage.evidence.callers import owned_history
from kubetriage.evidence.changes import recent_rollouts
from kubetriage.evidence.dependencies import ERROR_LINE, pod_texts
from kubetriage.evidence.index import ObjectIndex
from kubetriage.models.base import ObjectRef
from kubetriage.models.naming import NamingSource
from kubetriage.models.neighbours import HostPeerEvidence
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

K = TypeVar("K")

# Neighbours kept, hosts followed, and rollouts kept of each neighbour (newest first).
MAX_PEERS = 3
MAX_HOSTS = 2
_MAX_CHANGES = 3

# A host as a configuration value spells it: a URL's host, or the whole value
# ("https://api.bank.example/v2/", "api.bank.example:443", "api.bank.example").
_VALUE_HOST = re.compile(
    r"(?i)^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/\s]+@)?"
    r"(?P<host>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)"
    r"\.?(?::\d{1,5})?(?:[/?#]\S*)?$"
)
# Names that stay inside the cluster or the node: a Service's DNS name, mDNS.
_INSIDE = re.compile(r"(?i)(^|\.)(svc|cluster\.local|local|localhost)$|\.svc\.")


def value_host(value: str) -> str | None:
    """The host a whole configuration value names: a URL's host, ``host:port`` or a bare
    dotted name (``orders-db.sales.svc``, ``https://api.bank.example/v2/``); None when the
    value is anything else (a sentence, a list, a single word)."""
    match = _VALUE_HOST.match(value.strip())
    return None if match is None else match["host"].lower().rstrip(".")


def outside_host(value: str) -> str | None:
    """The host a configuration value names when it lies outside the cluster: a dotted name
    whose last label is a word (not an address), not a Service's DNS name."""
    host = value_host(value)
    if host is None or _INSIDE.search(host) or not host.rsplit(".", 1)[-1].isalpha():
        return None
    return host


def configured_hosts(
    texts: Iterable[tuple[NamingSource, str]],
) -> dict[str, list[NamingSource]]:
    """Outside host -> where the env values and args of ``texts`` (``pod_texts``) name it."""
    found: dict[str, list[NamingSource]] = {}
    for source, text in texts:
        # A flag's value ("--upstream=https://api.bank.example") or the whole text.
        value = text.partition("=")[2] if text.startswith("-") else text
        if (host := outside_host(value)) is not None:
            found.setdefault(host, []).append(source)
    return found


def _named_in(host: str, line: str) -> bool:
    return re.search(rf"(?i)(?<![\w.-]){re.escape(host)}(?![\w-]|\.[a-z0-9])", line) is not None


def failing_hosts(
    pods: Sequence[JsonDict], workload: JsonDict | None, logs: Iterable[LogTail]
) -> list[str]:
    """The outside hosts the incident's workload is configured to call (its pods' and its
    template's env and args) that its own error lines (``scope`` tails) name, at most
    ``MAX_HOSTS``, in the order its configuration names them."""
    lines = [
        line
        for tail in logs
        if tail.source == "scope"
        for line in tail.lines
        if ERROR_LINE.search(line)
    ]
    hosts = configured_hosts(pod_texts(pods, workload))
    return [h for h in hosts if any(_named_in(h, line) for line in lines)][:MAX_HOSTS]


def find_named_peers(
    workloads: Iterable[JsonDict],
    wanted: Sequence[K],
    exclude: Iterable[JsonDict],
    named_in: Callable[[Iterable[tuple[NamingSource, str]]], Mapping[K, list[NamingSource]]],
) -> list[tuple[JsonDict, K, list[NamingSource]]]:
    """(workload, key, sources) of each workload, besides ``exclude`` (the incident's own),
    whose pod template's texts name one of ``wanted`` as ``named_in`` reads them (an outside
    host, a cloud quota); at most ``MAX_PEERS``, by namespace and name."""
    if not wanted:
        return []
    own = {(str(w.get("kind")), _ns(w), _name(w)) for w in exclude}
    found: list[tuple[JsonDict, K, list[NamingSource]]] = []
    for workload in sorted(workloads, key=lambda w: (_ns(w), _name(w))):
        if (str(workload.get("kind")), _ns(workload), _name(workload)) in own:
            continue
        named = named_in(pod_texts([], workload))
        key = next((k for k in wanted if k in named), None)
        if key is not None:
            found.append((workload, key, list(dict.fromkeys(named[key]))))
        if len(found) >= MAX_PEERS:
            break
    return found


def find_host_peers(
    workloads: Iterable[JsonDict], hosts: Sequence[str], exclude: Iterable[JsonDict]
) -> list[tuple[JsonDict, str, list[NamingSource]]]:
    """(workload, host, sources) of each workload, besides ``exclude`` (the incident's own),
    whose pod template names one of ``hosts``; at most ``MAX_PEERS``, by namespace and name."""
    return find_named_peers(workloads, hosts, exclude, configured_hosts)


def summarise_peer(
    workload: JsonDict, host: str, sources: list[NamingSource], history: list[JsonDict]
) -> HostPeerEvidence:
    """The neighbour, the host it names, and its recent rollouts, newest first."""
    changes = recent_rollouts(workload, history, _MAX_CHANGES)
    return HostPeerEvidence(
        ref=ObjectRef(
            kind=str(workload.get("kind")), namespace=_ns(workload), name=_name(workload)
        ),
        host=host,
        named_by=sources[:5],
        changes=changes,
    )


def host_peer_summaries(
    index: ObjectIndex, pods: Sequence[JsonDict], own: JsonDict | None, logs: Iterable[LogTail]
) -> list[HostPeerEvidence]:
    """The neighbours of the incident's workload on the outside hosts its failing calls name
    (``failing_hosts``), among the Deployments of ``index``, each with its rollouts read from
    its ReplicaSets there."""
    hosts = failing_hosts(pods, own, logs)
    if not hosts:
        return []
    replica_sets = index.kind("ReplicaSet")
    exclude = [own] if own is not None else []
    return [
        summarise_peer(workload, host, sources, owned_history(workload, replica_sets))
        for workload, host, sources in find_host_peers(index.kind("Deployment"), hosts, exclude)
    ]

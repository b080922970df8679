"""The clients a server out of connection slots names as it refuses them: a pooler or database
that refuses new clients (PgBouncer's "no more connections allowed (max_client_conn)",
PostgreSQL's "too many clients already") writes the client's address on the line
(PgBouncer's ``db/user@10.12.3.101:52218``, a ``log_line_prefix`` with ``%h``). Those
addresses are pods; their workloads are the clients that share the server's slots, and one
of them whose new revision opens more connections (a pool per batch never closed, more
threads) is what fills them. An SRE reads the refusals, maps the addresses to pods and asks
which of those clients changed.

Pure; the collector (``kubetriage.evidence.refused_client_walk``) reads the pods of those
addresses, their workloads and rollout history, and ``build_evidence`` summarises them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from kubetriage.evidence.callers import owned_history
from kubetriage.evidence.changes import recent_rollouts
from kubetriage.evidence.index import ObjectIndex
from kubetriage.models.base import ObjectRef
from kubetriage.models.neighbours import RefusedClientEvidence
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import JsonDict, controller_ref
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# A server out of connection slots, in its own words as its clients quote them: PostgreSQL,
# MySQL/MariaDB (ER_CON_COUNT_ERROR, max_user_connections), Redis, MongoDB, PgBouncer.
CONNECTION_SLOTS_EXHAUSTED: Final = re.compile(
    r"(?i)(too many clients already|remaining connection slots are reserved|"
    r"\btoo many connections\b|max_user_connections|max number of clients reached|"
    r"too many open connections|no more connections allowed)"
)
# A client's address on a server's line: "user@10.1.2.3:5432", "host=10.1.2.3",
# "client=10.1.2.3", "from 10.1.2.3".
_CLIENT_ADDRESS = re.compile(
    r"(?i)(?:@|\bhost=|\bclient=|\bfrom )(?P<ip>(?:\d{1,3}\.){3}\d{1,3})(?![\d.])"
)
# Addresses followed, and rollouts kept of each client.
MAX_ADDRESSES: Final = 4
_MAX_CHANGES: Final = 3


def refused_addresses(logs: Iterable[LogTail]) -> list[tuple[str, str]]:
    """(address, line) of each client a server's own refusal for lack of connection slots
    names (the incident's own tails, and the followed dependencies'), first line per
    address, at most ``MAX_ADDRESSES``."""
    found: dict[str, str] = {}
    for tail in logs:
        if tail.source not in ("scope", "dependency"):
            continue
        for line in tail.lines:
            if not CONNECTION_SLOTS_EXHAUSTED.search(line):
                continue
            for match in _CLIENT_ADDRESS.finditer(line):
                found.setdefault(match["ip"], line)
    return list(found.items())[:MAX_ADDRESSES]


def pod_address(pod: JsonDict) -> str | None:
    address = (pod.get("status") or {}).get("podIP")
    return address if isinstance(address, str) else None


def owning_deployment(pod: JsonDict, index: ObjectIndex) -> JsonDict | None:
    """The Deployment behind the pod's ReplicaSet, among the objects of ``index``."""
    owner = controller_ref(pod)
    if owner is None or owner.get("kind") != "ReplicaSet":
        return None
    replica_set = index.get("ReplicaSet", _ns(pod), str(owner.get("name")))
    parent = controller_ref(replica_set) if replica_set is not None else None
    if parent is None or parent.get("kind") != "Deployment":
        return None
    return index.get("Deployment", _ns(pod), str(parent.get("name")))


def refused_client_summaries(
    index: ObjectIndex, logs: Iterable[LogTail], own: JsonDict | None
) -> list[RefusedClientEvidence]:
    """The Deployments whose pods' addresses a server's refusals name, each with the address,
    the line and its rollouts read from its ReplicaSets; the incident's own workload left out
    (a server does not refuse itself)."""
    refused = refused_addresses(logs)
    if not refused:
        return []
    by_address = {a: p for p in index.kind("Pod") if (a := pod_address(p)) is not None}
    replica_sets = index.kind("ReplicaSet")
    found: dict[tuple[str, str], RefusedClientEvidence] = {}
    for address, line in refused:
        pod = by_address.get(address)
        workload = owning_deployment(pod, index) if pod is not None else None
        if workload is None:
            continue
        key = (_ns(workload), _name(workload))
        if own is not None and (str(own.get("kind")), _ns(own), _name(own)) == ("Deployment", *key):
            continue
        if key in found:
            continue
        changes = recent_rollouts(workload, owned_history(workload, replica_sets), _MAX_CHANGES)
        found[key] = RefusedClientEvidence(
            ref=ObjectRef(kind="Deployment", namespace=key[0], name=key[1]),
            address=address,
            pod=_name(pod) if pod is not None else "",
            line=line,
            changes=changes,
        )
    return list(found.values())

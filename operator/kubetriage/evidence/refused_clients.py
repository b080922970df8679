"""The clients a server out of connection slots names as it refuses them: a pooler or database
that refuses new clients (PgBouncer's "no more connections allowed (max_client_conn)",
PostgreSQL's "too many clients already") writes the client's address on the line
(PgBouncer's ``db/user@10.12.3.101:52218``, a ``log_line_prefix`` with ``%h``). Those
addresses are pods; their workloads are the clients that share the server's slots, and one
of them whose new revision opens more connections (a pool per batch never closed, more
threads) is what fills them. An SRE reads the refusals, maps the addresses to pods and asks
which of those clients changed.

A server that cannot write to a client fast enough closes it the same way, naming it by its
socket: NATS' "10.52.2.18:51822 - cid:66104 - Slow Consumer Detected", Redis' "Client ...
addr=10.1.2.3:52218 ... scheduled to be closed ASAP for overcoming of output buffer limits".
Those clients are the ones that cannot keep up (``slow_consumer_summaries``). Both read the
server's lines with one helper (``named_addresses``: a signature, and where on its line the
client's address stands) and map addresses to pods by their ``status.podIPs``
(``summaries.pods.pod_ips``).

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
from kubetriage.evidence.raw import as_dict
from kubetriage.evidence.summaries.pods import pod_ips
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
# A server closing a client that does not read what it is sent fast enough: NATS' slow
# consumer (its write deadline or pending bytes exceeded), Redis' output buffer limit.
SLOW_CONSUMER: Final = re.compile(
    r"(?i)(slow consumer detected|"
    r"scheduled to be closed ASAP for overcoming of output buffer limits)"
)
# A client's socket on such a line: "10.52.2.18:51822 - cid:...", "addr=10.1.2.3:52218";
# never the server's own end ("laddr=10.8.0.2:6379").
_CLIENT_SOCKET = re.compile(
    r"(?<![\w.:])(?<!laddr=)(?P<ip>(?:\d{1,3}\.){3}\d{1,3}):\d{1,5}(?![\d.])"
)
# Addresses followed per signature, and rollouts kept of each client.
MAX_ADDRESSES: Final = 4
_MAX_CHANGES: Final = 3


def named_addresses(
    logs: Iterable[LogTail], signature: re.Pattern[str], address: re.Pattern[str]
) -> list[tuple[str, str]]:
    """(address, line) of each client a server's own line matching ``signature`` names where
    ``address`` (a pattern with an ``ip`` group) says it stands, in the incident's own tails
    and the followed dependencies', first line per address, at most ``MAX_ADDRESSES``."""
    found: dict[str, str] = {}
    for tail in logs:
        if tail.source not in ("scope", "dependency"):
            continue
        for line in tail.lines:
            if not signature.search(line):
                continue
            for match in address.finditer(line):
                found.setdefault(match["ip"], line)
    return list(found.items())[:MAX_ADDRESSES]


def refused_addresses(logs: Iterable[LogTail]) -> list[tuple[str, str]]:
    """(address, line) of each client a server's own refusal for lack of connection slots
    names."""
    return named_addresses(logs, CONNECTION_SLOTS_EXHAUSTED, _CLIENT_ADDRESS)


def slow_consumer_addresses(logs: Iterable[LogTail]) -> list[tuple[str, str]]:
    """(address, line) of each client a server names as it closes it as a slow consumer."""
    return named_addresses(logs, SLOW_CONSUMER, _CLIENT_SOCKET)


def client_addresses(logs: Iterable[LogTail]) -> list[str]:
    """Every client address a server's refusals or slow-consumer closes name: the pods the
    collector reads."""
    logs = list(logs)
    found = [a for a, _ in refused_addresses(logs)]
    return found + [a for a, _ in slow_consumer_addresses(logs) if a not in found]


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
    return _client_summaries(index, refused_addresses(logs), own)


def slow_consumer_summaries(
    index: ObjectIndex, logs: Iterable[LogTail], own: JsonDict | None
) -> list[RefusedClientEvidence]:
    """The Deployments whose pods' addresses a server names as it closes them as slow
    consumers, as ``refused_client_summaries`` reads them."""
    return _client_summaries(index, slow_consumer_addresses(logs), own)


def _client_summaries(
    index: ObjectIndex, refused: list[tuple[str, str]], own: JsonDict | None
) -> list[RefusedClientEvidence]:
    if not refused:
        return []
    by_address = {a: p for p in index.kind("Pod") for a in pod_ips(as_dict(p.get("status")))}
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

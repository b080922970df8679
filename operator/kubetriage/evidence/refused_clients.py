"""The clients a server out of connection slots names as it refuses them: a pooler or database
that refuses new clients (PgBouncer's "no more connections allowed (max_client_conn)",
PostgreSQL's "too many clients already") writes the client's address on the line
(PgBouncer's ``db/user@10.12.3.101:52218``, a ``log_line_prefix`` with ``%h``). Those
addresses are pods; their workloads are the clients that share the server's slots, and one
of them whose new revision opens more connections (a pool per batch never closed, more
threads) is what fills them. An SRE reads the refusals, maps the addresses to pods and asks
which of those clients changed.

A TLS server names its clients the same way when they reject its certificate as signed by
an authority they do not trust (Go's "http: TLS handshake error from 10.1.2.3:50412: remote
error: tls: unknown certificate authority", OpenSSL's "tlsv1 alert unknown ca", rustls'
"received fatal alert: UnknownCA"): those clients' trust is what lags the server's CA, so
their pods' CA files and the ConfigMaps they are mounted from are what an SRE reads next.

A server that cannot write to a client fast enough closes it the same way, naming it by its
socket: NATS' "10.52.2.18:51822 - cid:66104 - Slow Consumer Detected", Redis' "Client ...
addr=10.1.2.3:52218 ... scheduled to be closed ASAP for overcoming of output buffer limits".
Those clients are the ones that cannot keep up (``slow_consumer_summaries``).

A mesh proxy in front of a server whose inbound policy admits only mesh identities names the
clients it denies for presenting none: Linkerd's "Request denied ... client.tls=None(...)
client.ip=10.42.6.57" (or "Connection denied" for TCP). Those clients reach the server in
plaintext, outside the mesh; their pods' containers tell whether they run a mesh proxy at all
(``refusal`` "unmeshed").

A metrics server whose remote store refuses samples as invalid names where they came from:
Prometheus' remote write drops a batch the receiver answered with a 4xx as a
"non-recoverable error", quoting the refused series, whose ``instance`` label is the scraped
target's address (a pod's, for pod and endpoint discovery). That pod's workload exports the
series; one whose new revision adds labels or series is what the store now refuses
(``refusal`` "series"). All of them
read the server's lines with one helper (``named_addresses``: a signature, and where on its
line the client's address stands) and map addresses to pods by their ``status.podIPs``
(``summaries.pods.pod_ips``).

Pure; the collector (``kubetriage.evidence.refused_client_walk``) reads the pods of those
addresses, their workloads and rollout history (and, for the untrusting clients, the
ConfigMaps their pods mount), and ``build_evidence`` summarises them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, Literal

from kubetriage.evidence.callers import owned_history
from kubetriage.evidence.changes import last_write, recent_rollouts
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.notes import Notes
from kubetriage.evidence.raw import as_dict, dicts
from kubetriage.evidence.summaries.pods import container_summaries, pod_ips
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
# A TLS server's handshake failure because the client rejected its certificate chain as of
# an unknown authority, in the server's words: Go's alert text, OpenSSL's, rustls'.
UNTRUSTED_BY_CLIENT: Final = re.compile(
    r"(?i)(remote error: tls: unknown certificate authority|alert unknown ca\b|"
    r"fatal alert: UnknownCA\b)"
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
# A mesh proxy's inbound policy denying a client that presented no mesh identity (no TLS
# client hello): Linkerd's HTTP and TCP authorization denials with "client.tls=None".
UNMESHED_DENIED: Final = re.compile(r"(?i)\b(?:request|connection) denied\b.*\bclient\.tls=None\b")
# The denied client's address on such a line: Linkerd's "client.ip=10.42.6.57".
_MESH_CLIENT_ADDRESS = re.compile(r"\bclient\.ip=(?P<ip>(?:\d{1,3}\.){3}\d{1,3})(?![\d.])")
# A remote-write client (Prometheus, the agents built on its code) dropping samples the
# receiver refused with a 4xx: "non-recoverable error ... server returned HTTP status 400".
REFUSED_SERIES: Final = re.compile(r"(?i)non-recoverable error.*\bHTTP status 4\d\d\b.*\bseries\b")
# The scraped target's address in the quoted series: instance="10.244.2.77:8080" (its
# quotes escaped inside a logfmt value).
_SERIES_INSTANCE = re.compile(r'\binstance=\\?"(?P<ip>(?:\d{1,3}\.){3}\d{1,3})(?::\d{1,5})?\\?"')
# Addresses followed per signature, and rollouts kept of each client.
MAX_ADDRESSES: Final = 4
_MAX_CHANGES: Final = 3


# Why a server names a client: refused for lack of connection slots ("slots"), rejected by
# it as of an unknown authority ("untrusted"), closed as a slow consumer ("slow-consumer"),
# denied by a mesh policy for presenting no mesh identity ("unmeshed"), the scrape target of
# series a metrics server's remote store refused ("series").
Refusal = Literal["slots", "untrusted", "slow-consumer", "unmeshed", "series"]
_SIGNATURES: Final[dict[Refusal, tuple[re.Pattern[str], re.Pattern[str]]]] = {
    "slots": (CONNECTION_SLOTS_EXHAUSTED, _CLIENT_ADDRESS),
    "untrusted": (UNTRUSTED_BY_CLIENT, _CLIENT_ADDRESS),
    "slow-consumer": (SLOW_CONSUMER, _CLIENT_SOCKET),
    "unmeshed": (UNMESHED_DENIED, _MESH_CLIENT_ADDRESS),
    "series": (REFUSED_SERIES, _SERIES_INSTANCE),
}
# The refusals ``refused_client_summaries`` reads (slow consumers have their own list).
_REFUSALS: Final[tuple[Refusal, ...]] = ("slots", "untrusted", "unmeshed", "series")


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


def refused_addresses(logs: Iterable[LogTail], refusal: Refusal = "slots") -> list[tuple[str, str]]:
    """(address, line) of each client a server's own lines name for ``refusal``: refused for
    lack of connection slots, rejecting its certificate ("untrusted"), or closed as a slow
    consumer."""
    return named_addresses(logs, *_SIGNATURES[refusal])


def slow_consumer_addresses(logs: Iterable[LogTail]) -> list[tuple[str, str]]:
    """(address, line) of each client a server names as it closes it as a slow consumer."""
    return refused_addresses(logs, "slow-consumer")


def client_addresses(logs: Iterable[LogTail]) -> list[str]:
    """Every client address a server's refusals or slow-consumer closes name: the pods the
    collector reads."""
    logs = list(logs)
    found: list[str] = []
    for refusal in _SIGNATURES:
        found += [a for a, _ in refused_addresses(logs, refusal) if a not in found]
    return found


def mounted_config_maps(pod: JsonDict) -> list[str]:
    """The ConfigMaps the pod's volumes mount (directly or projected)."""
    names: list[str] = []
    for volume in dicts(as_dict(pod.get("spec")).get("volumes")):
        sources = [as_dict(volume.get("configMap"))]
        sources += [
            as_dict(p.get("configMap"))
            for p in dicts(as_dict(volume.get("projected")).get("sources"))
        ]
        names += [n for s in sources if isinstance(n := s.get("name"), str) and n]
    return list(dict.fromkeys(names))


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
    index: ObjectIndex,
    logs: Iterable[LogTail],
    own: JsonDict | None,
    limits: EvidenceLimits,
    notes: Notes,
) -> list[RefusedClientEvidence]:
    """The Deployments whose pods' addresses a server's refusals name, each with the address,
    the line and its rollouts read from its ReplicaSets (and, for a client that rejected the
    server's certificate, its pod's containers and the last writes of the ConfigMaps the pod
    mounts); the incident's own workload left out (a server does not refuse itself)."""
    tails = list(logs)
    return _client_summaries(index, tails, own, _REFUSALS, limits, notes)


def slow_consumer_summaries(
    index: ObjectIndex, logs: Iterable[LogTail], own: JsonDict | None
) -> list[RefusedClientEvidence]:
    """The Deployments whose pods' addresses a server names as it closes them as slow
    consumers, as ``refused_client_summaries`` reads them."""
    return _client_summaries(index, list(logs), own, ("slow-consumer",), None, None)


def _client_summaries(
    index: ObjectIndex,
    tails: list[LogTail],
    own: JsonDict | None,
    refusals: Iterable[Refusal],
    limits: EvidenceLimits | None,
    notes: Notes | None,
) -> list[RefusedClientEvidence]:
    named = [(r, a, line) for r in refusals for a, line in refused_addresses(tails, r)]
    if not named:
        return []
    by_address = {a: p for p in index.kind("Pod") for a in pod_ips(as_dict(p.get("status")))}
    replica_sets = index.kind("ReplicaSet")
    own_key = (str(own.get("kind")), _ns(own), _name(own)) if own is not None else None
    found: dict[tuple[str, str, str], RefusedClientEvidence] = {}
    for refusal, address, line in named:
        pod = by_address.get(address)
        workload = owning_deployment(pod, index) if pod is not None else None
        if pod is None or workload is None:
            continue
        key = (_ns(workload), _name(workload))
        if own_key == ("Deployment", *key) or (refusal, *key) in found:
            continue
        changes = recent_rollouts(workload, owned_history(workload, replica_sets), _MAX_CHANGES)
        client = RefusedClientEvidence(
            ref=ObjectRef(kind="Deployment", namespace=key[0], name=key[1]),
            address=address,
            pod=_name(pod),
            line=line,
            changes=changes,
            refusal=refusal,
        )
        if refusal in ("untrusted", "unmeshed") and limits is not None and notes is not None:
            client.containers = container_summaries(
                as_dict(pod.get("spec")),
                as_dict(pod.get("status")),
                limits,
                notes,
                f"pod {_name(pod)}",
            )
        if refusal == "untrusted":
            for name in mounted_config_maps(pod):
                config_map = index.get("ConfigMap", _ns(pod), name)
                written = last_write(config_map) if config_map is not None else None
                if written is not None:
                    client.config_written[name] = written
        found[(refusal, *key)] = client
    return list(found.values())

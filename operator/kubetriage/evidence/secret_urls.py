"""The broker a workload reaches through a URL it takes from a Secret: the URL holds the
password, so the host it names is never read (Secret data is not), but the variable says what
it connects to (``AMQP_URL``, ``RABBITMQ_URI``, ``NATS_URL``) and so do the workload's own
lines when that connection is in trouble ("amqp connection blocked", "nats: no servers
available"). An SRE then looks for the server of that protocol: the one Service of the cluster
listening on its well-known port (AMQP's 5672 or 5671, NATS' 4222) or naming it as its port's
name or application protocol. Exactly one such Service is the broker; none or several, and the
walk cannot tell which one the Secret names.

Pure; the collector (``kubetriage.evidence.cluster_lookups.secret_url_servers``) lists the
Services of every namespace only when a Secret-sourced URL of such a protocol and a line
naming it are both there, and ``dependency_summaries`` reads the same Services from the
snapshot; the broker found is followed like any callee the workload names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.evidence.raw import as_dict, dicts
from kubetriage.models.naming import NamingSource, env_source
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns


@dataclass(frozen=True, slots=True)
class _Protocol:
    """A broker protocol: the words of a variable (or Secret key) holding its URL, the words
    of a line about its connection, and the ports and port names its servers serve it on."""

    variable: re.Pattern[str]
    said: re.Pattern[str]
    ports: frozenset[int]
    names: frozenset[str]


PROTOCOLS: Final = (
    _Protocol(
        re.compile(r"(?i)(?:^|[_.-])(?:amqps?|rabbit(?:mq)?)[_.-]*(?:url|uri|dsn|addr(?:ess)?)$"),
        re.compile(r"(?i)\b(?:amqps?|rabbitmq)\b"),
        frozenset({5672, 5671}),
        frozenset({"amqp", "amqps"}),
    ),
    _Protocol(
        re.compile(r"(?i)(?:^|[_.-])nats[_.-]*(?:url|uri|servers?|addr(?:ess)?)$"),
        re.compile(r"(?i)\bnats\b"),
        frozenset({4222}),
        frozenset({"nats"}),
    ),
)


def _containers(pods: Iterable[JsonDict], workload: JsonDict | None) -> list[JsonDict]:
    specs = [as_dict(p.get("spec")) for p in pods]
    if workload is not None:
        specs.insert(0, as_dict(as_dict(as_dict(workload.get("spec")).get("template")).get("spec")))
    return [c for spec in specs for c in dicts(spec.get("containers"))]


def secret_urls(
    pods: Iterable[JsonDict],
    workload: JsonDict | None,
    lines: Iterable[tuple[NamingSource, str]],
) -> list[tuple[_Protocol, NamingSource]]:
    """(protocol, how it is named) of each broker protocol whose URL a container takes from a
    Secret (its variable or the Secret's key says which) while the incident's own lines name
    that protocol; the first variable of each."""
    said = [line for _, line in lines]
    owner_kind = str(workload.get("kind")) if workload is not None else "pod"
    owner = _name(workload) if workload is not None else ""
    found: list[tuple[_Protocol, NamingSource]] = []
    for container in _containers(pods, workload):
        for var in dicts(container.get("env")):
            ref = as_dict(as_dict(var.get("valueFrom")).get("secretKeyRef"))
            variable, secret = str(var.get("name") or ""), str(ref.get("name") or "")
            if not secret:
                continue
            for protocol in PROTOCOLS:
                if any(p is protocol for p, _ in found):
                    continue
                words = (variable, str(ref.get("key") or ""))
                if any(protocol.variable.search(w) for w in words) and any(
                    protocol.said.search(line) for line in said
                ):
                    source = env_source(owner_kind, owner, variable, secret=secret)
                    found.append((protocol, source))
    return found


def _serves(service: JsonDict, protocol: _Protocol) -> bool:
    spec = as_dict(service.get("spec"))
    if spec.get("clusterIP") == "None" or spec.get("type") == "ExternalName":
        return False
    return any(
        p.get("port") in protocol.ports
        or str(p.get("name") or "").lower() in protocol.names
        or str(p.get("appProtocol") or "").lower() in protocol.names
        for p in dicts(spec.get("ports"))
    )


def secret_url_hosts(
    pods: Iterable[JsonDict],
    workload: JsonDict | None,
    lines: Iterable[tuple[NamingSource, str]],
    services: Iterable[JsonDict],
) -> list[ServiceHost]:
    """The one Service among ``services`` serving each broker protocol the workload reaches
    through a Secret-sourced URL (``secret_urls``), named by that variable."""
    services = list(services)
    hosts: list[ServiceHost] = []
    for protocol, source in secret_urls(pods, workload, lines):
        serving = [s for s in services if _serves(s, protocol)]
        if len(serving) != 1:
            continue
        port = next(
            (
                p.get("port")
                for p in dicts(as_dict(serving[0].get("spec")).get("ports"))
                if p.get("port") in protocol.ports
            ),
            None,
        )
        hosts.append(
            ServiceHost(
                name=_name(serving[0]),
                namespace=_ns(serving[0]),
                port=port if isinstance(port, int) else None,
                source=source,
                cluster_dns=True,
            )
        )
    return hosts

"""What the controllers an incident waits on owe it, found among the objects read. Pure.

A cert-manager Certificate past its ``renewalTime``, not Ready or expired waits on
cert-manager's controller to renew it. A webhook configuration annotated
``cert-manager.io/inject-ca-from`` whose webhook the API server refused to call as signed by
an unknown authority waits on the CA injector (cainjector) to bring its caBundle up to date. A
Service that a failover operator's custom resource owns, selecting the member its operator
marks with a role (CloudNativePG's ``-rw`` Service: ``cnpg.io/instanceRole=primary``), with no
ready endpoint is a role nobody holds: promoting a member is that operator's work. A host the
cluster declares (an Ingress rule, a route's hostnames, the external-dns hostname annotation)
that the resolver's no-such-name words (``kubetriage.dns_errors``) name waits on external-dns
to publish it. Each finder returns the objects owed with what says so;
``kubetriage.evidence.summaries.reconcilers`` summarises the controller owing them and the
collector (``kubetriage.evidence.reconciler_walk``) follows the same debts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from kubetriage.dns_errors import DNS_NO_SUCH_NAME
from kubetriage.evidence.raw import as_dict, as_str, as_time, condition, dicts
from kubetriage.evidence.summaries.gateway_routes import route_hostnames
from kubetriage.evidence.summaries.ingress import ingress_hosts
from kubetriage.evidence.summaries.webhooks import FAILED_CALL, INJECT_CA_FROM
from kubetriage.models.objects import JsonDict, annotations_of, as_list, controller_ref
from kubetriage.tls_errors import classify_tls_failure

# The API groups of the custom resources whose operator moves a role label between members
# (and so the Services selecting it): CloudNativePG promotes a replica on failover.
FAILOVER_GROUPS = frozenset({"postgresql.cnpg.io"})
# The annotation external-dns publishes a Service's (or any source object's) hosts from.
HOSTNAME_ANNOTATION = "external-dns.alpha.kubernetes.io/hostname"
# The kinds whose hosts a DNS controller publishes, and the name of its source for each.
DNS_SOURCES = {
    "Ingress": "ingress",
    "Service": "service",
    "HTTPRoute": "gateway-httproute",
    "GRPCRoute": "gateway-grpcroute",
    "TLSRoute": "gateway-tlsroute",
}


def overdue_certificates(
    certificates: Iterable[JsonDict], now: datetime
) -> list[tuple[JsonDict, str]]:
    """The Certificates past their renewal time, not Ready, or expired at ``now``, each with
    what says so."""
    overdue: list[tuple[JsonDict, str]] = []
    for cert in certificates:
        status = as_dict(cert.get("status"))
        said = [
            f"{key} {as_str(status.get(key))} has passed"
            for key in ("renewalTime", "notAfter")
            if (t := as_time(status.get(key))) is not None and t <= now
        ]
        ready = condition(cert, "Ready")
        if ready is not None and as_str(ready.get("status")) != "True":
            said.append(f"Ready={as_str(ready.get('status'))} ({as_str(ready.get('reason'))})")
        if said:
            overdue.append((cert, "; ".join(said)))
    return overdue


def stale_ca_bundles(
    configurations: Iterable[JsonDict], texts: Sequence[str]
) -> list[tuple[JsonDict, str]]:
    """The webhook configurations whose caBundle the CA injector keeps (``inject-ca-from``)
    while a text says the API server refused a call to one of their webhooks as signed by an
    unknown authority, each with that text."""
    refused = [t for t in texts if classify_tls_failure(t) == "unknown-authority"]
    found: list[tuple[JsonDict, str]] = []
    for configuration in configurations:
        if not annotations_of(configuration).get(INJECT_CA_FROM):
            continue
        names = {as_str(w.get("name")) for w in dicts(configuration.get("webhooks"))}
        text = next(
            (t for t in refused if any(m["name"] in names for m in FAILED_CALL.finditer(t))),
            None,
        )
        if text is not None:
            found.append((configuration, text))
    return found


def leaderless_services(
    services: Iterable[JsonDict], endpoints_of: Callable[[JsonDict], JsonDict | None]
) -> list[tuple[JsonDict, str]]:
    """The Services a failover operator's custom resource owns (``FAILOVER_GROUPS``) whose
    selector matches no ready pod (their Endpoints list no ready address), each with what
    says so: the role they select is held by no member."""
    found: list[tuple[JsonDict, str]] = []
    for service in services:
        owner = controller_ref(service) or {}
        group = (as_str(owner.get("apiVersion")) or "").partition("/")[0]
        selector = as_dict(as_dict(service.get("spec")).get("selector"))
        endpoints = endpoints_of(service)
        if group not in FAILOVER_GROUPS or not selector or endpoints is None:
            continue
        if any(as_list(s.get("addresses")) for s in dicts(endpoints.get("subsets"))):
            continue
        wanted = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        found.append(
            (
                service,
                f"owned by {owner.get('kind')} {owner.get('name')}, selects {wanted}: "
                "no ready endpoint",
            )
        )
    return found


def declared_hosts(objects: Iterable[JsonDict]) -> list[tuple[str, JsonDict]]:
    """The hosts the cluster's objects declare, with the object declaring each: Ingress
    rules and TLS hosts, route hostnames, the external-dns hostname annotation."""
    found: list[tuple[str, JsonDict]] = []
    for obj in objects:
        kind = as_str(obj.get("kind"))
        if kind not in DNS_SOURCES:
            continue
        hosts = ingress_hosts(obj) if kind == "Ingress" else route_hostnames(obj)
        annotated = annotations_of(obj).get(HOSTNAME_ANNOTATION, "")
        hosts += [h.strip() for h in annotated.split(",") if h.strip()]
        found += [(host.lower().rstrip("."), obj) for host in dict.fromkeys(hosts)]
    return found


def unresolved_hosts(
    objects: Iterable[JsonDict], texts: Iterable[str]
) -> list[tuple[str, JsonDict, str]]:
    """The declared hosts a text says do not exist (NXDOMAIN, no such host...) by name, with
    the object declaring each and the first text saying so."""
    said = [t for t in texts if DNS_NO_SUCH_NAME.search(t)]
    found: list[tuple[str, JsonDict, str]] = []
    for host, obj in declared_hosts(objects):
        text = next((t for t in said if _names_host(t.lower(), host)), None)
        if text is not None and not host.startswith("*"):
            found.append((host, obj, text))
    return found


def _names_host(text: str, host: str) -> bool:
    """Whether ``text`` names ``host`` itself (a trailing root dot allowed, not a longer name)."""
    return re.search(rf"(?<![\w.-]){re.escape(host)}(?![\w-]|\.[\w-])", text) is not None


def owed_texts(
    alerts: Iterable[tuple[dict[str, str], dict[str, str]]],
    lines: Iterable[str],
    events: Iterable[JsonDict],
) -> list[str]:
    """The texts that may say a host does not resolve: the alerts' labels and annotations,
    the incident's log lines and the events' messages."""
    texts = [v for labels, notes in alerts for v in [*labels.values(), *notes.values()]]
    texts += [" ".join(v for v in [*labels.values(), *notes.values()]) for labels, notes in alerts]
    texts += [line for line in lines if DNS_NO_SUCH_NAME.search(line)]
    texts += [as_str(e.get("message")) or "" for e in events]
    return texts

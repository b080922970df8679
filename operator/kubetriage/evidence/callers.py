"""Callers of the incident's Services: the Deployments whose pod template names one of them.

Pure; used by the collector (``kubetriage.evidence.caller_walk``, to decide whose revision
history to read) and by ``build_evidence`` (to summarise what was read). A callee whose load or
rejections stepped up while nothing of its own changed is often driven by a caller's new
revision (retries multiplied, compression turned off, a pool raised): an SRE asks "who calls
this, and which of them changed right before?". A caller names the Service in its template's
env values or args, in the host forms ``kubetriage.evidence.dependencies`` reads
(``svc``, ``svc.ns``, ``svc.ns.svc.cluster.local:port``, ``scheme://svc.ns``...). A caller
that reaches it by a public name (an identity provider behind its own host name) is found
instead by the incident's own error lines naming it as their client (``find_named_clients``).
The other callers of the dependencies the incident's workload names are found with these
helpers by ``kubetriage.evidence.shared_callers``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from kubetriage.evidence.changes import recent_rollouts
from kubetriage.evidence.dependencies import named_hosts, pod_texts
from kubetriage.evidence.host_routes import (
    HOST_ROUTE_KINDS,
    HostRule,
    host_rules,
    public_hosts,
    routed_services,
)
from kubetriage.evidence.index import ObjectIndex, referenced_config
from kubetriage.evidence.raw import as_int
from kubetriage.models.base import ObjectRef
from kubetriage.models.naming import NamingSource, config_map_source, log_source
from kubetriage.models.neighbours import CallerEvidence, ClientMention
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.objects import as_dict, controller_ref, service_selects
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.pod_dns import dns_policy, resolves_via_node

JsonDict = dict[str, Any]

# Callers kept, and rollouts kept of each (newest first).
MAX_CALLERS = 3
_MAX_CHANGES = 3

# ConfigMaps read, at most, to find the callers a mounted file configures (gateways, proxies).
MAX_CONFIG_READS = 12

# A client's identity on a server's access, audit or event line: Keycloak's
# ``clientId="web"``, OAuth's ``client_id=web``, JSON ``"client":"web"``, a token's ``azp``,
# an API gateway's ``consumer``.
_CLIENT_FIELD = re.compile(
    r"""(?i)(?<![\w-])(?:client[_-]?id|client|azp|consumer)["']?\s*[=:]\s*["']?"""
    r"""([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?![\w.-])"""
)
# The role a refused login asked for: an auth method's role names its client workload (Vault's
# Kubernetes and JWT auth: ``login unauthorized: err="..." role=claims-api``).
_LOGIN_ROLE = re.compile(
    r"""(?i)\blogin\b.*?(?<![\w-])role["']?\s*[=:]\s*["']?"""
    r"""([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?![\w.-])"""
)
# A line reporting a failure: error, warning, rejection.
_ERROR_LINE = re.compile(
    r"(?i)(?<![a-z])(error|warn|warning|fail(ed|ure)?|denied|invalid|unauthori[sz]ed|forbidden"
    r"|rejected)(?![a-z])"
)


def callee_services(services: Iterable[JsonDict], pods: Iterable[JsonDict]) -> list[JsonDict]:
    """The Services that select one of ``pods``: what the incident's pods serve."""
    pods = list(pods)
    found: list[JsonDict] = []
    for service in services:
        selector = (service.get("spec") or {}).get("selector") or {}
        if not isinstance(selector, dict) or not selector:
            continue
        if any(_ns(p) == _ns(service) and service_selects(selector, _labels(p)) for p in pods):
            found.append(service)
    return found


def names_callee(
    workload: JsonDict, callees: Iterable[JsonDict], rules: Sequence[HostRule] = ()
) -> tuple[JsonDict, list[NamingSource]] | None:
    """The first callee Service the workload's pod template names, with where it does: by
    an in-cluster host, or by a public host (and path) one of the ``rules`` (an Ingress's,
    ``host_routes``) sends to it."""
    texts = pod_texts([], workload)
    hosts = named_hosts(texts, [])
    home = _ns(workload)
    routed = [
        (source, backend)
        for source, text in (texts if rules else [])
        for host, path in public_hosts(text)
        for backend in routed_services(host, path, rules)
    ]
    for service in callees:
        sources = [
            h.source
            for h in hosts
            if h.source is not None
            and h.kind == "Service"
            and h.name == _name(service)
            and (h.namespace or home) == _ns(service)
        ]
        sources += [
            source for source, backend in routed if backend == (_ns(service), _name(service))
        ]
        if sources:
            return service, list(dict.fromkeys(sources))
    return None


def find_callers(
    workloads: Iterable[JsonDict],
    callees: list[JsonDict],
    exclude: Iterable[JsonDict],
    routes: Iterable[JsonDict] = (),
) -> list[tuple[JsonDict, JsonDict, list[NamingSource]]]:
    """(workload, callee Service, sources) of each workload naming a callee (by a public
    host too, which one of ``routes`` of a callee's namespace sends to it), at most
    ``MAX_CALLERS``, by namespace and name; ``exclude`` holds the incident's own workloads."""
    homes = {_ns(c) for c in callees}
    rules = host_rules(r for r in routes if _ns(r) in homes)
    found: list[tuple[JsonDict, JsonDict, list[NamingSource]]] = []
    for workload in others(workloads, exclude):
        if (named := names_callee(workload, callees, rules)) is not None:
            found.append((workload, *named))
        if len(found) >= MAX_CALLERS:
            break
    return found


def others(workloads: Iterable[JsonDict], exclude: Iterable[JsonDict]) -> list[JsonDict]:
    """``workloads`` but those of ``exclude`` (the incident's own), by namespace and name."""
    own = {(str(w.get("kind")), _ns(w), _name(w)) for w in exclude}
    return [
        w
        for w in sorted(workloads, key=lambda w: (_ns(w), _name(w)))
        if (str(w.get("kind")), _ns(w), _name(w)) not in own
    ]


def clients_in_errors(logs: Iterable[LogTail]) -> list[tuple[str, NamingSource, int]]:
    """(client, tail, error lines) for each client identity the incident's own tails name on
    their error lines (``_CLIENT_FIELD``), most named first: a shared server (an identity
    provider, a gateway) that records who called it names the client whose calls fail."""
    counts: Counter[tuple[str, NamingSource]] = Counter()
    for tail in logs:
        if tail.source != "scope":
            continue
        where = log_source(tail.namespace, tail.pod, tail.container)
        for line in tail.lines:
            if _ERROR_LINE.search(line):
                named = [m.group(1) for m in _CLIENT_FIELD.finditer(line)]
                named += [m.group(1) for m in _LOGIN_ROLE.finditer(line)]
                for client in {n.lower() for n in named}:
                    counts[(client, where)] += 1
    return [(client, where, n) for (client, where), n in counts.most_common()]


def find_named_clients(
    workloads: Iterable[JsonDict],
    callees: list[JsonDict],
    logs: Iterable[LogTail],
    exclude: Iterable[JsonDict],
) -> list[tuple[JsonDict, JsonDict, ClientMention]]:
    """(workload, callee Service, mention) of each workload, in any namespace, whose name is a
    client identity the incident's error lines name (``clients_in_errors``); at most
    ``MAX_CALLERS``. The callee is the first Service that fronts the incident's pods."""
    if not callees:
        return []
    own = {(str(w.get("kind")), _ns(w), _name(w)) for w in exclude}
    by_name: dict[str, list[JsonDict]] = {}
    for workload in sorted(workloads, key=lambda w: (_ns(w), _name(w))):
        if (str(workload.get("kind")), _ns(workload), _name(workload)) not in own:
            by_name.setdefault(_name(workload), []).append(workload)
    found: list[tuple[JsonDict, JsonDict, ClientMention]] = []
    for client, where, lines in clients_in_errors(logs):
        named = by_name.get(client, [])
        if len(named) != 1:  # none, or ambiguous across namespaces
            continue
        mention = ClientMention(log=where, lines=lines, client=client)
        if all(w is not named[0] for w, _, _ in found):
            found.append((named[0], callees[0], mention))
        if len(found) >= MAX_CALLERS:
            break
    return found


def _config_maps_of(workload: JsonDict) -> list[str]:
    spec = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
    return sorted(name for kind, name in referenced_config(spec) if kind == "ConfigMap")


def last_rollout(workload: JsonDict) -> str:
    """When the workload last progressed (its Progressing condition), else was created."""
    for condition in (workload.get("status") or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == "Progressing":
            return str(condition.get("lastUpdateTime") or "")
    return str((workload.get("metadata") or {}).get("creationTimestamp") or "")


def configured_by(
    workloads: Iterable[JsonDict], exclude: Iterable[JsonDict], limit: int = MAX_CONFIG_READS
) -> list[tuple[str, str]]:
    """(namespace, name) of the ConfigMaps the workloads' templates use, those of the most
    recently rolled-out workloads first, at most ``limit``: where a gateway or proxy is told
    which Services to route to (a declarative gateway config, an nginx or Envoy file)."""
    own = {(str(w.get("kind")), _ns(w), _name(w)) for w in exclude}
    found: list[tuple[str, str]] = []
    for workload in sorted(workloads, key=last_rollout, reverse=True):
        if (str(workload.get("kind")), _ns(workload), _name(workload)) in own:
            continue
        for name in _config_maps_of(workload):
            if (_ns(workload), name) not in found:
                found.append((_ns(workload), name))
        if len(found) >= limit:
            break
    return found[:limit]


def find_config_callers(
    workloads: Iterable[JsonDict],
    callees: list[JsonDict],
    config_maps: Iterable[JsonDict],
    exclude: Iterable[JsonDict],
) -> list[tuple[JsonDict, JsonDict, list[NamingSource]]]:
    """(workload, callee Service, sources) of each workload using a ConfigMap whose values
    name a callee Service (the hosts ``named_hosts`` reads): a gateway or proxy routing to it
    by its configuration file. At most ``MAX_CALLERS``, by namespace and name."""
    by_key = {(_ns(cm), _name(cm)): cm for cm in config_maps}
    own = {(str(w.get("kind")), _ns(w), _name(w)) for w in exclude}
    found: list[tuple[JsonDict, JsonDict, list[NamingSource]]] = []
    for workload in sorted(workloads, key=lambda w: (_ns(w), _name(w))):
        if (str(workload.get("kind")), _ns(workload), _name(workload)) in own:
            continue
        for name in _config_maps_of(workload):
            cm = by_key.get((_ns(workload), name))
            hosts = named_hosts([], [cm]) if cm is not None else []
            callee = next(
                (
                    svc
                    for svc in callees
                    for h in hosts
                    if h.kind == "Service"
                    and h.name == _name(svc)
                    and (h.namespace or _ns(workload)) == _ns(svc)
                ),
                None,
            )
            if callee is not None:
                user = f"{workload.get('kind')} {_name(workload)}"
                found.append((workload, callee, [config_map_source(name, used_by=user)]))
                break
        if len(found) >= MAX_CALLERS:
            break
    return found


def owned_history(workload: JsonDict, objects: Iterable[JsonDict]) -> list[JsonDict]:
    """The workload's ReplicaSets among ``objects`` (by controller kind and name)."""
    history: list[JsonDict] = []
    for obj in objects:
        owner = controller_ref(obj)
        if (
            obj.get("kind") == "ReplicaSet"
            and _ns(obj) == _ns(workload)
            and owner is not None
            and owner.get("kind") == workload.get("kind")
            and owner.get("name") == _name(workload)
        ):
            history.append(obj)
    return history


def summarise_caller(
    workload: JsonDict,
    callee: JsonDict,
    sources: list[NamingSource],
    history: list[JsonDict],
    secret_env: str | None = None,
    mention: ClientMention | None = None,
) -> CallerEvidence:
    """The caller, the Service it names (or, with ``secret_env``, the SQL database it may
    call through that Secret-sourced URL; with ``mention``, whose error lines name it as
    their client), and its recent rollouts, newest first."""
    changes = recent_rollouts(workload, history, _MAX_CHANGES)
    spec = as_dict(as_dict(as_dict(workload.get("spec")).get("template")).get("spec"))
    return CallerEvidence(
        ref=ObjectRef(
            kind=str(workload.get("kind")), namespace=_ns(workload), name=_name(workload)
        ),
        callee=ObjectRef(kind="Service", namespace=_ns(callee), name=_name(callee)),
        named_by=[mention.log] if mention else sources[:5],
        in_errors=mention,
        secret_env=secret_env,
        changes=changes,
        replicas=as_int(as_dict(workload.get("spec")).get("replicas")),
        node_resolver=resolves_via_node(dns_policy(spec), spec.get("hostNetwork") is True),
    )


def caller_summaries(
    index: ObjectIndex,
    services: list[JsonDict],
    own: JsonDict | None,
    logs: Iterable[LogTail] = (),
) -> list[CallerEvidence]:
    """The callers of ``services`` (the incident's) among the Deployments of ``index``, each
    with its rollouts read from its ReplicaSets there; ``own`` is the incident's workload.
    Those named as clients on the error lines of ``logs`` come first
    (``find_named_clients``), then those whose template names a Service."""
    replica_sets = index.kind("ReplicaSet")
    exclude = [own] if own is not None else []
    deployments = index.kind("Deployment")
    found: list[tuple[JsonDict, JsonDict, list[NamingSource], ClientMention | None]] = [
        (workload, callee, [], mention)
        for workload, callee, mention in find_named_clients(deployments, services, logs, exclude)
    ]
    routes = [r for kind in HOST_ROUTE_KINDS for r in index.kind(kind)]
    for workload, callee, sources in [
        *find_callers(deployments, services, exclude, routes),
        *find_config_callers(deployments, services, index.kind("ConfigMap"), exclude),
    ]:
        if all(workload is not w for w, _, _, _ in found):
            found.append((workload, callee, sources, None))
    return [
        summarise_caller(
            workload, callee, sources, owned_history(workload, replica_sets), mention=mention
        )
        for workload, callee, sources, mention in found[:MAX_CALLERS]
    ]

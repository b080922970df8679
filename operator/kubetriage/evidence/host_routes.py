"""Which Service answers a public host name: the rules of the Ingresses, Traefik IngressRoutes
and Gateway API HTTPRoutes that serve that host (and the path asked for), read the way the
in-cluster host forms (``svc.ns.svc``) are resolved to a Service. A client that reaches a
service through its Ingress host (``https://catalog.example.com/v1/stock``) calls the
Service behind that rule as surely as one that names the Service.

Pure helpers over raw objects, shared by the collector (``caller_walk``) and the builder
(``callers``); the registry walk (``pull_registries``) reads an Ingress rule's backends here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from kubetriage.evidence.raw import as_dict, as_list, as_str, dicts
from kubetriage.evidence.summaries.ingress import host_matches
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import namespace as _ns

# (group, version, kind, plural) of Traefik's IngressRoute, listed with the Gateway API routes.
INGRESS_ROUTE_API: Final = ("traefik.io", "v1alpha1", "IngressRoute", "ingressroutes")
# The kinds whose rules map a host (and path) to backend Services.
HOST_ROUTE_KINDS: Final = ("Ingress", "IngressRoute", "HTTPRoute")

# A URL's host (a DNS name with a dot) and path, after any scheme and userinfo.
_URL = re.compile(
    r"(?i)\b[a-z][a-z0-9+.-]*://(?:[^@/\s\"']+@)?"
    r"(?P<host>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)"
    r"(?::\d{1,5})?(?P<path>/[^\s\"'?#]*)?"
)
# A whole value that is a host name with a dot, and maybe a port: ``catalog.example.com:443``.
_BARE_HOST = re.compile(
    r"(?i)^(?P<host>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)"
    r"(?::\d{1,5})?$"
)
# Traefik's rule matchers: ``Host(`a`, `b`)`` (v2) or ``Host(`a`) || Host(`b`)`` (v3), and
# ``PathPrefix(`/api`)`` / ``Path(`/x`)``; each argument a backquoted or quoted string.
_MATCHER = re.compile(r"\b(?P<what>Host|PathPrefix|Path)\((?P<args>[^)]*)\)")
_ARGUMENT = re.compile(r"[`\"']([^`\"']+)[`\"']")


@dataclass(frozen=True)
class HostRule:
    """One rule: the hosts it serves, its paths (``exact`` or by prefix; none: every path),
    and the (namespace, Service) backends it sends them to."""

    hosts: tuple[str, ...]
    paths: tuple[tuple[str, bool], ...]
    backends: tuple[tuple[str, str], ...]


def _covers(paths: tuple[tuple[str, bool], ...], path: str | None) -> int | None:
    """How specifically the rule's paths cover ``path`` (the longest match's length; 0 for a
    rule of every path, or for no path asked: a base URL reaches all of a host's routes)."""
    if not paths or path is None:
        return 0
    best: int | None = None
    for prefix, exact in paths:
        if exact:
            hit = path == prefix
        else:
            trimmed = prefix.rstrip("/")
            hit = not trimmed or path == trimmed or path.startswith(trimmed + "/")
        if hit and (best is None or len(prefix) > best):
            best = len(prefix)
    return best


def _ingress_rules(ingress: Mapping[str, object]) -> list[HostRule]:
    namespace = _ns(ingress) or ""
    rules: list[HostRule] = []
    for rule in dicts(as_dict(ingress.get("spec")).get("rules")):
        host = as_str(rule.get("host"))
        if not host:
            continue
        for path in dicts(as_dict(rule.get("http")).get("paths")):
            service = as_str(as_dict(as_dict(path.get("backend")).get("service")).get("name"))
            if not service:
                continue
            value = as_str(path.get("path")) or "/"
            exact = as_str(path.get("pathType")) == "Exact"
            rules.append(HostRule((host,), ((value, exact),), ((namespace, service),)))
    return rules


def ingress_rule_backends(rule: Mapping[str, object], path: str | None) -> list[tuple[str, int]]:
    """(Service, port number or 0) of an Ingress rule's paths covering ``path``, the longest
    first (``path`` None: every path, in order)."""
    found: list[tuple[int, str, int]] = []
    for entry in dicts(as_dict(rule.get("http")).get("paths")):
        service = as_dict(as_dict(entry.get("backend")).get("service"))
        name = as_str(service.get("name"))
        value = as_str(entry.get("path")) or "/"
        covered = _covers(((value, as_str(entry.get("pathType")) == "Exact"),), path)
        if name and covered is not None:
            number = as_dict(service.get("port")).get("number")
            found.append((covered, name, number if isinstance(number, int) else 0))
    ordered = sorted(found, key=lambda f: -f[0]) if path is not None else found
    return [(name, number) for _, name, number in ordered]


def _ingress_route_rules(route: Mapping[str, object]) -> list[HostRule]:
    namespace = _ns(route) or ""
    rules: list[HostRule] = []
    for entry in dicts(as_dict(route.get("spec")).get("routes")):
        hosts: list[str] = []
        paths: list[tuple[str, bool]] = []
        for matcher in _MATCHER.finditer(as_str(entry.get("match")) or ""):
            arguments = _ARGUMENT.findall(matcher["args"])
            if matcher["what"] == "Host":
                hosts += arguments
            else:
                paths += [(a, matcher["what"] == "Path") for a in arguments]
        backends = tuple(
            (as_str(s.get("namespace")) or namespace, name)
            for s in dicts(entry.get("services"))
            if (as_str(s.get("kind")) or "Service") == "Service" and (name := as_str(s.get("name")))
        )
        if hosts and backends:
            rules.append(HostRule(tuple(hosts), tuple(paths), backends))
    return rules


def _http_route_rules(route: Mapping[str, object]) -> list[HostRule]:
    namespace = _ns(route) or ""
    spec = as_dict(route.get("spec"))
    hosts = tuple(h for h in as_list(spec.get("hostnames")) if isinstance(h, str))
    rules: list[HostRule] = []
    for rule in dicts(spec.get("rules")) if hosts else []:
        paths = tuple(
            (as_str(path.get("value")) or "/", as_str(path.get("type")) == "Exact")
            for match in dicts(rule.get("matches"))
            if (path := as_dict(match.get("path")))
        )
        backends = tuple(
            (as_str(ref.get("namespace")) or namespace, name)
            for ref in dicts(rule.get("backendRefs"))
            if (as_str(ref.get("kind")) or "Service") == "Service"
            and not as_str(ref.get("group"))
            and (name := as_str(ref.get("name")))
        )
        if backends:
            rules.append(HostRule(hosts, paths, backends))
    return rules


def host_rules(routes: Iterable[JsonDict]) -> list[HostRule]:
    """The host rules of the Ingresses, IngressRoutes and HTTPRoutes among ``routes``."""
    readers = {
        "Ingress": _ingress_rules,
        "IngressRoute": _ingress_route_rules,
        "HTTPRoute": _http_route_rules,
    }
    return [
        rule
        for route in routes
        if (read := readers.get(as_str(route.get("kind")) or "")) is not None
        for rule in read(route)
    ]


def routed_services(
    host: str, path: str | None, rules: Iterable[HostRule]
) -> list[tuple[str, str]]:
    """The (namespace, Service) backends of the rules serving ``host`` and covering ``path``
    (exact hosts before wildcards, then the most specific path), each once: for a path, only
    the best rule's, which is the one that answers it; for none (a base URL), every rule's."""
    ranked: list[tuple[bool, int, int, tuple[str, str]]] = []
    for at, rule in enumerate(rules):
        exact = any(h.lower() == host.lower() for h in rule.hosts)
        if not exact and not any(host_matches(h, host) for h in rule.hosts):
            continue
        covered = _covers(rule.paths, path)
        if covered is not None:
            ranked += [(not exact, -covered, at, backend) for backend in rule.backends]
    ranked.sort()
    if path is not None:
        ranked = [r for r in ranked if r[:2] == ranked[0][:2]]
    return list(dict.fromkeys(backend for *_, backend in ranked))


def public_hosts(text: str) -> list[tuple[str, str | None]]:
    """(host, path or None) of each URL with a DNS host in ``text``, or the whole value when
    it is a host name (``catalog.example.com:443``)."""
    found = [(m["host"].lower(), m["path"] or None) for m in _URL.finditer(text)]
    if not found and (bare := _BARE_HOST.match(text.strip())):
        found.append((bare["host"].lower(), None))
    return [(host, None if path in (None, "/") else path) for host, path in found]

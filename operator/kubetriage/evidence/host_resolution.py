"""Which objects the hosts a workload names stand for (``resolve``): each distinct Service or
workload, once, with the sources that name it and the routes by which the dependency walk
reached it; and the conventions used when a named Service cannot be read (the workload behind
a ``<workload>-headless`` Service; a cluster DNS name is a Service for sure).

Pure; the hosts are read from text by ``kubetriage.evidence.dependencies``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kubetriage.evidence.dependencies import ServiceHost
from kubetriage.models.naming import NamingSource
from kubetriage.models.relations import DependencyRoute

# The headless Service in front of a workload is conventionally "<workload>-headless" (a
# StatefulSet's governing Service, most Helm charts' peer-discovery Service).
_HEADLESS_SUFFIX = "-headless"
# The kinds such a base name is looked up as, most likely first.
HEADLESS_WORKLOAD_KINDS = ("StatefulSet", "Deployment")


def headless_workload(service: str) -> str | None:
    """The workload a ``<workload>-headless`` Service fronts, by name; None for any other
    name. Used only when that Service itself cannot be read."""
    if service.endswith(_HEADLESS_SUFFIX) and len(service) > len(_HEADLESS_SUFFIX):
        return service[: -len(_HEADLESS_SUFFIX)]
    return None


def cluster_dns_named(hosts: Iterable[ServiceHost]) -> set[tuple[str, str]]:
    """(namespace, name) of the Services named by their cluster DNS name: Services for sure,
    even where they cannot be read."""
    return {(h.namespace, h.name) for h in hosts if h.cluster_dns and h.namespace}


@dataclass(frozen=True)
class NamedObject:
    """An object the hosts name (``resolve``): its kind, namespace and name, the sources that
    name it, and the routes by which the walk reached it, each once, in order."""

    kind: str
    namespace: str
    name: str
    sources: list[NamingSource]
    routes: list[DependencyRoute]


def resolve(
    hosts: Iterable[ServiceHost], caller_namespace: str, exclude: set[tuple[str, str, str]]
) -> list[NamedObject]:
    """Each distinct object the hosts name, in order; a short name means the caller's
    namespace. ``exclude`` holds the caller's own objects."""
    result: dict[tuple[str, str, str], NamedObject] = {}
    for host in hosts:
        key = (host.kind, host.namespace or caller_namespace, host.name)
        if key in exclude:
            continue
        named = result.setdefault(key, NamedObject(*key, sources=[], routes=[]))
        if host.source and host.source not in named.sources:
            named.sources.append(host.source)
        if host.route is not None and host.route not in named.routes:
            named.routes.append(host.route)
    return list(result.values())

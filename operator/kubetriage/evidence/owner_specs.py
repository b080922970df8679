"""The addresses an operator's custom resource configures its pods with. A database operator
runs its instances from the resource it reconciles, and settings such as where the
write-ahead log is archived (CloudNativePG's ``spec.backup.barmanObjectStore.endpointURL``)
live only there, never in the pods' env or args. When the pods' controller is such a resource,
the URLs and cluster hosts in its spec name Services the pods call like any env value would:
a store that refuses the uploads fills the instance's own volume with what it cannot ship.

``OWNER_APIS``: the operator resources read, by API group and kind (the chart grants ``get``
on each). ``cluster_lookups.read_pod_owners`` reads the ones controlling the incident's pods
for the collector's walk; ``owner_spec_texts`` (pure) serves both that walk
(``kubetriage.evidence.dependency_walk``) and the evidence builder
(``kubetriage.evidence.summaries.dependencies``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Final

from kubetriage.evidence.raw import as_dict
from kubetriage.models.naming import NamingSource, owner_spec_source
from kubetriage.models.objects import JsonDict, controller_ref
from kubetriage.models.objects import meta as _meta

# Operator resources that run pods from their spec: group, version, kind, plural.
OWNER_APIS: Final = (("postgresql.cnpg.io", "v1", "Cluster", "clusters"),)

# A value that addresses a server: a URL, or a host under the cluster's Service domain.
_ADDRESS = re.compile(r"://|\.svc(?:\.|:|/|$)")
# How deep in the spec an address may sit (``spec.backup.barmanObjectStore.endpointURL``).
_DEPTH: Final = 6

Lookup = Callable[[str, str | None, str], JsonDict | None]


def owner_api(pod: JsonDict) -> tuple[tuple[str, str, str, str], str] | None:
    """The operator API (of ``OWNER_APIS``) and name of the resource controlling ``pod``."""
    ref = controller_ref(pod, controller_only=True)
    if ref is None:
        return None
    group = str(ref.get("apiVersion") or "").rpartition("/")[0]
    for api in OWNER_APIS:
        if (api[0], api[2]) == (group, ref.get("kind")) and ref.get("name"):
            return api, str(ref["name"])
    return None


def _addresses(value: Any, path: str, depth: int, out: list[tuple[str, str]]) -> None:
    if isinstance(value, str):
        if _ADDRESS.search(value):
            out.append((path, value))
    elif isinstance(value, dict) and depth > 0:
        for key, child in value.items():
            _addresses(child, f"{path}.{key}", depth - 1, out)
    elif isinstance(value, list) and depth > 0:
        for child in value:
            _addresses(child, path, depth - 1, out)


def owner_spec_texts(pods: Iterable[JsonDict], lookup: Lookup) -> list[tuple[NamingSource, str]]:
    """(source, value) of each address in the spec of the operator resource controlling the
    pods, once per resource (``lookup``: kind, namespace, name to the object read)."""
    texts: list[tuple[NamingSource, str]] = []
    seen: set[tuple[str, str]] = set()
    for pod in pods:
        owned = owner_api(pod)
        if owned is None:
            continue
        (_, _, kind, _), name = owned
        if (kind, name) in seen:
            continue
        seen.add((kind, name))
        owner = lookup(kind, _meta(pod).get("namespace"), name)
        if owner is None:
            continue
        found: list[tuple[str, str]] = []
        _addresses(as_dict(owner.get("spec")), "spec", _DEPTH, found)
        texts += [(owner_spec_source(kind, name, path), value) for path, value in found]
    return texts

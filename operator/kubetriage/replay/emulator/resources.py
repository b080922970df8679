"""Resource types known to the emulator: built-ins, CRD-defined and ad-hoc registered ones.

The :class:`Registry` is owned by one ``KubeEmulator`` (``server.py``); the server asks it
to route URLs, to render discovery documents, and the OpenAPI/table helpers ask it for
schemas and printer columns. CRDs created through the API (or ``load()``) add entries here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

JsonObj = dict[str, Any]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ScaleSpec:
    """Where a ``/scale`` subresource reads and writes replicas (JSONPath-lite, dotted)."""

    spec_replicas_path: str = ".spec.replicas"
    status_replicas_path: str = ".status.replicas"
    label_selector_path: str | None = None


@dataclass
class ResourceType:
    """One served group/version/resource."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # Built-ins keep .status behind a subresource; so do CRDs that declare it.
    status_subresource: bool = True
    scale: ScaleSpec | None = None
    # The version's openAPIV3Schema (CRDs only): drives defaulting, pruning, validation.
    schema: JsonObj | None = None
    printer_columns: list[JsonObj] = field(default_factory=list)
    # "crd" for CRD-backed, "builtin", or "extra" for a kind registered when a case loads an
    # object of a kind nothing declares (``auto_register``).
    origin: str = "builtin"
    crd_name: str = ""
    storage_version: str = ""

    def __post_init__(self) -> None:
        if not self.singular:
            self.singular = self.kind.lower()
        if not self.storage_version:
            self.storage_version = self.version

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: all versions of a group-resource share objects."""
        return (self.group, self.plural)

    @property
    def is_custom(self) -> bool:
        return self.origin != "builtin"

    def discovery_entries(self) -> list[JsonObj]:
        entries: list[JsonObj] = [
            {
                "name": self.plural,
                "singularName": self.singular,
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": list(ALL_VERBS),
                **({"shortNames": list(self.short_names)} if self.short_names else {}),
                **({"categories": list(self.categories)} if self.categories else {}),
            }
        ]
        if self.status_subresource:
            entries.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        if self.scale is not None:
            entries.append(
                {
                    "name": f"{self.plural}/scale",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
        if (self.group, self.plural) == ("", "pods"):
            entries.append(
                {
                    "name": "pods/log",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "Pod",
                    "verbs": ["get"],
                }
            )
        return entries


def _b(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    status: bool = True,
    scale: bool = False,
    categories: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        namespaced=namespaced,
        short_names=short,
        status_subresource=status,
        scale=ScaleSpec(label_selector_path=".spec.selector") if scale else None,
        categories=categories,
    )


def builtin_types() -> list[ResourceType]:
    """The built-in resources served out of the box (fresh objects per emulator)."""
    al = ("all",)
    return [
        _b("", "v1", "Namespace", "namespaces", namespaced=False, short=("ns",)),
        _b("", "v1", "Pod", "pods", short=("po",), categories=al),
        _b("", "v1", "Event", "events", short=("ev",), status=False),
        _b("", "v1", "Node", "nodes", namespaced=False, short=("no",)),
        _b("", "v1", "Service", "services", short=("svc",), categories=al),
        _b("", "v1", "Endpoints", "endpoints", short=("ep",), status=False),
        _b("", "v1", "ConfigMap", "configmaps", short=("cm",), status=False),
        _b("", "v1", "Secret", "secrets", status=False),
        _b("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",)),
        _b("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False, short=("pv",)),
        _b("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",), status=False),
        _b("", "v1", "ResourceQuota", "resourcequotas", short=("quota",)),
        _b("", "v1", "LimitRange", "limitranges", short=("limits",), status=False),
        _b("", "v1", "ReplicationController", "replicationcontrollers", short=("rc",)),
        _b("apps", "v1", "Deployment", "deployments", short=("deploy",), scale=True, categories=al),
        _b("apps", "v1", "ReplicaSet", "replicasets", short=("rs",), scale=True, categories=al),
        _b("apps", "v1", "StatefulSet", "statefulsets", short=("sts",), scale=True, categories=al),
        _b("apps", "v1", "DaemonSet", "daemonsets", short=("ds",), categories=al),
        _b("apps", "v1", "ControllerRevision", "controllerrevisions", status=False),
        _b("batch", "v1", "Job", "jobs", categories=al),
        _b("batch", "v1", "CronJob", "cronjobs", short=("cj",), categories=al),
        _b("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
        _b("networking.k8s.io", "v1", "Ingress", "ingresses", short=("ing",)),
        _b(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            short=("hpa",),
            categories=al,
        ),
        _b("coordination.k8s.io", "v1", "Lease", "leases", status=False),
        _b(
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingWebhookConfiguration",
            "validatingwebhookconfigurations",
            namespaced=False,
            status=False,
        ),
        _b(
            "admissionregistration.k8s.io",
            "v1",
            "MutatingWebhookConfiguration",
            "mutatingwebhookconfigurations",
            namespaced=False,
            status=False,
        ),
        _b(
            "apiregistration.k8s.io",
            "v1",
            "APIService",
            "apiservices",
            namespaced=False,
        ),
        _b("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short=("pdb",)),
        _b("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", status=False),
        _b("events.k8s.io", "v1", "Event", "events", short=("ev",), status=False),
        _b("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",), False),
        _b(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            namespaced=False,
            short=("crd", "crds"),
        ),
        _b("rbac.authorization.k8s.io", "v1", "Role", "roles", status=False),
        _b("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", status=False),
        _b("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, (), False),
        _b(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            False,
            (),
            False,
        ),
    ]


def guess_plural(kind: str) -> str:
    """English-ish pluralisation the way most CRD authors name plurals."""
    low = kind.lower()
    if low.endswith(("s", "x", "z", "ch", "sh")):
        return low + "es"
    if low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        return low[:-1] + "ies"
    return low + "s"


class Registry:
    """All served resource types of one emulator, indexed for URL routing and lookup."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        # Bumped on every change so OpenAPI/discovery consumers can cache by hash.
        self.revision = 0
        for rt in builtin_types():
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        self._types[(rt.group, rt.version, rt.plural)] = rt
        self.revision += 1

    def remove_crd(self, crd_name: str) -> list[ResourceType]:
        gone = [rt for rt in self._types.values() if rt.crd_name == crd_name]
        for rt in gone:
            del self._types[(rt.group, rt.version, rt.plural)]
        self.revision += 1
        return gone

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._types.values()))

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def group_versions(self) -> dict[str, list[str]]:
        """group -> served versions, preferred (storage/first registered) first."""
        out: dict[str, list[str]] = {}
        for rt in self._types.values():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                if rt.version == rt.storage_version:
                    versions.insert(0, rt.version)
                else:
                    versions.append(rt.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._types.values() if rt.group == group and rt.version == version]

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        exact = [
            rt
            for rt in self._types.values()
            if rt.group == group and rt.version == version and rt.kind == kind
        ]
        if exact:
            return exact[0]
        return None

    def preferred(self, key: tuple[str, str]) -> ResourceType | None:
        candidates = [rt for rt in self._types.values() if rt.key == key]
        for rt in candidates:
            if rt.version == rt.storage_version:
                return rt
        return candidates[0] if candidates else None

    def lookup(self, name: str) -> ResourceType:
        """Resolve ``pods``, ``Pod``, ``po``, ``deployments.apps``, ``pod`` for test helpers."""
        low = name.lower()
        name_part, _, group = low.partition(".")
        matches: list[ResourceType] = []
        for rt in self._types.values():
            if group and rt.group != group:
                continue
            names: Iterable[str] = (rt.plural, rt.singular, rt.kind.lower(), *rt.short_names)
            if name_part in names:
                matches.append(rt)
        if not matches:
            raise KeyError(f"unknown resource {name!r}")
        # Prefer the core group (events vs events.k8s.io) and the storage version.
        matches.sort(key=lambda rt: (rt.group != "", rt.version != rt.storage_version))
        return matches[0]

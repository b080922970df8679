"""The emulator's state and the bookkeeping every part shares: the store, the resource
registry (CRDs registered and unregistered as they are written), namespaces, generated names,
and ``_on_loop``, which marshals calls from other threads onto the server's event loop.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from aiohttp import web

from . import schema
from .errors import ApiError, FieldCause, invalid
from .resources import Registry, ResourceType, ScaleSpec, guess_plural
from .store import Store

JsonObj = dict[str, Any]
T = TypeVar("T")

VERSION_INFO: Final[Mapping[str, str]] = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-kubetriage-emulator",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}
# The alphabet apimachinery uses for generateName suffixes (no vowels, no confusables).
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
# Query-parameter spellings the real server accepts as true (watch=1, previous=true).
TRUTHY = ("true", "1")


@dataclass(frozen=True)
class AuditRecord:
    """One request as RBAC would name it; ``resource`` is empty for non-resource URLs."""

    verb: str
    group: str
    version: str
    resource: str
    subresource: str
    namespace: str
    name: str
    path: str
    user_agent: str = ""


@dataclass
class Fault:
    predicate: Callable[[AuditRecord], bool]
    remaining: int
    code: int
    message: str


@dataclass(frozen=True)
class Target:
    rt: ResourceType
    namespace: str
    name: str
    subresource: str


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def truthy(value: str | None) -> bool:
    return (value or "").lower() in TRUTHY


def ensure_meta(obj: JsonObj) -> JsonObj:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


class EmulatorState:
    """Everything the emulator holds; the other parts are layered on it."""

    def __init__(
        self,
        *,
        required_token: str | None = None,
        history_limit: int = 10_000,
        bookmark_interval: float = 5.0,
    ) -> None:
        self.registry = Registry()
        self._store = Store(history_limit=history_limit)
        self._required_token = required_token
        self._bookmark_interval = bookmark_interval
        self._audit: list[AuditRecord] = []
        self._faults: list[Fault] = []
        self._expire_next_watches = 0
        self._logs: dict[tuple[str, str, str, bool], str] = {}
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._url = ""
        self._ensure_namespace("default")
        self._ensure_namespace("kube-system")

    def _on_loop(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server loop when called from another thread (so watches are
        notified from the loop that owns their queues), else run it directly."""
        loop = self._loop
        if loop is None or not loop.is_running() or threading.get_ident() == self._loop_thread:
            return fn()

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=30)

    # ------------------------------------------------------------------ helpers

    def _out(self, rt: ResourceType, obj: JsonObj) -> JsonObj:
        """The object as served at ``rt``'s version (CRD versions share storage; no
        conversion webhooks, like ``strategy: None``)."""
        if obj.get("apiVersion") == rt.api_version and obj.get("kind") == rt.kind:
            return obj
        return {**obj, "apiVersion": rt.api_version, "kind": rt.kind}

    def _ensure_namespace(self, name: str) -> None:
        key = ("", "namespaces")
        if not name or self._store.get(key, "", name) is not None:
            return
        ns: JsonObj = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": now_iso(),
                "resourceVersion": str(self._store.next_revision()),
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
        self._store.put(key, ns, "ADDED", None)

    def _load(self, objects: list[JsonObj], auto_register: bool) -> list[JsonObj]:
        flat: list[JsonObj] = []
        for obj in objects:
            if obj.get("kind") == "List" or (
                str(obj.get("kind", "")).endswith("List") and "items" in obj
            ):
                flat.extend(obj.get("items") or [])
            elif obj:
                flat.append(obj)

        def order(obj: JsonObj) -> int:
            return {"CustomResourceDefinition": 0, "Namespace": 1}.get(str(obj.get("kind")), 2)

        stored: list[JsonObj] = []
        for raw in sorted(flat, key=order):
            obj = copy.deepcopy(raw)
            api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
            rt = self.registry.by_kind(api_version, kind)
            if rt is None:
                if not auto_register:
                    raise KeyError(f"no resource registered for {api_version} {kind}")
                group, _, version = api_version.rpartition("/")
                rt = ResourceType(
                    group=group,
                    version=version,
                    kind=kind,
                    plural=guess_plural(kind),
                    namespaced=bool(ensure_meta(obj).get("namespace")),
                    origin="extra",
                )
                self.registry.add(rt)
            meta = ensure_meta(obj)
            if rt.namespaced:
                meta.setdefault("namespace", "default")
                self._ensure_namespace(meta["namespace"])
            else:
                meta.pop("namespace", None)
            if not meta.get("name"):
                meta["name"] = self._generate_name(rt, meta.get("namespace", ""), meta)
            previous = self._store.get(rt.key, meta.get("namespace", ""), meta["name"])
            if previous is not None:
                # Re-loading an object keeps its identity unless the caller sets one.
                meta.setdefault("uid", previous["metadata"].get("uid"))
                meta.setdefault("creationTimestamp", previous["metadata"].get("creationTimestamp"))
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_iso())
            meta.setdefault("generation", 1)
            meta["resourceVersion"] = str(self._store.next_revision())
            if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                self._register_crd(obj)
            if rt.schema is not None:
                # Defaults show up on read in a real cluster even for old stored objects.
                obj = schema.normalize(obj, rt.schema, "", [], root=True, prune=False)
            old = self._store.get(rt.key, meta.get("namespace", ""), meta["name"])
            self._store.put(rt.key, obj, "MODIFIED" if old else "ADDED", old)
            stored.append(copy.deepcopy(obj))
        return stored

    def _generate_name(self, rt: ResourceType, namespace: str, meta: JsonObj) -> str:
        prefix = str(meta.get("generateName", ""))
        for _ in range(100):
            name = prefix + "".join(random.choices(SUFFIX_ALPHABET, k=5))
            if self._store.get(rt.key, namespace, name) is None:
                return name
        raise ApiError(500, "could not generate a unique name")

    def _register_crd(self, crd: JsonObj) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
        crd_name = ensure_meta(crd).get("name", "")
        versions = spec.get("versions") or []
        causes: list[FieldCause] = []
        if not group:
            causes.append(FieldCause("FieldValueRequired", "Required value", "spec.group"))
        if not plural:
            causes.append(FieldCause("FieldValueRequired", "Required value", "spec.names.plural"))
        if not kind:
            causes.append(FieldCause("FieldValueRequired", "Required value", "spec.names.kind"))
        if not versions:
            causes.append(
                FieldCause(
                    "FieldValueRequired",
                    "must have exactly one version marked as storage version",
                    "spec.versions",
                )
            )
        if group and plural and crd_name != f"{plural}.{group}":
            causes.append(
                FieldCause(
                    "FieldValueInvalid",
                    f'Invalid value: "{crd_name}": must be spec.names.plural+"."+spec.group',
                    "metadata.name",
                )
            )
        if causes:
            raise invalid("CustomResourceDefinition", "apiextensions.k8s.io", crd_name, causes)
        names.setdefault("singular", str(kind).lower())
        names.setdefault("listKind", f"{kind}List")
        storage = next((v["name"] for v in versions if v.get("storage")), versions[0]["name"])
        self.registry.remove_crd(crd_name)
        for version in versions:
            if not version.get("served", True):
                continue
            subresources = version.get("subresources") or {}
            scale = subresources.get("scale")
            self.registry.add(
                ResourceType(
                    group=str(group),
                    version=str(version["name"]),
                    kind=str(kind),
                    plural=str(plural),
                    namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                    singular=str(names["singular"]),
                    short_names=tuple(names.get("shortNames") or ()),
                    categories=tuple(names.get("categories") or ()),
                    status_subresource="status" in subresources,
                    scale=ScaleSpec(
                        scale.get("specReplicasPath", ".spec.replicas"),
                        scale.get("statusReplicasPath", ".status.replicas"),
                        scale.get("labelSelectorPath"),
                    )
                    if isinstance(scale, dict)
                    else None,
                    schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                    printer_columns=list(version.get("additionalPrinterColumns") or []),
                    origin="crd",
                    crd_name=crd_name,
                    storage_version=str(storage),
                )
            )
        when = now_iso()
        crd["status"] = {
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": when,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": when,
                },
            ],
            "acceptedNames": copy.deepcopy(names),
            "storedVersions": [storage],
        }

    def _unregister_crd(self, crd: JsonObj) -> None:
        for rt in self.registry.remove_crd(ensure_meta(crd).get("name", "")):
            for obj in self._store.drop_resource(rt.key):
                dead = copy.deepcopy(obj)
                ensure_meta(dead)["resourceVersion"] = str(self._store.next_revision())
                self._store.remove(rt.key, dead)

    @property
    def url(self) -> str:
        return self._url

    @property
    def token(self) -> str:
        """The token written into kubeconfigs (the required one, if any)."""
        return self._required_token or "kubetriage-emulator-token"

    # ------------------------------------------------------------------ HTTP plumbing

    @staticmethod
    def _json(body: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
        headers = {}
        if warnings:
            headers["Warning"] = ", ".join(
                f'299 - "{w.replace(chr(34), chr(92) + chr(34))}"' for w in warnings
            )
        return web.Response(
            body=json.dumps(body).encode(),
            status=status,
            content_type="application/json",
            headers=headers,
        )

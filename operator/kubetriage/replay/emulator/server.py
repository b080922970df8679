"""The emulated kube-apiserver: an aiohttp application over the in-memory :class:`Store`.

``KubeEmulator`` is the public entry point used by the CLI (``kubetriage diagnose|eval|
demo`` load incident cases into it and run the real operator against it) and by the test
suite. It serves discovery, OpenAPI v3, CRUD/patch/watch for built-ins and CRDs, pod
logs, Tables for ``kubectl get``, and exposes test hooks: an audit log, fault injection
and an optional bearer-token check. All store access happens on the server's event
loop; synchronous callers from other threads are marshalled onto it (see ``_on_loop``).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import yaml
from aiohttp import web

from . import openapi, patching, protobuf, schema, tables
from .errors import ApiError, FieldCause, already_exists, conflict, gone, invalid, not_found
from .resources import Registry, ResourceType, ScaleSpec, guess_plural
from .selectors import field_selector, label_selector
from .store import Store, StoredEvent

JsonObj = dict[str, Any]
T = TypeVar("T")
_log = logging.getLogger(__name__)

_VERSION_INFO: Final[Mapping[str, str]] = {
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
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
# Query-parameter spellings the real server accepts as true (watch=1, previous=true).
_TRUTHY = ("true", "1")


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
class _Fault:
    predicate: Callable[[AuditRecord], bool]
    remaining: int
    code: int
    message: str


@dataclass(frozen=True)
class _Target:
    rt: ResourceType
    namespace: str
    name: str
    subresource: str


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in _TRUTHY


def _meta(obj: JsonObj) -> JsonObj:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


class KubeEmulator:
    """An in-memory Kubernetes API server reachable over real HTTP."""

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
        self._faults: list[_Fault] = []
        self._expire_next_watches = 0
        self._logs: dict[tuple[str, str, str, bool], str] = {}
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._url = ""
        self._ensure_namespace("default")
        self._ensure_namespace("kube-system")

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 = any free port); returns the base URL."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: a client hanging up on a watch must end its handler.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = int(self._runner.addresses[0][1])
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._url = f"http://{host}:{bound_port}"
        return self._url

    async def stop(self) -> None:
        self._store.close_subscriptions()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return self._url

    @property
    def token(self) -> str:
        """The token written into kubeconfigs (the required one, if any)."""
        return self._required_token or "kubetriage-emulator-token"

    def _on_loop(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server loop when called from another thread (so watches are
        notified from the loop that owns their queues), else run it directly."""
        loop = self._loop
        if loop is None or not loop.is_running() or threading.get_ident() == self._loop_thread:
            return fn()

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=30)

    # ------------------------------------------------------------------ python API

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kubetriage-emulator", "cluster": {"server": self._url}}],
            "users": [{"name": "kubetriage-emulator", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "kubetriage-emulator",
                    "context": {
                        "cluster": "kubetriage-emulator",
                        "user": "kubetriage-emulator",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "kubetriage-emulator",
            "preferences": {},
        }
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        return target

    def load(self, objects: Iterable[JsonObj], *, auto_register: bool = True) -> list[JsonObj]:
        """Store objects as given (status included), keeping their uids, assigning fresh
        resourceVersions, creating missing namespaces and registering CRDs they contain.
        Unknown kinds are registered as extra resources when ``auto_register``."""
        items = list(objects)
        return self._on_loop(lambda: self._load(items, auto_register))

    def set_logs(
        self, namespace: str, pod: str, container: str, text: str, previous: bool = False
    ) -> None:
        self._on_loop(lambda: self._logs.__setitem__((namespace, pod, container, previous), text))

    def objects(self, kind_or_plural: str, namespace: str | None = None) -> list[JsonObj]:
        """Deep copies of the stored objects of a resource (for assertions)."""

        def collect() -> list[JsonObj]:
            rt = self.registry.lookup(kind_or_plural)
            return [
                copy.deepcopy(self._out(rt, o)) for o in self._store.list_objects(rt.key, namespace)
            ]

        return self._on_loop(collect)

    def get(self, kind_or_plural: str, name: str, namespace: str = "") -> JsonObj | None:
        def fetch() -> JsonObj | None:
            rt = self.registry.lookup(kind_or_plural)
            obj = self._store.get(rt.key, namespace if rt.namespaced else "", name)
            return copy.deepcopy(self._out(rt, obj)) if obj is not None else None

        return self._on_loop(fetch)

    def delete(self, kind_or_plural: str, name: str, namespace: str = "") -> bool:
        """Delete like ``kubectl delete`` would (finalizers honoured, dependents cascade);
        returns False when there was no such object."""

        def remove() -> bool:
            rt = self.registry.lookup(kind_or_plural)
            obj = self._store.get(rt.key, namespace if rt.namespaced else "", name)
            if obj is None:
                return False
            self._delete(rt, obj, {}, dry_run=False)
            return True

        return self._on_loop(remove)

    @property
    def audit(self) -> list[AuditRecord]:
        return self._on_loop(lambda: list(self._audit))

    def clear_audit(self) -> None:
        self._on_loop(self._audit.clear)

    @property
    def resource_version(self) -> int:
        return self._on_loop(lambda: self._store.revision)

    # fault injection -------------------------------------------------------

    def close_watches(self) -> int:
        """End every open watch stream now (clients see a clean EOF); returns how many."""
        return self._on_loop(self._store.close_subscriptions)

    def expire_watches(self, count: int = 1) -> None:
        """The next ``count`` watch requests get a 410 Gone ERROR event."""

        def arm() -> None:
            self._expire_next_watches += count

        self._on_loop(arm)

    def compact(self) -> None:
        """Drop watch history: watches from any older resourceVersion get 410 Gone."""
        self._on_loop(self._store.compact)

    def fail_requests(
        self,
        count: int,
        code: int = 503,
        predicate: Callable[[AuditRecord], bool] | None = None,
        message: str = "injected fault",
    ) -> None:
        """Fail the next ``count`` API requests matching ``predicate`` with ``code``."""
        fault = _Fault(predicate or (lambda _: True), count, code, message)
        self._on_loop(lambda: self._faults.append(fault))

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
                    namespaced=bool(_meta(obj).get("namespace")),
                    origin="extra",
                )
                self.registry.add(rt)
            meta = _meta(obj)
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
            name = prefix + "".join(random.choices(_SUFFIX_ALPHABET, k=5))
            if self._store.get(rt.key, namespace, name) is None:
                return name
        raise ApiError(500, "could not generate a unique name")

    def _register_crd(self, crd: JsonObj) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
        crd_name = _meta(crd).get("name", "")
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
        for rt in self.registry.remove_crd(_meta(crd).get("name", "")):
            for obj in self._store.drop_resource(rt.key):
                dead = copy.deepcopy(obj)
                _meta(dead)["resourceVersion"] = str(self._store.next_revision())
                self._store.remove(rt.key, dead)

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

    def _error(self, err: ApiError) -> web.Response:
        return self._json(err.status(), status=err.code)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            self._check_auth(request)
            return await self._dispatch(request)
        except ApiError as err:
            return self._error(err)
        except Exception as exc:  # an emulator bug must still look like an API error
            _log.exception("emulator failed on %s %s", request.method, request.path_qs)
            return self._error(ApiError(500, f"emulator internal error: {exc!r}"))

    def _check_auth(self, request: web.Request) -> None:
        if self._required_token is None:
            return
        if request.headers.get("Authorization", "") != f"Bearer {self._required_token}":
            raise ApiError(401, "Unauthorized")

    def _record(self, request: web.Request, **fields: str) -> AuditRecord:
        record = AuditRecord(
            verb=fields.get("verb", "get"),
            group=fields.get("group", ""),
            version=fields.get("version", ""),
            resource=fields.get("resource", ""),
            subresource=fields.get("subresource", ""),
            namespace=fields.get("namespace", ""),
            name=fields.get("name", ""),
            path=request.path,
            user_agent=request.headers.get("User-Agent", ""),
        )
        self._audit.append(record)
        for fault in self._faults:
            if fault.remaining > 0 and fault.predicate(record):
                fault.remaining -= 1
                self._faults = [f for f in self._faults if f.remaining > 0]
                raise ApiError(fault.code, fault.message)
        return record

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] not in ("api", "apis"):
            self._record(request)
            return self._non_resource(path)
        if parts[0] == "api":
            if len(parts) == 1:
                self._record(request)
                return self._json(
                    {
                        "kind": "APIVersions",
                        "versions": ["v1"],
                        "serverAddressByClientCIDRs": [
                            {"clientCIDR": "0.0.0.0/0", "serverAddress": self._url[7:]}
                        ],
                    }
                )
            group, version, rest = "", parts[1], parts[2:]
        else:
            if len(parts) == 1:
                self._record(request)
                return self._json(self._group_list())
            if len(parts) == 2:
                self._record(request)
                return self._json(self._group(parts[1]))
            group, version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            self._record(request)
            return self._json(self._resource_list(group, version))
        target = self._route(group, version, rest)
        verb = self._verb(request, target)
        self._record(
            request,
            verb=verb,
            group=group,
            version=version,
            resource=target.rt.plural,
            subresource=target.subresource,
            namespace=target.namespace,
            name=target.name,
        )
        return await self._resource(request, target, verb)

    def _non_resource(self, path: str) -> web.StreamResponse:
        if path == "/version":
            return self._json(dict(_VERSION_INFO))
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/openapi/v3":
            return self._json(openapi.index(self.registry))
        if path.startswith("/openapi/v3/"):
            gv = path[len("/openapi/v3/") :].split("/")
            doc = None
            if gv[0] == "api" and len(gv) == 2:
                doc = openapi.group_version_document(self.registry, "", gv[1])
            elif gv[0] == "apis" and len(gv) == 3:
                doc = openapi.group_version_document(self.registry, gv[1], gv[2])
            if doc is not None:
                return self._json(doc)
        raise ApiError(404, "the server could not find the requested resource")

    def _group_list(self) -> JsonObj:
        groups = []
        for group, _versions in sorted(self.registry.group_versions().items()):
            if not group:
                continue
            groups.append(self._group(group))
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _group(self, group: str) -> JsonObj:
        versions = self.registry.group_versions().get(group)
        if not versions:
            raise ApiError(404, "the server could not find the requested resource")
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": entries,
            "preferredVersion": entries[0],
        }

    def _resource_list(self, group: str, version: str) -> JsonObj:
        types = self.registry.in_group_version(group, version)
        if not types:
            raise ApiError(404, "the server could not find the requested resource")
        resources: list[JsonObj] = []
        for rt in sorted(types, key=lambda r: r.plural):
            resources.extend(rt.discovery_entries())
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    def _route(self, group: str, version: str, rest: list[str]) -> _Target:
        by_plural = {rt.plural: rt for rt in self.registry.in_group_version(group, version)}
        namespace = ""
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and rest[2] in by_plural
            and by_plural[rest[2]].namespaced
        ):
            namespace, rest = rest[1], rest[2:]
        rt = by_plural.get(rest[0])
        if rt is None or len(rest) > 3:
            raise ApiError(404, "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if rt.namespaced and name and not namespace:
            raise ApiError(404, "the server could not find the requested resource")
        allowed = {""}
        if rt.status_subresource:
            allowed.add("status")
        if rt.scale is not None:
            allowed.add("scale")
        if rt.key == ("", "pods"):
            allowed.add("log")
        if sub not in allowed:
            raise ApiError(404, "the server could not find the requested resource")
        return _Target(rt, namespace, name, sub)

    @staticmethod
    def _verb(request: web.Request, target: _Target) -> str:
        method = request.method
        if method == "GET":
            if target.name:
                return "get"
            return "watch" if _truthy(request.query.get("watch")) else "list"
        if method == "POST" and not target.name:
            return "create"
        if method == "PUT" and target.name:
            return "update"
        if method == "PATCH" and target.name:
            return "patch"
        if method == "DELETE" and not target.subresource:
            return "delete" if target.name else "deletecollection"
        raise ApiError(405, "the server does not allow this method on the requested resource")

    async def _body(self, request: web.Request) -> Any:
        if request.content_type == "application/vnd.kubernetes.protobuf":
            # kubectl's imperative generators only speak protobuf to built-ins.
            return protobuf.decode_object(await request.read())
        raw = await request.read()
        try:
            if request.content_type in ("application/yaml", patching.APPLY_PATCH):
                return yaml.safe_load(raw)
            return json.loads(raw) if raw else {}
        except (ValueError, yaml.YAMLError) as exc:
            raise ApiError(400, f"couldn't get version/kind; json parse error: {exc}") from exc

    # ------------------------------------------------------------------ resource verbs

    async def _resource(self, request: web.Request, t: _Target, verb: str) -> web.StreamResponse:
        query = request.query
        dry_run = query.get("dryRun") == "All"
        validation = query.get("fieldValidation", "Warn")
        if validation not in ("Strict", "Warn", "Ignore"):
            raise ApiError(400, f"invalid fieldValidation directive: {validation}")
        if verb == "get":
            if t.subresource == "log":
                return self._pod_logs(t, query)
            obj = self._existing(t)
            if t.subresource == "scale":
                return self._json(self._scale_of(t.rt, obj))
            return self._json(self._out(t.rt, obj))
        if verb == "list":
            return self._list(request, t)
        if verb == "watch":
            return await self._watch(request, t)
        if verb == "create":
            body = await self._body(request)
            obj, warnings = self._create(t, body, dry_run, validation)
            return self._json(self._out(t.rt, obj), 201, warnings)
        if verb == "update":
            body = await self._body(request)
            if not isinstance(body, dict):
                raise ApiError(400, "the body of the request was not an object")
            old = self._existing(t)
            if t.subresource == "scale":
                body = self._apply_scale(t.rt, old, body)
            elif _meta(body).get("name", t.name) != t.name:
                raise ApiError(
                    400,
                    f"the name of the object ({_meta(body).get('name')}) does not match the "
                    f"name on the URL ({t.name})",
                )
            obj, warnings = self._update(t, old, body, dry_run, validation)
            return self._json(self._out(t.rt, obj), 200, warnings)
        if verb == "patch":
            body = await self._body(request)
            if (
                request.content_type == patching.APPLY_PATCH
                and not t.subresource
                and self._store.get(t.rt.key, t.namespace, t.name) is None
            ):
                # Server-side apply creates missing objects.
                if not isinstance(body, dict):
                    raise ApiError(400, "the body of the request was not an object")
                _meta(body)["name"] = t.name
                obj, warnings = self._create(t, body, dry_run, validation)
                return self._json(self._out(t.rt, obj), 201, warnings)
            old = self._existing(t)
            if t.subresource == "scale":
                scale = self._apply_patch(request.content_type, self._scale_of(t.rt, old), body)
                patched = self._apply_scale(t.rt, old, scale)
            else:
                patched = self._apply_patch(request.content_type, self._out(t.rt, old), body)
            if not isinstance(patched, dict):
                raise ApiError(422, "the patch produced a non-object")
            obj, warnings = self._update(t, old, patched, dry_run, validation)
            if t.subresource == "scale":
                return self._json(self._scale_of(t.rt, obj))
            return self._json(self._out(t.rt, obj), 200, warnings)
        if verb == "delete":
            raw = await request.read()
            options = json.loads(raw) if raw.strip() else {}
            dry_run = dry_run or "All" in (options.get("dryRun") or [])
            code, body = self._delete(t.rt, self._existing(t), options, dry_run)
            return self._json(body, code)
        # deletecollection
        items = self._select(t, query)
        for obj in items:
            self._delete(t.rt, obj, {}, dry_run)
        return self._json(self._list_body(t.rt, items))

    def _existing(self, t: _Target) -> JsonObj:
        obj = self._store.get(t.rt.key, t.namespace, t.name)
        if obj is None:
            raise not_found(t.rt.plural, t.rt.group, t.name)
        return obj

    def _select(self, t: _Target, query: Any) -> list[JsonObj]:
        labels = label_selector(query.get("labelSelector"))
        fields = field_selector(query.get("fieldSelector"))
        return [
            obj
            for obj in self._store.list_objects(t.rt.key, t.namespace or None)
            if labels(obj) and fields(obj)
        ]

    def _list_body(
        self, rt: ResourceType, items: list[JsonObj], page: JsonObj | None = None
    ) -> JsonObj:
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(self._store.revision), **(page or {})},
            "items": [self._out(rt, o) for o in items],
        }

    @staticmethod
    def _paginate(items: list[JsonObj], query: Any) -> tuple[list[JsonObj], JsonObj]:
        """``limit``/``continue`` chunking over the (namespace, name)-sorted items. The
        token is opaque to clients; ours just encodes the last key served."""

        def key(obj: JsonObj) -> list[str]:
            return [obj["metadata"].get("namespace", ""), obj["metadata"]["name"]]

        token = query.get("continue")
        if token:
            try:
                after = json.loads(base64.urlsafe_b64decode(token.encode()))
            except ValueError as exc:
                raise ApiError(400, f"continue key is not valid: {exc}") from exc
            items = [o for o in items if key(o) > after]
        try:
            limit = int(query.get("limit") or 0)
        except ValueError as exc:
            raise ApiError(400, "limit must be an integer") from exc
        if limit <= 0 or len(items) <= limit:
            return items, {}
        page = items[:limit]
        next_token = base64.urlsafe_b64encode(json.dumps(key(page[-1])).encode()).decode()
        return page, {"continue": next_token, "remainingItemCount": len(items) - limit}

    def _list(self, request: web.Request, t: _Target) -> web.StreamResponse:
        items, page = self._paginate(self._select(t, request.query), request.query)
        if "as=Table" in request.headers.get("Accept", ""):
            table = tables.to_table(t.rt, items, str(self._store.revision))
            table["metadata"].update(page)
            return self._json(table)
        return self._json(self._list_body(t.rt, items, page))

    # create / update / delete ---------------------------------------------

    def _admit(
        self, rt: ResourceType, obj: JsonObj, name: str, validation: str
    ) -> tuple[JsonObj, list[str]]:
        """Schema defaulting, pruning and validation for resources with a schema."""
        if rt.schema is None:
            return obj, []
        unknown: list[str] = []
        obj = schema.normalize(obj, rt.schema, "", unknown, root=True)
        warnings: list[str] = []
        if unknown and validation == "Strict":
            fields = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise ApiError(
                400,
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                f"strict decoding error: {fields}",
            )
        if unknown and validation == "Warn":
            warnings = [f'unknown field "{u}"' for u in unknown]
        causes = schema.validate(obj, rt.schema, "", root=True)
        if causes:
            raise invalid(rt.kind, rt.group, name, causes)
        return obj, warnings

    def _check_name(self, rt: ResourceType, name: str) -> None:
        if rt.group == "rbac.authorization.k8s.io":
            return  # RBAC names only need to be valid path segments (system:foo is fine)
        if len(name) > 253 or not _NAME_RE.match(name):
            raise invalid(
                rt.kind,
                rt.group,
                name,
                [
                    FieldCause(
                        "FieldValueInvalid",
                        f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist '
                        "of lower case alphanumeric characters, '-' or '.', and must start "
                        "and end with an alphanumeric character",
                        "metadata.name",
                    )
                ],
            )

    def _create(
        self, t: _Target, body: Any, dry_run: bool, validation: str
    ) -> tuple[JsonObj, list[str]]:
        rt = t.rt
        if not isinstance(body, dict):
            raise ApiError(400, "the body of the request was not an object")
        obj = copy.deepcopy(body)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta = _meta(obj)
        if rt.namespaced:
            if not t.namespace:
                raise ApiError(405, "create requires a namespace in the URL")
            if self._store.get(("", "namespaces"), "", t.namespace) is None:
                raise not_found("namespaces", "", t.namespace)
            if (meta.get("namespace") or t.namespace) != t.namespace:
                raise ApiError(
                    400,
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                )
            meta["namespace"] = t.namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise invalid(
                    rt.kind,
                    rt.group,
                    "",
                    [
                        FieldCause(
                            "FieldValueRequired",
                            "Required value: name or generateName is required",
                            "metadata.name",
                        )
                    ],
                )
            meta["name"] = self._generate_name(rt, t.namespace, meta)
        name = str(meta["name"])
        self._check_name(rt, name)
        if self._store.get(rt.key, t.namespace, name) is not None:
            raise already_exists(rt.plural, rt.group, name)
        for system_field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(system_field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_iso()
        meta["generation"] = 1
        if rt.status_subresource:
            # Create cannot set status (it goes through /status), like the real strategies.
            obj.pop("status", None)
            if rt.key == ("", "pods"):
                obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
            elif rt.key == ("", "namespaces"):
                obj["status"] = {"phase": "Active"}
        obj, warnings = self._admit(rt, obj, name, validation)
        if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions") and not dry_run:
            self._register_crd(obj)
        if dry_run:
            return obj, warnings
        meta = _meta(obj)
        meta["resourceVersion"] = str(self._store.next_revision())
        self._store.put(rt.key, obj, "ADDED", None)
        return obj, warnings

    def _spec_view(self, rt: ResourceType, obj: JsonObj) -> JsonObj:
        skip = {"metadata", "apiVersion", "kind"}
        if rt.status_subresource:
            skip.add("status")
        return {k: v for k, v in obj.items() if k not in skip}

    def _update(
        self, t: _Target, old: JsonObj, new: JsonObj, dry_run: bool, validation: str
    ) -> tuple[JsonObj, list[str]]:
        rt = t.rt
        old_meta = old["metadata"]
        given_rv = _meta(new).get("resourceVersion")
        if given_rv and str(given_rv) != old_meta["resourceVersion"]:
            raise conflict(rt.plural, rt.group, t.name)
        if t.subresource == "status":
            merged = copy.deepcopy(old)
            if "status" in new:
                merged["status"] = copy.deepcopy(new["status"])
            else:
                merged.pop("status", None)
        else:
            merged = copy.deepcopy(new)
            if rt.status_subresource:
                if "status" in old:
                    merged["status"] = copy.deepcopy(old["status"])
                else:
                    merged.pop("status", None)
        merged["apiVersion"], merged["kind"] = rt.api_version, rt.kind
        meta = _meta(merged)
        for system_field in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
            "name",
            "resourceVersion",
        ):
            if system_field in old_meta:
                meta[system_field] = old_meta[system_field]
            else:
                meta.pop(system_field, None)
        merged, warnings = self._admit(rt, merged, t.name, validation)
        meta = _meta(merged)
        if self._spec_view(rt, merged) != self._spec_view(rt, self._out(rt, old)):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        if merged == self._out(rt, old):
            return old, warnings  # a no-op write: no new resourceVersion, no event
        if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions") and not dry_run:
            self._register_crd(merged)
        if dry_run:
            return merged, warnings
        meta["resourceVersion"] = str(self._store.next_revision())
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._finalize_delete(rt, merged)
            return merged, warnings
        self._store.put(rt.key, merged, "MODIFIED", old)
        return merged, warnings

    def _delete(
        self, rt: ResourceType, old: JsonObj, options: JsonObj, dry_run: bool
    ) -> tuple[int, JsonObj]:
        meta = old["metadata"]
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise ApiError(
                409,
                f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: "
                f"{meta.get('uid')}",
                reason="Conflict",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
            raise conflict(rt.plural, rt.group, meta["name"])
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return 200, self._out(rt, old)
            marked = copy.deepcopy(old)
            _meta(marked)["deletionTimestamp"] = now_iso()
            _meta(marked)["deletionGracePeriodSeconds"] = 0
            if dry_run:
                return 200, self._out(rt, marked)
            _meta(marked)["resourceVersion"] = str(self._store.next_revision())
            self._store.put(rt.key, marked, "MODIFIED", old)
            return 200, self._out(rt, marked)
        if dry_run:
            return 200, self._out(rt, old)
        dead = copy.deepcopy(old)
        _meta(dead)["resourceVersion"] = str(self._store.next_revision())
        self._finalize_delete(rt, dead, orphan=options.get("propagationPolicy") == "Orphan")
        if rt.is_custom or rt.key in (
            ("", "pods"),
            ("apiextensions.k8s.io", "customresourcedefinitions"),
        ):
            return 200, self._out(rt, dead)
        return 200, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": meta["name"],
                "group": rt.group,
                "kind": rt.plural,
                "uid": meta.get("uid"),
            },
        }

    def _resource_types(self) -> list[ResourceType]:
        """One served version per group-resource (all versions share the objects)."""
        seen: dict[tuple[str, str], ResourceType] = {}
        for rt in self.registry:
            if rt.key not in seen:
                seen[rt.key] = self.registry.preferred(rt.key) or rt
        return list(seen.values())

    def _finalize_delete(self, rt: ResourceType, dead: JsonObj, orphan: bool = False) -> None:
        self._store.remove(rt.key, dead)
        if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._unregister_crd(dead)
        elif rt.key == ("", "namespaces"):
            # The namespace controller's job, done synchronously: drop everything inside.
            namespace = dead["metadata"]["name"]
            for other in self._resource_types():
                if not other.namespaced:
                    continue
                for obj in self._store.list_objects(other.key, namespace):
                    gone_obj = copy.deepcopy(obj)
                    _meta(gone_obj)["resourceVersion"] = str(self._store.next_revision())
                    self._store.remove(other.key, gone_obj)
        if orphan:
            return
        # The garbage collector's job (background propagation), done synchronously:
        # dependents whose ownerReferences point at the dead object go too.
        uid = dead["metadata"].get("uid")
        for other in self._resource_types():
            for obj in self._store.list_objects(other.key):
                owners = obj["metadata"].get("ownerReferences") or []
                if uid and any(ref.get("uid") == uid for ref in owners):
                    current = self._store.get(
                        other.key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
                    )
                    if current is not None:
                        self._delete(other, current, {}, dry_run=False)

    # patch / scale / logs ------------------------------------------------------

    @staticmethod
    def _apply_patch(content_type: str, current: JsonObj, patch: Any) -> Any:
        if content_type == patching.MERGE_PATCH:
            return patching.merge_patch(current, patch)
        if content_type == patching.JSON_PATCH:
            return patching.json_patch(current, patch)
        if content_type == patching.STRATEGIC_PATCH:
            return patching.strategic_merge(current, patch)
        if content_type == patching.APPLY_PATCH:
            # Server-side apply approximated as a merge patch (no field ownership).
            return patching.merge_patch(current, patch)
        raise ApiError(
            415,
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{patching.JSON_PATCH}, {patching.MERGE_PATCH}, {patching.STRATEGIC_PATCH}, "
            f"{patching.APPLY_PATCH}",
        )

    @staticmethod
    def _path_get(obj: Any, path: str) -> Any:
        for part in [p for p in path.split(".") if p]:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(part)
        return obj

    @staticmethod
    def _path_set(obj: JsonObj, path: str, value: Any) -> None:
        parts = [p for p in path.split(".") if p]
        for part in parts[:-1]:
            obj = obj.setdefault(part, {})
        obj[parts[-1]] = value

    def _scale_of(self, rt: ResourceType, obj: JsonObj) -> JsonObj:
        spec = rt.scale or ScaleSpec()
        meta = obj["metadata"]
        selector: Any = (
            self._path_get(obj, spec.label_selector_path) if spec.label_selector_path else None
        )
        if isinstance(selector, dict):
            selector = ",".join(f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items())
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta["name"],
                "namespace": meta.get("namespace", ""),
                "uid": meta.get("uid"),
                "resourceVersion": meta["resourceVersion"],
                "creationTimestamp": meta.get("creationTimestamp"),
            },
            "spec": {"replicas": self._path_get(obj, spec.spec_replicas_path) or 0},
            "status": {
                "replicas": self._path_get(obj, spec.status_replicas_path) or 0,
                **({"selector": selector} if selector else {}),
            },
        }

    def _apply_scale(self, rt: ResourceType, old: JsonObj, scale: Any) -> JsonObj:
        if not isinstance(scale, dict):
            raise ApiError(400, "the body of the request was not a Scale")
        new = copy.deepcopy(self._out(rt, old))
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int):
            raise ApiError(422, "spec.replicas: Invalid value: must be an integer")
        self._path_set(new, (rt.scale or ScaleSpec()).spec_replicas_path, replicas)
        given_rv = _meta(scale).get("resourceVersion")
        _meta(new)["resourceVersion"] = given_rv or old["metadata"]["resourceVersion"]
        return new

    def _pod_logs(self, t: _Target, query: Any) -> web.Response:
        pod = self._existing(t)
        spec = pod.get("spec") or {}
        containers = [c.get("name", "") for c in spec.get("containers") or []]
        inits = [c.get("name", "") for c in spec.get("initContainers") or []]
        container = query.get("container", "")
        if not container:
            if len(containers) != 1:
                init_part = f" or one of the init containers: [{' '.join(inits)}]" if inits else ""
                raise ApiError(
                    400,
                    f"a container name must be specified for pod {t.name}, choose one of: "
                    f"[{' '.join(containers)}]{init_part}",
                )
            container = containers[0]
        elif container not in containers + inits:
            raise ApiError(400, f"container {container} is not valid for pod {t.name}")
        previous = _truthy(query.get("previous"))
        text = self._logs.get((t.namespace, t.name, container, previous))
        if previous and text is None:
            raise ApiError(
                400, f'previous terminated container "{container}" in pod "{t.name}" not found'
            )
        if text is None:
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            for status in statuses:
                waiting = (status.get("state") or {}).get("waiting") or {}
                if status.get("name") == container and waiting and not status.get("restartCount"):
                    raise ApiError(
                        400,
                        f'container "{container}" in pod "{t.name}" is waiting to start: '
                        f"{waiting.get('reason', 'ContainerCreating')}",
                    )
            text = ""
        tail = query.get("tailLines")
        if tail and tail.lstrip("-").isdigit():
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(tail) :]) if int(tail) > 0 else ""
        limit = query.get("limitBytes")
        if limit and limit.isdigit():
            text = text.encode()[: int(limit)].decode(errors="ignore")
        return web.Response(text=text, content_type="text/plain")

    # watch ------------------------------------------------------------------

    async def _watch(self, request: web.Request, t: _Target) -> web.StreamResponse:
        query = request.query
        labels = label_selector(query.get("labelSelector"))
        fields = field_selector(query.get("fieldSelector"))
        rt = t.rt

        def matches(obj: JsonObj | None) -> bool:
            if obj is None:
                return False
            if t.namespace and obj["metadata"].get("namespace") != t.namespace:
                return False
            return labels(obj) and fields(obj)

        def translate(event: StoredEvent) -> JsonObj | None:
            """Selector-aware event typing: objects moving out of a selector are DELETED
            for this watcher, objects moving in are ADDED -- as the real watch cache does."""
            new_ok = matches(event.obj)
            old_ok = matches(event.old) if event.type == "MODIFIED" else new_ok
            if event.type == "MODIFIED" and new_ok != old_ok:
                kind = "ADDED" if new_ok else "DELETED"
            elif new_ok:
                kind = event.type
            else:
                return None
            return {"type": kind, "object": self._out(rt, event.obj)}

        raw_rv = query.get("resourceVersion", "")
        try:
            since = int(raw_rv) if raw_rv else 0
        except ValueError as exc:
            raise ApiError(400, f"invalid resource version: {raw_rv}") from exc
        try:
            timeout = float(query.get("timeoutSeconds", "1800"))
        except ValueError:
            timeout = 1800.0
        bookmarks = _truthy(query.get("allowWatchBookmarks"))
        as_table = "as=Table" in request.headers.get("Accept", "")
        headers_sent = False

        def present(item: JsonObj) -> JsonObj:
            """``kubectl get -w`` asks for Tables: one row per event, column definitions
            only in the first event (later ones reuse them, as with the real server)."""
            nonlocal headers_sent
            if not as_table:
                return item
            table = tables.to_table(
                rt, [item["object"]], item["object"]["metadata"]["resourceVersion"]
            )
            if headers_sent:
                table["columnDefinitions"] = []
            headers_sent = True
            return {"type": item["type"], "object": table}

        # Subscribing and snapshotting happen without an await in between: nothing is
        # missed and nothing is sent twice.
        sub = self._store.subscribe(rt.key)
        sub_skip = self._store.revision
        backlog: list[JsonObj] = []
        expired: ApiError | None = None
        if self._expire_next_watches > 0:
            self._expire_next_watches -= 1
            expired = gone(since, self._store.revision)
        elif since and since < self._store.compacted:
            expired = gone(since, self._store.compacted)
        elif since == 0:
            backlog = [
                {"type": "ADDED", "object": self._out(rt, o)}
                for o in self._store.list_objects(rt.key, t.namespace or None)
                if matches(o)
            ]
        else:
            backlog = [e for e in map(translate, self._store.events_after(rt.key, since)) if e]

        response = web.StreamResponse(status=200)
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            if expired is not None:
                await self._send(response, {"type": "ERROR", "object": expired.status()})
                return response
            for item in backlog:
                await self._send(response, present(item))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                wait = min(remaining, self._bookmark_interval) if bookmarks else remaining
                try:
                    event = await asyncio.wait_for(sub.queue.get(), timeout=wait)
                except TimeoutError:
                    if bookmarks and deadline - loop.time() > 0:
                        await self._send(
                            response,
                            {
                                "type": "BOOKMARK",
                                "object": {
                                    "kind": rt.kind,
                                    "apiVersion": rt.api_version,
                                    "metadata": {"resourceVersion": str(self._store.revision)},
                                },
                            },
                        )
                    continue
                if event is None:
                    break
                if event.resource_version <= sub_skip:
                    continue
                translated = translate(event)
                if translated is not None:
                    await self._send(response, present(translated))
        except ConnectionResetError:
            pass  # the client went away; nothing to clean up beyond the subscription
        finally:
            self._store.unsubscribe(sub)
        return response

    @staticmethod
    async def _send(response: web.StreamResponse, item: JsonObj) -> None:
        await response.write(json.dumps(item).encode() + b"\n")

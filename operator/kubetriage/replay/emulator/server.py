"""The emulated kube-apiserver: an aiohttp application over the in-memory :class:`Store`.

``KubeEmulator`` is the public entry point used by the CLI (``kubetriage diagnose|eval|
demo`` load incident cases into it and run the real operator against it) and by the test
suite. It serves discovery, OpenAPI v3, CRUD/patch/watch for built-ins and CRDs, pod
logs, Tables for ``kubectl get``, and exposes test hooks: an audit log, fault injection
and an optional bearer-token check. All store access happens on the server's event
loop; synchronous callers from other threads are marshalled onto it (see ``_on_loop``).

Parts: ``state`` (store, registry, CRDs), ``crud`` (resource verbs), ``watch``,
``hooks`` (the Python test API); here: lifecycle, HTTP plumbing, discovery and routing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import yaml
from aiohttp import web

from . import openapi, patching, protobuf
from .errors import ApiError
from .hooks import Hooks
from .state import VERSION_INFO, AuditRecord, JsonObj, Target, ensure_meta, truthy

_log = logging.getLogger(__name__)


class KubeEmulator(Hooks):
    """An in-memory Kubernetes API server reachable over real HTTP."""

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
            return self._json(dict(VERSION_INFO))
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

    def _route(self, group: str, version: str, rest: list[str]) -> Target:
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
        return Target(rt, namespace, name, sub)

    @staticmethod
    def _verb(request: web.Request, target: Target) -> str:
        method = request.method
        if method == "GET":
            if target.name:
                return "get"
            return "watch" if truthy(request.query.get("watch")) else "list"
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

    async def _resource(self, request: web.Request, t: Target, verb: str) -> web.StreamResponse:
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
            elif ensure_meta(body).get("name", t.name) != t.name:
                raise ApiError(
                    400,
                    f"the name of the object ({ensure_meta(body).get('name')}) does not match the "
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
                ensure_meta(body)["name"] = t.name
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

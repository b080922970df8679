"""The resource verbs: list (with selectors and pagination), create with admission
(schema, names, generateName), update, delete with finalizers and garbage collection,
patch of every content type, the scale subresource and pod logs.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from typing import Any

from aiohttp import web

from . import patching, schema, tables
from .errors import ApiError, FieldCause, already_exists, conflict, invalid, not_found
from .resources import ResourceType, ScaleSpec
from .selectors import field_selector, label_selector
from .state import NAME_RE, EmulatorState, JsonObj, Target, ensure_meta, now_iso, truthy


class Crud(EmulatorState):
    """Resource CRUD on the emulator's store."""

    def _existing(self, t: Target) -> JsonObj:
        obj = self._store.get(t.rt.key, t.namespace, t.name)
        if obj is None:
            raise not_found(t.rt.plural, t.rt.group, t.name)
        return obj

    def _select(self, t: Target, query: Any) -> list[JsonObj]:
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

    def _list(self, request: web.Request, t: Target) -> web.StreamResponse:
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
        if len(name) > 253 or not NAME_RE.match(name):
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
        self, t: Target, body: Any, dry_run: bool, validation: str
    ) -> tuple[JsonObj, list[str]]:
        rt = t.rt
        if not isinstance(body, dict):
            raise ApiError(400, "the body of the request was not an object")
        obj = copy.deepcopy(body)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta = ensure_meta(obj)
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
        meta = ensure_meta(obj)
        meta["resourceVersion"] = str(self._store.next_revision())
        self._store.put(rt.key, obj, "ADDED", None)
        return obj, warnings

    def _spec_view(self, rt: ResourceType, obj: JsonObj) -> JsonObj:
        skip = {"metadata", "apiVersion", "kind"}
        if rt.status_subresource:
            skip.add("status")
        return {k: v for k, v in obj.items() if k not in skip}

    def _update(
        self, t: Target, old: JsonObj, new: JsonObj, dry_run: bool, validation: str
    ) -> tuple[JsonObj, list[str]]:
        rt = t.rt
        old_meta = old["metadata"]
        given_rv = ensure_meta(new).get("resourceVersion")
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
        meta = ensure_meta(merged)
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
        meta = ensure_meta(merged)
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
            ensure_meta(marked)["deletionTimestamp"] = now_iso()
            ensure_meta(marked)["deletionGracePeriodSeconds"] = 0
            if dry_run:
                return 200, self._out(rt, marked)
            ensure_meta(marked)["resourceVersion"] = str(self._store.next_revision())
            self._store.put(rt.key, marked, "MODIFIED", old)
            return 200, self._out(rt, marked)
        if dry_run:
            return 200, self._out(rt, old)
        dead = copy.deepcopy(old)
        ensure_meta(dead)["resourceVersion"] = str(self._store.next_revision())
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
                    ensure_meta(gone_obj)["resourceVersion"] = str(self._store.next_revision())
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
        given_rv = ensure_meta(scale).get("resourceVersion")
        ensure_meta(new)["resourceVersion"] = given_rv or old["metadata"]["resourceVersion"]
        return new

    def _pod_logs(self, t: Target, query: Any) -> web.Response:
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
        previous = truthy(query.get("previous"))
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

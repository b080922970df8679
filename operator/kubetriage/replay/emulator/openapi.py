"""Minimal ``/openapi/v3`` documents, generated from the :class:`Registry`.

kubectl (``apply``/``create`` with the default ``--validate=strict``) reads these to learn
whether the server supports server-side field validation for a kind: it looks for the
kind's PATCH operation (``x-kubernetes-group-version-kind``) and a ``fieldValidation``
query parameter. When found, kubectl skips client-side validation (which would need the
protobuf ``/openapi/v2``) and relies on our server-side validation instead. We
deliberately list no strategic-merge-patch request body, so ``kubectl apply`` computes
patches from its compiled-in types (built-ins) or uses merge patches (CRs) rather than
trying to walk schemas we do not serve. Called by ``server.py``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .resources import Registry, ResourceType

JsonObj = dict[str, Any]


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def index(registry: Registry) -> JsonObj:
    digest = hashlib.sha256(str(registry.revision).encode()).hexdigest()[:16].upper()
    paths = {}
    for group, versions in registry.group_versions().items():
        for version in versions:
            path = gv_path(group, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


def _params() -> list[JsonObj]:
    return [
        {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
        for name in ("dryRun", "fieldManager", "fieldValidation", "force")
    ]


def _component_name(rt: ResourceType) -> str:
    reversed_group = ".".join(reversed(rt.group.split("."))) if rt.group else "io.k8s.api.core"
    return f"{reversed_group}.{rt.version}.{rt.kind}"


def _operations(rt: ResourceType, ref: str) -> JsonObj:
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    body = {"schema": {"$ref": ref}}
    response = {"200": {"description": "OK", "content": {"application/json": body}}}
    return {
        "get": {
            "x-kubernetes-action": "get",
            "x-kubernetes-group-version-kind": gvk,
            "responses": response,
        },
        "put": {
            "x-kubernetes-action": "put",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": _params(),
            "requestBody": {"content": {"*/*": body}},
            "responses": response,
        },
        "patch": {
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": _params(),
            "requestBody": {
                "content": {
                    "application/json-patch+json": {"schema": {"type": "object"}},
                    "application/merge-patch+json": {"schema": {"type": "object"}},
                }
            },
            "responses": response,
        },
        "delete": {
            "x-kubernetes-action": "delete",
            "x-kubernetes-group-version-kind": gvk,
            "responses": response,
        },
    }


def group_version_document(registry: Registry, group: str, version: str) -> JsonObj | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    paths: JsonObj = {}
    schemas: JsonObj = {}
    for rt in types:
        component = _component_name(rt)
        ref = f"#/components/schemas/{component}"
        schema: JsonObj = dict(rt.schema) if rt.schema else {"type": "object"}
        schema["x-kubernetes-group-version-kind"] = [
            {"group": rt.group, "version": rt.version, "kind": rt.kind}
        ]
        schemas[component] = schema
        scope = f"{prefix}/namespaces/{{namespace}}" if rt.namespaced else prefix
        paths[f"{scope}/{rt.plural}/{{name}}"] = _operations(rt, ref)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }

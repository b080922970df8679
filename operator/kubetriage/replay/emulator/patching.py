"""PATCH semantics: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and a practical
subset of Kubernetes strategic merge patch. Called by ``server.py`` for every PATCH; the
results then go through the same update path as PUT (conflicts, schema, generation).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from .errors import ApiError

JsonObj = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# patchMergeKey of the list fields that built-in types merge by key; everything else is
# replaced wholesale, which is also what the real server does for lists without a key.
_MERGE_KEYS: Final[Mapping[str, str]] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "readinessGates": "conditionType",
    "resourceClaims": "name",
}
# Primitive lists with patchStrategy=merge: patches add to them instead of replacing.
_PRIMITIVE_MERGE: Final = frozenset({"finalizers"})


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: JsonObj = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, f"invalid JSON pointer {path!r}")
    return [_unescape(t) for t in path[1:].split("/")]


def _walk(doc: Any, tokens: list[str], path: str) -> Any:
    cur = doc
    for tok in tokens:
        if isinstance(cur, dict):
            if tok not in cur:
                raise ApiError(422, f"doc is missing path: {path!r}")
            cur = cur[tok]
        elif isinstance(cur, list):
            try:
                cur = cur[int(tok)]
            except (ValueError, IndexError) as exc:
                raise ApiError(422, f"doc is missing path: {path!r}") from exc
        else:
            raise ApiError(422, f"doc is missing path: {path!r}")
    return cur


def _add(doc: Any, tokens: list[str], value: Any, path: str) -> Any:
    if not tokens:
        return copy.deepcopy(value)
    parent = _walk(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if last == "-":
            parent.append(copy.deepcopy(value))
        else:
            try:
                index = int(last)
            except ValueError as exc:
                raise ApiError(422, f"invalid index in {path!r}") from exc
            if index < 0 or index > len(parent):
                raise ApiError(422, f"add operation does not apply: index out of range: {path!r}")
            parent.insert(index, copy.deepcopy(value))
    else:
        raise ApiError(422, f"add operation does not apply: doc is missing path: {path!r}")
    return doc


def _remove(doc: Any, tokens: list[str], path: str) -> Any:
    if not tokens:
        raise ApiError(422, "cannot remove the whole document")
    parent = _walk(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise ApiError(422, f"remove operation does not apply: doc is missing key: {path!r}")
        del parent[last]
    elif isinstance(parent, list):
        try:
            del parent[int(last)]
        except (ValueError, IndexError) as exc:
            raise ApiError(422, f"remove operation does not apply: {path!r}") from exc
    else:
        raise ApiError(422, f"remove operation does not apply: {path!r}")
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902. Failures are 422 like the real server (Kopf relies on that for ``test``)."""
    if not isinstance(operations, list):
        raise ApiError(400, "json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(400, f"invalid json patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        tokens = _pointer(path)
        if kind == "add":
            doc = _add(doc, tokens, op.get("value"), path)
        elif kind == "remove":
            doc = _remove(doc, tokens, path)
        elif kind == "replace":
            _walk(doc, tokens, path)  # must exist
            if tokens:
                doc = _remove(doc, tokens, path)
            doc = _add(doc, tokens, op.get("value"), path)
        elif kind in ("move", "copy"):
            from_path = op.get("from", "")
            from_tokens = _pointer(from_path)
            value = copy.deepcopy(_walk(doc, from_tokens, from_path))
            if kind == "move":
                doc = _remove(doc, from_tokens, from_path)
            doc = _add(doc, tokens, value, path)
        elif kind == "test":
            actual = _walk(doc, tokens, path) if tokens else doc
            if actual != op.get("value"):
                raise ApiError(
                    422,
                    f"the server rejected our request due to an error in our request: "
                    f"testing value {path} failed",
                )
        else:
            raise ApiError(400, f"unexpected json patch operation {kind!r}")
    return doc


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not k.startswith("$") and v is not None
        }
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def _merge_key(field_name: str, path: tuple[str, ...]) -> str | None:
    if field_name == "ports":
        # Container ports merge by containerPort, Service ports by port.
        in_container = any(
            p in ("containers", "initContainers", "ephemeralContainers") for p in path
        )
        return "containerPort" if in_container else "port"
    return _MERGE_KEYS.get(field_name)


def _merge_list(
    original: list[Any], patch: list[Any], key: str, path: tuple[str, ...]
) -> list[Any]:
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            result.append(_strip_directives(item))
            continue
        index = next(
            (i for i, o in enumerate(result) if isinstance(o, dict) and o.get(key) == item[key]),
            None,
        )
        directive = item.get("$patch")
        if directive == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(_strip_directives(item))
        elif directive == "replace":
            result[index] = _strip_directives(item)
        else:
            result[index] = strategic_merge(result[index], item, path)
    return result


def strategic_merge(original: Any, patch: Any, path: tuple[str, ...] = ()) -> Any:
    """Strategic merge patch: lists of containers/env/volumes/... merge by key; directives
    ``$patch: replace|delete``, ``$retainKeys``, ``$deleteFromPrimitiveList/<f>`` and
    ``$setElementOrder/<f>`` are understood (the latter only stripped). Other lists replace.
    """
    if not isinstance(patch, dict):
        return _strip_directives(patch)
    if patch.get("$patch") == "replace":
        return _strip_directives(patch)
    if patch.get("$patch") == "delete":
        return None
    result: JsonObj = copy.deepcopy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            target = key.split("/", 1)[1]
            if isinstance(result.get(target), list) and isinstance(value, list):
                result[target] = [v for v in result[target] if v not in value]
            continue
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, (*path, key))
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and isinstance(result.get(key), list):
            merge_key = _merge_key(key, path)
            if merge_key is not None:
                result[key] = _merge_list(result[key], value, merge_key, (*path, key))
            elif key in _PRIMITIVE_MERGE:
                result[key] = result[key] + [v for v in value if v not in result[key]]
            else:
                result[key] = _strip_directives(value)
        else:
            result[key] = _strip_directives(value)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result

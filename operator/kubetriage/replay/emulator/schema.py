"""Structural-schema handling for custom resources, the way the apiextensions server does
it: drop non-nullable nulls, apply ``default``s, prune unknown fields (reporting them for
``fieldValidation=Strict|Warn``) and validate against the version's ``openAPIV3Schema``.

Called by ``server.py`` on every create/update/patch of a CRD-backed resource. Error
messages and ``details.causes[].field`` mirror kube-openapi + apiextensions so that tests
and humans see what a real cluster would say.
"""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

from .errors import FieldCause

JsonObj = dict[str, Any]

# Top-level fields a CR always keeps regardless of its schema.
_ROOT_KEEP = ("apiVersion", "kind", "metadata")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _preserves(schema: JsonObj) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


def normalize(
    value: Any,
    schema: JsonObj,
    path: str,
    unknown: list[str],
    root: bool = False,
    prune: bool = True,
) -> Any:
    """Return ``value`` defaulted and pruned per ``schema``; pruned paths go to ``unknown``.

    With ``prune=False`` only defaults are applied: what the real server does to objects
    it reads from storage (used for objects loaded verbatim from case files).
    """
    if isinstance(value, dict):
        props: JsonObj = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        out: JsonObj = {}
        for key, item in value.items():
            child_path = _join(path, key)
            if (root or embedded) and key in _ROOT_KEEP:
                # apiVersion/kind/metadata are the server's, whatever the schema declares
                # (CRDs commonly say `metadata: {type: object}`): never pruned.
                out[key] = item
                continue
            sub: JsonObj | None = props.get(key)
            if sub is None and isinstance(additional, dict):
                sub = additional
            if (root or embedded) and key in _ROOT_KEEP:
                # ObjectMeta/apiVersion/kind are never pruned by the CR's own schema, even
                # when it declares ``metadata: {type: object}`` without properties.
                out[key] = item
                continue
            if item is None and sub is not None and not sub.get("nullable") and prune:
                # Non-nullable nulls are dropped before defaulting, like the real server.
                continue
            if sub is not None:
                out[key] = normalize(item, sub, child_path, unknown, prune=prune)
            elif (
                ((root or embedded) and key in _ROOT_KEEP)
                or _preserves(schema)
                or additional is True
                or not prune
            ):
                out[key] = item
            else:
                unknown.append(child_path)
        for key, sub in props.items():
            if key not in out and isinstance(sub, dict) and "default" in sub:
                default = copy.deepcopy(sub["default"])
                out[key] = normalize(default, sub, _join(path, key), [], prune=prune)
        return out
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            return [
                normalize(v, items, f"{path}[{i}]", unknown, prune=prune)
                for i, v in enumerate(value)
            ]
        return value
    return value


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(value: Any, expected: str) -> bool:
    actual = _type_name(value)
    if expected == "number":
        return actual in ("integer", "number")
    if expected == "integer":
        return actual == "integer" or (isinstance(value, float) and value.is_integer())
    return actual == expected


def _show(value: Any) -> str:
    """Render a value the way Go's field errors do (%q strings, plain numbers)."""
    if isinstance(value, dict | list):
        return f'"{_type_name(value)}"'
    return json.dumps(value)


def _invalid(path: str, value: Any, detail: str) -> FieldCause:
    return FieldCause("FieldValueInvalid", f"Invalid value: {_show(value)}: {detail}", path)


def validate(value: Any, schema: JsonObj, path: str, root: bool = False) -> list[FieldCause]:
    """Validate a (normalized) value; returns causes in document order."""
    causes: list[FieldCause] = []
    if value is None and (schema.get("nullable") or not schema.get("type")):
        return causes
    int_or_string = bool(schema.get("x-kubernetes-int-or-string"))
    expected = schema.get("type")
    if int_or_string:
        if not isinstance(value, int | str) or isinstance(value, bool):
            causes.append(
                FieldCause(
                    "FieldValueTypeInvalid",
                    f'Invalid value: "{_type_name(value)}": {path} in body must be of type '
                    f'integer or string: "{_type_name(value)}"',
                    path,
                )
            )
            return causes
    elif isinstance(expected, str) and not _type_ok(value, expected):
        causes.append(
            FieldCause(
                "FieldValueTypeInvalid",
                f'Invalid value: "{_type_name(value)}": {path} in body must be of type '
                f'{expected}: "{_type_name(value)}"',
                path,
            )
        )
        return causes

    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        supported = ", ".join(json.dumps(e) for e in enum)
        causes.append(
            FieldCause(
                "FieldValueNotSupported",
                f"Unsupported value: {_show(value)}: supported values: {supported}",
                path,
            )
        )

    if isinstance(value, str):
        causes.extend(_validate_string(value, schema, path))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        causes.extend(_validate_number(value, schema, path))
    elif isinstance(value, list):
        causes.extend(_validate_array(value, schema, path))
    elif isinstance(value, dict):
        causes.extend(_validate_object(value, schema, path, root))

    causes.extend(_validate_combinators(value, schema, path))
    return causes


def _validate_string(value: str, schema: JsonObj, path: str) -> list[FieldCause]:
    causes: list[FieldCause] = []
    min_len, max_len = schema.get("minLength"), schema.get("maxLength")
    if isinstance(min_len, int) and len(value) < min_len:
        causes.append(
            _invalid(path, value, f"{path} in body should be at least {min_len} chars long")
        )
    if isinstance(max_len, int) and len(value) > max_len:
        causes.append(
            FieldCause("FieldValueTooLong", f"Too long: may not be more than {max_len} bytes", path)
        )
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            matched = re.search(pattern, value) is not None
        except re.error:
            matched = True  # an unparseable pattern would have been rejected at CRD creation
        if not matched:
            causes.append(_invalid(path, value, f"{path} in body should match '{pattern}'"))
    # format: date-time and friends are deliberately lenient (the operator writes them).
    return causes


def _validate_number(value: float, schema: JsonObj, path: str) -> list[FieldCause]:
    causes: list[FieldCause] = []
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    if isinstance(minimum, int | float):
        if schema.get("exclusiveMinimum") and value <= minimum:
            causes.append(_invalid(path, value, f"{path} in body should be greater than {minimum}"))
        elif value < minimum:
            causes.append(
                _invalid(
                    path, value, f"{path} in body should be greater than or equal to {minimum}"
                )
            )
    if isinstance(maximum, int | float):
        if schema.get("exclusiveMaximum") and value >= maximum:
            causes.append(_invalid(path, value, f"{path} in body should be less than {maximum}"))
        elif value > maximum:
            causes.append(
                _invalid(path, value, f"{path} in body should be less than or equal to {maximum}")
            )
    multiple = schema.get("multipleOf")
    if (
        isinstance(multiple, int | float)
        and multiple
        and not math.isclose(value / multiple, round(value / multiple))
    ):
        causes.append(_invalid(path, value, f"{path} in body should be a multiple of {multiple}"))
    return causes


def _validate_size(
    value: list[Any] | JsonObj, schema: JsonObj, path: str, keyword: str, noun: str
) -> list[FieldCause]:
    """``min<keyword>``/``max<keyword>`` of an array or object (the API server says "items"
    in the too-many message for both)."""
    causes: list[FieldCause] = []
    least, most = schema.get(f"min{keyword}"), schema.get(f"max{keyword}")
    if isinstance(least, int) and len(value) < least:
        causes.append(_invalid(path, value, f"{path} in body should have at least {least} {noun}"))
    if isinstance(most, int) and len(value) > most:
        causes.append(
            FieldCause(
                "FieldValueTooMany", f"Too many: {len(value)}: must have at most {most} items", path
            )
        )
    return causes


def _validate_array(value: list[Any], schema: JsonObj, path: str) -> list[FieldCause]:
    causes: list[FieldCause] = []
    causes.extend(_validate_size(value, schema, path, "Items", "items"))
    if schema.get("uniqueItems"):
        seen: list[Any] = []
        for item in value:
            if item in seen:
                causes.append(
                    FieldCause("FieldValueDuplicate", f"Duplicate value: {_show(item)}", path)
                )
                break
            seen.append(item)
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            causes.extend(validate(item, items, f"{path}[{i}]"))
    return causes


def _validate_object(value: JsonObj, schema: JsonObj, path: str, root: bool) -> list[FieldCause]:
    causes: list[FieldCause] = []
    for req in schema.get("required") or []:
        if req not in value:
            causes.append(FieldCause("FieldValueRequired", "Required value", _join(path, req)))
    props: JsonObj = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key, item in value.items():
        if root and key in _ROOT_KEEP:
            continue
        sub = props.get(key)
        if sub is None and isinstance(additional, dict):
            sub = additional
        if isinstance(sub, dict):
            causes.extend(validate(item, sub, _join(path, key)))
    causes.extend(_validate_size(value, schema, path, "Properties", "properties"))
    return causes


def _validate_combinators(value: Any, schema: JsonObj, path: str) -> list[FieldCause]:
    causes: list[FieldCause] = []
    for sub in schema.get("allOf") or []:
        causes.extend(validate(value, sub, path))
    any_of = schema.get("anyOf")
    if (
        isinstance(any_of, list)
        and any_of
        and not schema.get("x-kubernetes-int-or-string")
        and all(validate(value, sub, path) for sub in any_of)
    ):
        causes.append(_invalid(path, value, "must validate at least one schema (anyOf)"))
    one_of = schema.get("oneOf")
    if isinstance(one_of, list) and one_of:
        passing = sum(1 for sub in one_of if not validate(value, sub, path))
        if passing != 1:
            causes.append(_invalid(path, value, "must validate one and only one schema (oneOf)"))
    not_schema = schema.get("not")
    if isinstance(not_schema, dict) and not validate(value, not_schema, path):
        causes.append(_invalid(path, value, "must not validate the schema (not)"))
    return causes

"""``meta.k8s.io/v1`` Table rendering for ``kubectl get`` (``Accept: ...;as=Table``).

CRDs get their ``additionalPrinterColumns`` (evaluated with a small JSONPath subset);
a few built-ins get their familiar columns, the rest Name/Age. Called by ``server.py``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from .resources import ResourceType

JsonObj = dict[str, Any]

_TOKEN = re.compile(r"\.([A-Za-z0-9_\-/]+)|\[(\d+|\*)\]|\['([^']+)'\]")


def jsonpath(obj: Any, expr: str) -> list[Any]:
    """Evaluate ``.a.b[0].c`` / ``.a[*].b`` / ``{.a.b}``; returns all matches."""
    expr = expr.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    current: list[Any] = [obj]
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            return []
        pos = match.end()
        key = match.group(1) or match.group(3)
        index = match.group(2)
        nxt: list[Any] = []
        for item in current:
            if key is not None and isinstance(item, dict) and key in item:
                nxt.append(item[key])
            elif index == "*" and isinstance(item, list):
                nxt.extend(item)
            elif (
                index is not None
                and index != "*"
                and isinstance(item, list)
                and int(index) < len(item)
            ):
                nxt.append(item[int(index)])
        current = nxt
    return current


def parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def human_age(value: Any, now: datetime | None = None) -> str:
    """kubectl's duration.HumanDuration-ish rendering (``5s``, ``3m``, ``2h``, ``4d``)."""
    if not isinstance(value, str):
        return "<unknown>"
    then = parse_time(value)
    if then is None:
        return "<unknown>"
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    if seconds < 0:
        return "<invalid>"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def _column(name: str, type_: str = "string", fmt: str = "", priority: int = 0) -> JsonObj:
    return {"name": name, "type": type_, "format": fmt, "description": "", "priority": priority}


def _cell(values: list[Any], type_: str) -> Any:
    if not values:
        return None
    if type_ == "date":
        return human_age(values[0])
    if len(values) == 1:
        value = values[0]
        if isinstance(value, dict | list):
            return json.dumps(value, separators=(",", ":"))
        return value
    return ",".join(str(v) for v in values)


def _pod_cells(obj: JsonObj) -> list[Any]:
    status = obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len((obj.get("spec") or {}).get("containers") or []) or len(statuses)
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in statuses:
        state = cs.get("state") or {}
        waiting = state.get("waiting") or {}
        terminated = state.get("terminated") or {}
        if waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated.get("reason") and reason == status.get("phase"):
            reason = terminated["reason"]
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return [f"{ready}/{total}", reason, restarts]


def _builtin_columns(rt: ResourceType) -> tuple[list[JsonObj], Any]:
    if rt.key == ("", "pods"):
        cols = [_column("Ready"), _column("Status"), _column("Restarts", "integer")]
        return cols, _pod_cells
    if rt.key == ("apps", "deployments"):
        cols = [_column("Ready"), _column("Up-to-date", "integer"), _column("Available", "integer")]

        def deploy(obj: JsonObj) -> list[Any]:
            spec, status = obj.get("spec") or {}, obj.get("status") or {}
            return [
                f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
                status.get("updatedReplicas", 0),
                status.get("availableReplicas", 0),
            ]

        return cols, deploy
    if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
        created = _column("Created At", "date")
        return [created], lambda o: [(o.get("metadata") or {}).get("creationTimestamp")]
    if rt.key == ("", "namespaces"):
        return [_column("Status")], lambda o: [(o.get("status") or {}).get("phase", "Active")]
    if rt.key == ("", "events"):
        cols = [_column("Type"), _column("Reason"), _column("Object"), _column("Message")]

        def event(obj: JsonObj) -> list[Any]:
            inv = obj.get("involvedObject") or {}
            return [
                obj.get("type", ""),
                obj.get("reason", ""),
                f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
                obj.get("message", ""),
            ]

        return cols, event
    return [], lambda o: []


def to_table(rt: ResourceType, items: list[JsonObj], resource_version: str) -> JsonObj:
    """Render objects as a Table whose rows carry PartialObjectMetadata (kubectl needs the
    namespace from it for ``-A``)."""
    name_col = _column("Name", fmt="name")
    name_col["description"] = "Name must be unique within a namespace."
    if rt.origin == "crd" and rt.printer_columns:
        specs = rt.printer_columns
        columns = [name_col] + [
            _column(
                str(c.get("name", "")),
                str(c.get("type", "string")),
                str(c.get("format", "")),
                int(c.get("priority", 0)),
            )
            for c in specs
        ]

        def cells(obj: JsonObj) -> list[Any]:
            return [
                _cell(jsonpath(obj, str(c.get("jsonPath", ""))), str(c.get("type", "string")))
                for c in specs
            ]

        age_in_columns = True
    else:
        extra, builder = _builtin_columns(rt)
        columns = [name_col, *extra]

        def cells(obj: JsonObj) -> list[Any]:
            return list(builder(obj))

        age_in_columns = False
    if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
        age_in_columns = True  # kubectl shows CREATED AT instead of AGE for CRDs
    if not age_in_columns:
        columns.append(_column("Age", "string"))
    rows = []
    for obj in items:
        meta = obj.get("metadata") or {}
        row_cells = [meta.get("name", ""), *cells(obj)]
        if not age_in_columns:
            row_cells.append(human_age(meta.get("creationTimestamp")))
        rows.append(
            {
                "cells": row_cells,
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                },
            }
        )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    }

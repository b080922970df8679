"""Label and field selectors as the API server parses them from ``?labelSelector=`` and
``?fieldSelector=``; used by list, watch and deletecollection in ``server.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import ApiError

JsonObj = dict[str, Any]
Predicate = Callable[[JsonObj], bool]

_SET_TERM = re.compile(r"^\s*([^\s!=()]+)\s+(in|notin)\s+\((.*)\)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside ``(...)`` value sets."""
    terms: list[str] = []
    depth = 0
    current: list[str] = []
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [t.strip() for t in terms if t.strip()]


def _label_term(term: str) -> Predicate:
    set_match = _SET_TERM.match(term)
    if set_match:
        key, op, raw = set_match.groups()
        values = {v.strip() for v in raw.split(",") if v.strip()}
        if op == "in":
            return lambda labels: key in labels and labels[key] in values
        # notin matches objects without the key too, like the real server.
        return lambda labels: labels.get(key) not in values
    for op in ("!=", "==", "="):
        if op in term:
            key, _, value = term.partition(op)
            key, value = key.strip(), value.strip()
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if term.startswith("!"):
        key = term[1:].strip()
        return lambda labels: key not in labels
    if re.fullmatch(r"[A-Za-z0-9._/-]+", term):
        return lambda labels: term in labels
    raise ApiError(400, f"unable to parse requirement: invalid label selector term {term!r}")


def label_selector(selector: str | None) -> Predicate:
    """A predicate over whole objects for a label selector string."""
    if not selector:
        return lambda obj: True
    preds = [_label_term(t) for t in _split_terms(selector)]

    def match(obj: JsonObj) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(p(labels) for p in preds)

    return match


def field_value(obj: JsonObj, path: str) -> str:
    """Dotted-path lookup rendered as the server's field-label string ('' when absent)."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def field_selector(selector: str | None) -> Predicate:
    """Equality-based field selectors over any dotted path.

    The real server only supports a fixed set of field labels per kind (and answers 400
    for others); we accept any path, which is a superset and never breaks a client.
    """
    if not selector:
        return lambda obj: True
    preds: list[Predicate] = []
    for term in _split_terms(selector):
        for op in ("!=", "==", "="):
            if op in term:
                path, _, value = term.partition(op)
                path, value = path.strip(), value.strip()
                negate = op == "!="

                def pred(
                    obj: JsonObj, path: str = path, value: str = value, neg: bool = negate
                ) -> bool:
                    return (field_value(obj, path) == value) != neg

                preds.append(pred)
                break
        else:
            raise ApiError(400, f"invalid field selector: {term!r}")
    return lambda obj: all(p(obj) for p in preds)

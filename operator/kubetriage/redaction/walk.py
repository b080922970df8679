"""Redaction of whole pydantic models: every string field, however nested, is rewritten by
the text rules (``text.py``). The generic walk (``StringRewrite``, ``rewrite_model``) is
shared with the anonymizer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from pydantic import BaseModel

from kubetriage.models.evidence import Evidence
from kubetriage.redaction.text import redact_args, redact_lines, redact_mapping, redact_text

ModelT = TypeVar("ModelT", bound=BaseModel)

# dict[str, str] fields whose keys are names (so a secret-named key hides its whole value);
# other dicts (labels, selectors, resources) only have their values scanned as text.
_NAME_KEYED_FIELDS = frozenset({"env", "annotations", "fields"})


@dataclass(frozen=True)
class StringRewrite:
    """How a model walk rewrites strings; ``field`` is the name of the enclosing field."""

    text: Callable[[str, str], str]
    text_list: Callable[[str, list[str]], list[str]]
    text_dict: Callable[[str, dict[str, str]], dict[str, str]]
    key: Callable[[str], str]


def _is_text(value: object) -> bool:
    return isinstance(value, str) and not isinstance(value, Enum)


def _rewrite_value(value: object, field: str, rewrite: StringRewrite) -> object:
    if isinstance(value, BaseModel):
        return rewrite_model(value, rewrite)
    if isinstance(value, Enum):
        return value  # vocabulary values are not free text
    if isinstance(value, str):
        return rewrite.text(field, value)
    if isinstance(value, list):
        if all(_is_text(item) for item in value):
            return rewrite.text_list(field, [str(item) for item in value])
        return [_rewrite_value(item, field, rewrite) for item in value]
    if isinstance(value, tuple):
        return tuple(_rewrite_value(item, field, rewrite) for item in value)
    if isinstance(value, dict):
        items = list(value.items())
        if all(_is_text(k) and _is_text(v) for k, v in items):
            return rewrite.text_dict(field, {str(k): str(v) for k, v in items})
        return {
            (rewrite.key(k) if isinstance(k, str) else k): _rewrite_value(v, field, rewrite)
            for k, v in items
        }
    return value  # numbers, booleans, datetimes, None: immutable and not text


def rewrite_model(model: ModelT, rewrite: StringRewrite) -> ModelT:
    updates = {
        name: _rewrite_value(getattr(model, name), name, rewrite)
        for name in type(model).model_fields
    }
    return model.model_copy(update=updates)


def _redact_dict(field: str, values: dict[str, str]) -> dict[str, str]:
    if field in _NAME_KEYED_FIELDS:
        return redact_mapping(values)
    return {key: redact_text(value) for key, value in values.items()}


def _redact_list(field: str, values: list[str]) -> list[str]:
    return redact_args(values) if field == "args" else redact_lines(values)


_REDACT = StringRewrite(
    text=lambda _field, value: redact_text(value),
    text_list=_redact_list,
    text_dict=_redact_dict,
    key=lambda key: key,
)


def redact_model(model: ModelT) -> ModelT:
    """A redacted deep copy of any pydantic model: every string field, however nested.

    Walking the model generically means a field added later is covered without touching
    this module. ``env``, ``annotations`` and ``fields`` dicts are treated as name -> value
    (``redact_mapping``); ``args`` lists as command lines; other string lists as log lines.
    """
    return rewrite_model(model, _REDACT)


def redact_evidence(evidence: Evidence) -> Evidence:
    """A redacted deep copy of ``evidence``; the input is left untouched."""
    return redact_model(evidence)

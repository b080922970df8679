"""Turn a model's raw text into a validated ``LLMAnswer``, or a short error it can act on.

Called by ``kubetriage.llm.client`` on every completion. Servers in json_object mode, and
small models in any mode, wrap the object in code fences, prose or ``<think>`` blocks, so
we look for the first JSON object that validates. The error text of ``InvalidAnswer`` is
sent back to the model on the one validation retry, so it names fields and allowed values
and stays short.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from kubetriage.llm.schema import LLMAnswer

# Enough candidates for prose with a few braces in it; bounded so garbage cannot cost O(n^2).
_MAX_CANDIDATES = 64
_MAX_ERROR_CHARS = 1500
_MAX_LISTED_ERRORS = 8

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*[ \t]*\n(.*?)```", re.DOTALL)


class InvalidAnswer(ValueError):
    """The text holds no valid answer; ``str(error)`` is fit to show the model."""


def _candidate_texts(text: str) -> list[str]:
    """Fenced blocks first (the model's own framing), then the whole text."""
    stripped = _THINK_BLOCK.sub("", text)
    return [*_FENCE.findall(stripped), stripped]


def _brackets(
    text: str, openers: str, closers: str, *, prose_outside: bool = False
) -> Iterator[tuple[int, bool, int]]:
    """``(offset, opened, depth after)`` at each of ``openers``/``closers`` outside JSON
    strings. With ``prose_outside``, text at depth 0 is prose: its quotes open no string
    and a stray closer there is ignored."""
    depth = 0
    in_string = False
    escaped = False
    for offset, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"' and (depth > 0 or not prose_outside):
            in_string = True
        elif char in openers:
            depth += 1
            yield offset, True, depth
        elif char in closers and (depth > 0 or not prose_outside):
            depth -= 1
            yield offset, False, depth


def _top_level_starts(text: str) -> list[int]:
    """Offsets of each ``{`` that is not nested in an earlier ``{``.

    Objects nested in a truncated answer (a complete remediation inside an unfinished
    answer, say) are not answers and would only produce misleading errors. Quotes count
    only inside braces: prose quotes need not pair up.
    """
    starts: list[int] = []
    for offset, opened, depth in _brackets(text, "{", "}", prose_outside=True):
        if opened and depth == 1:
            starts.append(offset)
            if len(starts) >= _MAX_CANDIDATES:
                break
    return starts


def _json_objects(text: str) -> tuple[list[dict[str, Any]], str | None]:
    """Top-level JSON objects in ``text``, and the first decoding error met."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    first_error: str | None = None
    for start in _top_level_starts(text):
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError as error:
            first_error = first_error or f"{error.msg} at line {error.lineno} column {error.colno}"
            continue
        if isinstance(value, dict):
            found.append(value)
    return found, first_error


def _looks_truncated(text: str) -> bool:
    """True when an object was opened and never closed (outside strings)."""
    final = 0
    for _, _, depth in _brackets(text[text.find("{") :] if "{" in text else "", "{[", "}]"):
        final = depth
    return final > 0


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, ``field.path: message``, bounded for a prompt."""
    lines = []
    for item in error.errors()[:_MAX_LISTED_ERRORS]:
        location = ".".join(str(part) for part in item["loc"]) or "(root)"
        lines.append(f"{location}: {item['msg']}")
    if error.error_count() > _MAX_LISTED_ERRORS:
        lines.append(f"... and {error.error_count() - _MAX_LISTED_ERRORS} more problems")
    return "\n".join(lines)[:_MAX_ERROR_CHARS]


def _no_object_error(text: str) -> InvalidAnswer:
    if _looks_truncated(text):
        return InvalidAnswer(
            "the JSON object is truncated (it was opened but never closed); keep every field short"
        )
    _, decode_error = _json_objects(_THINK_BLOCK.sub("", text))
    if decode_error is not None:
        return InvalidAnswer(f"the answer is not valid JSON: {decode_error}")
    return InvalidAnswer("the answer contains no JSON object")


def parse_answer(text: str | None) -> LLMAnswer:
    """Validate the model's text; raise ``InvalidAnswer`` saying what to fix."""
    if text is None or not text.strip():
        raise InvalidAnswer("the answer is empty")
    first_error: ValidationError | None = None
    for candidate in _candidate_texts(text):
        for obj in _json_objects(candidate)[0]:
            try:
                return LLMAnswer.model_validate(obj)
            except ValidationError as error:
                first_error = first_error or error
    if first_error is not None:
        raise InvalidAnswer(
            "the JSON object does not match the schema:\n" + describe_validation_error(first_error)
        )
    raise _no_object_error(text)

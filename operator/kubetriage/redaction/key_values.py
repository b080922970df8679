"""Masking the values of secret-named keys in free text: ``key=value``, ``key: value``,
``"key": "value"``, ``key := value`` and YAML ``key: |`` blocks. A key is a candidate only if
it contains a stem (``KEY_STEMS``); ``keys.is_secret_key`` decides on the whole name, and
benign values (booleans, references, placeholders) are left alone. Linear time: the stem
pattern opens with a character class and every repeat is bounded. Pure.
"""

from __future__ import annotations

import re

from kubetriage.redaction.keys import (
    PLACEHOLDER_PREFIX,
    is_benign_value,
    is_secret_key,
    kind_for_key,
    placeholder,
    reads_as_prose,
)

# key=value, key: value, "key": "value". A key is a candidate only if it
# contains one of these stems; ``is_secret_key`` then decides on the whole name. The stem
# pattern opens with a character class so the engine can skip between candidates.
_KEY_STEM_RE = re.compile(
    r"[PpSsTtKkCcAaDd](?i:(?<=p)(?:ass|wd?)|(?<=s)(?:ecret|ig)|(?<=t)oken|(?<=k)ey"
    r"|(?<=c)(?:red|ookie)|(?<=a)uth|(?<=d)sn)"
)
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_MAX_KEY_PREFIX = 64
_KEY_TOKEN_BREAK_RE = re.compile(r"[^A-Za-z0-9_.-]")
_KEY_VALUE_RE = re.compile(
    r"(?P<key>[A-Za-z0-9_.-]{1,160})"
    r"(?P<sep>\\?[\"']?[ \t]*(?:=>|:=|[:=])[ \t]*)"
    r"(?:\\\"(?P<escaped>[^\"\\\n]{0,4096})\\\""
    r"|\"(?P<dquoted>(?:[^\"\\\n]|\\.){0,4096})\""
    r"|'(?P<squoted>[^'\n]{0,4096})'"
    r"|(?P<reference>\$\{[^}\s]{0,128}\}|\$\([^)\s]{0,128}\))"
    r"|(?P<block>[|>][+-]?(?=[ \t]*\r?\n))"
    r"|(?P<bare>[^\s\"'<>,;&{}()`]{1,4096}))"
)


def _secret_kind(key: str) -> str | None:
    """The placeholder type for values under ``key``, or None if the key is not secret."""
    return kind_for_key(key) if is_secret_key(key) else None


def _masked_key_value(match: re.Match[str], kind: str) -> str | None:
    """The masked text of one ``key<sep>value`` match, or None when it is not a secret."""
    group = match.lastgroup  # the value alternative that matched
    if group is None or group in {"reference", "block"}:
        return None
    value = match.group(group)
    if is_benign_value(value) or PLACEHOLDER_PREFIX in value:
        return None
    if group == "bare":
        sep = match.group("sep")
        colon_only = ":" in sep and "=" not in sep
        if colon_only and reads_as_prose(value, match.string, match.end()):
            return None
    offset = match.start()
    start, end = match.span(group)
    whole = match.group(0)
    return whole[: start - offset] + placeholder(kind) + whole[end - offset :]


_LINE_INDENT_RE = re.compile(r"[ \t]*")


def _masked_yaml_block(text: str, key_start: int, end: int, kind: str) -> tuple[str, int] | None:
    """Mask a ``key: |`` block: the lines after ``end`` indented deeper than the key.

    Returns the replacement for ``text[end:block_end]`` and ``block_end``, or None when
    there is no such block or it is already masked.
    """
    line_start = text.rfind("\n", 0, key_start) + 1
    key_indent = key_start - line_start
    newline = text.find("\n", end)
    if newline < 0:
        return None
    position = block_start = newline + 1
    block_indent: int | None = None
    while position < len(text):
        indent_end = _LINE_INDENT_RE.match(text, position)
        assert indent_end is not None  # "[ \t]*" always matches
        line_end = text.find("\n", position)
        line_end = len(text) if line_end < 0 else line_end
        blank = indent_end.end() == line_end
        if not blank and indent_end.end() - position <= key_indent:
            break
        if not blank and block_indent is None:
            block_indent = indent_end.end() - position
        position = line_end + 1
    block_end = min(position, len(text))
    if block_indent is None or PLACEHOLDER_PREFIX in text[block_start:block_end]:
        return None
    trailing = "\n" if text[block_end - 1 : block_end] == "\n" else ""
    masked = text[end:block_start] + " " * block_indent + placeholder(kind) + trailing
    return masked, block_end


def redact_key_values(text: str) -> str:
    """Mask the values of secret-named keys, visiting only keys that contain a stem."""
    kinds: dict[str, str | None] = {}  # key -> placeholder type; logs repeat their keys
    pieces: list[str] = []
    copied_to = 0  # text[:copied_to] is already in pieces
    search_from = 0
    while (stem := _KEY_STEM_RE.search(text, search_from)) is not None:
        key_start = stem.start()
        floor = max(copied_to, key_start - _MAX_KEY_PREFIX - 1)
        while key_start > floor and text[key_start - 1] in _KEY_CHARS:
            key_start -= 1
        token_break = _KEY_TOKEN_BREAK_RE.search(text, stem.end())
        search_from = token_end = len(text) if token_break is None else token_break.start()
        if key_start > 0 and text[key_start - 1] in _KEY_CHARS:
            continue  # key longer than any real one, or glued to text already masked
        match = _KEY_VALUE_RE.match(text, key_start)
        if match is None or match.end("key") != token_end:
            continue
        key = match.group("key")
        if key not in kinds:
            # The Authorization rule owns these keys, with their scheme.
            authorization = key.lower().endswith("authorization")
            kinds[key] = None if authorization else _secret_kind(key)
        kind = kinds[key]
        if kind is None:
            continue
        if match.lastgroup == "block":
            block = _masked_yaml_block(text, key_start, match.end(), kind)
            replacement = None if block is None else (match.group(0) + block[0], block[1])
        else:
            value = _masked_key_value(match, kind)
            replacement = None if value is None else (value, match.end())
        if replacement is None:
            continue
        pieces.extend((text[copied_to:key_start], replacement[0]))
        copied_to = search_from = replacement[1]
    pieces.append(text[copied_to:])
    return "".join(pieces)


# The key stems of ``_KEY_STEM_RE``, lower case.
KEY_STEMS = ("pass", "pw", "secret", "sig", "token", "key", "cred", "cookie", "auth", "dsn")

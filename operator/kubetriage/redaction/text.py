"""Credential redaction of text: ``redact_text`` and its forms for log tails, name -> value
mappings and command lines.

``redact_text`` masks secrets with a typed placeholder (``[REDACTED:github-token]``) while
keeping the text around them readable, because the rest of the line is evidence. It runs the
rule table (``rules.py``) in order; a text holding none of the literals some rule needs (most
names, reasons and timestamps in evidence) is returned as it is without running any pattern.
The model walk is in ``walk.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubetriage.redaction.keys import PLACEHOLDER_PREFIX, is_secret_key, kind_for_key, placeholder
from kubetriage.redaction.rules import PEM_BEGIN_RE, PEM_END_RE, RULES


def _fewest(needles: set[str], folded: set[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The literals to look for: one that contains another (or, lower-cased, a folded one)
    is found whenever the text holds it, so only the others are searched."""
    kept_folded = {f for f in folded if not any(g != f and g in f for g in folded)}
    kept = {
        n
        for n in needles
        if not any(m != n and m in n for m in needles)
        and not any(f in n.lower() for f in kept_folded)
    }
    return tuple(sorted(kept)), tuple(sorted(kept_folded))


# Every literal some rule needs: a text with none of them holds nothing to redact.
_NEEDLES, _FOLDED_NEEDLES = _fewest(
    {needle for rule in RULES for needle in rule.needles},
    {needle for rule in RULES for needle in rule.folded},
)


def _may_hold_secrets(text: str) -> bool:
    """Whether any rule could match ``text`` (one substring search per literal). Only for
    ASCII text: case-insensitive patterns also match some non-ASCII letters (U+0131 dotless
    i, U+017F long s) that ``lower()`` leaves as they are, so other text runs every rule."""
    if not text.isascii():
        return True
    # A plain loop over the ~70 literals (a generator costs a third more): this runs for
    # every string of every Incident's evidence.
    for needle in _NEEDLES:
        if needle in text:
            return True
    lowered = text.lower()
    return any(needle in lowered for needle in _FOLDED_NEEDLES)


def redact_text(text: str) -> str:
    """``text`` with every recognised credential replaced by ``[REDACTED:<type>]``."""
    if not _may_hold_secrets(text):
        return text
    for rule in RULES:
        text = rule.apply(text)
    return text


def redact_lines(lines: Sequence[str]) -> list[str]:
    """Redact consecutive lines (a log tail) where one secret may span several lines.

    A PEM private key printed to a log arrives one line per entry, so the body lines do not
    look like anything on their own: every line from a BEGIN ... PRIVATE KEY header to its
    END line is masked. The number of lines is preserved (line numbers are evidence).
    """
    redacted: list[str] = []
    inside_key = False
    for line in lines:
        if inside_key:
            redacted.append(placeholder("private-key"))
            inside_key = PEM_END_RE.search(line) is None
            continue
        start = PEM_BEGIN_RE.search(line)
        if start is not None and PEM_END_RE.search(line, start.end()) is None:
            inside_key = True
        redacted.append(redact_text(line))
    return redacted


def redact_mapping(values: Mapping[str, str]) -> dict[str, str]:
    """Redact env vars, annotations or fields: a secret-named key loses its whole value."""
    redacted: dict[str, str] = {}
    for key, value in values.items():
        if is_secret_key(key) and value and not value.startswith(PLACEHOLDER_PREFIX):
            redacted[key] = placeholder(kind_for_key(key))
        else:
            redacted[key] = redact_text(value)
    return redacted


def redact_args(args: Sequence[str]) -> list[str]:
    """Container args: ``["--db-password", "hunter2"]`` puts the secret in the next item."""
    redacted = redact_lines(args)
    for index in range(len(args) - 1):
        flag = args[index]
        follower = args[index + 1]
        if (
            flag.startswith("-")
            and "=" not in flag
            and is_secret_key(flag.lstrip("-"))
            and not follower.startswith("-")
        ):
            redacted[index + 1] = placeholder(kind_for_key(flag.lstrip("-")))
    return redacted

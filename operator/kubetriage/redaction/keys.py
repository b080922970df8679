"""What says a value is a secret before any pattern runs: the placeholder that masks it, the
key names that hold secrets (``DB_PASSWORD``, ``x-api-key``, ``AccountKey``) with the
placeholder type each implies, and the value heuristics (flags and masks are benign, a word
followed by more words is prose, a long mixed-case string looks random). Pure; read by the
rule table (``rules.py``) and the text engine (``text.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

PLACEHOLDER_PREFIX = "[REDACTED:"


def placeholder(kind: str) -> str:
    """The mask written in place of a secret, e.g. ``[REDACTED:aws-access-key]``."""
    return f"{PLACEHOLDER_PREFIX}{kind}]"


# --------------------------------------------------------------------------------------
# Secret key names
# --------------------------------------------------------------------------------------


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# A word ending in one of these names a secret ("DB_PASSWORD", "csrftoken", "AccountKey"
# splits into words first, so these catch the run-together spellings too).
_SECRET_WORD_SUFFIXES = tuple(
    word_set(
        "password passwords passwd passphrase secret secrets token apikey accesskey "
        "privatekey privkey secretkey accountkey licensekey credential credentials creds"
    )
)
# Too short or too common to match as suffixes ("bypass", "design"), so whole words only.
_SECRET_WORDS = frozenset(
    {"pwd", "pw", "pass", "auth", "authorization", "dsn", "sig", "signature", "cookie"}
)
# Adjacent word pairs that name a secret although neither word does alone.
_SECRET_PAIRS = frozenset(
    {
        ("api", "key"),
        ("access", "key"),
        ("private", "key"),
        ("account", "key"),
        ("app", "key"),
        ("application", "key"),
        ("license", "key"),
        ("master", "key"),
        ("encryption", "key"),
        ("signing", "key"),
        ("shared", "key"),
        ("storage", "key"),
        ("subscription", "key"),
        ("ingest", "key"),
        ("session", "key"),
        ("client", "key"),
        ("tls", "key"),
        ("ssh", "key"),
    }
)
# Keys whose value is a connection URL that normally embeds credentials.
_SECRET_URL_PAIRS = frozenset(
    {
        ("database", "url"),
        ("database", "uri"),
        ("db", "url"),
        ("db", "uri"),
        ("mongo", "url"),
        ("mongo", "uri"),
        ("mongodb", "url"),
        ("mongodb", "uri"),
        ("postgres", "url"),
        ("mysql", "url"),
        ("connection", "string"),
        ("conn", "string"),
        ("conn", "str"),
        ("webhook", "url"),
        ("sas", "url"),
    }
)
# A key ending in one of these describes a secret rather than holding it
# ("secretName", "token_expiry", "password_file", "AUTH_MODE").
_DESCRIPTIVE_LAST_WORDS = word_set(
    "name names ref refs file files path dir type kind length len size ttl expiry expires "
    "expiration expire expired timeout at time timestamp date age days seconds mode "
    "method methods provider enabled enable disabled required url uri endpoint host "
    "hostname port user username count policy version rotation format algorithm alg "
    "scheme server issuer audience namespace source store mount volume selector status "
    "state error errors reason message msg field fields limit used max min"
)
# The shell's working directory, not a password.
_NON_SECRET_EXACT_KEYS = frozenset({"PWD", "OLDPWD"})

_KEY_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def _key_words(key: str) -> list[str]:
    return [word.lower() for word in _KEY_WORD_RE.findall(key)]


def _is_secret_word(word: str) -> bool:
    return word in _SECRET_WORDS or word.endswith(_SECRET_WORD_SUFFIXES)


def _url_pair(words: Sequence[str]) -> bool:
    return len(words) >= 2 and (words[-2], words[-1]) in _SECRET_URL_PAIRS


def is_secret_key(key: str) -> bool:
    """Whether a variable, header, annotation or field name says its value is a secret."""
    if key.strip("-_") in _NON_SECRET_EXACT_KEYS:
        return False
    words = _key_words(key)
    if not words:
        return False
    if _url_pair(words):
        return True
    if words[-1] in _DESCRIPTIVE_LAST_WORDS:
        return False
    if any(_is_secret_word(word) for word in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in pairwise(words))


_API_KEY_PAIRS = frozenset(
    {("api", "key"), ("license", "key"), ("app", "key"), ("application", "key"), ("ingest", "key")}
)
_ACCESS_KEY_PAIRS = frozenset(
    {("access", "key"), ("account", "key"), ("shared", "key"), ("storage", "key")}
)


def kind_for_key(key: str) -> str:
    """The placeholder type for a value found under ``key`` (assumed secret)."""
    words = _key_words(key)
    pairs = set(pairwise(words))
    if "aws" in words and any(w.endswith("token") for w in words):
        return "aws-session-token"
    if "aws" in words and "secret" in words:
        return "aws-secret-key"
    if any(
        w.endswith(("password", "passwd", "passphrase")) or w in {"pwd", "pw", "pass"}
        for w in words
    ):
        return "password"
    if _url_pair(words) or "dsn" in words:
        return "connection-string"
    if ("private", "key") in pairs or any(w.endswith(("privatekey", "privkey")) for w in words):
        return "private-key"
    if any(w.endswith("token") for w in words):
        return "token"
    if pairs & _API_KEY_PAIRS or any(w.endswith(("apikey", "licensekey")) for w in words):
        return "api-key"
    if pairs & _ACCESS_KEY_PAIRS or any(w.endswith(("accesskey", "accountkey")) for w in words):
        return "access-key"
    if "sig" in words or "signature" in words:
        return "signature"
    if "cookie" in words:
        return "cookie"
    return "secret"


# --------------------------------------------------------------------------------------
# Value heuristics
# --------------------------------------------------------------------------------------

# Values under a secret-looking key that are flags, nulls or already masked.
_BENIGN_VALUES = frozenset({""}) | word_set(
    "true false yes no on off enabled disabled none null nil <nil> undefined required "
    "optional redacted <redacted> [redacted] hidden <hidden> [hidden] [filtered] -"
)
_MASKED_VALUE_RE = re.compile(r"\*+|[xX]{3,}|•+")
# A single ordinary word or an HTTP status: in "failed to refresh token: context deadline
# exceeded" the "value" is prose, and hiding it would hide the error.
_PROSE_WORD_RE = re.compile(r"[A-Za-z][a-z]*(?:['-][a-z]+)*|[0-9]{1,3}")
_PROSE_CONTINUES_RE = re.compile(r"[ \t]+[\"'A-Za-z0-9(]")


def is_benign_value(value: str) -> bool:
    return value.lower() in _BENIGN_VALUES or _MASKED_VALUE_RE.fullmatch(value) is not None


def reads_as_prose(value: str, text: str, end: int) -> bool:
    """A ``key: value`` whose value is one plain word followed by more words is a sentence."""
    return (
        _PROSE_WORD_RE.fullmatch(value) is not None
        and _PROSE_CONTINUES_RE.match(text, end) is not None
    )


def looks_random(value: str) -> bool:
    """A token-like string: long, or mixing letters with digits or cases."""
    if len(value) >= 24:
        return True
    if len(value) < 8:
        return False
    has_digit = any(c.isdigit() for c in value)
    has_upper = any(c.isupper() for c in value)
    has_lower = any(c.islower() for c in value)
    return (has_digit and (has_upper or has_lower)) or (has_upper and has_lower)

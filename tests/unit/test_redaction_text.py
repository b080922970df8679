"""Checks ``redact_text`` / ``redact_lines`` on a corpus of fake credentials and benign lines.

Everything is real: the production rules run on strings loaded from
``data/secret_shapes.yaml`` (fake values in realistic log, env and manifest contexts).
Hypothesis drives the idempotence and never-raises properties, and checks that the
shortcut for texts holding none of the rules' literals gives what running every rule gives;
10 MB inputs (``tests/support/redaction_inputs.py``) must finish and redact correctly, their
times are measured in ``benchmarks/bench_redaction.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kubetriage.redaction import is_secret_key, redact_lines, redact_text, rules
from tests.support.redaction_inputs import PATHOLOGICAL

CORPUS_PATH = Path(__file__).parent / "data" / "secret_shapes.yaml"
CORPUS: dict[str, Any] = yaml.safe_load(CORPUS_PATH.read_text(encoding="utf-8"))
SHAPES: list[dict[str, Any]] = CORPUS["shapes"]
BENIGN: list[str] = CORPUS["benign"]


def test_corpus_is_large_and_distinct() -> None:
    names = [shape["shape"] for shape in SHAPES]
    assert len(names) == len(set(names))
    assert len(names) >= 50
    assert len(set(BENIGN)) >= 20


@pytest.mark.parametrize("shape", SHAPES, ids=lambda shape: shape["shape"])
def test_secret_shape_is_masked_with_its_type(shape: dict[str, Any]) -> None:
    text: str = shape["text"]
    for secret in shape["secrets"]:
        assert secret in text, "corpus entry must contain its own secret"

    redacted = redact_text(text)

    for secret in shape["secrets"]:
        assert secret not in redacted
    assert f"[REDACTED:{shape['kind']}]" in redacted
    for evidence in shape["keep"]:
        assert evidence in redacted
    assert redact_text(redacted) == redacted


@pytest.mark.parametrize("line", BENIGN)
def test_benign_operational_line_is_unchanged(line: str) -> None:
    assert redact_text(line) == line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "postgres://app:s3cret@db:5432/app",
            "postgres://app:[REDACTED:password]@db:5432/app",
        ),
        ("password=hunter2 user=bob", "password=[REDACTED:password] user=bob"),
        ('{"token": "abc123"}', '{"token": "[REDACTED:token]"}'),
        (
            "Authorization: Bearer abcdefghijklmnop1234",
            "Authorization: Bearer [REDACTED:bearer-token]",
        ),
        ("AKIAIOSFODNN7EXAMPLE", "[REDACTED:aws-access-key]"),
        ("password: ${DB_PASSWORD}", "password: ${DB_PASSWORD}"),
        ("password: ''", "password: ''"),
        ("token: <nil>", "token: <nil>"),
    ],
)
def test_exact_output_keeps_context(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_prose_after_colon_is_kept_but_a_trailing_value_is_masked() -> None:
    assert redact_text("invalid token: signature is invalid") == (
        "invalid token: signature is invalid"
    )
    assert redact_text("password: changeme\n") == "password: [REDACTED:password]\n"


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("DB_PASSWORD", True),
        ("apiKey", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("x-api-key", True),
        ("client_secret", True),
        ("GITHUB_TOKEN", True),
        ("csrftoken", True),
        ("AccountKey", True),
        ("DATABASE_URL", True),
        ("SENTRY_DSN", True),
        ("tls.key", True),
        ("secretName", False),
        ("token_expiry", False),
        ("password_file", False),
        ("AUTH_MODE", False),
        ("max_tokens", False),
        ("PWD", False),
        ("key", False),
        ("bypass", False),
        ("signal", False),
        ("valueFrom.secretKeyRef.name", False),
    ],
)
def test_is_secret_key(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_redact_lines_masks_a_pem_key_split_over_log_lines() -> None:
    lines = [
        "starting",
        "-----BEGIN RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEAfakefakeFAKEFAKEfakefakeFAKEFAKE",
        "FAKEfakeFAKEfakeFAKEfakeFAKEfake0123456789==",
        "-----END RSA PRIVATE KEY-----",
        "listening on :8443 password=hunter2",
    ]

    redacted = redact_lines(lines)

    assert len(redacted) == len(lines)
    assert redacted[0] == "starting"
    assert all("FAKE" not in line for line in redacted)
    assert redacted[2] == "[REDACTED:private-key]"
    assert redacted[5] == "listening on :8443 password=[REDACTED:password]"


# Fragments that interact: keys, separators, quotes, secret prefixes, placeholders.
_FRAGMENTS = [
    "password",
    "token",
    "secret",
    "api_key",
    "Authorization",
    "Bearer ",
    "Basic ",
    "=",
    ": ",
    ":",
    '"',
    "'",
    "\\",
    " ",
    "\n",
    ";",
    "&",
    "@",
    "://",
    "postgres",
    "-----BEGIN PRIVATE KEY-----",
    "-----END PRIVATE KEY-----",
    "eyJhbGciOiJIUzI1NiJ9",
    ".",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_" + "FAKE" * 9,
    "sk-proj-" + "FAKEfake01" * 3,
    "hunter2",
    "abc",
    "[REDACTED:token]",
    "Q~",
    "name",
    "value",
    "${X}",
    "<password>",
    "</password>",
]
_interacting_text = st.lists(
    st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=6)), max_size=30
).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), _interacting_text))
def test_redact_text_is_idempotent_and_total(text: str) -> None:
    once = redact_text(text)
    assert redact_text(once) == once


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=200))
def test_text_without_secret_markers_is_unchanged(text: str) -> None:
    # Without a key stem, a URL, a header or a vendor prefix, nothing reads as a secret. The
    # base64 openings of a .dockerconfigjson ('{"auths":') are such prefixes: the masked
    # config needs nothing after them (Hypothesis draws them from the rules' own literals).
    lowered = text.lower()
    markers = (
        *("pass", "pw", "secret", "token", "key", "cred", "auth", "dsn", "sig", "cookie"),
        *("bearer", "://", "-u", "--user", "-----begin"),
        *("eyjhdxrocyi6", "ewogicjhdxrocyi6", "eyaiyxv0ahmioi"),
    )
    assume(not any(marker in lowered for marker in markers))
    assert redact_text(text) == text


def _every_rule(text: str) -> str:
    """``redact_text`` without its shortcut: every rule runs, whatever the text holds."""
    for rule in rules.RULES:
        text = rule.apply(text)
    return text


# Non-ASCII letters that case-insensitive patterns match as ASCII ones ("Author\u0131zation").
_SHORTCUT_FRAGMENTS = [
    *_FRAGMENTS,
    *("\u0131", "\u017f", "\u212a", "Author\u0131zation: ", "pa\u017f\u017f=", "Bearer "),
]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(_SHORTCUT_FRAGMENTS), st.text(max_size=6)), max_size=30).map(
        "".join
    )
)
def test_the_shortcut_for_texts_no_rule_can_match_changes_nothing(text: str) -> None:
    assert redact_text(text) == _every_rule(text)


@pytest.mark.parametrize("text", [s["text"] for s in SHAPES] + BENIGN)
def test_the_shortcut_changes_nothing_on_the_corpus(text: str) -> None:
    assert redact_text(text) == _every_rule(text)


# Backtracking would hang here (pytest-timeout ends it); the times are measured in
# benchmarks/bench_redaction.py, not asserted.
@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_ten_megabytes_finish_without_backtracking(name: str) -> None:
    build, secret = PATHOLOGICAL[name]
    text = build()
    redacted = redact_text(text)
    assert redacted
    if secret is not None:
        assert secret not in redacted

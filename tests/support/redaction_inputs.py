"""Large and pathological inputs for the redaction rules: ten megabytes of a realistic log
and of shapes that would make a backtracking pattern take minutes. Shared by the unit test
(which checks the result) and ``benchmarks/bench_redaction.py`` (which times it)."""

from __future__ import annotations

from collections.abc import Callable

TEN_MB = 10_000_000


def realistic_log(size: int) -> str:
    lines = [
        "2026-11-10T10:04:12.345Z INFO trace_id=4bf92f3577b34da6a3ce929d0e0e4736 "
        "GET /api/cart 200 pod=checkout-7d9f6c-x2x9k",
        'level=error msg="db connect failed" dsn=postgres://app:hunter2@db:5432/app',
        "Authorization: Bearer abcdefghijklmnop1234567890 token=ghp_" + "FAKE" * 9,
        '{"level":"warn","msg":"retrying","attempt":3,"api_key":"abc123def456"}',
    ]
    block = "\n".join(lines) + "\n"
    return (block * (size // len(block) + 1))[:size]


# name -> (the input, built on demand; a fragment that must not survive redaction or None)
PATHOLOGICAL: dict[str, tuple[Callable[[], str], str | None]] = {
    "realistic-log": (lambda: realistic_log(TEN_MB), "hunter2"),
    "one-long-word": (lambda: "a" * TEN_MB, None),
    "glued-keys": (lambda: "password" * 1_250_000, None),
    "every-pair-secret": (lambda: "token=a " * 1_250_000, "token=a "),
    "unterminated-pem": (lambda: "-----BEGIN PRIVATE KEY-----" * 370_000, None),
    "url-fragments": (lambda: "x://a:" * 1_600_000, None),
    "header-keys": (lambda: "authorization: " * 600_000, None),
}

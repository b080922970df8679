"""Checks the reading of Envoy's access-log response flags (``kubetriage.envoy_flags``): the
code and flags of Envoy's and Istio's default formats, several flags at once, no flag, words
that are not flags, the overflow reset reason, and the flags Istio's metrics carry in labels.

Real: the module's pure functions on lines written as Envoy prints them.
"""

from __future__ import annotations

import pytest

from kubetriage.envoy_flags import (
    OVERFLOW,
    UPSTREAM_FAILURE,
    alerts_say_overflow,
    label_flags,
    line_flags,
    says_overflow,
)

ENVOY = (
    '[2026-11-20T09:58:18.121Z] "GET /v1/items?id=7 HTTP/1.1" 503 {flags} 0 81 0 - "10.1.0.4" '
    '"curl/8.5.0" "5e1a3c2b-9d8f" "items.shop.svc.cluster.local:8080" "-"'
)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("UO", {"UO"}),
        ("UF,URX", {"UF", "URX"}),
        ("UH", {"UH"}),
        ("-", set()),
        ("XYZ", set()),
    ],
)
def test_the_flags_after_the_code_are_read(flags: str, expected: set[str]) -> None:
    assert line_flags(ENVOY.format(flags=flags)) == (503, frozenset(expected))


def test_a_line_that_is_no_access_log_has_no_flags() -> None:
    assert line_flags('level=error msg="upstream connect error" code=503 UO') is None


def test_overflow_is_the_uo_flag_or_the_overflow_reset_reason() -> None:
    assert says_overflow(ENVOY.format(flags="UO"))
    assert says_overflow(
        "[warning][upstream] upstream_reset_before_response_started{overflow}: cluster shop_items"
    )
    assert not says_overflow(ENVOY.format(flags="UH"))
    assert not says_overflow(ENVOY.format(flags="-"))


def test_a_callee_down_is_not_an_overflow() -> None:
    assert OVERFLOW not in UPSTREAM_FAILURE
    assert {"UH", "UF", "URX", "UT", "UC"} <= UPSTREAM_FAILURE


def test_istio_metric_labels_carry_the_flags() -> None:
    assert label_flags({"response_flags": "UO"}) == {"UO"}
    assert label_flags({"response_flags": "-"}) == frozenset()
    assert alerts_say_overflow([{"alertname": "x"}, {"response_flags": "UO"}])
    assert not alerts_say_overflow([{"response_flags": "UH"}])

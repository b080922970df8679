"""Which Incident updates the ``approve`` handler takes (an approval set or changed to a
value) and which stay with ``acknowledge`` (a cleared approval, feedback). Pure; the
handlers module's own filter functions with diffs shaped as Kopf builds them."""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.handlers import _approval_requested, _diagnostic_change


@pytest.mark.parametrize(
    ("diff", "spec", "expected"),
    [
        ((("add", ("spec", "approve"), None, "restart-1"),), {"approve": "restart-1"}, True),
        ((("change", ("spec", "approve"), "a", "b"),), {"approve": "b"}, True),
        ((("remove", ("spec", "approve"), "a", None),), {}, False),
        ((("change", ("spec",), {"title": "t"}, {"title": "t", "approve": "x"}),),
         {"title": "t", "approve": "x"}, True),
        ((("change", (), {"spec": {}}, {"spec": {"approve": "x"}}),), {"approve": "x"}, True),
        ((("add", ("spec", "feedback"), None, {"helpful": True}),),
         {"approve": "x", "feedback": {"helpful": True}}, False),
        ((("add", ("spec", "approvedBy"), None, "alice"),), {"approve": "x"}, False),
    ],
)  # fmt: skip
def test_approval_requested(diff: Any, spec: dict[str, Any], expected: bool) -> None:
    assert _approval_requested(diff, spec) is expected


def test_approval_and_approver_are_not_reasons_to_diagnose_again() -> None:
    diff = (
        ("add", ("spec", "approve"), None, "x"),
        ("add", ("spec", "approvedBy"), None, "alice"),
    )
    assert not _diagnostic_change(diff)
    assert _diagnostic_change((("change", ("spec", "title"), "a", "b"),))

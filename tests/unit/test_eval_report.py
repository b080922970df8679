"""Checks where ``kubetriage eval`` says it fails: the confusion matrix by category and the
misses grouped by expected category and action, in the JSON report and in the text table.

Real: ``EvalReport``/``CaseScore`` and the renderers of ``kubetriage.replay.evaluate`` over
scores built in the test (no replay runs here).
"""

from __future__ import annotations

from kubetriage.replay.evaluate import CaseScore, EvalReport, render_table


def _score(
    case_id: str,
    expected: str,
    predicted: str | None,
    *,
    action: str | None = "escalate",
    expected_actions: tuple[str, ...] = ("escalate",),
    target_ok: bool = True,
) -> CaseScore:
    target = {"kind": "Deployment", "namespace": "shop", "name": "api"}
    expected_target: dict[str, str | None] = dict(target)
    if not target_ok:
        expected_target["name"] = "db"
    return CaseScore(
        id=case_id,
        category=predicted,
        expected_category=expected,
        action=action,
        expected_actions=list(expected_actions),
        target=dict(target) if predicted else None,
        expected_target=expected_target,
        category_correct=predicted == expected,
        action_correct=action in expected_actions,
        target_correct=target_ok and predicted is not None,
        latency_ms=10.0,
        phase="Diagnosed",
    )


def _report() -> EvalReport:
    return EvalReport(
        cases=[
            _score(
                "a",
                "oom-killed",
                "oom-killed",
                action="increase-memory",
                expected_actions=("increase-memory",),
            ),
            _score(
                "b",
                "bad-rollout",
                "oom-killed",
                action="increase-memory",
                expected_actions=("rollback",),
            ),
            _score(
                "c",
                "bad-rollout",
                "bad-rollout",
                action="rollback",
                expected_actions=("rollback",),
                target_ok=False,
            ),
            _score("d", "network", None, action=None, expected_actions=("fix-network",)),
        ]
    )


def test_the_confusion_matrix_counts_expected_against_predicted() -> None:
    assert _report().confusion() == {
        "bad-rollout": {"bad-rollout": 1, "oom-killed": 1},
        "network": {"none": 1},
        "oom-killed": {"oom-killed": 1},
    }


def test_misses_are_grouped_by_expected_category_and_action_and_say_what_was_wrong() -> None:
    misses = _report().misses()
    assert list(misses) == ["bad-rollout / rollback", "network / fix-network"]
    assert [(m["id"], m["wrong"]) for m in misses["bad-rollout / rollback"]] == [
        ("b", ["category", "action"]),
        ("c", ["target"]),
    ]
    assert misses["network / fix-network"][0]["wrong"] == ["category", "action", "target"]


def test_json_and_text_both_carry_them() -> None:
    report = _report()
    body = report.as_json()
    assert body["confusion"] == report.confusion()
    assert body["misses"] == report.misses()
    text = render_table(report)
    assert "confusion matrix (rows: expected category, columns: predicted)" in text
    row = next(line for line in text.splitlines() if line.startswith("bad-rollout "))
    assert row.split()[1:] == ["1", ".", "1"]  # columns: bad-rollout, none, oom-killed
    assert "  bad-rollout / rollback (2)" in text
    assert (
        "    c: wrong target; got bad-rollout rollback Deployment/shop/api; expected target "
        "Deployment/shop/db" in text
    )


def test_a_perfect_report_says_so() -> None:
    report = EvalReport(cases=[_score("a", "unknown", "unknown")])
    assert report.misses() == {}
    assert "no misses" in render_table(report)

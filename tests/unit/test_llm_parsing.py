"""Parsing a model's raw text: fences, prose, think blocks, truncation and schema errors.
Real: ``parse_answer`` on literal model outputs."""

from __future__ import annotations

import json

import pytest

from kubetriage.llm.parsing import InvalidAnswer, parse_answer
from kubetriage.models.vocabulary import Category
from tests.support.llm_samples import valid_answer

ANSWER = json.dumps(valid_answer())


@pytest.mark.parametrize(
    "text",
    [
        ANSWER,
        f"```json\n{ANSWER}\n```",
        f"```\n{ANSWER}\n```\n",
        f"Here is my diagnosis:\n{ANSWER}\nLet me know if you need more.",
        f"<think>The {{pod}} restarts; maybe {{oom}}?</think>\n{ANSWER}",
        f"Some {{not json}} prose first. {ANSWER}",
        json.dumps(valid_answer(), indent=2),
    ],
    ids=["plain", "fenced-json", "fenced", "prose", "think", "braces-in-prose", "indented"],
)
def test_wrapped_answers_parse(text: str) -> None:
    answer = parse_answer(text)
    assert answer.category is Category.OOM_KILLED
    assert answer.summary == valid_answer()["summary"]


def test_first_valid_object_wins_over_an_invalid_one() -> None:
    text = '{"note": "draft"}\n' + ANSWER
    assert parse_answer(text).category is Category.OOM_KILLED


def test_truncated_json_is_reported_as_truncated() -> None:
    with pytest.raises(InvalidAnswer, match="truncated"):
        parse_answer(ANSWER[: len(ANSWER) // 2])


def test_truncated_answer_with_complete_inner_objects_is_truncated() -> None:
    # Cut inside the remediation's rationale: the target object is complete, the answer not.
    cut = ANSWER[: ANSWER.index("A 512Mi limit")]
    assert '"namespace": "shop", "name": "checkout"}' in cut
    with pytest.raises(InvalidAnswer, match="truncated"):
        parse_answer(cut)


def test_malformed_json_is_reported_with_the_decoder_error() -> None:
    with pytest.raises(InvalidAnswer, match="not valid JSON"):
        parse_answer('{"category": "oom-killed", "confidence": 0.9,}')


def test_text_without_json_is_reported() -> None:
    with pytest.raises(InvalidAnswer, match="no JSON object"):
        parse_answer("The pod is out of memory; raise the limit.")


@pytest.mark.parametrize("text", [None, "", "   \n"])
def test_empty_answer_is_reported(text: str | None) -> None:
    with pytest.raises(InvalidAnswer, match="empty"):
        parse_answer(text)


def test_schema_error_names_the_field_and_allowed_values() -> None:
    with pytest.raises(InvalidAnswer) as caught:
        parse_answer(json.dumps(valid_answer(category="memory-leak")))
    message = str(caught.value)
    assert "category" in message
    assert "oom-killed" in message  # the allowed values are listed for the retry


def test_schema_error_message_is_bounded() -> None:
    garbage = {"evidence": [{"x": i} for i in range(8)], "remediations": "no"}
    with pytest.raises(InvalidAnswer) as caught:
        parse_answer(json.dumps(garbage))
    assert len(str(caught.value)) < 1700
    assert "more problems" in str(caught.value)


def test_an_answer_nested_in_another_object_is_not_a_candidate() -> None:
    """Only top-level objects are answers: the one nested in ``wrapper`` is passed over for
    the next top-level object."""
    nested = json.dumps({"wrapper": valid_answer(category="crash-loop")})
    text = f"noise {nested} {json.dumps(valid_answer())}"
    assert parse_answer(text).category is Category.OOM_KILLED


def test_a_json_array_of_strings_is_not_an_answer() -> None:
    with pytest.raises(InvalidAnswer, match="no JSON object"):
        parse_answer('["oom-killed", "increase-memory"]')

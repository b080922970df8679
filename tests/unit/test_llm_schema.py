"""The answer schema and ``LLMAnswer`` match the vocabulary exactly, keep to OpenAI's strict
subset, and accept/reject the same answers. Real: the schema, pydantic and jsonschema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from kubetriage.llm.schema import (
    MAX_EVIDENCE_ITEMS,
    MAX_REMEDIATIONS,
    MAX_SUMMARY_CHARS,
    LLMAnswer,
    answer_json_schema,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support.llm_samples import valid_answer

# Keywords OpenAI documents for strict structured outputs, plus annotations.
STRICT_KEYWORDS = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "items",
    "description",
    "minimum",
    "maximum",
    "maxItems",
}


def _objects(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield schema
    for prop in schema.get("properties", {}).values():
        yield from _objects(prop)
    if isinstance(schema.get("items"), dict):
        yield from _objects(schema["items"])


def test_categories_are_exactly_the_vocabulary() -> None:
    schema = answer_json_schema()
    assert schema["properties"]["category"]["enum"] == [c.value for c in Category]


def test_actions_are_exactly_the_vocabulary() -> None:
    remediation = answer_json_schema()["properties"]["remediations"]["items"]
    assert remediation["properties"]["action"]["enum"] == [a.value for a in Action]


def test_only_two_enums_exist() -> None:
    enums = [node["enum"] for node in _objects(answer_json_schema()) if "enum" in node]
    assert len(enums) == 2


def test_every_object_is_closed_and_requires_all_properties() -> None:
    for node in _objects(answer_json_schema()):
        assert set(node) <= STRICT_KEYWORDS, set(node) - STRICT_KEYWORDS
        if node.get("type") == "object":
            assert node["additionalProperties"] is False
            assert sorted(node["required"]) == sorted(node["properties"])


def test_nullable_fields_use_type_arrays() -> None:
    schema = answer_json_schema()
    target = schema["properties"]["remediations"]["items"]["properties"]["target"]
    assert target["properties"]["namespace"]["type"] == ["string", "null"]
    assert schema["properties"]["disagrees_with_analyzers"]["type"] == ["string", "null"]


def test_schema_is_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(answer_json_schema())


def test_model_and_schema_field_names_agree() -> None:
    assert set(answer_json_schema()["properties"]) == set(LLMAnswer.model_fields)


def test_valid_answer_passes_both() -> None:
    sample = valid_answer()
    jsonschema.validate(sample, answer_json_schema())
    answer = LLMAnswer.model_validate(sample)
    assert answer.category is Category.OOM_KILLED
    assert answer.remediations[0].action is Action.INCREASE_MEMORY
    assert answer.remediations[0].target.namespace == "shop"


def _with_action(action: str) -> dict[str, Any]:
    sample = valid_answer()
    sample["remediations"][0]["action"] = action
    return sample


INVALID = {
    "unknown category": valid_answer(category="memory-leak"),
    "unknown action": _with_action("delete-namespace"),
    "extra field": {**valid_answer(), "commands": ["kubectl delete ns shop"]},
    "missing field": {k: v for k, v in valid_answer().items() if k != "root_cause"},
    "confidence above 1": valid_answer(confidence=1.5),
    "confidence below 0": valid_answer(confidence=-0.1),
    "too many evidence items": valid_answer(evidence=["x"] * (MAX_EVIDENCE_ITEMS + 1)),
    "too many remediations": valid_answer(
        remediations=valid_answer()["remediations"] * (MAX_REMEDIATIONS + 1)
    ),
    "category not a string": valid_answer(category=3),
}


@pytest.mark.parametrize("sample", INVALID.values(), ids=INVALID.keys())
def test_invalid_answers_fail_both(sample: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(sample, answer_json_schema())
    with pytest.raises(ValidationError):
        LLMAnswer.model_validate(sample)


def test_model_enforces_lengths_the_schema_only_describes() -> None:
    too_long = valid_answer(summary="x" * (MAX_SUMMARY_CHARS + 1))
    with pytest.raises(ValidationError, match="summary"):
        LLMAnswer.model_validate(too_long)
    assert str(MAX_SUMMARY_CHARS) in answer_json_schema()["properties"]["summary"]["description"]


def test_bounded_variant_only_adds_max_lengths() -> None:
    plain = answer_json_schema()
    bounded = answer_json_schema(bounded_strings=True)
    assert bounded["properties"]["summary"]["maxLength"] == MAX_SUMMARY_CHARS
    jsonschema.Draft202012Validator.check_schema(bounded)

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "maxLength"}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    assert strip(bounded) == plain
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(valid_answer(summary="x" * (MAX_SUMMARY_CHARS + 1)), bounded)


def test_schema_is_a_fresh_copy() -> None:
    first = answer_json_schema()
    first["properties"]["category"]["enum"].append("made-up")
    assert "made-up" not in answer_json_schema()["properties"]["category"]["enum"]

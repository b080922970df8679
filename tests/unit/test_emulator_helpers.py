"""Pure helpers of the Kubernetes API emulator: selectors, patches, structural schemas.

Nothing is mocked; these are plain function calls (the HTTP behaviour is covered by
``tests/integration/test_emulator_*.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.replay.emulator.errors import ApiError
from kubetriage.replay.emulator.patching import json_patch, merge_patch, strategic_merge
from kubetriage.replay.emulator.schema import normalize, validate
from kubetriage.replay.emulator.selectors import field_selector, label_selector


def _obj(**labels: str) -> dict[str, Any]:
    return {"metadata": {"name": "x", "labels": labels}, "spec": {"nodeName": "n1"}}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", True),
        ("app==web", True),
        ("app!=web", False),
        ("app!=db", True),
        ("app in (web, db)", True),
        ("app notin (web)", False),
        ("missing notin (web)", True),
        ("tier", False),
        ("!tier", True),
        ("app=web,tier", False),
        ("app in (a,b),!tier", False),
    ],
)
def test_label_selectors(selector: str, expected: bool) -> None:
    assert label_selector(selector)(_obj(app="web")) is expected


def test_field_selectors() -> None:
    assert field_selector("metadata.name=x,spec.nodeName=n1")(_obj())
    assert not field_selector("spec.nodeName!=n1")(_obj())
    assert field_selector("status.phase=")(_obj())


def test_merge_patch_deletes_with_null() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {
        "a": {"c": 2, "d": 3}
    }


def test_json_patch_ops_and_test_failure() -> None:
    doc = {"a": [1, 2], "b": {"c~d": 1, "e/f": 2}}
    ops = [
        {"op": "add", "path": "/a/1", "value": 9},
        {"op": "remove", "path": "/b/c~0d"},
        {"op": "move", "from": "/b/e~1f", "path": "/g"},
        {"op": "copy", "from": "/g", "path": "/h"},
        {"op": "test", "path": "/a", "value": [1, 9, 2]},
    ]
    assert json_patch(doc, ops) == {"a": [1, 9, 2], "b": {}, "g": 2, "h": 2}
    with pytest.raises(ApiError) as err:
        json_patch(doc, [{"op": "test", "path": "/a", "value": []}])
    assert err.value.code == 422


def test_strategic_merge_patch_directives() -> None:
    original = {
        "metadata": {"finalizers": ["a"]},
        "spec": {
            "containers": [
                {"name": "app", "image": "v1", "env": [{"name": "A", "value": "1"}]},
                {"name": "side", "image": "s1"},
            ],
            "tolerations": [{"key": "x"}],
        },
    }
    patch = {
        "metadata": {"finalizers": ["b"]},
        "spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
            "containers": [
                {"name": "app", "env": [{"name": "B", "value": "2"}]},
                {"name": "side", "$patch": "delete"},
            ],
            "tolerations": [{"key": "y"}],
        },
    }
    result = strategic_merge(original, patch)
    assert result["metadata"]["finalizers"] == ["a", "b"]
    assert result["spec"]["containers"] == [
        {
            "name": "app",
            "image": "v1",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        }
    ]
    assert result["spec"]["tolerations"] == [{"key": "y"}]


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        # Declared like many generated CRDs do; must not prune ObjectMeta.
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 2},
                "mode": {"type": "string", "default": "auto", "enum": ["auto", "manual"]},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "count": {"type": "integer", "nullable": True},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "items": {"type": "array", "minItems": 1, "items": {"type": "integer"}},
            },
        },
    },
}


def test_normalize_defaults_prunes_and_reports_unknown() -> None:
    unknown: list[str] = []
    obj = {
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": {"name": "a"},
        "spec": {"name": "ab", "bogus": 1, "labels": {"k": "v"}, "count": None, "free": {"z": [1]}},
        "extra": True,
    }
    result = normalize(obj, SCHEMA, "", unknown, root=True)
    assert result["spec"] == {
        "name": "ab",
        "labels": {"k": "v"},
        "count": None,
        "free": {"z": [1]},
        "mode": "auto",
    }
    assert "extra" not in result
    assert result["metadata"] == {"name": "a"}
    assert unknown == ["spec.bogus", "extra"]


def test_validate_messages_name_fields() -> None:
    causes = validate(
        {"spec": {"name": "a", "mode": "x", "items": [], "labels": {"k": 1}}}, SCHEMA, "", root=True
    )
    rendered = {c.field: c.message for c in causes}
    assert rendered == {
        "spec.name": 'Invalid value: "a": spec.name in body should be at least 2 chars long',
        "spec.mode": 'Unsupported value: "x": supported values: "auto", "manual"',
        "spec.items": 'Invalid value: "array": spec.items in body should have at least 1 items',
        "spec.labels.k": (
            'Invalid value: "integer": spec.labels.k in body must be of type string: "integer"'
        ),
    }
    missing = validate({"spec": {}}, SCHEMA, "", root=True)
    assert [(c.field, c.reason) for c in missing] == [("spec.name", "FieldValueRequired")]

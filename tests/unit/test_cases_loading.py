"""Loading shared-format incident cases: the examples load; malformed cases fail naming the
file and the field; unknown keys are errors. Real files under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubetriage.models.case import parse_go_duration
from kubetriage.replay.cases import CaseError, load_case, load_case_set
from tests.support.cases import EXAMPLES

SHARED = EXAMPLES


def test_shared_examples_load() -> None:
    cases = load_case_set(SHARED)
    assert {c.id for c in cases} >= {"example-oom-csv-exporter", "example-image-tag-typo"}


def _write(tmp_path: Path, body: dict[str, object]) -> Path:
    case_dir = tmp_path / "bad"
    case_dir.mkdir()
    (case_dir / "case.yaml").write_text(yaml.safe_dump(body))
    return case_dir


BASE = {"id": "x", "alert": {"labels": {"alertname": "A"}, "startsAgo": "5m"}}


@pytest.mark.parametrize(
    ("mutation", "field"),
    [
        ({"extra": 1}, "extra"),
        ({"alert": {"labels": {"alertname": "A"}, "startsAgo": "five"}}, "alert.startsAgo"),
        ({"alert": {"labels": {}}}, "alert.labels"),
        ({"cluster": [{"kind": "Pod", "metadata": {"name": "p"}}]}, "cluster"),
        (
            {
                "expect": {
                    "category": "gremlins",
                    "actions": ["restart"],
                    "target": {"kind": "Deployment", "name": "a"},
                }
            },
            "expect.category",
        ),
        ({"logs": {"pod-without-namespace": "x"}}, "logs"),
    ],
)
def test_malformed_case_names_file_and_field(
    tmp_path: Path, mutation: dict[str, object], field: str
) -> None:
    path = _write(tmp_path, {**BASE, **mutation})
    with pytest.raises(CaseError) as caught:
        load_case(path)
    assert str(path / "case.yaml") in str(caught.value)
    assert field in str(caught.value)


def test_go_durations() -> None:
    assert parse_go_duration("1h30m").total_seconds() == 5400
    assert parse_go_duration("90s").total_seconds() == 90
    with pytest.raises(ValueError, match="invalid Go duration"):
        parse_go_duration("5 minutes")

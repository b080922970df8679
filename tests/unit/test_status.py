"""Status bookkeeping: conditions merge by type and keep their transition time when the
status is unchanged; phase patches carry what the CRD expects. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kubetriage.models.diagnosis import Diagnosis
from kubetriage.models.vocabulary import Category
from kubetriage.status import (
    condition,
    diagnosed_patch,
    failed_patch,
    investigating_patch,
    merge_conditions,
    parse_conditions,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def test_merge_keeps_transition_time_when_status_is_unchanged() -> None:
    first = [condition("MetricsAvailable", "False", "NotConfigured", now=T0)]
    merged = merge_conditions(first, [condition("MetricsAvailable", "False", "NoData", now=T1)])
    assert merged[0].last_transition_time == T0
    assert merged[0].reason == "NoData"
    flipped = merge_conditions(merged, [condition("MetricsAvailable", "True", "Queried", now=T1)])
    assert flipped[0].last_transition_time == T1


def test_phase_patches() -> None:
    investigating = investigating_patch([], generation=2, now=T0)
    assert investigating["phase"] == "Investigating"
    diagnosis = Diagnosis(summary="s", category=Category.STORAGE, confidence=0.8)
    done = diagnosed_patch(
        parse_conditions(investigating["conditions"]),
        diagnosis,
        [condition("LLMUnavailable", "True", "NotConfigured", now=T0)],
        target="PersistentVolumeClaim/db/data",
        generation=2,
        now=T1,
    )
    assert done["phase"] == "Diagnosed"
    assert done["observedGeneration"] == 2
    assert done["target"] == "PersistentVolumeClaim/db/data"
    types = {c["type"]: c for c in done["conditions"]}
    assert types["Diagnosed"]["status"] == "True"
    assert types["LLMUnavailable"]["reason"] == "NotConfigured"
    assert done["diagnosis"]["category"] == "storage"
    failed = failed_patch([], reason="InvalidSpec", message="spec.target bad", generation=1, now=T0)
    assert failed["phase"] == "Failed"
    assert failed["conditions"][0]["reason"] == "InvalidSpec"


def test_malformed_conditions_are_dropped_not_fatal() -> None:
    parsed = parse_conditions([{"type": "X"}, {"type": "Y", "status": "True", "reason": "r"}, 3])
    assert [c.type for c in parsed] == ["Y"]
    assert parse_conditions(None) == []


def test_a_new_diagnosis_deletes_fields_the_old_one_had() -> None:
    from kubetriage.models.diagnosis import LLMUsage

    fresh = Diagnosis(
        summary="s", category=Category.STORAGE, confidence=0.8, llm=LLMUsage(used=True, model="m")
    )
    body = diagnosed_patch([], fresh, [], target=None, generation=1, now=T0)["diagnosis"]
    # merge-patch null = delete: an earlier "cached": true must not survive.
    assert body["llm"]["cached"] is None
    assert body["disagreement"] is None
    assert body["llm"]["model"] == "m"
    assert all(None not in r.values() for r in body["remediations"])

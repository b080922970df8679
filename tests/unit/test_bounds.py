"""The Incident size bound (``kubetriage.bounds``): budgets derived from one total never add
up to more than it; the largest Incident the CRD and the receiver allow (every string and
list of the status at its CRD limit, in 3-byte characters; the spec the receiver plans for
120 oversized alerts) stays below 1 MB once bounded, with the cuts counted per part; the
cuts keep the status valid for the CRD and follow the documented order. Real: the CRD
generator, the receiver's planning function, jsonschema. Pure; no cluster."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from kubetriage.bounds import (
    DEFAULT_MAX_BYTES,
    MAX_BYTES_CEILING,
    METADATA_RESERVE,
    MIN_MAX_BYTES,
    SPEC_RESERVE,
    STRING_FLOOR,
    Budget,
    bound_status,
    json_size,
)
from kubetriage.settings import Settings
from tests.support.worst_case import incident_schema, worst_spec_incident, worst_status

ONE_MB = 1_000_000


def _merged(patch: Any) -> Any:
    """A merge patch applied to nothing: what the API server stores from it."""
    if isinstance(patch, dict):
        return {k: _merged(v) for k, v in patch.items() if v is not None}
    if isinstance(patch, list):
        return [_merged(item) for item in patch]
    return patch


def _metadata() -> dict[str, Any]:
    """Metadata as large as a busy API server writes it (uid, versions, managed fields)."""
    manager = {
        "manager": "kubetriage",
        "operation": "Update",
        "apiVersion": "kubetriage.io/v1",
        "time": "2026-11-20T10:00:00Z",
        "fieldsType": "FieldsV1",
        "subresource": "status",
        "fieldsV1": {"f:status": {f"f:{k}": {} for k in worst_status()}},
    }
    return {
        "name": "x" * 253,
        "namespace": "exports",
        "uid": "0" * 36,
        "resourceVersion": "9" * 20,
        "generation": 2**53,
        "creationTimestamp": "2026-11-20T10:00:00Z",
        "labels": {"app.kubernetes.io/managed-by": "kubetriage-receiver"},
        "annotations": {"traceparent": "0" * 55},
        "managedFields": [manager] * 8,
    }


@pytest.mark.parametrize("total", [MIN_MAX_BYTES, DEFAULT_MAX_BYTES, MAX_BYTES_CEILING])
def test_budgets_never_add_up_past_the_total(total: int) -> None:
    budget = Budget.from_total(total)
    assert METADATA_RESERVE + SPEC_RESERVE + budget.status <= total
    assert all(size > 0 for size in budget.parts.values())


@pytest.mark.parametrize("total", [MIN_MAX_BYTES - 1, MAX_BYTES_CEILING + 1])
def test_a_total_outside_the_range_is_refused_with_the_range(total: int) -> None:
    with pytest.raises(ValueError, match=f"{MIN_MAX_BYTES}, {MAX_BYTES_CEILING}"):
        Budget.from_total(total)
    with pytest.raises(ValidationError, match="incident_max_bytes"):
        Settings(incident_max_bytes=total)


def test_the_worst_case_incident_stays_below_one_mb_and_counts_the_cuts() -> None:
    budget = Budget.from_total()
    incident = worst_spec_incident("x" * 253, "exports")
    status = worst_status()
    unbounded = {**incident, "metadata": _metadata(), "status": status}
    assert json_size(unbounded) > 5 * ONE_MB  # what the CRD limits alone would let through

    bounded = bound_status(status, budget)
    stored = {**incident, "metadata": _metadata(), "status": _merged(bounded.status)}

    assert json_size(incident["spec"]) <= SPEC_RESERVE
    assert json_size(stored["metadata"]) <= METADATA_RESERVE
    assert json_size(stored) <= budget.total < ONE_MB
    for part, limit in budget.parts.items():
        if part in status:
            assert json_size(bounded.status[part]) <= limit, part
            assert (bounded.clipped.get(part, 0) > 0) == (json_size(status[part]) > limit)
    assert bounded.clipped  # the filled status is over budget somewhere
    assert stored["status"]["clipped"] == bounded.clipped


def test_bounded_worst_case_is_still_valid_for_the_crd() -> None:
    bounded = bound_status(worst_status(), Budget.from_total())
    status_schema = incident_schema()["properties"]["status"]
    jsonschema.validate(_merged(bounded.status), status_schema)
    assert bounded.status["diagnosis"]["evidence"], "cuts shorten before they drop"


def test_bounding_twice_cuts_nothing_more() -> None:
    budget = Budget.from_total()
    once = bound_status(worst_status(), budget)
    twice = bound_status(_merged(once.status), budget)
    assert twice.clipped == {}
    parts = [part for part in once.status if part != "clipped"]
    assert [twice.status[part] for part in parts] == [_merged(once.status[p]) for p in parts]


def test_parts_merged_key_by_key_fit_their_budgets_at_the_crd_limits() -> None:
    """A merge keeps keys of earlier writes, so these parts must fit whatever their keys
    hold: ``notifications`` in 3-byte characters, ``alertGroup`` in ASCII (what its
    fingerprints, times and group key are)."""
    budget = Budget.from_total()
    assert json_size(worst_status()["notifications"]) <= budget.parts["notifications"]
    assert json_size(worst_status("a")["alertGroup"]) <= budget.parts["alertGroup"]


def test_a_status_within_budget_is_written_as_is_and_clears_its_counts() -> None:
    patch = {"phase": "Investigating", "conditions": [{"type": "Diagnosed", "status": "False"}]}
    bounded = bound_status(patch, Budget.from_total())
    assert bounded.clipped == {}
    assert bounded.status == {**patch, "clipped": {"conditions": None, "other": None}}


def _small_budget(limit: int) -> Budget:
    return Budget(total=limit, parts={"diagnosis": limit, "other": limit})


def test_long_strings_are_shortened_before_any_item_is_dropped() -> None:
    evidence = [{"source": f"pod/p-{i}", "fact": f"{i} " + "x" * 2000} for i in range(10)]
    limit = json_size({"evidence": evidence}) // 2
    bounded = bound_status({"diagnosis": {"evidence": evidence}}, _small_budget(limit))
    kept = bounded.status["diagnosis"]["evidence"]
    assert [e["source"] for e in kept] == [e["source"] for e in evidence]
    assert all(STRING_FLOOR < len(e["fact"]) < 2002 for e in kept)
    assert [e["fact"][:3] for e in kept] == [e["fact"][:3] for e in evidence]
    assert bounded.clipped == {"diagnosis": 10}
    assert json_size(bounded.status["diagnosis"]) <= limit


def test_items_are_dropped_from_the_end_once_strings_are_at_the_floor() -> None:
    similar = [{"name": f"incident-{i}", "resolution": "r" * 200} for i in range(100)]
    limit = 5_000
    bounded = bound_status({"diagnosis": {"similarIncidents": similar}}, _small_budget(limit))
    kept = bounded.status["diagnosis"]["similarIncidents"]
    assert 0 < len(kept) < len(similar)
    assert kept == similar[: len(kept)]  # the best ranked, untouched
    assert bounded.clipped == {"diagnosis": len(similar) - len(kept)}


def test_a_part_that_cannot_fit_is_left_out_and_counted() -> None:
    diagnosis = {f"field{i}": "v" * 200 for i in range(100)}
    bounded = bound_status({"diagnosis": diagnosis}, _small_budget(1_000))
    assert bounded.status["diagnosis"] is None
    assert bounded.clipped == {"diagnosis": 1}

"""Issue 10: the whole Incident stays below 1 MB when written, not only in a pure function.
The receiver's Incident for 120 oversized alerts is created, then status writes fill every
part to the CRD's limits (in 3-byte characters): the writes go through ``IncidentStore``
(the one place status patches leave the operator), are accepted by the API's schema
validation, and the stored object is below 1 MB with the cuts counted in
``status.clipped``; a later write without cuts clears its part's count. Real: the
emulator's API over HTTP with the generated CRD, the kubernetes client, the receiver's
planning, ``status.diagnosed_patch`` and the ``Diagnosis`` model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kubetriage.bounds import Budget, json_size
from kubetriage.incidents import IncidentStore
from kubetriage.kubeclient import api_client
from kubetriage.models.diagnosis import Diagnosis
from kubetriage.models.remediation import parameters_model
from kubetriage.models.vocabulary import Action
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.status import diagnosed_patch
from tests.integration.alertmanager_fixtures import prepare_cluster
from tests.support.worst_case import worst_spec_incident, worst_status

NAMESPACE = "exports"
NAME = "kubepodcrashlooping-worst"
ONE_MB = 1_000_000
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def cluster(emulator: EmulatorThread) -> EmulatorThread:
    prepare_cluster(emulator, NAMESPACE)
    return emulator


def _stored(cluster: EmulatorThread) -> dict[str, Any]:
    incident = cluster.emulator.get("incidents", NAME, NAMESPACE)
    assert incident is not None
    return incident


async def test_worst_case_status_write_is_accepted_and_stays_below_one_mb(
    cluster: EmulatorThread,
) -> None:
    budget = Budget.from_total()
    status = worst_status()
    assert json_size(status) > ONE_MB  # valid for the CRD, too large unbounded
    client = api_client(cluster.kubeconfig_path)
    try:
        store = IncidentStore(client, budget=budget)
        await store.create(NAMESPACE, worst_spec_incident(NAME, NAMESPACE))
        await store.patch_status(NAMESPACE, NAME, status)
        incident = _stored(cluster)
        assert json_size(incident) < ONE_MB
        clipped = incident["status"]["clipped"]
        for part, limit in budget.parts.items():
            if part in status:
                assert json_size(incident["status"][part]) <= limit, part
                assert (part in clipped) == (json_size(status[part]) > limit), part
        assert clipped["diagnosis"] > 0
        assert incident["status"]["diagnosis"]["evidence"]

        small = [{"type": "Diagnosed", "status": "False", "reason": "Investigating"}]
        await store.patch_status(NAMESPACE, NAME, {"conditions": small})
        after = _stored(cluster)["status"]
        assert after["conditions"] == small
        assert "conditions" not in after["clipped"]
        assert after["clipped"]["diagnosis"] == clipped["diagnosis"]
    finally:
        client.close()  # type: ignore[no-untyped-call]


async def test_a_maximal_diagnosis_is_written_by_the_diagnosed_patch(
    cluster: EmulatorThread,
) -> None:
    budget = Budget.from_total()
    worst = worst_status()["diagnosis"]
    for remediation in worst["remediations"]:
        # The CRD's parameters schema is the union of every action's fields; the model takes
        # each action's own.
        taken = parameters_model(Action(remediation["action"])).model_fields
        remediation["parameters"] = {
            k: v for k, v in remediation["parameters"].items() if k in taken
        }
    diagnosis = Diagnosis.model_validate(worst)
    patch = diagnosed_patch(
        [], diagnosis, [], target="Deployment/exports/exporter", generation=1, now=NOW
    )
    assert json_size(patch["diagnosis"]) > budget.parts["diagnosis"]
    client = api_client(cluster.kubeconfig_path)
    try:
        store = IncidentStore(client, budget=budget)
        await store.create(NAMESPACE, worst_spec_incident(NAME, NAMESPACE))
        await store.patch_status(NAMESPACE, NAME, patch)
    finally:
        client.close()  # type: ignore[no-untyped-call]
    incident = _stored(cluster)
    status = incident["status"]
    assert json_size(incident) < ONE_MB
    assert status["phase"] == "Diagnosed"
    assert status["diagnosis"]["category"] == diagnosis.category.value
    assert json_size(status["diagnosis"]) <= budget.parts["diagnosis"]
    assert status["clipped"]["diagnosis"] > 0
    assert [c["type"] for c in status["conditions"]] == ["Diagnosed"]

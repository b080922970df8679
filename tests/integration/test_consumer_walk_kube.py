"""The collector against the emulated API server over real HTTP, with a train case's objects:
a consumer-group lag alert carrying the broker exporter's namespace leads a cluster-scope
Incident to the Deployment in another namespace that joins the group (its env sets it), while
an Incident confined to the exporter's namespace stays there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from kubernetes import client

from kubetriage.evidence.kube import KubeEvidenceCollector, api_client_from_kubeconfig
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.models.base import ObjectRef
from kubetriage.models.case import Case
from kubetriage.models.evidence import Evidence
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.tenancy import Tenancy
from tests.support.built import case_alert
from tests.support.cases import TRAIN

NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)
LAGGING = load_case(TRAIN / "crash-loop-jvm-heap-space-exits-below-container-limit-consumer-lag")


@pytest.fixture
def api(emulator: EmulatorThread) -> Iterator[client.ApiClient]:
    with api_client_from_kubeconfig(str(emulator.kubeconfig_path)) as api_client:
        yield api_client


async def _collect(api: client.ApiClient, case: Case, cluster_scope: str) -> Evidence:
    return await KubeEvidenceCollector(api, limits=EvidenceLimits()).collect(
        target=ObjectRef(kind="Namespace", name="kafka"),
        alerts=[case_alert(case)],
        title="t",
        description=None,
        now=NOW,
        scope=Tenancy(frozenset({cluster_scope})).scope("kafka"),
    )


async def test_a_consumer_group_alert_leads_to_the_deployment_joining_the_group(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    emulator.emulator.load(LAGGING.cluster)
    evidence = await _collect(api, LAGGING, "kafka")
    assert evidence.target is not None
    assert (evidence.target.kind, evidence.target.namespace, evidence.target.name) == (
        "Deployment",
        "fulfillment",
        "shipment-events-consumer",
    )
    assert {p.name for p in evidence.pods} >= {"shipment-events-consumer-7d4b9c6f58-b9j4s"}
    confined = await _collect(api, LAGGING, "ops")
    assert confined.target is not None
    assert confined.target.kind == "Namespace"
    assert not confined.pods

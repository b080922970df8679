"""The walk from an Ingress to its controller, against the emulated API server over real
HTTP (its audit log shows what was read), with a train case's objects: for a cluster-scope
Incident the IngressClass is read and the controller's pods are found in their own namespace;
an Incident confined to its namespace reads neither (no IngressClass, no pods elsewhere)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from kubernetes import client

from kubetriage.evidence.kube import KubeEvidenceCollector, api_client_from_kubeconfig
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.tenancy import Tenancy
from tests.support.cases import TRAIN

NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)
TARGET = ObjectRef(kind="Deployment", namespace="payments", name="checkout-web")
CASE = "network-deny-other-namespaces-policy-cuts-ingress-nginx"


@pytest.fixture
def api(emulator: EmulatorThread) -> Iterator[client.ApiClient]:
    emulator.emulator.load(load_case(TRAIN / CASE).cluster)
    with api_client_from_kubeconfig(str(emulator.kubeconfig_path)) as api_client:
        yield api_client


async def _collect(api: client.ApiClient, cluster_scope: frozenset[str]) -> Evidence:
    return await KubeEvidenceCollector(api, limits=EvidenceLimits()).collect(
        target=TARGET,
        alerts=[],
        title="t",
        description=None,
        now=NOW,
        scope=Tenancy(cluster_scope).scope("payments"),
    )


async def test_cluster_scope_incident_finds_the_controller_pods(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    evidence = await _collect(api, frozenset({"payments"}))
    (controller,) = evidence.ingress_controllers
    assert (controller.ingress, controller.ingress_class) == ("checkout-web", "nginx")
    assert controller.controller == "k8s.io/ingress-nginx"
    assert controller.namespace == "ingress-nginx"
    assert controller.pods == 1
    assert controller.ips


async def test_namespace_confined_incident_reads_no_controller(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    emulator.emulator.clear_audit()
    evidence = await _collect(api, frozenset({"ops"}))
    assert [c.namespace for c in evidence.ingress_controllers] == [None]
    assert [r for r in emulator.emulator.audit if r.resource == "ingressclasses"] == []
    assert all(p.namespace == "payments" for p in evidence.pods)

"""The evidence collector under the tenancy rule, against the emulated API server over real
HTTP (its audit log shows what was read): a Node target lists the node's pods of every
namespace only for a cluster-scope Incident; an Incident in another namespace gets no
target, reads nothing outside its namespace and says why in ``collection_errors``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from kubernetes import client

from kubetriage.evidence.kube import KubeEvidenceCollector, api_client_from_kubeconfig
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.models.base import ObjectRef
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.tenancy import Tenancy
from tests.integration.emulator_fixtures import pod
from tests.support.cases import EXAMPLES

NOW = datetime(2026, 1, 1, tzinfo=UTC)
NODE = ObjectRef(kind="Node", name="demo-worker")
TENANCY = Tenancy(frozenset({"ops"}))


@pytest.fixture
def api(emulator: EmulatorThread) -> Iterator[client.ApiClient]:
    case = load_case(EXAMPLES / "example-oom-csv-exporter")
    neighbour = pod("billing-0", "billing")
    neighbour["spec"]["nodeName"] = "demo-worker"
    emulator.emulator.load([*case.cluster, neighbour])
    with api_client_from_kubeconfig(str(emulator.kubeconfig_path)) as api_client:
        yield api_client


async def _collect(api: client.ApiClient, target: ObjectRef, namespace: str) -> list[str]:
    evidence = await KubeEvidenceCollector(api, limits=EvidenceLimits()).collect(
        target=target,
        alerts=[],
        title="t",
        description=None,
        now=NOW,
        scope=TENANCY.scope(namespace),
    )
    assert evidence.target is None or TENANCY.scope(namespace).may_target(evidence.target)
    return [f"{p.namespace}/{p.name}" for p in evidence.pods]


async def test_node_pods_of_every_namespace_only_for_a_cluster_scope_incident(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    pods = await _collect(api, NODE, "ops")
    assert "billing/billing-0" in pods
    assert any(p.startswith("exports/") for p in pods)


async def test_node_target_from_a_namespace_reads_no_pods_and_says_why(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    emulator.emulator.clear_audit()
    evidence = await KubeEvidenceCollector(api, limits=EvidenceLimits()).collect(
        target=NODE,
        alerts=[],
        title="t",
        description=None,
        now=NOW,
        scope=TENANCY.scope("exports"),
    )
    assert evidence.pods == []
    assert evidence.target is None
    assert any("Node/demo-worker is cluster-scoped" in e for e in evidence.collection_errors)
    assert [r for r in emulator.emulator.audit if r.resource in {"pods", "nodes"}] == []


async def test_own_pod_target_reads_its_node_but_not_the_neighbours(
    emulator: EmulatorThread, api: client.ApiClient
) -> None:
    emulator.emulator.clear_audit()
    deployment = ObjectRef(kind="Deployment", namespace="exports", name="csv-exporter")
    pods = await _collect(api, deployment, "exports")
    assert pods
    assert all(p.startswith("exports/") for p in pods)
    read = {(r.resource, r.namespace) for r in emulator.emulator.audit}
    assert ("nodes", "") in read
    # The node's own events live in "default" (kubelet's namespace); nothing else is read.
    assert {r for r in read if r[1] not in {"exports", ""}} <= {("events", "default")}

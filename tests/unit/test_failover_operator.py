"""Checks "who should have promoted a replica?": a Service that a failover operator's custom
resource owns (CloudNativePG's ``-rw`` Service selecting ``cnpg.io/instanceRole=primary``)
with no ready endpoint is a role no member holds, owed by that operator; when the operator
is down (OOM-killed at every start) it is the target, not the Service's selector. A Service
with a ready primary, or one no such operator owns, owes nothing; a healthy operator changes
nothing.

Real: ``leaderless_services`` over API-shaped dicts, the pure builder (``tests.support.built``)
and the analyzer registry; the live walk's ``follow_reconcilers`` over a scripted reader.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.reconciler_walk import follow_reconcilers
from kubetriage.evidence.summaries.reconciler_debts import leaderless_services
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Action, Category
from kubetriage.tenancy import Scope
from tests.support.built import built, deployment_manifest
from tests.support.evidence import NOW, analyze, assert_leads
from tests.support.listing import ListingReader

OPERATOR = ObjectRef(kind="Deployment", namespace="cnpg-system", name="cnpg-controller-manager")
API = ObjectRef(kind="Deployment", namespace="ledger", name="ledger-api")
LABELS = {"app.kubernetes.io/name": "cloudnative-pg"}
IMAGE = "ghcr.io/cloudnative-pg/cloudnative-pg:1.24.1"
ALERT = Alert(
    status="firing",
    labels={"alertname": "LedgerApiErrors", "namespace": "ledger"},
    annotations={},
    starts_at=NOW,
)


def _service(owner_api: str = "postgresql.cnpg.io/v1") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "ledger-pg-rw",
            "namespace": "ledger",
            "ownerReferences": [
                {
                    "apiVersion": owner_api,
                    "kind": "Cluster",
                    "name": "ledger-pg",
                    "controller": True,
                }
            ],
        },
        "spec": {
            "selector": {"cnpg.io/cluster": "ledger-pg", "cnpg.io/instanceRole": "primary"},
            "ports": [{"name": "postgres", "port": 5432}],
        },
    }


def _endpoints(*, ready: bool) -> dict[str, Any]:
    address = {"ip": "10.0.0.9", "targetRef": {"kind": "Pod", "name": "ledger-pg-2"}}
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "ledger-pg-rw", "namespace": "ledger"},
        "subsets": [{"addresses": [address], "ports": [{"port": 5432}]}] if ready else [],
    }


def _operator(*, oom: bool) -> list[dict[str, Any]]:
    workload = deployment_manifest(
        "cnpg-controller-manager",
        "cnpg-system",
        ("manager", IMAGE),
        labels=LABELS,
        metadata={"labels": LABELS},
        replicas=1,
        status={"replicas": 1, "readyReplicas": 0 if oom else 1},
    )
    status: dict[str, Any] = {"name": "manager", "ready": not oom, "restartCount": 0}
    status["state"] = {"running": {}}
    if oom:
        status.update(
            restartCount=13,
            state={"waiting": {"reason": "CrashLoopBackOff"}},
            lastState={"terminated": {"reason": "OOMKilled", "exitCode": 137}},
        )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "cnpg-controller-manager-74b6-z8w2n",
            "namespace": "cnpg-system",
            "labels": LABELS,
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": "cnpg-controller-manager-74b6", "controller": True}
            ],
        },
        "spec": {"containers": [{"name": "manager", "image": IMAGE}]},
        "status": {"phase": "Running", "containerStatuses": [status]},
    }
    return [workload, pod]


def _api() -> dict[str, Any]:
    container = {
        "name": "api",
        "image": "ledger-api:5.2.0",
        "env": [{"name": "PGHOST", "value": "ledger-pg-rw"}],
    }
    return deployment_manifest(
        "ledger-api",
        "ledger",
        container,
        replicas=1,
        status={"replicas": 1, "readyReplicas": 1},
    )


def test_an_operator_owned_service_without_a_ready_member_is_owed() -> None:
    def lookup(endpoints: dict[str, Any]) -> Any:
        return lambda _svc: endpoints

    assert [
        s["metadata"]["name"]
        for s, _ in leaderless_services([_service()], lookup(_endpoints(ready=False)))
    ] == ["ledger-pg-rw"]
    assert not leaderless_services([_service()], lookup(_endpoints(ready=True)))
    assert not leaderless_services([_service("example.com/v1")], lookup(_endpoints(ready=False)))
    assert not leaderless_services([_service()], lambda _svc: None)


def test_an_oom_killed_operator_is_why_no_replica_was_promoted() -> None:
    ev = built([_api(), _service(), _endpoints(ready=False), *_operator(oom=True)], API)
    (reconciler,) = ev.reconcilers
    assert reconciler.role == "failover-operator"
    assert reconciler.workload == OPERATOR
    assert_leads(analyze(ev), Category.OOM_KILLED, Action.INCREASE_MEMORY, OPERATOR)


def test_a_healthy_operator_or_a_ready_primary_blames_no_operator() -> None:
    healthy = built([_api(), _service(), _endpoints(ready=False), *_operator(oom=False)], API)
    assert not [f for f in analyze(healthy).findings if f.target == OPERATOR]
    served = built([_api(), _service(), _endpoints(ready=True), *_operator(oom=True)], API)
    assert not served.reconcilers


def _walked(*, ready: bool) -> set[str]:
    run = CollectionRun(asyncio.Semaphore(1))
    for obj in (_api(), _service(), _endpoints(ready=ready)):
        run.add(obj)
    reader = ListingReader(_operator(oom=True))
    asyncio.run(follow_reconcilers(reader, run, [ALERT], NOW, Scope.unrestricted()))  # type: ignore[arg-type]
    return {f"{k}/{ns}/{name}" for k, ns, name in run.objects if ns == "cnpg-system"}


def test_the_live_walk_reads_the_operator_only_when_a_role_is_unheld() -> None:
    assert _walked(ready=False) == {
        "Deployment/cnpg-system/cnpg-controller-manager",
        "Pod/cnpg-system/cnpg-controller-manager-74b6-z8w2n",
    }
    assert _walked(ready=True) == set()

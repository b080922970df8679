"""A drain held by a PodDisruptionBudget: from a cordoned node (or a refused eviction) to the
budget with no room, to the workload it protects, and to that workload's own failure
(``kubetriage.evidence.summaries.disruption_budgets``, ``kubetriage.analyzers.
disruption_budgets``; the cordon alone earns no drain, ``kubetriage.analyzers.nodes``)."""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.disruption_budgets import CONFIDENCE, NAME
from kubetriage.combine import known_objects
from kubetriage.evidence.summaries.disruption_budgets import refusal_nodes, refused_pods
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from kubetriage.redaction import Anonymizer
from tests.support.built import built, deployment_manifest
from tests.support.evidence import analyze, assert_leads

NODE = ObjectRef(kind="Node", name="node-old-1")
WORKLOAD = ObjectRef(kind="Deployment", namespace="web", name="api", api_version="apps/v1")
_CONTAINER = {
    "name": "app",
    "image": "ghcr.io/example/api:2.0",
    "resources": {"limits": {"memory": "256Mi"}, "requests": {"memory": "256Mi"}},
}
_OOM = {
    "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
    "ready": False,
    "restartCount": 9,
}


def _node(name: str, *, cordoned: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"unschedulable": True} if cordoned else {},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def _pod(name: str, node: str, *, oom: bool = False) -> dict[str, Any]:
    status: dict[str, Any] = {"ready": True, "restartCount": 0, "state": {"running": {}}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "web",
            "labels": {"app": "api", "pod-template-hash": "5d8f9c7b6d"},
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": "api-5d8f9c7b6d", "controller": True}
            ],
        },
        "spec": {"nodeName": node, "containers": [_CONTAINER]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False" if oom else "True"}],
            "containerStatuses": [
                {"name": "app", "image": _CONTAINER["image"], **status, **(_OOM if oom else {})}
            ],
        },
    }


def _budget(allowed: int, *, healthy: int = 2, min_available: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "api", "namespace": "web"},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": "api"}}},
        "status": {
            "disruptionsAllowed": allowed,
            "currentHealthy": healthy,
            "desiredHealthy": min_available,
            "expectedPods": 3,
        },
    }


def _cluster(budget: dict[str, Any], *, oom: bool = True) -> list[dict[str, Any]]:
    replica_set = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "api-5d8f9c7b6d",
            "namespace": "web",
            "ownerReferences": [{"kind": "Deployment", "name": "api", "controller": True}],
        },
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}}},
    }
    ready = 2 if oom else 3
    return [
        _node("node-old-1", cordoned=True),
        _node("node-new-1"),
        deployment_manifest(
            "api", "web", _CONTAINER, replicas=3, status={"replicas": 3, "readyReplicas": ready}
        ),
        replica_set,
        _pod("api-5d8f9c7b6d-held", "node-old-1"),
        _pod("api-5d8f9c7b6d-down", "node-new-1", oom=oom),
        _pod("api-5d8f9c7b6d-fine", "node-new-1"),
        budget,
    ]


def test_a_budget_with_no_room_leads_to_the_workload_whose_replica_is_down() -> None:
    ev = built(_cluster(_budget(0)), NODE)
    (budget,) = ev.disruption_budgets
    assert budget.workload is not None
    assert budget.workload.ref.same_object(WORKLOAD)
    assert budget.held_pods == ["api-5d8f9c7b6d-held"]
    assert budget.nodes == ["node-old-1"]
    assert {p.name for p in budget.pods} >= {"api-5d8f9c7b6d-down"}
    finding = assert_leads(analyze(ev), Category.OOM_KILLED, Action.INCREASE_MEMORY, WORKLOAD)
    assert finding.analyzer == NAME
    assert finding.confidence <= CONFIDENCE.ceiling
    assert any(e.source == "poddisruptionbudget/web/api" for e in finding.evidence)
    assert "Deployment/web/api" in known_objects(ev)
    # Nothing proposes draining the node that is already cordoned.
    assert all(f.action != Action.DRAIN_NODE for f in analyze(ev).findings)


def test_a_budget_with_room_adds_nothing() -> None:
    ev = built(_cluster(_budget(1, healthy=3)), NODE)
    assert ev.disruption_budgets == []
    assert all(f.analyzer != NAME for f in analyze(ev).findings)


def test_a_strict_budget_over_a_healthy_workload_blames_neither_it_nor_the_node() -> None:
    # minAvailable equal to the replicas: the budget itself allows nothing, every pod serves.
    ev = built(_cluster(_budget(0, healthy=3, min_available=3), oom=False), NODE)
    assert [b.ref.name for b in ev.disruption_budgets] == ["api"]
    result = analyze(ev)
    assert all(f.analyzer != NAME for f in result.findings)
    assert all(f.category != Category.NODE_FAILURE for f in result.findings)


def test_a_cordoned_node_that_also_fails_is_still_drained() -> None:
    objects = _cluster(_budget(0))
    objects[0]["status"]["conditions"] = [
        {"type": "Ready", "status": "True"},
        {"type": "DiskPressure", "status": "True", "message": "ephemeral storage low"},
    ]
    findings = analyze(built(objects, NODE)).findings
    assert findings[0].category == Category.NODE_FAILURE
    assert findings[0].target == NODE


def test_an_uncordoned_node_reads_no_budget() -> None:
    objects = _cluster(_budget(0))
    objects[0]["spec"] = {}
    assert built(objects, NODE).disruption_budgets == []


def _refusal(kind: str, name: str, message: str) -> dict[str, Any]:
    involved = {"kind": kind, "name": name, **({"namespace": "web"} if kind == "Pod" else {})}
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.1", "namespace": "web" if kind == "Pod" else "default"},
        "involvedObject": involved,
        "reason": "EvictionBlocked",
        "type": "Warning",
        "message": message,
    }


def test_refused_evictions_name_their_pods_and_nodes() -> None:
    events = [
        _refusal(
            "Pod",
            "api-5d8f9c7b6d-held",
            "Cannot evict pod as it would violate the pod's disruption budget.",
        ),
        _refusal("Node", "node-old-1", 'Cannot disrupt Node: pdb "web/api" prevents pod evictions'),
        _refusal(
            "Node",
            "node-old-2",
            "error when evicting pod web/api-5d8f9c7b6d-other: Cannot evict "
            "pod as it would violate the pod's disruption budget.",
        ),
        _refusal("Pod", "api-5d8f9c7b6d-fine", "Started container app"),
    ]
    assert refused_pods(events) == [("web", "api-5d8f9c7b6d-held"), ("web", "api-5d8f9c7b6d-other")]
    assert refusal_nodes(events) == ["node-old-1", "node-old-2"]


def test_a_refused_eviction_holds_an_uncordoned_node_too() -> None:
    objects = _cluster(_budget(0))
    objects[0]["spec"] = {}
    objects.append(
        _refusal(
            "Pod",
            "api-5d8f9c7b6d-held",
            "Cannot evict pod as it would violate the pod's disruption budget.",
        )
    )
    ev = built(objects, NODE)
    (budget,) = ev.disruption_budgets
    assert budget.refusals
    assert "disruption budget" in budget.refusals[0]


def test_the_budget_workload_is_anonymised() -> None:
    ev = built(_cluster(_budget(0)), NODE)
    text = Anonymizer().anonymize_evidence(ev).model_dump_json()
    assert "api-5d8f9c7b6d-down" not in text

"""Checks the disk-writer reasoning: a node hosting the incident's pods is under disk
pressure, and a Deployment whose pod there was replaced shortly before the pressure began is
followed (its ReplicaSet's name without the pod-template-hash names it); under memory
pressure, or replaced long before, it is not. Followed, its recent rollout is rolled back
above draining the node only when the kubelet's disk-pressure evictions name its container
as the largest ephemeral-storage user; a rollout the kubelet does not name leaves the node.

Real: the pure helpers, ``build_evidence`` on API-shaped dicts and the analyzer registry;
the objects (a node-exporter pod as the alert's, one writer Deployment) are synthetic.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kubetriage.evidence.node_plugins import node_agent_hosts
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built
from tests.support.evidence import NOW, analyze, assert_leads, by_category, named

WRITER = ObjectRef(kind="Deployment", namespace="batch", name="exporter")
PRESSED = "node-a"
CALM = "node-b"
SINCE = NOW - timedelta(minutes=5)
ROLLED_OUT = NOW - timedelta(minutes=50)
OLD_HASH, NEW_HASH = "6c8d9f7b44", "58f7c9d6b1"


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _node(name: str, *, pressure: bool) -> dict[str, Any]:
    since = SINCE if pressure else NOW - timedelta(days=9)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {
            "conditions": [
                {
                    "type": "DiskPressure",
                    "status": "True" if pressure else "False",
                    "lastTransitionTime": _at(since),
                },
                {"type": "Ready", "status": "True", "lastTransitionTime": _at(since)},
            ]
        },
    }


def _template(level: str, template_hash: str | None = None) -> dict[str, Any]:
    labels = {"app": WRITER.name, **({"pod-template-hash": template_hash} if template_hash else {})}
    container = {
        "name": "job",
        "image": "exporter:3",
        "env": [{"name": "LOG_LEVEL", "value": level}],
    }
    return {"metadata": {"labels": labels}, "spec": {"containers": [container]}}


def _replica_set(number: int, template_hash: str, level: str, created: datetime) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{WRITER.name}-{template_hash}",
            "namespace": WRITER.namespace,
            "labels": {"app": WRITER.name, "pod-template-hash": template_hash},
            "annotations": {"deployment.kubernetes.io/revision": str(number)},
            "creationTimestamp": _at(created),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": WRITER.name,
                    "controller": True,
                }
            ],
        },
        "spec": {
            "replicas": 2 if template_hash == NEW_HASH else 0,
            "selector": {"matchLabels": {"app": WRITER.name, "pod-template-hash": template_hash}},
            "template": _template(level, template_hash),
        },
    }


def _pod(name: str, node: str, created: datetime, **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": fields.pop("namespace", WRITER.namespace),
        "labels": fields.pop("labels", {"app": WRITER.name, "pod-template-hash": NEW_HASH}),
        "creationTimestamp": _at(created),
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "controller": True,
                **fields.pop("owner", {"kind": "ReplicaSet", "name": f"{WRITER.name}-{NEW_HASH}"}),
            }
        ],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"nodeName": node, "containers": [{"name": "job", "image": "exporter:3"}]},
        "status": fields.pop("status", {"phase": "Running"}),
    }


def _alerted_pod() -> dict[str, Any]:
    return _pod(
        "node-exporter-x1",
        PRESSED,
        NOW - timedelta(days=12),
        namespace="monitoring",
        labels={"app": "node-exporter"},
        owner={"kind": "DaemonSet", "name": "node-exporter"},
    )


def _eviction(resource: str) -> str:
    return (
        f"The node was low on resource: {resource}. Threshold quantity: 1Gi, available: 900Mi. "
        f"Container job was using 9Gi, request is 0, has larger consumption of {resource}. "
    )


def _cluster(*, evicted_for: str | None, rolled_out: datetime = ROLLED_OUT) -> list[Any]:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": WRITER.name,
            "namespace": WRITER.namespace,
            "annotations": {"deployment.kubernetes.io/revision": "8"},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": WRITER.name}},
            "template": _template("TRACE"),
        },
        "status": {"replicas": 2, "readyReplicas": 2, "updatedReplicas": 2},
    }
    objects: list[Any] = [
        _node(PRESSED, pressure=True),
        _node(CALM, pressure=False),
        _alerted_pod(),
        deployment,
        _replica_set(7, OLD_HASH, "INFO", NOW - timedelta(days=20)),
        _replica_set(8, NEW_HASH, "TRACE", rolled_out),
        _pod(f"{WRITER.name}-{NEW_HASH}-a1", PRESSED, rolled_out + timedelta(minutes=1)),
        _pod(f"{WRITER.name}-{NEW_HASH}-b2", CALM, NOW - timedelta(minutes=3)),
    ]
    if evicted_for is not None:
        # The kubelet marks the pod Evicted and says so in a Warning event.
        name = f"{WRITER.name}-{NEW_HASH}-c3"
        status = {"phase": "Failed", "reason": "Evicted", "message": _eviction(evicted_for)}
        objects.append(_pod(name, CALM, rolled_out + timedelta(minutes=1), status=status))
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"{name}.1", "namespace": WRITER.namespace},
                "involvedObject": {"kind": "Pod", "name": name, "namespace": WRITER.namespace},
                "reason": "Evicted",
                "message": _eviction(evicted_for),
                "type": "Warning",
                "count": 1,
                "firstTimestamp": _at(NOW - timedelta(minutes=20)),
                "lastTimestamp": _at(NOW - timedelta(minutes=20)),
            }
        )
    return objects


def _evidence(**options: Any) -> Any:
    target = ObjectRef(kind="Pod", namespace="monitoring", name="node-exporter-x1")
    return built(_cluster(**options), target)


def test_under_disk_pressure_a_deployment_replaced_shortly_before_is_named() -> None:
    pods = [
        _pod(f"{WRITER.name}-{NEW_HASH}-a1", PRESSED, SINCE - timedelta(minutes=40)),
        _pod(
            "old-7f7f7f7f7f-z9",
            PRESSED,
            SINCE - timedelta(days=2),
            labels={"pod-template-hash": "7f7f7f7f7f"},
            owner={"kind": "ReplicaSet", "name": "old-7f7f7f7f7f"},
        ),
    ]
    hosts = node_agent_hosts(pods, [(PRESSED, "DiskPressure", SINCE)])
    assert [(h.kind, h.namespace, h.name, h.source) for h in hosts] == [
        ("Deployment", WRITER.namespace, WRITER.name, named(f"node {PRESSED} DiskPressure"))
    ]


def test_under_memory_pressure_a_replaced_deployment_is_not_named() -> None:
    pods = [_pod(f"{WRITER.name}-{NEW_HASH}-a1", PRESSED, SINCE - timedelta(minutes=40))]
    assert node_agent_hosts(pods, [(PRESSED, "MemoryPressure", SINCE)]) == []


def test_a_node_agent_is_named_before_a_deployment() -> None:
    since = SINCE - timedelta(minutes=40)
    pods = [
        _pod(f"{WRITER.name}-{NEW_HASH}-a1", PRESSED, since),
        _pod(f"{WRITER.name}-{NEW_HASH}-b2", PRESSED, since),
        _pod("agent-a", PRESSED, since, owner={"kind": "DaemonSet", "name": "agent"}),
    ]
    hosts = node_agent_hosts(pods, [(PRESSED, "DiskPressure", SINCE)])
    assert next(h.kind for h in hosts) == "DaemonSet"


def test_a_rollout_the_kubelet_names_as_the_top_disk_user_is_rolled_back() -> None:
    result = analyze(_evidence(evicted_for="ephemeral-storage"))
    first = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, WRITER)
    # The kubelet's words naming the writer are cited, not only the rollout's timing.
    assert any("Container job was using 9Gi" in e.fact for e in first.evidence)
    drained = by_category(result, Category.NODE_FAILURE)
    assert all(f.confidence <= 0.3 for f in drained)


def test_a_rollout_the_kubelet_does_not_name_leaves_the_node() -> None:
    for evicted_for in (None, "memory"):
        result = analyze(_evidence(evicted_for=evicted_for))
        assert not by_category(result, Category.BAD_ROLLOUT)
        node = ObjectRef(kind="Node", name=PRESSED)
        assert_leads(result, Category.NODE_FAILURE, Action.DRAIN_NODE, node)

"""Checks the choice of the workload on an alerted node (``evidence.node_tenants``): a node
alert that names its node only by address is answered about the one workload on that node
that drives the alert's resource (the kubelet's evictions naming its container as the
largest disk or memory user, on any node it runs on; its HPA held at maxReplicas while
scaling on the alert's resource; for a conntrack or UDP buffer alert, the one tenant short
of the replicas it wants, at its ceiling or with pods no node can take), else about the
Node: no sign, two workloads with one, a node at fault itself, an old eviction, an HPA on
another resource or below its ceiling. Then the incident's own workload whose new revision
the kubelet evicts as the largest disk user is rolled back, above draining the nodes it
fills (``analyzers.node_agents``); and a whole synthetic incident is replayed offline (the
snapshot builder) and in the emulated cluster with the real collector, which must choose the
same target.

Real: the pure helpers, the snapshot builder, the analyzers, the collector and the pipeline;
the objects, alerts and names are synthetic.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from kubetriage.evictions import top_user_resource
from kubetriage.evidence.node_tenants import (
    alert_resource,
    node_at_fault,
    node_tenant,
    tenant_namespaces,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Action, Category
from kubetriage.replay.cases import load_case
from kubetriage.replay.session import replay_case
from kubetriage.settings import Settings
from tests.support.built import built
from tests.support.evidence import NOW, analyze, by_category
from tests.support.golden import replay_offline

NODE, OTHER = "worker-1", "worker-2"
ADDRESS = "10.9.0.11"
API = ObjectRef(kind="Deployment", namespace="shop", name="api", api_version="apps/v1")
BATCH = ObjectRef(kind="Deployment", namespace="jobs", name="batch", api_version="apps/v1")


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _node(name: str, address: str, **conditions: str) -> dict[str, Any]:
    listed = {"Ready": "True", "DiskPressure": "False", **conditions}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {
            "addresses": [{"type": "InternalIP", "address": address}],
            "conditions": [
                {
                    "type": kind,
                    "status": status,
                    "reason": kind,
                    "lastTransitionTime": _at(NOW - timedelta(minutes=8)),
                }
                for kind, status in listed.items()
            ],
        },
    }


def _pod(
    workload: ObjectRef, suffix: str, node: str, *, created: datetime | None = None, **status: Any
) -> dict[str, Any]:
    template_hash = "5d8c7b9f44"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{workload.name}-{template_hash}-{suffix}",
            "namespace": workload.namespace,
            "labels": {"app": workload.name, "pod-template-hash": template_hash},
            "creationTimestamp": _at(created or NOW - timedelta(days=3)),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"{workload.name}-{template_hash}",
                    "controller": True,
                }
            ],
        },
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": "app:1"}]},
        "status": status or {"phase": "Running"},
    }


def _exporter(node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "node-exporter-q1",
            "namespace": "monitoring",
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "node-exporter"}
            ],
        },
        "spec": {"nodeName": node, "containers": [{"name": "node-exporter", "image": "ne"}]},
        "status": {"phase": "Running"},
    }


def _eviction(resource: str) -> str:
    return (
        f"The node was low on resource: {resource}. Threshold quantity: 1Gi, available: 800Mi. "
        f"Container main was using 9Gi, request is 0, has larger consumption of {resource}. "
    )


def _evicted(workload: ObjectRef, resource: str, *, ago: timedelta) -> dict[str, Any]:
    message = _eviction(resource)
    return _pod(
        workload,
        "ev1",
        OTHER,
        created=NOW - ago - timedelta(minutes=30),
        phase="Failed",
        reason="Evicted",
        message=message,
        conditions=[
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "TerminationByKubelet",
                "message": message,
                "lastTransitionTime": _at(NOW - ago),
            }
        ],
    )


def _hpa(
    workload: ObjectRef, *, resource: str = "cpu", current: int = 6, limited: bool = True
) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": workload.name, "namespace": workload.namespace},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": workload.name,
            },
            "minReplicas": 2,
            "maxReplicas": 6,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": resource,
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
        "status": {
            "currentReplicas": current,
            "desiredReplicas": current,
            "conditions": [
                {
                    "type": "ScalingLimited",
                    "status": "True" if limited else "False",
                    "reason": "TooManyReplicas" if limited else "DesiredWithinRange",
                }
            ],
        },
    }


def _alert(alertname: str, summary: str = "") -> Alert:
    return Alert(
        labels={
            "alertname": alertname,
            "namespace": "monitoring",
            "pod": "node-exporter-q1",
            "job": "node-exporter",
            "instance": f"{ADDRESS}:9100",
        },
        annotations={"summary": summary},
        starts_at=NOW - timedelta(minutes=10),
    )


DISK = [_alert("NodeFilesystemSpaceFillingUp", "Filesystem is predicted to run out of space.")]
CPU = [_alert("NodeCPUHighUsage", "High CPU usage.")]
TENANTS = [_pod(API, "a1", NODE), _pod(BATCH, "b1", NODE), _exporter(NODE)]


def _deployment(workload: ObjectRef) -> dict[str, Any]:
    labels = {"app": workload.name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": workload.name, "namespace": workload.namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "app:1"}]},
            },
        },
        "status": {"replicas": 2, "readyReplicas": 2},
    }


def test_the_alerts_resource_is_read_from_its_name_and_summary() -> None:
    assert alert_resource(DISK) == "disk"
    assert alert_resource(CPU) == "cpu"
    assert alert_resource([_alert("NodeMemoryHighUtilization")]) == "memory"
    assert alert_resource([_alert("NodeNetworkReceiveErrs", "Network errors.")]) is None
    assert alert_resource([_alert("NodeHighNumberConntrackEntriesUsed")]) == "network"
    assert alert_resource([_alert("NodeLoadAverageHigh")]) == "cpu"
    assert alert_resource([_alert("NodeNetworkUploadErrs", "Upload errors.")]) is None


def test_the_kubelets_eviction_words_name_the_starved_resource() -> None:
    assert top_user_resource(_eviction("ephemeral-storage")) == "disk"
    assert top_user_resource(_eviction("memory")) == "memory"
    # A pod over its own limit is not ranked against the node's other pods.
    own = "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi."
    assert top_user_resource(own) is None


def test_a_workload_evicted_elsewhere_as_the_top_disk_user_is_chosen() -> None:
    node = _node(NODE, ADDRESS, DiskPressure="True")
    pods = [*TENANTS, _evicted(BATCH, "ephemeral-storage", ago=timedelta(minutes=20))]
    assert node_tenant(node, pods, [], DISK) == BATCH
    # The same eviction for memory says nothing about a disk alert.
    pods = [*TENANTS, _evicted(BATCH, "memory", ago=timedelta(minutes=20))]
    assert node_tenant(node, pods, [], DISK) is None


def test_an_old_eviction_or_two_evicted_workloads_choose_none() -> None:
    node = _node(NODE, ADDRESS, DiskPressure="True")
    old = [*TENANTS, _evicted(BATCH, "ephemeral-storage", ago=timedelta(days=2))]
    assert node_tenant(node, old, [], DISK) is None
    both = [
        *TENANTS,
        _evicted(BATCH, "ephemeral-storage", ago=timedelta(minutes=20)),
        _evicted(API, "ephemeral-storage", ago=timedelta(minutes=25)),
    ]
    assert node_tenant(node, both, [], DISK) is None


def test_a_workload_not_on_the_node_is_not_chosen() -> None:
    node = _node(NODE, ADDRESS, DiskPressure="True")
    elsewhere = ObjectRef(kind="Deployment", namespace="jobs", name="other")
    pods = [*TENANTS, _evicted(elsewhere, "ephemeral-storage", ago=timedelta(minutes=20))]
    assert node_tenant(node, pods, [], DISK) is None


def test_an_autoscaler_held_at_its_ceiling_on_the_alerts_resource_is_chosen() -> None:
    node = _node(NODE, ADDRESS)
    assert node_tenant(node, TENANTS, [_hpa(API)], CPU) == API
    assert node_tenant(node, TENANTS, [_hpa(API, resource="memory")], CPU) is None
    assert node_tenant(node, TENANTS, [_hpa(API, current=4, limited=False)], CPU) is None
    assert node_tenant(node, TENANTS, [_hpa(API), _hpa(BATCH)], CPU) is None
    # A disk alert is not about an autoscaler's CPU.
    assert node_tenant(node, TENANTS, [_hpa(API)], DISK) is None


CONNTRACK = [_alert("NodeHighNumberConntrackEntriesUsed", "conntrack entries close to the limit")]
UDP = [_alert("NodeUdpReceiveBufferErrors", "UDP receive buffer errors")]


def _pending(workload: ObjectRef, suffix: str) -> dict[str, Any]:
    """A pod of ``workload`` no node can take: Pending, PodScheduled False Unschedulable."""
    unschedulable = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
    pod = _pod(workload, suffix, NODE, phase="Pending", conditions=[unschedulable])
    del pod["spec"]["nodeName"]
    return pod


def test_a_network_alert_is_about_the_tenant_short_of_the_replicas_it_wants() -> None:
    """Conntrack or UDP buffers: the tenant at its autoscaler's ceiling, whatever it scales
    on, or with pods no node can take; its running pods carry the traffic."""
    node = _node(NODE, ADDRESS)
    assert alert_resource(CONNTRACK) == alert_resource(UDP) == "network"
    assert node_tenant(node, TENANTS, [_hpa(API)], CONNTRACK) == API
    assert node_tenant(node, TENANTS, [_hpa(API, resource="memory")], CONNTRACK) == API
    assert node_tenant(node, [*TENANTS, _pending(BATCH, "p1")], [], UDP) == BATCH


def test_near_miss_a_network_alert_without_one_short_tenant_keeps_the_node() -> None:
    node = _node(NODE, ADDRESS)
    # Below its ceiling, nothing pending: no sign.
    assert node_tenant(node, TENANTS, [_hpa(API, current=4, limited=False)], CONNTRACK) is None
    # Two tenants short: none is the answer.
    assert node_tenant(node, [*TENANTS, _pending(BATCH, "p1")], [_hpa(API)], UDP) is None
    # A pod merely Pending (scheduled, pulling) is not short of a node.
    pulling = _pod(BATCH, "p2", NODE, phase="Pending")
    assert node_tenant(node, [*TENANTS, pulling], [], UDP) is None
    # Pending pods of a workload with no pod on this node say nothing about it.
    elsewhere = ObjectRef(kind="Deployment", namespace="jobs", name="other")
    assert node_tenant(node, [*TENANTS, _pending(elsewhere, "p3")], [], UDP) is None
    # A CPU alert is not read off pending pods.
    assert node_tenant(node, [*TENANTS, _pending(BATCH, "p1")], [], CPU) is None


def test_a_node_at_fault_itself_keeps_the_node() -> None:
    for fault in ({"Ready": "False"}, {"KernelDeadlock": "True"}):
        node = _node(NODE, ADDRESS, **fault)
        assert node_at_fault(node)
        assert node_tenant(node, TENANTS, [_hpa(API)], CPU) is None
    assert not node_at_fault(_node(NODE, ADDRESS, DiskPressure="True"))


def test_tenant_namespaces_put_workloads_before_node_agents() -> None:
    pods = [_exporter(NODE), *TENANTS, _pod(API, "x9", OTHER)]
    assert tenant_namespaces(NODE, pods) == ["jobs", "shop", "monitoring"]


def _writer_cluster() -> list[Any]:
    """``BATCH`` rolled out 50 minutes ago (revision 3 -> 4); a pod of the new revision was
    evicted from ``OTHER`` as its largest disk user, and ``NODE`` is under disk pressure."""
    rolled = NOW - timedelta(minutes=50)

    def replica_set(number: int, template_hash: str, created: datetime) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{BATCH.name}-{template_hash}",
                "namespace": BATCH.namespace,
                "annotations": {"deployment.kubernetes.io/revision": str(number)},
                "creationTimestamp": _at(created),
                "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "Deployment", "name": BATCH.name}
                ],
            },
            "spec": {
                "replicas": 2 if number == 4 else 0,
                "template": {
                    "metadata": {"labels": {"app": BATCH.name}},
                    "spec": {
                        "containers": [
                            {
                                "name": "main",
                                "image": "app:1",
                                "env": [
                                    {
                                        "name": "LOG_LEVEL",
                                        "value": "DEBUG" if number == 4 else "INFO",
                                    }
                                ],
                            }
                        ]
                    },
                },
            },
        }

    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": BATCH.name,
            "namespace": BATCH.namespace,
            "annotations": {"deployment.kubernetes.io/revision": "4"},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": BATCH.name}},
            "template": replica_set(4, "5d8c7b9f44", rolled)["spec"]["template"],
        },
        "status": {"replicas": 2, "readyReplicas": 2, "updatedReplicas": 2},
    }
    return [
        _node(NODE, ADDRESS, DiskPressure="True"),
        _node(OTHER, "10.9.0.12"),
        deployment,
        replica_set(3, "7f6b5c4d33", NOW - timedelta(days=30)),
        replica_set(4, "5d8c7b9f44", rolled),
        _pod(BATCH, "b1", NODE, created=rolled + timedelta(minutes=1)),
        _evicted(BATCH, "ephemeral-storage", ago=timedelta(minutes=15)),
        _pod(API, "a1", NODE),
        _exporter(NODE),
    ]


def test_the_incidents_own_new_revision_evicted_as_top_disk_user_is_rolled_back() -> None:
    result = analyze(built(_writer_cluster(), BATCH, alerts=DISK))
    first = result.findings[0]
    assert (first.analyzer, first.category, first.action) == (
        "rollout-pressures-nodes",
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
    )
    assert first.target is not None
    assert first.target.same_object(BATCH)
    assert any("Container main was using 9Gi" in e.fact for e in first.evidence)
    assert all(f.confidence <= 0.3 for f in by_category(result, Category.NODE_FAILURE))


def test_without_the_kubelets_words_the_own_rollout_is_not_blamed() -> None:
    cluster = [o for o in _writer_cluster() if (o.get("status") or {}).get("reason") != "Evicted"]
    result = analyze(built(cluster, BATCH, alerts=DISK))
    assert all(f.analyzer != "rollout-pressures-nodes" for f in result.findings)


def _case(tmp_path: Path, objects: list[Any], alert: Alert) -> Path:
    case = {
        "id": "node-tenant",
        "alert": {"labels": alert.labels, "annotations": alert.annotations, "startsAgo": "10m"},
        "cluster": objects,
    }
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case))
    return tmp_path


def test_offline_and_live_the_node_alert_is_about_the_workload_at_its_ceiling(
    tmp_path: Path,
) -> None:
    objects = [
        _node(NODE, ADDRESS),
        _node(OTHER, "10.9.0.12"),
        _deployment(API),
        _deployment(BATCH),
        *TENANTS,
        _hpa(API),
    ]
    path = _case(tmp_path, objects, CPU[0])
    target = replay_offline(path).evidence.target
    assert target is not None
    assert (target.kind, target.namespace, target.name) == ("Deployment", "shop", "api")
    outcome = asyncio.run(replay_case(load_case(path / "case.yaml"), Settings()))
    assert outcome.diagnosis is not None
    assert "Deployment shop/api" in outcome.diagnosis.summary
    assert "not found" not in str(outcome.status)


def test_offline_without_a_sign_the_node_stays_the_target(tmp_path: Path) -> None:
    objects = [
        _node(NODE, ADDRESS),
        _deployment(API),
        *TENANTS,
        _hpa(API, current=3, limited=False),
    ]
    target = replay_offline(_case(tmp_path, objects, CPU[0])).evidence.target
    assert target is not None
    assert (target.kind, target.name) == ("Node", NODE)

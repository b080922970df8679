"""Checks "who should have added a node for these pods, and why didn't it?": pods Pending for
want of room on any node (Insufficient cpu or memory, too many pods) for minutes, with no
event from a node autoscaler about them (no TriggeredScaleUp, no NotTriggerScaleUp, no
Karpenter nomination), wait on the cluster-autoscaler or Karpenter; when that controller is
down (OOM-killed, say) it is the target, in the category of its own failure, and the
scheduling finding ranks below it. Near misses: a healthy autoscaler, an autoscaler that
spoke about the pods (it works, and said why it will not scale), pods kept off the nodes by a
taint only, pods pending for seconds, and no autoscaler at all.

Real: the pure builder (``tests.support.built``) over API-shaped dicts, the analyzer
registry, the reconciler walk over a reader that lists by equality selector as the API
does, and the train case written for this, replayed through the builder.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kubetriage.evidence.summaries.node_autoscaler import unserved_pending
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from kubetriage.replay.cases import load_case
from kubetriage.tenancy import Scope
from tests.support.built import built, case_evidence, deployment_manifest
from tests.support.cases import TRAIN
from tests.support.evidence import NOW, analyze, assert_leads, by_category
from tests.support.listing import reconciler_reads

API = ObjectRef(kind="Deployment", namespace="shop", name="orders", api_version="apps/v1")
SCALER = ObjectRef(kind="Deployment", namespace="kube-system", name="cluster-autoscaler")
ROOM = "0/12 nodes are available: 12 Insufficient cpu. preemption: 0/12 nodes are available."
TAINT = "0/12 nodes are available: 12 node(s) had untolerated taint {dedicated: batch}."
CA_IMAGE = "registry.k8s.io/autoscaling/cluster-autoscaler:v1.30.2"
KARPENTER_IMAGE = "public.ecr.aws/karpenter/controller:1.0.6"


def _stamp(ago: timedelta) -> str:
    return (NOW - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod(name: str, namespace: str, owner: str, labels: dict[str, str], **status: Any) -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "creationTimestamp": _stamp(timedelta(hours=2)),
            "ownerReferences": [{"kind": "ReplicaSet", "name": owner, "controller": True}],
        },
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
        "status": status,
    }


def _replicaset(name: str, namespace: str, owner: str, labels: dict[str, str]) -> Any:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": {"deployment.kubernetes.io/revision": "3"},
            "ownerReferences": [{"kind": "Deployment", "name": owner, "controller": True}],
        },
        "spec": {"selector": {"matchLabels": labels}},
    }


def _running(name: str) -> Any:
    ready = {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}
    return _pod(
        name, "shop", "orders-5f7c", {"app": "orders"}, phase="Running", containerStatuses=[ready]
    )


def _pending(name: str, message: str, ago: timedelta) -> Any:
    scheduled = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": message,
        "lastTransitionTime": _stamp(ago),
    }
    return _pod(
        name, "shop", "orders-5f7c", {"app": "orders"}, phase="Pending", conditions=[scheduled]
    )


def _event(pod: str, reason: str, message: str, component: str) -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{pod}.{reason.lower()}", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "name": pod, "namespace": "shop"},
        "reason": reason,
        "message": message,
        "type": "Warning" if reason != "TriggeredScaleUp" else "Normal",
        "count": 3,
        "lastTimestamp": _stamp(timedelta(minutes=1)),
        "source": {"component": component},
    }


def _orders(message: str = ROOM, ago: timedelta = timedelta(minutes=30)) -> list[Any]:
    """The workload the alert is about: two pods run, two wait for a node."""
    return [
        deployment_manifest(
            "orders",
            "shop",
            ("app", "app:1"),
            replicas=4,
            status={"replicas": 4, "readyReplicas": 2, "availableReplicas": 2},
        ),
        _replicaset("orders-5f7c", "shop", "orders", {"app": "orders"}),
        _running("orders-5f7c-aaaaa"),
        _running("orders-5f7c-bbbbb"),
        _pending("orders-5f7c-ccccc", message, ago),
        _pending("orders-5f7c-ddddd", message, ago),
        _event("orders-5f7c-ccccc", "FailedScheduling", message, "default-scheduler"),
    ]


def _autoscaler(
    *, oom: bool, image: str = CA_IMAGE, labels: dict[str, str] | None = None
) -> list[Any]:
    """A node autoscaler in kube-system, labelled as its chart does unless told otherwise."""
    labels = labels or {"app.kubernetes.io/name": "aws-cluster-autoscaler"}
    workload = deployment_manifest(
        "cluster-autoscaler",
        "kube-system",
        ("autoscaler", image),
        labels=labels,
        metadata={"labels": labels},
        replicas=1,
        status={"replicas": 1, "readyReplicas": 0 if oom else 1},
    )
    state: dict[str, Any] = {"running": {}}
    last: dict[str, Any] = {}
    if oom:
        state = {"waiting": {"reason": "CrashLoopBackOff"}}
        last = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    status = {
        "name": "autoscaler",
        "ready": not oom,
        "restartCount": 27 if oom else 0,
        "state": state,
        "lastState": last,
    }
    pod = _pod(
        "cluster-autoscaler-7c6d-qv8xz",
        "kube-system",
        "cluster-autoscaler-7c6d",
        labels,
        phase="Running",
        containerStatuses=[status],
    )
    pod["spec"]["containers"][0]["image"] = image
    replicaset = _replicaset("cluster-autoscaler-7c6d", "kube-system", "cluster-autoscaler", labels)
    return [workload, replicaset, pod]


def test_an_oom_killed_cluster_autoscaler_is_the_cause_of_pods_pending_for_room() -> None:
    ev = built([*_orders(), *_autoscaler(oom=True)], API)
    (reconciler,) = ev.reconcilers
    assert (reconciler.role, reconciler.workload) == ("node-autoscaler", SCALER)
    assert {s.name for s in reconciler.subjects} == {"orders-5f7c-ccccc", "orders-5f7c-ddddd"}
    assert "Insufficient cpu" in reconciler.owed[0]
    result = analyze(ev)
    leader = assert_leads(result, Category.OOM_KILLED, Action.INCREASE_MEMORY, SCALER)
    assert "node autoscaler" in leader.summary
    (pending,) = by_category(result, Category.UNSCHEDULABLE)
    assert pending.target == API
    assert pending.confidence < leader.confidence


def test_karpenter_is_recognised_by_its_image_without_the_chart_labels() -> None:
    karpenter = _autoscaler(oom=True, image=KARPENTER_IMAGE, labels={"run": "nodes"})
    ev = built([*_orders(), *karpenter], API)
    assert_leads(analyze(ev), Category.OOM_KILLED, Action.INCREASE_MEMORY, SCALER)


def test_a_healthy_autoscaler_leaves_the_pending_workload_the_target() -> None:
    ev = built([*_orders(), *_autoscaler(oom=False)], API)
    assert [r.workload for r in ev.reconcilers] == [SCALER]
    result = analyze(ev)
    assert not [f for f in result.findings if f.target == SCALER]
    assert_leads(result, Category.UNSCHEDULABLE, Action.FREE_CAPACITY, API)


@pytest.mark.parametrize(
    ("reason", "component"),
    [("NotTriggerScaleUp", "cluster-autoscaler"), ("TriggeredScaleUp", "cluster-autoscaler")],
    ids=["said-why-not", "scaled-up"],
)
def test_pods_the_autoscaler_spoke_about_owe_it_nothing(reason: str, component: str) -> None:
    said = "pod didn't trigger scale-up: 1 max node group size reached"
    spoke = [_event(p, reason, said, component) for p in ("orders-5f7c-ccccc", "orders-5f7c-ddddd")]
    ev = built([*_orders(), *spoke, *_autoscaler(oom=True)], API)
    assert ev.reconcilers == []
    assert_leads(analyze(ev), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, API)


def test_pods_kept_off_by_a_taint_or_pending_for_seconds_owe_nothing() -> None:
    assert built([*_orders(TAINT), *_autoscaler(oom=True)], API).reconcilers == []
    fresh = _orders(ago=timedelta(seconds=40))
    assert built([*fresh, *_autoscaler(oom=True)], API).reconcilers == []


def test_unserved_pending_names_each_pod_with_the_schedulers_words() -> None:
    objects = _orders()
    pods = [o for o in objects if o["kind"] == "Pod"]
    events = [o for o in objects if o["kind"] == "Event"]
    found = unserved_pending(pods, events, NOW)
    assert [(p["metadata"]["name"], said) for p, said in found] == [
        ("orders-5f7c-ccccc", ROOM),
        ("orders-5f7c-ddddd", ROOM),
    ]
    karpenter = _event("orders-5f7c-ccccc", "FailedScheduling", ROOM, "karpenter")
    assert [p["metadata"]["name"] for p, _ in unserved_pending(pods, [karpenter], NOW)] == [
        "orders-5f7c-ddddd"
    ]


def test_the_train_case_of_an_oom_killed_cluster_autoscaler() -> None:
    case = (
        "oom-killed-eks-cluster-autoscaler-oomkilled-as-cluster-grew-orders-hpa-pods-pending-"
        "no-scale-up"
    )
    first = analyze(case_evidence(load_case(TRAIN / case))).findings[0]
    assert (first.category, first.action) == (Category.OOM_KILLED, Action.INCREASE_MEMORY)
    assert first.target.same_object(SCALER), first


# --- the live walk reads what the builder recognises ------------------------------------------


def test_the_live_walk_reads_the_autoscaler_only_for_pods_waiting_on_it() -> None:
    autoscaler = _autoscaler(oom=True)
    assert reconciler_reads(_orders(), autoscaler, Scope.unrestricted()) == {
        "Deployment/kube-system/cluster-autoscaler",
        "ReplicaSet/kube-system/cluster-autoscaler-7c6d",
        "Pod/kube-system/cluster-autoscaler-7c6d-qv8xz",
    }
    assert reconciler_reads(_orders(), autoscaler, Scope("shop", cluster_wide=False)) == set()
    assert reconciler_reads(_orders(TAINT), autoscaler, Scope.unrestricted()) == set()

"""Checks "which controller reconciles these custom resources, and is it well?": a namespace
whose Argo Workflows or KEDA ScaledJob wait leads to the controller of their group; an
OOM-killed controller short of ready replicas is the target (raise its memory), and a ready
controller throttled at its CPU limit that keeps restarting or losing its lease is too
(raise its CPU). A healthy controller, a throttled one that neither restarted lately nor
lost its lease, or resources of another kind of the same group change nothing.

Real: the pure builder (``tests.support.built``) over API-shaped dicts and the analyzer
registry; the live walk (``follow_resource_controllers``) over ``tests.support.listing``'s
stand-in for the reader.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from kubetriage.analyzers.cfs import PERIODS, THROTTLED
from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.resource_controller_walk import follow_resource_controllers
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from kubetriage.tenancy import Scope
from tests.support.built import built
from tests.support.evidence import analyze, assert_leads, by_category, log, metric
from tests.support.listing import ListingReader

JOBS = ObjectRef(kind="Namespace", name="jobs")
CONTROLLER = ObjectRef(kind="Deployment", namespace="wf", name="wf-controller")
OPERATOR = ObjectRef(kind="Deployment", namespace="autoscale", name="scaler")
ARGO_LABELS = {"app": "workflow-controller"}
KEDA_LABELS = {"app.kubernetes.io/name": "keda-operator"}
LEASE_LOST = "I1120 09:57:26 leaderelection.go:297] failed to renew lease autoscale/x: timed out"


def _resource(api: str, kind: str, name: str) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "jobs"}}


def _controller(
    ref: ObjectRef, labels: dict[str, str], image: str, status: dict[str, Any], ready: int
) -> list[dict[str, Any]]:
    """The controller's Deployment and its one pod with container ``manager`` in
    ``status``."""
    namespace = ref.namespace or ""
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": ref.name, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "manager", "image": image}]},
                },
            },
            "status": {"replicas": 1, "readyReplicas": ready},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{ref.name}-5d8f7b9c64-wq2x7",
                "namespace": namespace,
                "labels": labels,
                "ownerReferences": [
                    {"kind": "ReplicaSet", "name": f"{ref.name}-5d8f7b9c64", "controller": True}
                ],
            },
            "spec": {"containers": [{"name": "manager", "image": image}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "manager", **status}]},
        },
    ]


OOM_KILLED = {
    "ready": False,
    "restartCount": 6,
    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
    "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
}
HEALTHY = {"ready": True, "restartCount": 0, "state": {"running": {}}}


def _restarted(minutes_ago: int) -> dict[str, Any]:
    finished = f"2026-11-20T09:{60 - minutes_ago:02d}:00Z"
    return {
        "ready": True,
        "restartCount": 12,
        "state": {"running": {}},
        "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": finished}},
    }


def _throttled(ev: Evidence, share: float) -> Evidence:
    labels = {"namespace": "autoscale", "pod": "scaler-5d8f7b9c64-wq2x7", "container": "manager"}
    counters = [
        metric(THROTTLED, first=0.0, last=600.0 * share, labels=labels),
        metric(PERIODS, first=0.0, last=600.0, labels=labels),
    ]
    return ev.model_copy(update={"metrics": counters})


def _argo(status: dict[str, Any], ready: int, kind: str = "Workflow") -> Evidence:
    objects = [
        _resource("argoproj.io/v1alpha1", kind, "export-1763544600"),
        *_controller(
            CONTROLLER, ARGO_LABELS, "quay.io/argoproj/workflow-controller:v3.5.11", status, ready
        ),
    ]
    return built(objects, JOBS)


def _keda(status: dict[str, Any], lines: str | None = None) -> Evidence:
    objects = [
        _resource("keda.sh/v1alpha1", "ScaledJob", "transcode"),
        *_controller(OPERATOR, KEDA_LABELS, "ghcr.io/kedacore/keda:2.15.1", status, 1),
    ]
    tails = (
        []
        if lines is None
        else [
            log(
                "scaler-5d8f7b9c64-wq2x7",
                "manager",
                lines,
                namespace="autoscale",
                source="dependency",
            )
        ]
    )
    return built(objects, JOBS, logs=tails)


def test_an_oom_killed_workflow_controller_is_the_target() -> None:
    result = analyze(_argo(OOM_KILLED, 0))
    assert_leads(result, Category.OOM_KILLED, Action.INCREASE_MEMORY, CONTROLLER)


def test_a_healthy_workflow_controller_is_not_blamed() -> None:
    ev = _argo(HEALTHY, 1)
    assert [r.workload for r in ev.reconcilers] == [CONTROLLER]
    assert not [f for f in analyze(ev).findings if f.target == CONTROLLER]


def test_resources_of_another_kind_of_the_group_lead_nowhere() -> None:
    # An Argo CD Application shares argoproj.io with Workflows, not their controller.
    assert _argo(OOM_KILLED, 0, kind="Application").reconcilers == []


def test_a_throttled_operator_losing_its_lease_is_given_cpu() -> None:
    ev = _throttled(_keda(_restarted(3), f"starting\n{LEASE_LOST}\n"), 0.5)
    assert ev.reconcilers[0].lost_leadership == [LEASE_LOST]
    first = assert_leads(analyze(ev), Category.CPU_THROTTLING, Action.INCREASE_CPU, OPERATOR)
    assert first.params == {"container": "manager"}


def test_a_throttled_operator_restarting_lately_is_given_cpu() -> None:
    ev = _throttled(_keda(_restarted(3)), 0.5)
    assert_leads(analyze(ev), Category.CPU_THROTTLING, Action.INCREASE_CPU, OPERATOR)


def test_a_throttled_operator_that_neither_restarted_lately_nor_lost_its_lease_is_not_blamed() -> (
    None
):
    # Never restarted; and restarted, but more than an hour before the collection.
    for status in (HEALTHY, _restarted(59)):
        ev = _throttled(_keda(status), 0.5)
        later = ev.collected_at + timedelta(minutes=90)
        ev = ev.model_copy(update={"collected_at": later})
        assert not by_category(analyze(ev), Category.CPU_THROTTLING)


def test_an_operator_restarting_without_throttling_is_not_given_cpu() -> None:
    ev = _throttled(_keda(_restarted(3), f"{LEASE_LOST}\n"), 0.05)
    assert not by_category(analyze(ev), Category.CPU_THROTTLING)


def _walk(
    read: list[dict[str, Any]], cluster: list[dict[str, Any]]
) -> tuple[set[str], ListingReader]:
    run = CollectionRun(asyncio.Semaphore(1))
    for obj in read:
        run.add(obj)
    reader = ListingReader(cluster)
    asyncio.run(follow_resource_controllers(reader, run, Scope.unrestricted()))  # type: ignore[arg-type]
    return {f"{k}/{ns}/{name}" for k, ns, name in run.objects}, reader


def test_the_walk_reads_the_controller_of_a_workflow_read_and_its_tail() -> None:
    cluster = _controller(
        CONTROLLER, ARGO_LABELS, "quay.io/argoproj/workflow-controller:v3", HEALTHY, 1
    )
    read, reader = _walk([_resource("argoproj.io/v1alpha1", "Workflow", "w")], cluster)
    assert {"Deployment/wf/wf-controller", "Pod/wf/wf-controller-5d8f7b9c64-wq2x7"} <= read
    assert reader.tails == [("wf", "wf-controller-5d8f7b9c64-wq2x7", "manager")]


def test_the_walk_reads_nothing_without_a_custom_resource() -> None:
    cluster = _controller(
        CONTROLLER, ARGO_LABELS, "quay.io/argoproj/workflow-controller:v3", HEALTHY, 1
    )
    read, reader = _walk([], cluster)
    assert read == set()
    assert reader.asked == []
    assert reader.tails == []

"""Checks two ways the evidence scope follows what an SRE looks at when the alert names no
broken workload: a namespace-wide alert whose failing pods all belong to one workload is about
that workload (``evidence.failing_pods``), however many healthy ones run beside it; and a
workload's scope holds the ready pods of other workloads its Service also selects
(``evidence.co_endpoints``), the Service's whole endpoint set. With the near misses: failing
pods in two workloads, none failing, a Job's completed pod, a pod being deleted, a neighbour
that no Service of the workload selects, an unready pod of the other workload, and a
namespace-wide incident (no workload to share a Service with).

Real: raw manifests through the evidence builder (``tests.support.built``).
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.co_endpoints import MAX_CO_ENDPOINT_PODS
from kubetriage.evidence.failing_pods import failed_run_owners, failing_now, failing_owners
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built, deployment_manifest, service_manifest
from tests.support.evidence import analyze, assert_leads

NAMESPACE = ObjectRef(kind="Namespace", name="search")
RUNNING = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
READY = {**RUNNING, "containerStatuses": [{"name": "app", "ready": True, "state": {"running": {}}}]}
CRASHING = {
    "phase": "Running",
    "conditions": [{"type": "Ready", "status": "False"}],
    "containerStatuses": [
        {
            "name": "app",
            "ready": False,
            "restartCount": 7,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        }
    ],
}


def _replica_set(name: str, deployment: str, namespace: str = "search") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": deployment,
                    "controller": True,
                }
            ],
        },
    }


def _pod(
    name: str,
    owner: str,
    status: dict[str, Any],
    *,
    labels: dict[str, str],
    namespace: str = "search",
    kind: str = "ReplicaSet",
    ports: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "app:1"}
    if ports:
        container["ports"] = ports
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": kind, "name": owner, "controller": True}
            ],
        },
        "spec": {"containers": [container], "nodeName": "node-a"},
        "status": status,
    }


def _app(name: str, status: dict[str, Any], count: int = 2) -> list[dict[str, Any]]:
    """A Deployment, its ReplicaSet and ``count`` pods in ``status``."""
    rs = f"{name}-6f9b8d7c5"
    return [
        deployment_manifest(name, "search", ("app", "app:1")),
        _replica_set(rs, name),
        *(_pod(f"{rs}-p{i}", rs, status, labels={"app": name}) for i in range(count)),
    ]


def _workload(evidence: Evidence) -> str | None:
    return evidence.workload.ref.name if evidence.workload is not None else None


def test_a_namespace_alert_is_about_the_one_workload_whose_pods_fail() -> None:
    objects = _app("search-api", READY, 3) + _app("query-suggest", CRASHING)
    evidence = built(objects, NAMESPACE)
    assert _workload(evidence) == "query-suggest"
    assert evidence.target == NAMESPACE
    # Every pod of the namespace stays in scope, the failing ones first.
    assert len(evidence.pods) == 5
    assert evidence.pods[0].name.startswith("query-suggest")


def test_failing_pods_in_two_workloads_or_none_leave_the_namespace() -> None:
    two = _app("search-api", CRASHING) + _app("query-suggest", CRASHING)
    assert _workload(built(two, NAMESPACE)) is None
    healthy = _app("search-api", READY) + _app("query-suggest", READY)
    assert _workload(built(healthy, NAMESPACE)) is None


def test_completed_deleted_and_bare_pods_are_not_failing_owners() -> None:
    done = _pod("export-1-abcde", "export-1", {"phase": "Succeeded"}, labels={}, kind="Job")
    assert not failing_now(done)
    leaving = _pod("web-1", "web-1", CRASHING, labels={})
    leaving["metadata"]["deletionTimestamp"] = "2026-11-20T09:59:00Z"
    assert not failing_now(leaving)
    unplaced = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False"}]}
    pending = _pod("web-2", "web-1", unplaced, labels={})
    assert failing_now(pending)
    # Near misses: a finished run, a pod still being set up; a running pod that is not
    # ready (its readiness probe fails) does fail.
    evicted = _pod("web-3", "web-1", {"phase": "Failed", "reason": "Evicted"}, labels={})
    assert not failing_now(evicted)
    creating = {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "True"}],
        "containerStatuses": [
            {"name": "app", "ready": False, "state": {"waiting": {"reason": "ContainerCreating"}}}
        ],
    }
    assert not failing_now(_pod("web-4", "web-1", creating, labels={}))
    unready = {**RUNNING, "containerStatuses": [{"name": "app", "ready": False, "state": {}}]}
    assert failing_now(_pod("web-5", "web-1", unready, labels={}))
    bare = {**pending, "metadata": {**pending["metadata"], "ownerReferences": []}}
    assert failing_owners([pending, bare]) == {}
    assert list(failing_owners([pending])) == [("ReplicaSet", "web-1")]
    # A completed Job pod beside one crash-looping workload does not hide it.
    objects = [*_app("search-api", READY), *_app("query-suggest", CRASHING), done]
    assert _workload(built(objects, NAMESPACE)) == "query-suggest"


def _failed_run(job: str) -> list[dict[str, Any]]:
    """A Job's pod that was OOM-killed and two executor pods it controlled, which exited."""
    failed = {"phase": "Failed", "containerStatuses": [{"name": "app", "ready": False}]}
    driver = _pod(f"{job}-d7k2m", job, failed, labels={}, kind="Job")
    executors = [
        _pod(f"{job}-exec-{i}", driver["metadata"]["name"], failed, labels={}, kind="Pod")
        for i in (1, 2)
    ]
    return [driver, *executors]


def test_with_nothing_failing_now_the_run_that_ended_failed_is_the_scope() -> None:
    run = _failed_run("export-29919420")
    assert set(failed_run_owners(run)) == {
        ("Job", "export-29919420"),
        ("Pod", "export-29919420-d7k2m"),
    }
    objects = [*_app("search-api", READY), *run]
    # The executors climb through their driver to the same Job.
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "export-29919420", "namespace": "search"},
        "spec": {},
    }
    assert _workload(built([*objects, job], NAMESPACE)) == "export-29919420"


def test_a_failed_run_does_not_outrank_pods_failing_now_or_count_evictions() -> None:
    run = _failed_run("export-29919420")
    assert failed_run_owners([*run, *_app("query-suggest", CRASHING)]) == {}
    evicted = _pod("web-3", "web-1", {"phase": "Failed", "reason": "Evicted"}, labels={})
    assert failed_run_owners([evicted]) == {}
    assert _workload(built([*_app("search-api", READY), evicted], NAMESPACE)) is None


def _orders(relay_status: dict[str, Any], relay_labels: dict[str, str]) -> list[dict[str, Any]]:
    api_labels = {"app": "orders", "component": "api"}
    return [
        deployment_manifest("orders-api", "orders", ("app", "api:1"), labels=api_labels),
        _replica_set("orders-api-6d9c7b5f4d", "orders-api", "orders"),
        *(
            _pod(
                f"orders-api-6d9c7b5f4d-a{i}",
                "orders-api-6d9c7b5f4d",
                READY,
                labels=api_labels,
                namespace="orders",
                ports=[{"containerPort": 8080, "name": "http"}],
            )
            for i in range(2)
        ),
        _replica_set("orders-outbox-relay-7b4f9d8c6", "orders-outbox-relay", "orders"),
        *(
            _pod(
                f"orders-outbox-relay-7b4f9d8c6-b{i}",
                "orders-outbox-relay-7b4f9d8c6",
                relay_status,
                labels=relay_labels,
                namespace="orders",
                ports=[{"containerPort": 9090, "name": "metrics"}],
            )
            for i in range(2)
        ),
        service_manifest("orders-api", "orders", {"app": "orders"}),
    ]


API = ObjectRef(kind="Deployment", namespace="orders", name="orders-api")
RELAY_LABELS = {"app": "orders", "component": "outbox-relay"}


def test_a_workload_scope_holds_the_other_ready_endpoints_of_its_service() -> None:
    evidence = built(_orders(READY, RELAY_LABELS), API)
    names = sorted(p.name for p in evidence.pods)
    assert names == [
        "orders-api-6d9c7b5f4d-a0",
        "orders-api-6d9c7b5f4d-a1",
        "orders-outbox-relay-7b4f9d8c6-b0",
        "orders-outbox-relay-7b4f9d8c6-b1",
    ]
    assert _workload(evidence) == "orders-api"
    # ... which is what the stray-endpoints rule needs to name the Service.
    assert_leads(
        analyze(evidence),
        Category.NETWORK,
        Action.FIX_NETWORK,
        ObjectRef(kind="Service", namespace="orders", name="orders-api"),
    )


def test_unselected_or_unready_neighbours_stay_out_of_the_scope() -> None:
    other_app = _orders(READY, {"app": "orders-relay"})
    assert len(built(other_app, API).pods) == 2
    unready = _orders(CRASHING, RELAY_LABELS)
    assert len(built(unready, API).pods) == 2
    # A namespace-wide scope already holds every pod; nothing is added twice.
    wide = built(_orders(READY, RELAY_LABELS), ObjectRef(kind="Namespace", name="orders"))
    assert len(wide.pods) == len({p.name for p in wide.pods}) == 4


def test_shared_endpoints_are_bounded() -> None:
    objects = _orders(READY, RELAY_LABELS)
    objects += [
        _pod(
            f"orders-outbox-relay-7b4f9d8c6-c{i}",
            "orders-outbox-relay-7b4f9d8c6",
            READY,
            labels=RELAY_LABELS,
            namespace="orders",
        )
        for i in range(MAX_CO_ENDPOINT_PODS)
    ]
    assert len(built(objects, API).pods) == 2 + MAX_CO_ENDPOINT_PODS

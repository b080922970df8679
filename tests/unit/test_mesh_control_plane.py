"""Checks "is the mesh's control plane itself healthy?": a workload whose pods run Istio's
sidecar waits on istiod for its workload certificates and its configuration; when istiod is
down (its pods Pending, OOM-killed...) it is the target, in the category of its own failure,
and surer when the sidecars say they cannot reach it ("failed to warm certificate", "ca
request failed", "config stream to xds-grpc closed") than when they only run. Near misses: a
healthy istiod, pods outside the mesh, and an Incident that may not read other namespaces.

Real: the pure builder (``tests.support.built``) over API-shaped dicts and log tails, the
analyzer registry, the reconciler walk over a reader that lists by equality selector as the
API does, and the train case written for this, replayed through the builder.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.summaries.mesh_control_plane import cut_off_pods
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import LogTail
from kubetriage.models.vocabulary import Action, Category
from kubetriage.replay.cases import load_case
from kubetriage.tenancy import Scope
from tests.support.built import built, case_evidence, deployment_manifest
from tests.support.cases import TRAIN
from tests.support.evidence import analyze, assert_leads, by_category
from tests.support.listing import reconciler_reads

PAY = ObjectRef(kind="Deployment", namespace="pay", name="ledger", api_version="apps/v1")
ISTIOD = ObjectRef(kind="Deployment", namespace="istio-system", name="istiod")
PILOT = "docker.io/istio/pilot:1.24.2"
WARM = (
    "2026-11-20T09:59:31Z\twarn\tsds\tfailed to warm certificate: failed to generate workload "
    "certificate: create certificate: rpc error: code = Unavailable"
)
XDS = (
    "2026-11-20T09:40:02Z\twarning\tenvoy config\tStreamAggregatedResources gRPC config stream "
    "to xds-grpc closed since 94120s ago: 14, connection error"
)


def _owned(kind: str, name: str, namespace: str, owner: str, **fields: Any) -> Any:
    return {
        "apiVersion": "v1" if kind == "Pod" else "apps/v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": fields.pop("labels"),
            "ownerReferences": [
                {
                    "kind": "ReplicaSet" if kind == "Pod" else "Deployment",
                    "name": owner,
                    "controller": True,
                }
            ],
        },
        **fields,
    }


def _ready(name: str) -> Any:
    return {"name": name, "ready": True, "restartCount": 0, "state": {"running": {}}}


def _ledger(*, meshed: bool = True) -> list[Any]:
    """The workload the alert is about: one pod, healthy, with the sidecar when meshed."""
    containers = [{"name": "ledger", "image": "ledger:3"}]
    containers += [{"name": "istio-proxy", "image": "istio/proxyv2:1.24.2"}] if meshed else []
    statuses = [_ready(c["name"]) for c in containers]
    return [
        deployment_manifest(
            "ledger",
            "pay",
            ("ledger", "ledger:3"),
            replicas=1,
            status={"replicas": 1, "readyReplicas": 1, "availableReplicas": 1},
        ),
        _owned(
            "ReplicaSet",
            "ledger-5d4f",
            "pay",
            "ledger",
            labels={"app": "ledger"},
            spec={"selector": {"matchLabels": {"app": "ledger"}}},
        ),
        _owned(
            "Pod",
            "ledger-5d4f-abcde",
            "pay",
            "ledger-5d4f",
            labels={"app": "ledger"},
            spec={"containers": containers},
            status={"phase": "Running", "containerStatuses": statuses},
        ),
    ]


def _istiod(state: str) -> list[Any]:
    """istiod with its chart's labels: ``pending``, ``oom`` or ``healthy``."""
    labels = {"app": "istiod", "istio": "pilot"}
    workload = deployment_manifest(
        "istiod",
        "istio-system",
        ("discovery", PILOT),
        labels=labels,
        metadata={"labels": labels},
        replicas=1,
        status={"replicas": 1, "readyReplicas": 1 if state == "healthy" else 0},
    )
    status: dict[str, Any] = {"phase": "Running", "containerStatuses": [_ready("discovery")]}
    if state == "pending":
        status = {"phase": "Pending"}
    elif state == "oom":
        killed = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
        waiting = {"waiting": {"reason": "CrashLoopBackOff"}}
        status["containerStatuses"] = [
            {**_ready("discovery"), "ready": False, "state": waiting, "lastState": killed}
        ]
    pod = _owned(
        "Pod",
        "istiod-7b9c-qwert",
        "istio-system",
        "istiod-7b9c",
        labels=labels,
        spec={"containers": [{"name": "discovery", "image": PILOT}]},
        status=status,
    )
    return [workload, pod]


def _tail(*lines: str) -> LogTail:
    return LogTail(
        namespace="pay", pod="ledger-5d4f-abcde", container="istio-proxy", lines=list(lines)
    )


def test_a_pending_istiod_is_the_cause_when_the_sidecars_cannot_reach_it() -> None:
    ev = built([*_ledger(), *_istiod("pending")], PAY, logs=[_tail(XDS, WARM)])
    (reconciler,) = ev.reconcilers
    assert (reconciler.role, reconciler.workload) == ("mesh-control-plane", ISTIOD)
    assert "failed to warm certificate" in reconciler.owed[0]
    leader = assert_leads(analyze(ev), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, ISTIOD)
    assert "mesh control plane" in leader.summary


def test_an_istiod_down_weighs_less_when_the_sidecars_only_run() -> None:
    said = assert_leads(
        analyze(built([*_ledger(), *_istiod("oom")], PAY, logs=[_tail(WARM)])),
        Category.OOM_KILLED,
        Action.INCREASE_MEMORY,
        ISTIOD,
    )
    unsaid = assert_leads(
        analyze(built([*_ledger(), *_istiod("oom")], PAY)),
        Category.OOM_KILLED,
        Action.INCREASE_MEMORY,
        ISTIOD,
    )
    assert unsaid.confidence < said.confidence


def test_a_healthy_istiod_or_a_workload_outside_the_mesh_changes_nothing() -> None:
    healthy = built([*_ledger(), *_istiod("healthy")], PAY, logs=[_tail(WARM)])
    assert [r.workload for r in healthy.reconcilers] == [ISTIOD]
    assert not [f for f in analyze(healthy).findings if f.target == ISTIOD]
    outside = built([*_ledger(meshed=False), *_istiod("pending")], PAY)
    assert outside.reconcilers == []
    assert not by_category(analyze(outside), Category.UNSCHEDULABLE)


def test_cut_off_pods_prefer_the_certificate_line() -> None:
    pods = [o for o in _ledger() if o["kind"] == "Pod"]
    assert [
        (p["metadata"]["name"], said) for p, said in cut_off_pods(pods, [_tail(WARM, XDS)])
    ] == [("ledger-5d4f-abcde", WARM)]
    assert cut_off_pods(pods, [_tail("2026-11-20T09:59:31Z\tinfo\tready")]) == []


def test_the_train_case_of_a_pending_istiod() -> None:
    case = (
        "unschedulable-gke-istiod-nodeselector-old-system-pool-workload-certs-expire-checkout-503"
    )
    first = analyze(case_evidence(load_case(TRAIN / case))).findings[0]
    assert (first.category, first.action) == (Category.UNSCHEDULABLE, Action.FREE_CAPACITY)
    assert first.target.same_object(ISTIOD), first


# --- the live walk reads what the builder recognises ------------------------------------------


def test_the_live_walk_reads_istiod_for_a_workload_in_the_mesh() -> None:
    istiod = _istiod("pending")
    assert reconciler_reads(_ledger(), istiod, Scope.unrestricted()) == {
        "Deployment/istio-system/istiod",
        "Pod/istio-system/istiod-7b9c-qwert",
    }
    assert reconciler_reads(_ledger(), istiod, Scope("pay", cluster_wide=False)) == set()
    assert reconciler_reads(_ledger(meshed=False), istiod, Scope.unrestricted()) == set()

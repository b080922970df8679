"""Checks the siblings of a workload deployed without application labels (kompose output,
hand-written manifests labelled ``io.kompose.service=<name>`` only): the namespace holds the
application, so the builder keeps the namespace's other unlabelled workloads that are short of
ready replicas (never a labelled workload of another application, never a healthy one), the
collector lists the whole namespace for them (``sibling_scope``), and a caller's failure
that only escalates to its own owner (its failing calls name no host) does not silence the
sibling that explains it.

Real: ``build_evidence`` over raw manifests, the Evidence factories and ``run_analyzers``;
the objects are synthetic.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.siblings import NAME
from kubetriage.evidence.summaries.siblings import sibling_scope
from kubetriage.models.base import ObjectRef
from kubetriage.models.neighbours import SiblingEvidence
from kubetriage.models.object_evidence import PodCondition
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest
from tests.support.evidence import analyze, assert_leads

FRONTEND = ObjectRef(kind="Deployment", namespace="hotel", name="frontend")
USER = ObjectRef(kind="Deployment", namespace="hotel", name="user")
_UNSCHEDULABLE = (
    "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. "
    "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
)
_RESOLVER = (
    "UserHandler CheckUser failed: rpc error: code = Unavailable desc = last resolver error: "
    "produced zero addresses"
)


def _workload(name: str, labels: dict[str, str], *, ready: int) -> list[dict[str, Any]]:
    """A Deployment ``hotel/<name>`` of one replica with those labels and its pod (Pending
    when it is not ready)."""
    body = deployment_manifest(
        name,
        "hotel",
        (name, "hotel:1"),
        labels=labels,
        metadata={"labels": labels, "uid": f"{name}-uid"},
        status={"readyReplicas": ready},
        replicas=1,
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-5b8d9f6c7-r2v6k",
            "namespace": "hotel",
            "labels": labels,
            "ownerReferences": [
                {"kind": "Deployment", "name": name, "uid": f"{name}-uid", "controller": True}
            ],
        },
        "spec": {"containers": [{"name": name, "image": "hotel:1"}]},
        "status": {"phase": "Running" if ready else "Pending"},
    }
    return [body, pod]


def _kompose(name: str) -> dict[str, str]:
    return {"io.kompose.service": name}


def test_the_collector_lists_the_whole_namespace_for_an_unlabelled_workload() -> None:
    assert sibling_scope({"metadata": {"labels": _kompose("frontend")}}) == ""
    labelled = {"metadata": {"labels": {"app.kubernetes.io/name": "shop"}}}
    assert sibling_scope(labelled) == "app.kubernetes.io/name=shop"


def test_the_builder_keeps_the_degraded_unlabelled_workloads_of_the_namespace() -> None:
    objects = [
        *_workload("frontend", _kompose("frontend"), ready=1),
        *_workload("user", _kompose("user"), ready=0),
        *_workload("geo", _kompose("geo"), ready=1),  # healthy
        *_workload("cache", {"app.kubernetes.io/name": "memcached"}, ready=0),  # labelled
    ]
    ev = built(objects, FRONTEND)
    [sibling] = ev.siblings
    assert sibling.workload.ref.key() == USER.key()
    assert sibling.application == {}
    assert [p.name for p in sibling.pods] == ["user-5b8d9f6c7-r2v6k"]


def _pending_user() -> SiblingEvidence:
    pod = make.pod(
        "user-5b8d9f6c7-r2v6k",
        make.container("user", ready=False),
        namespace="hotel",
        replica_set="user-5b8d9f6c7",
        phase="Pending",
        node=None,
        labels=_kompose("user"),
        conditions=[
            PodCondition(
                type="PodScheduled", status="False", reason="Unschedulable", message=_UNSCHEDULABLE
            )
        ],
    )
    workload = make.deployment("user", "hotel", replicas=1, ready=0)
    return SiblingEvidence(workload=workload, application={}, pods=[pod])


def test_an_escalation_seen_from_the_caller_gives_way_to_the_sibling_that_explains_it() -> None:
    frontend_pod = "frontend-6d7f8c9b5-x4q9m"
    ev = make.evidence(
        target=FRONTEND,
        workload=make.deployment("frontend", "hotel", replicas=1),
        pods=[make.app_pod(frontend_pod, namespace="hotel")],
        alerts=[make.alert(alertname="FrontendErrors", namespace="hotel")],
        logs=[make.log(frontend_pod, "app", _RESOLVER, namespace="hotel")],
        siblings=[_pending_user()],
    )
    result = analyze(ev)
    finding = assert_leads(result, Category.UNSCHEDULABLE, Action.FREE_CAPACITY, USER)
    assert finding.analyzer == NAME
    assert finding.narrative is not None
    assert "no application labels" in finding.narrative.because[0].text
    # The caller's own escalation stays a ranked alternative.
    assert any(f.action is Action.ESCALATE for f in result.findings[1:])

"""Checks the other components of the incident's application: the builder keeps, among the
workloads of the namespace, those carrying the same recommended application labels (part-of,
else name, with instance) under another component that are short of ready replicas, with
their pods and events (a healthy one, the same component, or another application's are not
kept); and the rules that read a workload's own pods speak for a degraded sibling of a healthy
alerted workload, below what they would earn on the alerted workload, which wins whenever it
has a finding of its own.

Real: ``build_evidence`` over raw manifests, the Evidence factories and ``run_analyzers``.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.siblings import CONFIDENCE, NAME
from kubetriage.combine import known_objects
from kubetriage.evidence.summaries.siblings import application_of, application_selector
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.neighbours import SiblingEvidence
from kubetriage.models.object_evidence import PodCondition
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built, deployment_manifest
from tests.support.evidence import analyze, assert_leads

DISTRIBUTOR = ObjectRef(kind="Deployment", namespace="obs", name="distributor")
INGESTER = ObjectRef(kind="StatefulSet", namespace="obs", name="ingester")
_UNSCHEDULABLE = (
    "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: "
    "3 No preemption victims found for incoming pod."
)
_APP = {"app.kubernetes.io/name": "metrics-store", "app.kubernetes.io/instance": "prod"}


def _pending(name: str) -> Any:
    return make.pod(
        name,
        make.container("ingester", ready=False),
        namespace="obs",
        replica_set=None,
        phase="Pending",
        node=None,
        conditions=[
            PodCondition(
                type="PodScheduled",
                status="False",
                reason="Unschedulable",
                message=_UNSCHEDULABLE,
            )
        ],
    ).model_copy(update={"owner": INGESTER})


def _sibling(*pods: Any, ready: int = 1) -> SiblingEvidence:
    return SiblingEvidence(
        workload=make.deployment("ingester", "obs", replicas=3, ready=ready).model_copy(
            update={"ref": INGESTER}
        ),
        application=_APP,
        component="ingester",
        pods=list(pods),
    )


def _distributor(*siblings: SiblingEvidence, **fields: Any) -> Evidence:
    """The distributor, every replica ready, alerting on its push errors."""
    fields.setdefault("pods", [make.app_pod("distributor-7b5d9c6f48-x8wq2", namespace="obs")])
    fields.setdefault("alerts", [make.alert(alertname="RequestErrors", namespace="obs")])
    return make.evidence(
        target=DISTRIBUTOR,
        workload=make.deployment("distributor", "obs", replicas=1),
        siblings=list(siblings),
        **fields,
    )


def test_an_unschedulable_sibling_of_a_healthy_workload_is_the_finding() -> None:
    ev = _distributor(_sibling(_pending("ingester-1"), _pending("ingester-2")))
    result = analyze(ev)
    finding = assert_leads(result, Category.UNSCHEDULABLE, Action.FREE_CAPACITY, INGESTER)
    assert finding.analyzer == NAME
    assert finding.confidence <= CONFIDENCE.ceiling
    assert finding.narrative is not None
    assert "another component of the same application" in finding.narrative.because[0].text
    assert any(e.source == "statefulset/obs/ingester" for e in finding.evidence)
    # A model may propose acting on the sibling: the evidence shows it.
    assert "StatefulSet/obs/ingester" in known_objects(ev)


def test_the_same_pods_on_the_alerted_workload_itself_earn_more() -> None:
    on_itself = make.evidence(
        target=INGESTER,
        workload=_sibling().workload,
        pods=[_pending("ingester-1")],
    )
    own = assert_leads(analyze(on_itself), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, INGESTER)
    spoken_for = analyze(_distributor(_sibling(_pending("ingester-1")))).findings[0]
    assert spoken_for.confidence < own.confidence


def test_a_sibling_whose_pods_are_fine_adds_nothing() -> None:
    ev = _distributor(_sibling(make.pod("ingester-0", namespace="obs", replica_set=None)))
    assert analyze(ev).findings == ()


def test_a_failing_alerted_workload_is_not_explained_by_its_sibling() -> None:
    crashing = make.crash_looping("distributor", restarts=9)
    ev = _distributor(
        _sibling(_pending("ingester-1")),
        pods=[make.app_pod("distributor-7b5d9c6f48-x8wq2", crashing, namespace="obs")],
    )
    result = analyze(ev)
    assert result.findings
    assert all(f.analyzer != NAME for f in result.findings)
    assert result.findings[0].target == DISTRIBUTOR


def test_a_finding_on_the_alerted_workload_wins_over_its_siblings() -> None:
    # Healthy pods, but its autoscaler is at its maximum: the main pass finds that about the
    # alerted workload itself, and the sibling's finding is dropped.
    alert = make.alert(alertname="KubeHpaMaxedOut", namespace="obs")
    hpa_maxed = _distributor(_sibling(_pending("ingester-1")), alerts=[alert])
    result = analyze(hpa_maxed)
    assert result.findings[0].target == DISTRIBUTOR
    assert all(f.analyzer != NAME for f in result.findings)


# --- the builder ------------------------------------------------------------------------


def _workload(
    kind: str, name: str, labels: dict[str, str], *, replicas: int = 3, ready: int = 3
) -> list[dict[str, Any]]:
    """A workload ``obs/<name>`` with those labels (its pods: ``component=<name>``) and its
    first pod, Pending when fewer are ready than asked."""
    selector = {"app.kubernetes.io/component": name, "app.kubernetes.io/name": "x"}
    body = deployment_manifest(
        name,
        "obs",
        (name, "store:1"),
        labels=selector,
        metadata={"labels": labels, "uid": f"{name}-uid"},
        status={"readyReplicas": ready},
        replicas=replicas,
    )
    body["kind"] = kind
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-0",
            "namespace": "obs",
            "labels": selector,
            "ownerReferences": [
                {"kind": kind, "name": name, "uid": f"{name}-uid", "controller": True}
            ],
        },
        "spec": {"containers": [{"name": name, "image": "store:1"}]},
        "status": {"phase": "Pending"} if ready < replicas else {"phase": "Running"},
    }
    return [body, pod]


def _event(pod: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{pod}.1", "namespace": "obs"},
        "involvedObject": {"kind": "Pod", "name": pod, "namespace": "obs"},
        "reason": "FailedScheduling",
        "message": _UNSCHEDULABLE,
        "type": "Warning",
        "count": 4,
        "lastTimestamp": "2026-11-20T09:59:00Z",
    }


_COMPONENT = "app.kubernetes.io/component"


def _labels(component: str, **extra: str) -> dict[str, str]:
    return {**_APP, "app.kubernetes.io/component": component, **extra}


def test_the_builder_keeps_the_degraded_siblings_of_the_same_application_only() -> None:
    other_instance = {**_labels("querier"), "app.kubernetes.io/instance": "staging"}
    objects = [
        *_workload("Deployment", "distributor", _labels("distributor"), replicas=1, ready=1),
        *_workload("StatefulSet", "ingester", _labels("ingester"), ready=1),
        _event("ingester-0"),
        *_workload("StatefulSet", "compactor", _labels("compactor")),  # healthy
        *_workload("Deployment", "querier", other_instance, ready=0),  # another instance
        *_workload("Deployment", "gateway", _labels("distributor"), ready=0),  # same component
        *_workload("Deployment", "cache", {"app.kubernetes.io/name": "memcached"}, ready=0),
    ]
    ev = built(objects, DISTRIBUTOR)
    [sibling] = ev.siblings
    assert sibling.workload.ref.key() == INGESTER.key()
    assert sibling.application == _APP
    assert sibling.component == "ingester"
    assert [p.name for p in sibling.pods] == ["ingester-0"]
    assert [e.reason for e in sibling.events] == ["FailedScheduling"]
    # The alerted workload is healthy and alone in its own evidence: the sibling speaks.
    first = analyze(ev).findings[0]
    assert (first.category, first.action, first.target.key()) == (
        Category.UNSCHEDULABLE,
        Action.FREE_CAPACITY,
        INGESTER.key(),
    )


def test_part_of_names_the_application_before_name() -> None:
    labels = {
        "app.kubernetes.io/name": "frontend",
        "app.kubernetes.io/part-of": "shop",
        "app.kubernetes.io/instance": "prod",
    }
    obj = {"metadata": {"labels": labels}}
    assert application_of(obj) == {
        "app.kubernetes.io/part-of": "shop",
        "app.kubernetes.io/instance": "prod",
    }
    assert (
        application_selector(obj)
        == "app.kubernetes.io/instance=prod,app.kubernetes.io/part-of=shop"
    )
    assert application_selector({"metadata": {"labels": {"team": "x"}}}) is None


def test_the_legacy_app_label_names_the_application_when_the_recommended_one_is_absent() -> None:
    # ``app`` and ``app.kubernetes.io/name`` say the same thing: a chart that spells the
    # application's name the old way has the same components.
    assert application_of({"metadata": {"labels": {"app": "x", "tier": "db"}}}) == {"app": "x"}
    both = {"app": "x-ingester", "app.kubernetes.io/name": "x"}
    assert application_of({"metadata": {"labels": both}}) == {"app.kubernetes.io/name": "x"}
    legacy = {"app": "x"}
    objects = [
        *_workload("Deployment", "distributor", {**legacy, _COMPONENT: "distributor"}, replicas=1),
        *_workload("StatefulSet", "ingester", {**legacy, _COMPONENT: "ingester"}, ready=1),
        _event("ingester-0"),
        *_workload("Deployment", "cache", {"app": "memcached"}, ready=0),  # another application
    ]
    [sibling] = built(objects, DISTRIBUTOR).siblings
    assert sibling.workload.ref.key() == INGESTER.key()
    assert sibling.application == legacy

"""Checks that a Pending claim of a WaitForFirstConsumer class whose pods the scheduler has
not placed yet is not read as a storage failure: such a claim binds only once a pod that
mounts it gets a node, so the unschedulable finding about the pod leads. Near misses stay
storage: the pod already has a node and the claim still waits, the scheduler names the
claim or volumes among its reasons, or the claim never said it waits for a consumer.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import PodCondition, PodEvidence, PVCEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category

STS = ObjectRef(kind="StatefulSet", namespace="shop", name="kafka")
SHORT = (
    "0/6 nodes are available: 3 Insufficient memory, 3 node(s) didn't match Pod's node "
    "affinity/selector. preemption: 0/6 nodes are available: 6 Preemption is not helpful."
)
WAITING = "waiting for first consumer to be created before binding"


def _broker(*, node: str | None = None, message: str = SHORT) -> PodEvidence:
    conditions = (
        [PodCondition(type="PodScheduled", status="False", reason="Unschedulable", message=message)]
        if node is None
        else [PodCondition(type="Ready", status="False")]
    )
    return make.pod(
        "kafka-3",
        make.container("kafka", ready=False, state=make.waiting("ContainerCreating")),
        phase="Pending",
        node=node,
        replica_set=None,
        labels={"app": "kafka"},
        pvc_names=["data-kafka-3"],
        conditions=conditions,
    ).model_copy(update={"owner": STS})


def _evidence(
    pod: PodEvidence, *, message: str = SHORT, claim_says: str | None = WAITING
) -> Evidence:
    events = [make.event("FailedScheduling", message, name=pod.name, count=19)]
    if claim_says is not None:
        events.append(
            make.event(
                "WaitForFirstConsumer",
                claim_says,
                name="data-kafka-3",
                kind="PersistentVolumeClaim",
                type_="Normal",
                count=110,
            )
        )
    return make.evidence(
        workload=make.deployment("kafka", ready=3, replicas=5).model_copy(update={"ref": STS}),
        pods=[pod],
        pvcs=[
            PVCEvidence(
                name="data-kafka-3",
                namespace="shop",
                phase="Pending",
                storage_class="managed-csi-premium",
                requested="512Gi",
            )
        ],
        events=events,
    )


def test_a_claim_waiting_for_its_unscheduled_pod_is_not_storage() -> None:
    result = analyze(_evidence(_broker()))
    assert_leads(result, Category.UNSCHEDULABLE, Action.FREE_CAPACITY, STS)
    assert by_category(result, Category.STORAGE) == []


def test_a_claim_still_pending_once_its_pod_has_a_node_is_storage() -> None:
    result = analyze(_evidence(_broker(node="worker-2")))
    assert by_category(result, Category.STORAGE)


def test_a_claim_the_scheduler_names_stays_storage() -> None:
    volumes = "0/3 nodes are available: 3 node(s) did not have enough free storage."
    result = analyze(_evidence(_broker(message=volumes), message=volumes))
    assert by_category(result, Category.STORAGE)


def test_a_pending_claim_that_does_not_say_it_waits_stays_storage() -> None:
    result = analyze(_evidence(_broker(), claim_says=None))
    assert by_category(result, Category.STORAGE)

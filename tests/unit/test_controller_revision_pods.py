"""Checks that a StatefulSet's or DaemonSet's pod runs the ControllerRevision its
``controller-revision-hash`` label names, so a pod recreated on a new revision while its
siblings still run the previous one (OnDelete, a partition, a halted ordered rollout) is a
rollout that failed, and the rollback is to the revision the siblings serve on.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.analyzers.revisions import pod_revision
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    ContainerEvidence,
    PodEvidence,
    WorkloadEvidence,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category

DB = ObjectRef(kind="StatefulSet", namespace="shop", name="db")
OLD, NEW = "db-6c8d7f9b54", "db-85f9c6d7b8"


def _owned(pod: PodEvidence, owner: ObjectRef) -> PodEvidence:
    return pod.model_copy(update={"owner": owner})


def _statefulset_pod(index: int, revision_name: str, *containers: ContainerEvidence) -> PodEvidence:
    labels = {"app": "db", "controller-revision-hash": revision_name}
    pod = make.pod(
        f"db-{index}", *containers, replica_set=None, labels=labels, node=f"worker-{index}"
    )
    return _owned(pod, DB)


def _statefulset_rollout(*, new_pod_crashes: bool) -> Evidence:
    """Revision 2 (a new image) was applied a week ago; only db-1 was recreated since and
    runs it, the other two still run revision 1 (OnDelete, a partition, a halted rollout)."""
    new = (
        make.crash_looping("db", "postgres:17.2", restarts=6)
        if new_pod_crashes
        else make.container("db", "postgres:17.2")
    )
    return make.evidence(
        workload=WorkloadEvidence(
            ref=DB, desired_replicas=3, ready_replicas=2 if new_pod_crashes else 3
        ),
        revisions=[
            make.revision(
                NEW, 2, {"db": "postgres:17.2"}, current=True, created_minutes_ago=60 * 24 * 7
            ),
            make.revision(OLD, 1, {"db": "postgres:16.4"}, created_minutes_ago=60 * 24 * 90),
        ],
        pods=[
            _statefulset_pod(0, OLD, make.container("db", "postgres:16.4")),
            _statefulset_pod(1, NEW, new),
            _statefulset_pod(2, OLD, make.container("db", "postgres:16.4")),
        ],
    )


def test_statefulset_pod_runs_the_revision_its_label_names() -> None:
    ev = _statefulset_rollout(new_pod_crashes=True)
    assert [r.name if (r := pod_revision(p, ev)) else None for p in ev.pods] == [OLD, NEW, OLD]


def test_daemonset_pod_label_holds_only_the_hash() -> None:
    agent = ObjectRef(kind="DaemonSet", namespace="logging", name="agent")
    ev = make.evidence(
        revisions=[make.revision("agent-5d4f8b7c96", 12, {"agent": "agent:3.2"}, current=True)],
        pods=[
            _owned(
                make.pod(
                    "agent-x2k9d",
                    replica_set=None,
                    labels={"controller-revision-hash": "5d4f8b7c96"},
                ),
                agent,
            )
        ],
    )
    revision = pod_revision(ev.pods[0], ev)
    assert revision is not None
    assert revision.revision == 12


def test_statefulset_pod_recreated_on_new_revision_crashing_is_a_bad_rollout() -> None:
    result = analyze(_statefulset_rollout(new_pod_crashes=True))
    first = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, DB)
    assert first.params["revision"] == "1"


def test_statefulset_pods_all_healthy_make_no_rollout_finding() -> None:
    result = analyze(_statefulset_rollout(new_pod_crashes=False))
    assert not by_category(result, Category.BAD_ROLLOUT)

"""Checks that a new revision whose only failing pod never got a sandbox from a node that
reports a problem of its own (NetworkUnavailable after the CNI agent died there), while one
pod of that revision serves on another node, is the node's failure to drain, not the
revision's to roll back: a sandbox is the node's runtime and CNI, never the pod's image or
config. Near misses keep the rollback: the node reports nothing, the pod got further than
its sandbox (its container crashes), or no pod of the revision serves anywhere.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.analyzers.pods import node_split, sandbox_held
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ContainerEvidence, NodeEvidence, PodCondition
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    analyze,
    container,
    crash_looping,
    deployment,
    event,
    evidence,
    pod,
    rollout_change,
    rollout_revisions,
    waiting,
)

BAD = "worker-5"
NEW, OLD = "checkout-7d9f6c8b5", "checkout-5c6d7e8f9"
NO_NETWORK = PodCondition(
    type="NetworkUnavailable",
    status="True",
    reason="CalicoIsDown",
    message="Calico is shutting down on this node",
)


def _stuck(
    *,
    node_condition: bool = True,
    stuck: ContainerEvidence | None = None,
    serving_new: bool = True,
) -> Evidence:
    """Revision 8 went out 20 minutes ago (maxUnavailable 0): its first pod serves on
    worker-2 and its second waits on ``BAD``, where the kubelet cannot create its sandbox;
    three pods of revision 7 still serve."""
    workload = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    old_rs = ObjectRef(kind="ReplicaSet", namespace="shop", name=OLD)
    waiting_pod = pod(
        f"{NEW}-zzzzz",
        stuck or container("app", ready=False, state=waiting("ContainerCreating")),
        node=BAD,
        phase="Pending",
    )
    first = pod(f"{NEW}-aaaaa", container("app"), node="worker-2")
    old = [
        pod(f"{OLD}-{s}", container("app"), node=n).model_copy(update={"owner": old_rs})
        for s, n in (("bbbbb", "worker-2"), ("ccccc", "worker-4"), ("ddddd", "worker-4"))
    ]
    sandbox = event(
        "FailedCreatePodSandBox",
        "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network "
        'for sandbox "3f1c": plugin type="calico" failed (add): stat /var/lib/calico/nodename: '
        "no such file or directory: check that the calico/node container is running",
        name=waiting_pod.name,
        count=88,
    )
    return evidence(
        workload=deployment(replicas=4, ready=4, revision=8),
        revisions=rollout_revisions(
            8,
            {"app": "checkout:2.1"},
            {"app": "checkout:2.0"},
            minutes_ago=20,
            ready=1,
            old_ready=3,
        ),
        changes=[rollout_change(workload, 7, "image", minutes_ago=20)],
        pods=[*([first] if serving_new else []), waiting_pod, *old],
        nodes=[
            NodeEvidence(name="worker-2", ready="True"),
            NodeEvidence(name="worker-4", ready="True"),
            NodeEvidence(name=BAD, ready="True", conditions=[NO_NETWORK] if node_condition else []),
        ],
        events=[sandbox],
    )


def test_a_new_pod_without_a_sandbox_on_a_node_without_network_drains_the_node() -> None:
    ev = _stuck()
    assert sandbox_held(ev, ev.pods) == {BAD}
    assert node_split(ev, ev.pods)
    top = analyze(ev).findings[0]
    assert (top.category, top.action, top.target) == (
        Category.NODE_FAILURE,
        Action.DRAIN_NODE,
        ObjectRef(kind="Node", name=BAD),
    )


def test_a_node_that_reports_nothing_does_not_hold_the_pod() -> None:
    ev = _stuck(node_condition=False)
    assert sandbox_held(ev, ev.pods) == set()
    assert not node_split(ev, ev.pods)


def test_a_pod_whose_container_ran_is_not_held_by_its_sandbox() -> None:
    ev = _stuck(stuck=crash_looping("app"))
    assert sandbox_held(ev, ev.pods) == set()


def test_without_a_pod_of_the_revision_serving_elsewhere_the_template_stays_on_trial() -> None:
    ev = _stuck(serving_new=False)
    assert sandbox_held(ev, ev.pods) == set()

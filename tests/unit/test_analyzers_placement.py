"""Checks the node-localized analyzer: replicas of one workload failing only on a node that
reports a problem (a node-problem-detector condition, a Warning event), while the same
template runs on other nodes, is a node failure to drain; near misses (a healthy replica on
the same node, no healthy replica elsewhere, a node that reports nothing) stay quiet.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.analyzers.pods import failing_node, node_split
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import (
    ChangeEvidence,
    NodeEvidence,
    NodeNeighbour,
    PodCondition,
    PodEvidence,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    ago,
    analyze,
    app_pod,
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

BAD = "worker-3"


def _node(name: str, *conditions: PodCondition) -> NodeEvidence:
    return NodeEvidence(name=name, ready="True", conditions=list(conditions))


def _replica(suffix: str, node: str, *, failing: bool) -> PodEvidence:
    return pod(
        f"checkout-7d9f6c8b5-{suffix}",
        crash_looping("app") if failing else container("app"),
        node=node,
    )


def _evidence(*pods: PodEvidence, bad_condition: bool = True, warning: bool = False) -> Evidence:
    readonly = PodCondition(
        type="ReadonlyFilesystem",
        status="True",
        reason="FilesystemIsReadOnly",
        message="Remounting filesystem read-only",
    )
    events = (
        [
            event(
                "KernelOops",
                "EXT4-fs error: aborted journal",
                name=BAD,
                kind="Node",
                namespace=None,
            )
        ]
        if warning
        else []
    )
    return evidence(
        pods=list(pods),
        nodes=[
            _node("worker-1"),
            _node("worker-2"),
            _node(BAD, *([readonly] if bad_condition else [])),
        ],
        events=events,
    )


def _localized(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "node-localized"]


def test_replicas_failing_only_on_a_troubled_node_drain_that_node() -> None:
    ev = _evidence(
        _replica("aaaaa", "worker-1", failing=False),
        _replica("bbbbb", "worker-2", failing=False),
        _replica("ccccc", BAD, failing=True),
    )
    top = analyze(ev).findings[0]
    assert (top.category, top.action, top.target) == (
        Category.NODE_FAILURE,
        Action.DRAIN_NODE,
        ObjectRef(kind="Node", name=BAD),
    )
    assert any("ReadonlyFilesystem=True" in e.fact for e in top.evidence)
    # A Warning event alone is weaker than a condition the node holds.
    events_only = _localized(
        _evidence(
            _replica("aaaaa", "worker-1", failing=False),
            _replica("ccccc", BAD, failing=True),
            bad_condition=False,
            warning=True,
        )
    )
    assert events_only
    assert events_only[0].confidence < top.confidence


def test_no_split_or_no_node_problem_is_not_the_nodes_fault() -> None:
    # Every replica fails (the template is at fault), a healthy replica shares the node, or
    # the node reports nothing: the node is not blamed.
    everywhere = _evidence(
        _replica("aaaaa", "worker-1", failing=True), _replica("ccccc", BAD, failing=True)
    )
    shared = _evidence(_replica("aaaaa", BAD, failing=False), _replica("ccccc", BAD, failing=True))
    silent = _evidence(
        _replica("aaaaa", "worker-1", failing=False),
        _replica("ccccc", BAD, failing=True),
        bad_condition=False,
    )
    for ev in (everywhere, shared, silent):
        assert not _localized(ev)


def test_a_split_that_follows_the_revision_or_the_digest_is_not_the_nodes() -> None:
    newer = _replica("ccccc", BAD, failing=True).model_copy(
        update={"owner": ObjectRef(kind="ReplicaSet", namespace="shop", name="checkout-5f4b8")}
    )
    by_revision = _evidence(_replica("aaaaa", "worker-1", failing=False), newer)
    moved_tag = _evidence(
        _replica("aaaaa", "worker-1", failing=False), _replica("ccccc", BAD, failing=True)
    ).model_copy(
        update={
            "changes": [
                ChangeEvidence(
                    kind="image-digest",
                    object=ObjectRef(kind="Deployment", namespace="shop", name="checkout"),
                    aspects=["digest"],
                )
            ]
        }
    )
    assert not _localized(by_revision)
    assert not _localized(moved_tag)


def _running(suffix: str, node: str) -> PodEvidence:
    return pod(f"checkout-7d9f6c8b5-{suffix}", container("app"), node=node)


def test_a_running_replica_whose_probes_time_out_only_on_a_troubled_node_drains_it() -> None:
    # The container runs and was never restarted, but the kubelet's probes of it time out
    # on the node whose kernel reports hung tasks; the same template is fine elsewhere.
    stalled = _running("ccccc", BAD)
    timeouts = event(
        "Unhealthy",
        'Readiness probe failed: Get "http://10.0.3.22:8080/": context deadline exceeded',
        name=stalled.name,
        count=12,
    )
    hung = event(
        "TaskHung",
        "kernel: INFO: task containerd:1873 blocked for more than 122 seconds.",
        name=BAD,
        kind="Node",
        namespace=None,
    )
    ev = evidence(
        pods=[_running("aaaaa", "worker-1"), stalled],
        nodes=[_node("worker-1"), _node(BAD)],
        events=[timeouts, hung],
    )
    found = _localized(ev)
    assert [(f.action, f.target) for f in found] == [
        (Action.DRAIN_NODE, ObjectRef(kind="Node", name=BAD))
    ]
    assert any("Readiness probe failed" in e.fact for e in found[0].evidence)
    # The same probe timeouts with a quiet node, or on every replica, blame no node.
    quiet = ev.model_copy(update={"events": [timeouts]})
    everywhere = ev.model_copy(
        update={
            "events": [
                timeouts,
                hung,
                event("Unhealthy", timeouts.message, name="checkout-7d9f6c8b5-aaaaa", count=5),
            ]
        }
    )
    # A probe that failed twice while the pod started is no trouble of the node's.
    blip = ev.model_copy(update={"events": [timeouts.model_copy(update={"count": 2}), hung]})
    assert not _localized(quiet)
    assert not _localized(everywhere)
    assert not _localized(blip)


def test_replicas_that_get_no_sandbox_only_on_one_node_drain_it_though_the_node_looks_fine() -> (
    None
):
    creating = pod(
        "checkout-7d9f6c8b5-ccccc",
        container("app", ready=False, state=waiting("ContainerCreating")),
        node=BAD,
        phase="Pending",
    )
    healthy = [
        _replica("aaaaa", "worker-1", failing=False),
        _replica("bbbbb", "worker-2", failing=False),
    ]
    no_ip = event(
        "FailedCreatePodSandBox",
        "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network "
        'for sandbox "9f2c": plugin type="aws-cni" name="aws-cni" failed (add): add cmd: '
        "failed to assign an IP address to container",
        name="checkout-7d9f6c8b5-ccccc",
        count=40,
    )
    ev = _evidence(*healthy, creating, bad_condition=False).model_copy(update={"events": [no_ip]})
    found = _localized(ev)
    assert found
    assert found[0].target == ObjectRef(kind="Node", name=BAD)
    assert found[0].action is Action.DRAIN_NODE
    # Near miss: a sandbox refused once while the pod starts is not the node's fault.
    once = ev.model_copy(update={"events": [no_ip.model_copy(update={"count": 1})]})
    assert not _localized(once)


def _neighbour(since_minutes: float = 40) -> NodeNeighbour:
    return NodeNeighbour(
        name="search-ui-5f9d7b8c6-kx2vq",
        namespace="shop",
        owner=ObjectRef(kind="Deployment", namespace="shop", name="search-ui"),
        problem="not Ready",
        since=ago(since_minutes),
    )


def _rolled_out(*, neighbours: list[NodeNeighbour]) -> Evidence:
    """Revision 8 went out 15 minutes ago; its pods serve on two nodes and one on ``BAD``
    times out its readiness probe (running, not ready); revision 7 had been serving."""
    workload = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    new = "checkout-7d9f6c8b5"
    stuck = pod(f"{new}-ccccc", container("app", ready=False), node=BAD)
    return evidence(
        workload=deployment(replicas=3, ready=2, revision=8),
        revisions=rollout_revisions(
            8, {"app": "checkout:2.1"}, {"app": "checkout:2.0"}, minutes_ago=15, ready=2
        ),
        changes=[rollout_change(workload, 7, "image", minutes_ago=15)],
        pods=[
            pod(f"{new}-aaaaa", container("app"), node="worker-1"),
            pod(f"{new}-bbbbb", container("app"), node="worker-2"),
            stuck,
        ],
        nodes=[
            _node("worker-1"),
            _node("worker-2"),
            NodeEvidence(name=BAD, ready="True", troubled_neighbours=neighbours),
        ],
        events=[
            event(
                "Unhealthy",
                "Readiness probe failed: context deadline exceeded",
                name=stuck.name,
                count=40,
            )
        ],
    )


def test_a_node_whose_other_tenants_fail_too_is_drained_not_the_rollout_rolled_back() -> None:
    # The node reports nothing, but another workload's pod on it went unready 40 minutes
    # ago, before the rollout; the new revision serves on the two other nodes.
    result = analyze(_rolled_out(neighbours=[_neighbour()]))
    top = result.findings[0]
    assert (top.category, top.action, top.target) == (
        Category.NODE_FAILURE,
        Action.DRAIN_NODE,
        ObjectRef(kind="Node", name=BAD),
    )
    assert any(e.source == "pod/shop/search-ui-5f9d7b8c6-kx2vq" for e in top.evidence)
    rollback = [f for f in result.findings if f.category is Category.BAD_ROLLOUT]
    assert all(f.confidence < top.confidence for f in rollback)


def test_a_one_node_failure_without_troubled_neighbours_does_not_blame_the_node() -> None:
    # Near miss: nothing else on the node fails and the node reports nothing.
    assert not _localized(_rolled_out(neighbours=[]))


def test_failing_node_needs_the_template_serving_on_two_other_nodes_and_a_troubled_node() -> None:
    new = "checkout-7d9f6c8b5"
    one_bad = [
        pod(f"{new}-aaaaa", container("app"), node="worker-1"),
        pod(f"{new}-bbbbb", container("app"), node="worker-2"),
        pod(f"{new}-ccccc", crash_looping("app"), node=BAD),
    ]
    troubled = evidence(
        nodes=[_node("worker-1"), NodeEvidence(name=BAD, troubled_neighbours=[_neighbour()])]
    )
    assert failing_node(troubled, one_bad) == BAD
    assert node_split(troubled, one_bad)
    # Near misses: the node shows nothing else; one other replica only; failures on two
    # nodes; the servers run an older ReplicaSet (the split follows the revision); a server
    # shares the failing node.
    quiet = evidence(nodes=[_node("worker-1"), NodeEvidence(name=BAD, ready="True")])
    assert failing_node(quiet, one_bad) is None
    assert not node_split(quiet, one_bad)
    assert failing_node(troubled, one_bad[1:]) is None
    two_nodes = [*one_bad, pod(f"{new}-ddddd", crash_looping("app"), node="worker-1")]
    assert failing_node(troubled, two_nodes) is None
    older_rs = ObjectRef(kind="ReplicaSet", namespace="shop", name="checkout-5c6d7e8f9")
    older = [p.model_copy(update={"owner": older_rs}) for p in one_bad[:2]]
    assert failing_node(troubled, [*older, one_bad[2]]) is None
    shared = [*one_bad, pod(f"{new}-eeeee", container("app"), node=BAD)]
    assert failing_node(troubled, shared) is None


def test_a_statefulsets_split_by_controller_revision_is_not_a_node_split() -> None:
    # One owner (the StatefulSet) for every pod: the template is its controller revision.
    sts = ObjectRef(kind="StatefulSet", namespace="shop", name="es")
    pods = [
        pod(
            f"es-{i}",
            container("app"),
            node=f"worker-{i}",
            labels={"controller-revision-hash": "es-6"},
        )
        for i in (1, 2)
    ] + [
        pod(
            "es-3",
            container("app", ready=False),
            node=BAD,
            labels={"controller-revision-hash": "es-7"},
        )
    ]
    pods = [p.model_copy(update={"owner": sts}) for p in pods]
    troubled = evidence(nodes=[NodeEvidence(name=BAD, troubled_neighbours=[_neighbour()])])
    assert failing_node(troubled, pods) is None


def _runtime_stuck(*, sandbox_count: int) -> Evidence:
    """Revision 8 went out 20 minutes ago; its pods serve on two nodes, and its pod on
    ``BAD`` never gets a sandbox; a revision 7 pod that was already running on ``BAD`` still
    serves there, and another workload's new pod on ``BAD`` is stuck creating too."""
    workload = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    new, old = "checkout-7d9f6c8b5", "checkout-5c6d7e8f9"
    old_rs = ObjectRef(kind="ReplicaSet", namespace="shop", name=old)
    creating = pod(
        f"{new}-ccccc",
        container("app", ready=False, state=waiting("ContainerCreating")),
        node=BAD,
        phase="Pending",
    )
    sandbox = event(
        "FailedCreatePodSandBox",
        "Failed to create pod sandbox: rpc error: code = DeadlineExceeded desc = context "
        "deadline exceeded",
        name=creating.name,
        count=sandbox_count,
    )
    stuck_neighbour = NodeNeighbour(
        name="sitemap-29398380-7xk2d",
        namespace="shop",
        owner=ObjectRef(kind="Job", namespace="shop", name="sitemap-29398380"),
        problem="ContainerCreating",
        since=ago(18),
    )
    return evidence(
        workload=deployment(replicas=3, ready=2, revision=8),
        revisions=rollout_revisions(
            8, {"app": "checkout:2.1"}, {"app": "checkout:2.0"}, minutes_ago=20, ready=2
        ),
        changes=[rollout_change(workload, 7, "image", minutes_ago=20)],
        pods=[
            pod(f"{new}-aaaaa", container("app"), node="worker-1"),
            pod(f"{new}-bbbbb", container("app"), node="worker-2"),
            creating,
            pod(f"{old}-ddddd", container("app"), node=BAD).model_copy(update={"owner": old_rs}),
        ],
        nodes=[
            _node("worker-1"),
            _node("worker-2"),
            NodeEvidence(name=BAD, ready="True", troubled_neighbours=[stuck_neighbour]),
        ],
        events=[sandbox],
    )


def test_a_node_that_cannot_make_sandboxes_is_drained_though_a_pod_already_there_serves() -> None:
    # The runtime answers nothing new on the node: the new revision's pod there gets no
    # sandbox again and again, as does another workload's; a pod started there before keeps
    # serving (nothing asks the runtime about it), and the new revision serves elsewhere.
    ev = _runtime_stuck(sandbox_count=8)
    top = analyze(ev).findings[0]
    assert (top.category, top.action, top.target) == (
        Category.NODE_FAILURE,
        Action.DRAIN_NODE,
        ObjectRef(kind="Node", name=BAD),
    )
    assert failing_node(ev, ev.pods) == BAD
    # Near miss: a sandbox refused once while the pod starts; the pod serving on that node
    # clears it, as before.
    once = _runtime_stuck(sandbox_count=1)
    assert not _localized(once)
    assert failing_node(once, once.pods) is None


_GPU = "nvidia.com/gpu"


def _gpu_replica(suffix: str, node: str, *, failing: bool, device: str = _GPU) -> PodEvidence:
    made = crash_looping if failing else container
    return app_pod(
        f"llm-6d8f7b9c54-{suffix}",
        made("server", requests={device: "1"}, limits={device: "1"}),
        node=node,
    )


def _gpu_nodes(bad: dict[str, str]) -> list[NodeEvidence]:
    """Three GPU nodes with two devices each; ``bad`` overrides the allocatable of BAD."""
    full = {"cpu": "63500m", "memory": "500Gi", _GPU: "2"}
    capacity = {"cpu": "64", "memory": "512Gi", _GPU: "2"}
    return [
        NodeEvidence(name=n, ready="True", capacity=capacity, allocatable=bad if n == BAD else full)
        for n in ("worker-1", "worker-2", BAD)
    ]


def _gpu_evidence(bad: dict[str, str], *, device: str = _GPU) -> Evidence:
    return evidence(
        pods=[
            _gpu_replica("aaaaa", "worker-1", failing=False),
            _gpu_replica("bbbbb", BAD, failing=False),
            _gpu_replica("ccccc", BAD, failing=True, device=device),
        ],
        nodes=_gpu_nodes(bad),
    )


def test_a_replica_failing_on_a_device_its_node_withdrew_drains_the_node() -> None:
    # The node advertises one of its two GPUs: its device plugin withdrew the other as
    # unhealthy. The replica on the healthy GPU of the same node runs; it does not clear it.
    withdrawn = {"cpu": "63500m", "memory": "500Gi", _GPU: "1"}
    found = _localized(_gpu_evidence(withdrawn))
    assert [(f.action, f.target) for f in found] == [
        (Action.DRAIN_NODE, ObjectRef(kind="Node", name=BAD))
    ]
    assert any(f"{_GPU}: 1 of 2 allocatable" in e.fact for e in found[0].evidence)


def test_a_shared_node_still_clears_itself_without_a_withdrawn_device() -> None:
    # All its GPUs allocatable (cpu and memory below capacity are the kubelet's reservations,
    # not withdrawn devices), or the withdrawn device is one the failing replica does not
    # use: the healthy replica on the same node clears it, as before.
    intact = {"cpu": "63500m", "memory": "500Gi", _GPU: "2"}
    other_device = {"cpu": "63500m", "memory": "500Gi", _GPU: "1"}
    assert not _localized(_gpu_evidence(intact))
    assert not _localized(_gpu_evidence(other_device, device="example.com/fpga"))

"""Checks that the placement analyzers name the cause an SRE would act on when pods are stuck
for a reason that lies in a node or in a volume's specification: Pending pods kept off a node
by its pressure taint (the node's failure, not missing capacity), claims that cannot bind for
want of a StorageClass (the StatefulSet's claim template), a mount slowed by fsGroup's
recursive ownership change (the pod's securityContext), and a node selector whose nodes are
cordoned (uncordon them). Each has a contrast that must keep the old answer.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetriage.analyzers.pods import metric_for
from kubetriage.analyzers.support import divides
from kubetriage.analyzers.volume_fills import volume_fills
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import NodeEvidence, PodCondition, PodEvidence, PVCEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD, analyze, assert_leads, by_category

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
PRESSURE_TAINT_MESSAGE = (
    "0/3 nodes are available: 1 node(s) had untolerated taint "
    "{node.kubernetes.io/disk-pressure: }, 2 Insufficient memory. preemption: 0/3 nodes are "
    "available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found."
)


def _pending(name: str, **fields: Any) -> PodEvidence:
    return make.pod(
        name,
        make.container("app", ready=False, state=make.waiting("ContainerCreating")),
        phase="Pending",
        node=None,
        **fields,
    )


def _disk_pressure(node: str, status: str) -> NodeEvidence:
    return NodeEvidence(
        name=node,
        ready="True",
        conditions=[
            PodCondition(type="Ready", status="True"),
            PodCondition(type="DiskPressure", status=status, reason="KubeletHasDiskPressure"),
        ],
    )


def _replacements_behind_pressure_taint(pressure: str) -> Evidence:
    evicted = make.pod(
        "checkout-7d9f6c8b5-evict",
        make.container("app", ready=False, state=make.terminated("ContainerStatusUnknown", 137)),
        node="worker-3",
        phase="Failed",
        reason="Evicted",
        message="The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi.",
    )
    return make.evidence(
        workload=make.deployment(replicas=3, ready=1),
        pods=[
            make.pod("checkout-7d9f6c8b5-fghij", make.container("app"), node="worker-1"),
            evicted,
            _pending(CHECKOUT_POD),
        ],
        nodes=[
            _disk_pressure("worker-1", "False"),
            _disk_pressure("worker-2", "False"),
            _disk_pressure("worker-3", pressure),
        ],
        events=[make.event("FailedScheduling", PRESSURE_TAINT_MESSAGE, name=CHECKOUT_POD)],
    )


def test_pods_kept_off_a_node_by_its_pressure_taint_are_the_node_failure() -> None:
    result = analyze(_replacements_behind_pressure_taint("True"))
    assert_leads(
        result, Category.NODE_FAILURE, Action.DRAIN_NODE, ObjectRef(kind="Node", name="worker-3")
    )
    pending = by_category(result, Category.UNSCHEDULABLE)
    assert pending
    assert pending[0].confidence < result.findings[0].confidence


def test_the_pressured_node_counts_once_its_evicted_pods_are_gone() -> None:
    # The evicted pods were deleted: no pod of the incident runs on worker-3 any more, but
    # the scheduler's words still point at its pressure taint.
    ev = _replacements_behind_pressure_taint("True")
    ev = ev.model_copy(update={"pods": [p for p in ev.pods if p.reason != "Evicted"]})
    finding = assert_leads(
        analyze(ev),
        Category.NODE_FAILURE,
        Action.DRAIN_NODE,
        ObjectRef(kind="Node", name="worker-3"),
    )
    assert finding.confidence >= 0.85


def test_a_pressure_taint_no_node_reports_stays_unschedulable() -> None:
    # The taint in the message, but every node reports no pressure now: capacity is missing.
    ev = _replacements_behind_pressure_taint("False")
    ev = ev.model_copy(update={"pods": [p for p in ev.pods if p.reason != "Evicted"]})
    assert_leads(analyze(ev), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, CHECKOUT)


def _statefulset_pod(name: str, statefulset: str, claim: str) -> PodEvidence:
    pod = _pending(name, replica_set=None, pvc_names=[claim])
    owner = ObjectRef(kind="StatefulSet", namespace="shop", name=statefulset)
    return pod.model_copy(update={"owner": owner})


def _claim_without_class(pod: PodEvidence) -> Evidence:
    claim = pod.pvc_names[0]
    return make.evidence(
        pods=[pod],
        pvcs=[PVCEvidence(name=claim, namespace="shop", phase="Pending", requested="10Gi")],
        events=[
            make.event(
                "FailedScheduling",
                "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
                name=pod.name,
            ),
            make.event(
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
                name=claim,
                kind="PersistentVolumeClaim",
                type_="Normal",
                count=40,
            ),
        ],
    )


def test_claim_template_without_a_storage_class_is_fixed_in_the_statefulset() -> None:
    pod = _statefulset_pod("queue-0", "queue", "data-queue-0")
    finding = assert_leads(
        analyze(_claim_without_class(pod)),
        Category.STORAGE,
        Action.FIX_CONFIG,
        ObjectRef(kind="StatefulSet", namespace="shop", name="queue"),
    )
    assert "StorageClass" in finding.summary
    assert finding.params["pvc"] == "data-queue-0"


def _claim_refused_by_the_cloud(pod: PodEvidence, message: str) -> Evidence:
    claim = pod.pvc_names[0]
    return make.evidence(
        pods=[pod],
        pvcs=[PVCEvidence(name=claim, namespace="shop", phase="Pending", requested="400Gi")],
        events=[
            make.event(
                "ProvisioningFailed",
                f'failed to provision volume with StorageClass "gp3-cmk": {message}',
                name=claim,
                kind="PersistentVolumeClaim",
                count=15,
            ),
        ],
    )


def test_a_claim_whose_class_the_cloud_refuses_is_fixed_in_the_statefulset() -> None:
    # An encryption key the provisioner may not use: EC2 deletes the volume it just created.
    pod = _statefulset_pod("search-3", "search", "data-search-3")
    message = (
        'rpc error: code = Internal desc = Could not create volume "pvc-1": failed to get an '
        "available volume in EC2: InvalidVolume.NotFound: The volume 'vol-1' does not exist."
    )
    finding = assert_leads(
        analyze(_claim_refused_by_the_cloud(pod, message)),
        Category.STORAGE,
        Action.FIX_CONFIG,
        ObjectRef(kind="StatefulSet", namespace="shop", name="search"),
    )
    assert finding.params["pvc"] == "data-search-3"


def test_a_claim_smaller_than_its_snapshot_is_no_class_fault() -> None:
    # Near miss: the provisioner refuses the size asked for, which the claim can grow past.
    pod = _statefulset_pod("search-3", "search", "data-search-3")
    message = (
        "rpc error: code = OutOfRange desc = requested volume size 100Gi is less than the "
        "size 200Gi for the source snapshot"
    )
    assert_leads(
        analyze(_claim_refused_by_the_cloud(pod, message)),
        Category.STORAGE,
        Action.EXPAND_STORAGE,
        ObjectRef(kind="PersistentVolumeClaim", namespace="shop", name="data-search-3"),
    )


def test_a_standalone_claim_without_a_storage_class_stays_on_the_claim() -> None:
    # A Deployment's claim is its own object, not stamped from the workload's template.
    pod = _pending(CHECKOUT_POD, pvc_names=["checkout-data"])
    assert_leads(
        analyze(_claim_without_class(pod)),
        Category.STORAGE,
        Action.EXPAND_STORAGE,
        ObjectRef(kind="PersistentVolumeClaim", namespace="shop", name="checkout-data"),
    )


def _slow_mount(extra_message: str) -> Evidence:
    pod = make.pod(
        CHECKOUT_POD,
        make.container("app", ready=False, state=make.waiting("ContainerCreating")),
        phase="Pending",
        node="worker-2",
        pvc_names=["checkout-data"],
    )
    return make.evidence(
        workload=make.deployment(replicas=1, ready=0),
        pods=[pod],
        pvcs=[
            PVCEvidence(
                name="checkout-data",
                namespace="shop",
                phase="Bound",
                requested="500Gi",
                capacity="500Gi",
            )
        ],
        events=[
            make.event(
                "FailedMount",
                "Unable to attach or mount volumes: unmounted volumes=[data], unattached "
                "volumes=[]: context deadline exceeded",
                name=CHECKOUT_POD,
                count=9,
            ),
            *(
                [make.event("VolumePermissionChangeInProgress", extra_message, name=CHECKOUT_POD)]
                if extra_message
                else []
            ),
        ],
    )


def test_slow_fsgroup_ownership_change_is_fixed_in_the_workload() -> None:
    message = (
        "Setting volume ownership for /var/lib/kubelet/pods/0a1b/volumes/kubernetes.io~csi/"
        "pvc-1/mount is taking longer than expected, consider using OnRootMismatch"
    )
    finding = assert_leads(
        analyze(_slow_mount(message)), Category.STORAGE, Action.FIX_CONFIG, CHECKOUT
    )
    assert "OnRootMismatch" in finding.summary


def test_a_mount_failure_without_the_ownership_event_stays_on_the_claim() -> None:
    assert_leads(
        analyze(_slow_mount("")),
        Category.STORAGE,
        Action.EXPAND_STORAGE,
        ObjectRef(kind="PersistentVolumeClaim", namespace="shop", name="checkout-data"),
    )


def _leading_pending(ev: Evidence) -> Finding:
    return assert_leads(analyze(ev), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, CHECKOUT)


def _selector_pending(cordoned_pool: str) -> Evidence:
    message = (
        "0/3 nodes are available: 1 node(s) didn't match pod anti-affinity rules, 1 node(s) "
        "were unschedulable, 1 node(s) didn't match Pod's node affinity/selector."
    )
    pool = {"pool": "db"}
    return make.evidence(
        workload=make.deployment(replicas=2, ready=1),
        pods=[_pending(CHECKOUT_POD, node_selector=pool)],
        nodes=[
            NodeEvidence(name="db-1", ready="True", labels=pool),
            NodeEvidence(
                name="db-2", ready="True", labels={"pool": cordoned_pool}, unschedulable=True
            ),
            NodeEvidence(name="apps-1", ready="True", labels={"pool": "apps"}),
        ],
        events=[make.event("FailedScheduling", message, name=CHECKOUT_POD, count=12)],
    )


def test_a_cordoned_node_the_selector_matches_is_named_to_uncordon() -> None:
    finding = _leading_pending(_selector_pending("db"))
    assert "uncordon db-2" in finding.summary
    assert any(e.source == "node/db-2" for e in finding.evidence)


def test_a_cordoned_node_outside_the_selector_is_not_blamed() -> None:
    finding = _leading_pending(_selector_pending("batch"))
    assert "uncordon" not in finding.summary


def _asking_memory(request: str) -> Evidence:
    message = "0/2 nodes are available: 2 Insufficient memory."
    pod = _pending(CHECKOUT_POD)
    big = pod.containers[0].model_copy(update={"requests": {"cpu": "1", "memory": request}})
    return make.evidence(
        workload=make.deployment(replicas=1, ready=0),
        pods=[pod.model_copy(update={"containers": [big]})],
        nodes=[
            NodeEvidence(name="worker-1", ready="True", allocatable={"memory": "63822Mi"}),
            NodeEvidence(name="worker-2", ready="True", allocatable={"memory": "63822Mi"}),
        ],
        events=[make.event("FailedScheduling", message, name=CHECKOUT_POD, count=14)],
    )


def test_a_request_above_every_node_says_more_nodes_will_not_help() -> None:
    finding = _leading_pending(_asking_memory("96Gi"))
    assert "96Gi memory, more than any node has (62.3Gi memory)" in finding.summary
    assert "larger node type" in finding.summary


def test_a_request_that_fits_an_empty_node_keeps_the_capacity_advice() -> None:
    finding = _leading_pending(_asking_memory("8Gi"))
    assert "add nodes or lower the memory requests" in finding.summary


def _asking_gpus(new_pool_gpus: str | None, *, long_name: bool = False) -> Evidence:
    """A pending pod asking for one GPU on the ``gpu`` pool: an old pool node, cordoned and
    busy, and two new ones that advertise ``new_pool_gpus`` of them (None: not at all)."""
    message = (
        "0/4 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 "
        "node(s) were unschedulable, 2 Insufficient nvidia.com/gpu."
    )
    pool = {"pool": "gpu"}
    app = "checkout-large-language-model-predictor-gpu" if long_name else "checkout"
    pod = _pending(CHECKOUT_POD, node_selector=pool, replica_set=f"{app}-7d9f6c8b5")
    gpu = pod.containers[0].model_copy(
        update={"requests": {"cpu": "4", "nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}}
    )
    new_alloc = {"cpu": "7910m"} | ({"nvidia.com/gpu": new_pool_gpus} if new_pool_gpus else {})
    workload = make.deployment(app, replicas=2, ready=1)
    return make.evidence(
        workload=workload,
        pods=[pod.model_copy(update={"containers": [gpu]})],
        nodes=[
            NodeEvidence(
                name="gpu-old-1",
                ready="True",
                labels=pool,
                unschedulable=True,
                allocatable={"cpu": "7910m", "nvidia.com/gpu": "1"},
            ),
            NodeEvidence(name="gpu-new-1", ready="True", labels=pool, allocatable=new_alloc),
            NodeEvidence(name="gpu-new-2", ready="True", labels=pool, allocatable=new_alloc),
            NodeEvidence(name="apps-1", ready="True", labels={"pool": "apps"}),
        ],
        events=[make.event("FailedScheduling", message, name=CHECKOUT_POD, count=9)],
    )


def test_nodes_that_advertise_none_of_the_extended_resource_asked_for_are_named() -> None:
    for absent in (None, "0"):
        finding = _leading_pending(_asking_gpus(absent))
        assert "2 nodes it may use advertise no nvidia.com/gpu" in finding.summary
        assert "check the device plugin on its nodes" in finding.summary
        assert "uncordon" not in finding.summary
        assert {e.source for e in finding.evidence} >= {"node/gpu-new-1", "node/gpu-new-2"}


def test_nodes_that_advertise_the_resource_but_are_full_keep_the_cordon_advice() -> None:
    finding = _leading_pending(_asking_gpus("1"))
    assert "advertise" not in finding.summary
    assert "uncordon gpu-old-1" in finding.summary


def test_a_detail_too_long_for_the_summary_is_dropped_not_cut() -> None:
    run = analyze(_asking_gpus(None, long_name=True))
    finding = by_category(run, Category.UNSCHEDULABLE)[0]
    assert "…" not in finding.summary
    assert finding.summary.startswith("1 pod of Deployment shop/checkout-large-language-model")
    assert "advertise" not in finding.summary  # the detail went, the sentence stays whole
    assert finding.summary.endswith("stuck Pending; check the device plugin on its nodes.")
    assert finding.narrative is not None
    assert any("report no nvidia.com/gpu" in c.text for c in finding.narrative.because)


def _second_pod_asks_for_the_volume(holder_node_ready: str) -> Evidence:
    message = (
        'Multi-Attach error for volume "pvc-1" Volume is already exclusively attached to one '
        "node and can't be attached to another"
    )
    holder = make.pod(
        "checkout-7d9f6c8b5-hold1", make.container("app"), node="worker-1", pvc_names=["data"]
    )
    asking = make.pod(
        CHECKOUT_POD,
        make.container("app", ready=False, state=make.waiting("ContainerCreating")),
        phase="Pending",
        node="worker-2",
        pvc_names=["data"],
    )
    return make.evidence(
        workload=make.deployment(replicas=2, ready=1),
        pods=[holder, asking],
        nodes=[
            NodeEvidence(
                name="worker-1",
                ready=holder_node_ready,
                conditions=[PodCondition(type="Ready", status=holder_node_ready)],
            ),
            NodeEvidence(name="worker-2", ready="True"),
        ],
        pvcs=[PVCEvidence(name="data", namespace="shop", phase="Bound", capacity="20Gi")],
        events=[make.event("FailedAttachVolume", message, name=CHECKOUT_POD, count=5)],
    )


def test_a_single_node_volume_wanted_by_two_live_pods_is_the_workloads_fault() -> None:
    finding = assert_leads(
        analyze(_second_pod_asks_for_the_volume("True")),
        Category.STORAGE,
        Action.FIX_CONFIG,
        CHECKOUT,
    )
    assert "Recreate" in finding.summary


def test_a_volume_held_by_a_node_that_is_down_is_the_nodes_fault() -> None:
    result = analyze(_second_pod_asks_for_the_volume("Unknown"))
    assert_leads(
        result, Category.NODE_FAILURE, Action.DRAIN_NODE, ObjectRef(kind="Node", name="worker-1")
    )
    assert all(f.action is not Action.FIX_CONFIG for f in by_category(result, Category.STORAGE))


def test_a_pod_logging_no_space_with_two_claims_grows_the_one_measured_full() -> None:
    """The pod's own "no space left" line does not say which of its claims ran out: the
    kubelet's volume measurements pick the full one (here the second, a WAL volume)."""
    pod = make.pod(CHECKOUT_POD, make.container("app"), pvc_names=["data", "wal"])
    line = 'PANIC: could not write to file "pg_wal/xlogtemp.1": No space left on device'

    def used(claim: str, share: float) -> list[Any]:
        labels = {"namespace": "shop", "persistentvolumeclaim": claim}
        return [
            make.metric(
                f'kubelet_volume_stats_used_bytes{{persistentvolumeclaim="{claim}"}}',
                last=share * 8e9,
                labels=labels,
            ),
            make.metric(
                f'kubelet_volume_stats_capacity_bytes{{persistentvolumeclaim="{claim}"}}',
                last=8e9,
                labels=labels,
            ),
        ]

    ev = make.evidence(
        workload=make.deployment(),
        pods=[pod],
        logs=[make.log(CHECKOUT_POD, "app", line)],
        metrics=[*used("data", 0.4), *used("wal", 1.0)],
    )
    [finding] = by_category(analyze(ev), Category.STORAGE)
    assert finding.target == ObjectRef(kind="PersistentVolumeClaim", namespace="shop", name="wal")


@pytest.mark.parametrize(
    ("query", "ratio"),
    [
        (
            'kubelet_volume_stats_used_bytes{metrics_path="/metrics",persistentvolumeclaim="x"}',
            False,
        ),
        ("container_memory_working_set_bytes{metrics_path='/metrics/cadvisor'}", False),
        ('max(a{path="/api/v1"}) / max(b{path="/api/v1"})', True),
        ("1 - sum(rate(x[5m])) / sum(rate(y[5m]))", True),
    ],
)
def test_a_slash_inside_a_label_value_is_no_division(query: str, ratio: bool) -> None:
    assert divides(query) is ratio


def test_kubelet_series_with_their_metrics_path_label_measure_bytes_not_a_ratio() -> None:
    """kube-prometheus scrapes the kubelet with a metrics_path="/metrics" label: its used and
    capacity series are bytes, so the claim is 95% used, not 8e9 times full."""
    labels = {"namespace": "shop", "persistentvolumeclaim": "data", "metrics_path": "/metrics"}
    selector = 'metrics_path="/metrics",namespace="shop",persistentvolumeclaim="data"'
    used, capacity = "kubelet_volume_stats_used_bytes", "kubelet_volume_stats_capacity_bytes"
    ev = make.evidence(
        workload=make.deployment(),
        pods=[make.pod(CHECKOUT_POD, make.container("app"), pvc_names=["data"])],
        metrics=[
            make.metric(f"{used}{{{selector}}}", last=7.6e9, labels=labels),
            make.metric(f"{capacity}{{{selector}}}", last=8e9, labels=labels),
        ],
    )
    [fill] = volume_fills(ev, "shop")
    assert (fill.claim, round(fill.share, 2), fill.capacity) == ("data", 0.95, 8e9)


def test_one_minus_available_over_capacity_is_the_share_writers_cannot_use() -> None:
    """With ext4's reserved blocks the used bytes stop near 95% while nothing is available:
    the "1 - available / capacity" ratio says the volume is full."""
    query = (
        "1 - max by (persistentvolumeclaim) (kubelet_volume_stats_available_bytes{"
        'namespace="shop",persistentvolumeclaim="data"}) / max by (persistentvolumeclaim) '
        '(kubelet_volume_stats_capacity_bytes{namespace="shop",persistentvolumeclaim="data"})'
    )
    labels = {"persistentvolumeclaim": "data"}
    ev = make.evidence(
        workload=make.deployment(),
        metrics=[make.metric(query, last=1.0, labels=labels, name="volume_unavailable_ratio")],
    )
    assert [(f.claim, f.share) for f in volume_fills(ev, "shop")] == [("data", 1.0)]


def test_the_root_cgroup_series_is_the_nodes_not_a_containers() -> None:
    """cAdvisor's id="/" series (no container, no pod) measures the whole node: no
    container's working set, whatever its name."""
    node = make.metric(
        'container_memory_working_set_bytes{node="worker-7",id="/"}',
        last=80e9,
        labels={"node": "worker-7", "id": "/"},
    )
    own = make.metric(
        'container_memory_working_set_bytes{namespace="shop",pod="checkout-1"}', last=1.9e9
    )
    assert not metric_for(node, "app")
    assert metric_for(own, "app")


def test_a_node_condition_series_is_quoted_by_its_own_condition() -> None:
    # kube-state-metrics says the node hosting the pod has no network; the Node object read
    # says it is Ready. The fact must quote the series' condition, not the object's.
    query = 'kube_node_status_condition{node="worker-2",condition="NetworkUnavailable"}'
    ev = make.evidence(
        workload=make.deployment(replicas=2, ready=1),
        pods=[make.pod(CHECKOUT_POD, make.container("app", ready=False), node="worker-2")],
        nodes=[_disk_pressure("worker-2", "False")],
        metrics=[
            make.metric(
                query,
                last=1,
                labels={"node": "worker-2", "condition": "NetworkUnavailable", "status": "true"},
            )
        ],
    )
    finding = by_category(analyze(ev), Category.NODE_FAILURE)[0]
    assert finding.target == ObjectRef(kind="Node", name="worker-2")
    facts = [e.fact for e in finding.evidence if e.source == "metrics"]
    assert facts == ["kube_node_status_condition NetworkUnavailable on worker-2: 1"]

"""Checks the placement analyzers (unschedulable, node-failure, storage), including evidence
that looks like another category: memory-pressure evictions vs OOM, unbound claims vs
scheduling, and healthy nodes.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from typing import Any

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import (
    GenericObjectEvidence,
    NodeEvidence,
    PodCondition,
    PodEvidence,
    PVCEvidence,
    QuotaEvidence,
)
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD, analyze, assert_leads, by_category, naming, top

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")


def _pending(name: str = CHECKOUT_POD, **fields: Any) -> PodEvidence:
    return make.pod(
        name,
        make.container("app", ready=False, state=make.waiting("ContainerCreating")),
        phase="Pending",
        node=None,
        **fields,
    )


def test_insufficient_memory_is_unschedulable_with_free_capacity_on_the_workload() -> None:
    message = "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available"
    ev = make.evidence(
        workload=make.deployment(ready=0),
        pods=[
            _pending(
                conditions=[
                    PodCondition(
                        type="PodScheduled", status="False", reason="Unschedulable", message=message
                    )
                ]
            )
        ],
        events=[make.event("FailedScheduling", message, name=CHECKOUT_POD, count=12)],
    )
    finding = assert_leads(analyze(ev), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, CHECKOUT)
    assert finding.params["reason"] == "insufficient memory"
    assert finding.confidence >= 0.85


def test_failed_scheduling_of_a_pod_placed_since_is_history_not_unschedulable() -> None:
    message = "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available"
    events = [make.event("FailedScheduling", message, name=CHECKOUT_POD, count=6)]
    placed = make.evidence(
        workload=make.deployment(),
        pods=[make.pod(CHECKOUT_POD, make.container("app"), node="worker-3")],
        events=events,
    )
    assert not by_category(analyze(placed), Category.UNSCHEDULABLE)
    still_pending = make.evidence(
        workload=make.deployment(ready=0), pods=[_pending()], events=events
    )
    assert_leads(analyze(still_pending), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, CHECKOUT)


def test_untolerated_taint_is_named() -> None:
    message = "0/2 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}."
    ev = make.evidence(
        workload=make.deployment(ready=0),
        pods=[_pending()],
        events=[make.event("FailedScheduling", message, name=CHECKOUT_POD)],
    )
    assert "untolerated taint" in top(ev).params["reason"]


def test_exceeded_quota_on_the_replicaset_is_unschedulable() -> None:
    ev = make.checkout_evidence(
        make.container("app"),
        workload=make.deployment(replicas=3, ready=1),
        quotas=[
            QuotaEvidence(
                name="shop-quota", namespace="shop", hard={"pods": "1"}, used={"pods": "1"}
            )
        ],
        events=[
            make.event(
                "FailedCreate",
                'Error creating: pods "checkout-7d9f6c8b5-x" is forbidden: exceeded quota: '
                "shop-quota, requested: pods=1, used: pods=1, limited: pods=1",
                name="checkout-7d9f6c8b5",
                kind="ReplicaSet",
            )
        ],
    )
    finding = top(ev)
    assert (finding.category, finding.target) == (Category.UNSCHEDULABLE, CHECKOUT)
    assert "The namespace's ResourceQuota is used up." in _claims(finding)


def _claims(finding: Finding) -> list[str]:
    assert finding.narrative is not None
    return [claim.text for claim in finding.narrative.because]


def test_a_quota_refusal_below_the_namespaces_quota_limits_is_not_called_used_up() -> None:
    """A webhook's quota (HNC's hierarchical one) refuses the pods while the namespace's own
    ResourceQuota has room: the refusal still frees capacity, but the namespace's quota is
    only shown, not said to be used up."""
    ev = make.checkout_evidence(
        make.container("app"),
        workload=make.deployment(replicas=3, ready=1),
        quotas=[
            QuotaEvidence(
                name="shop-quota",
                namespace="shop",
                hard={"requests.cpu": "8", "requests.memory": "16Gi"},
                used={"requests.cpu": "2500m", "requests.memory": "6Gi"},
            )
        ],
        events=[
            make.event(
                "FailedCreate",
                'Error creating: admission webhook "hrq.hnc.x-k8s.io" denied the request: '
                'exceeded hierarchical quota in namespace "shop": "shop-hrq", requested: '
                "requests.cpu=500m, used: requests.cpu=19800m, limited: requests.cpu=20",
                name="checkout-7d9f6c8b5",
                kind="ReplicaSet",
            )
        ],
    )
    finding = top(ev)
    assert (finding.category, finding.target) == (Category.UNSCHEDULABLE, CHECKOUT)
    assert _claims(finding) == [
        "The API server refuses to create its pods over quota.",
        "The namespace's ResourceQuota has not reached its limits: the new pods' requests would "
        "pass one, or a quota kept elsewhere refuses them.",
        "No new pod starts until usage drops or the quota is raised.",
    ]


def test_a_quota_is_at_its_limit_only_where_usage_reaches_the_hard_value() -> None:
    quota = QuotaEvidence(
        name="q",
        namespace="shop",
        hard={"pods": "10", "requests.memory": "16Gi", "requests.cpu": "4"},
        used={"pods": "10", "requests.memory": "15Gi"},
    )
    assert quota.at_limit() == ["pods"]


def test_a_limit_range_refusing_new_pods_is_unschedulable_on_the_workload() -> None:
    """The running pods predate a LimitRange whose maximum their containers' limits exceed;
    the ReplicaSet controller cannot create any new pod: free capacity (fix the constraint)
    on the workload, said as a LimitRange rather than a quota."""
    ev = make.checkout_evidence(
        make.container("app"),
        workload=make.deployment(replicas=6, ready=3),
        events=[
            make.event(
                "FailedCreate",
                'Error creating: pods "checkout-7d9f6c8b5-" is forbidden: maximum cpu usage per '
                "Container is 1, but limit is 2",
                name="checkout-7d9f6c8b5",
                kind="ReplicaSet",
                count=17,
            )
        ],
    )
    finding = assert_leads(analyze(ev), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, CHECKOUT)
    assert finding.params["reason"] == "limit range"
    assert "LimitRange" in finding.summary


def test_limit_range_phrases_for_minimum_and_ratio_are_recognised() -> None:
    for message in (
        'pods "checkout-7d9f6c8b5-" is forbidden: minimum memory usage per Container is '
        "64Mi, but request is 32Mi",
        'pods "checkout-7d9f6c8b5-" is forbidden: cpu max limit to request ratio per Pod is 4, '
        "but provided ratio is 10.000000",
    ):
        ev = make.checkout_evidence(
            make.container("app"),
            events=[
                make.event(
                    "FailedCreate",
                    f"Error creating: {message}",
                    name="checkout-7d9f6c8b5",
                    kind="ReplicaSet",
                )
            ],
        )
        assert top(ev).params["reason"] == "limit range", message


def test_a_failed_create_for_another_reason_is_not_a_limit_range() -> None:
    ev = make.checkout_evidence(
        make.container("app"),
        events=[
            make.event(
                "FailedCreate",
                'Error creating: pods "checkout-7d9f6c8b5-" is forbidden: error looking up '
                'service account shop/checkout: serviceaccount "checkout" not found',
                name="checkout-7d9f6c8b5",
                kind="ReplicaSet",
            )
        ],
    )
    assert all(f.params.get("reason") != "limit range" for f in analyze(ev).findings)


_OVER_QUOTA = (
    'pods "search-5c8f7d9b6d-" is forbidden: exceeded quota: mem-quota, requested: '
    "limits.memory=1Gi, used: limits.memory=3584Mi, limited: limits.memory=4Gi"
)
_QUOTA = QuotaEvidence(
    name="mem-quota",
    namespace="shop",
    hard={"limits.memory": "4Gi"},
    used={"limits.memory": "3584Mi"},
)


def test_exceeded_quota_of_another_workloads_replicaset_targets_that_workload() -> None:
    """The quota refuses the pods of a ReplicaSet that is not one of the incident's
    workload's revisions: free capacity for the workload that owns it."""
    ev = make.checkout_evidence(
        make.container("app"),
        quotas=[_QUOTA],
        events=[
            make.event(
                "FailedCreate",
                f"Error creating: {_OVER_QUOTA}",
                name="search-5c8f7d9b6d",
                kind="ReplicaSet",
            )
        ],
    )
    assert_leads(
        analyze(ev),
        Category.UNSCHEDULABLE,
        Action.FREE_CAPACITY,
        ObjectRef(kind="Deployment", namespace="shop", name="search"),
    )


def test_a_callee_with_no_pod_because_of_a_quota_is_unschedulable_at_the_callee() -> None:
    """The alert is the caller's 5xx; the callee it names has no ready pod because its
    controller cannot create any over the quota: that callee is what to free capacity for.
    A callee with a ready pod is not blamed for a quota refusal."""
    search = ObjectRef(kind="Deployment", namespace="shop", name="search")
    callee = DependencyEvidence(
        ref=search,
        workload=search,
        named_by=naming("log shop/checkout-7d9f6c8b5-abcde/app"),
        desired_replicas=1,
        ready_replicas=0,
        warnings=[f"Deployment/search ReplicaFailure FailedCreate: {_OVER_QUOTA}"],
    )
    ev = make.checkout_evidence(
        make.container("app"),
        quotas=[_QUOTA],
        dependencies=[callee],
        logs=[make.log(CHECKOUT_POD, "app", "ERR SearchHandler: rpc error: code = Unavailable")],
    )
    finding = assert_leads(analyze(ev), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, search)
    assert finding.evidence[0].source == "deployment/shop/search"
    serving = ev.model_copy(
        update={"dependencies": [callee.model_copy(update={"ready_replicas": 1})]}
    )
    assert by_category(analyze(serving), Category.UNSCHEDULABLE) == []


def test_unbound_claim_is_storage_not_unschedulable() -> None:
    message = "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    ev = make.evidence(
        workload=make.deployment(ready=0),
        pods=[_pending(pvc_names=["checkout-data"])],
        pvcs=[
            PVCEvidence(
                name="checkout-data",
                namespace="shop",
                phase="Pending",
                storage_class="fast-ssd",
                requested="10Gi",
            )
        ],
        events=[
            make.event("FailedScheduling", message, name=CHECKOUT_POD),
            make.event(
                "ProvisioningFailed",
                'storageclass.storage.k8s.io "fast-ssd" not found',
                name="checkout-data",
                kind="PersistentVolumeClaim",
            ),
        ],
    )
    result = analyze(ev)
    assert_leads(
        result,
        Category.STORAGE,
        Action.EXPAND_STORAGE,
        ObjectRef(kind="PersistentVolumeClaim", namespace="shop", name="checkout-data"),
    )
    assert by_category(result, Category.UNSCHEDULABLE) == []


def test_bound_volume_pinned_to_a_zone_without_nodes_is_unschedulable_not_storage() -> None:
    message = (
        "0/4 nodes are available: 1 node(s) had untolerated taint {CriticalAddonsOnly: true}, "
        "3 node(s) had volume node affinity conflict. preemption: 0/4 nodes are available: "
        "4 Preemption is not helpful for scheduling."
    )
    ev = make.evidence(
        workload=make.deployment(ready=1),
        pods=[_pending(pvc_names=["checkout-data"])],
        pvcs=[
            PVCEvidence(
                name="checkout-data",
                namespace="shop",
                phase="Bound",
                storage_class="gp3",
                requested="200Gi",
                capacity="200Gi",
            )
        ],
        events=[make.event("FailedScheduling", message, name=CHECKOUT_POD, count=36)],
    )
    result = analyze(ev)
    finding = assert_leads(result, Category.UNSCHEDULABLE, Action.FREE_CAPACITY, CHECKOUT)
    # The volume's zone is what binds the pod; the other node's taint is only that node's.
    assert finding.params["reason"].startswith("volume node affinity conflict")
    assert by_category(result, Category.STORAGE) == []


def test_not_ready_node_hosting_the_pods_gets_drained() -> None:
    ev = make.evidence(
        workload=make.deployment(ready=1),
        pods=[
            make.pod(
                CHECKOUT_POD,
                make.container("app", ready=False),
                node="worker-2",
                deleting=True,
                phase="Running",
            ),
            make.pod("checkout-7d9f6c8b5-fghij", make.container("app"), node="worker-1"),
        ],
        nodes=[
            NodeEvidence(name="worker-1", ready="True"),
            NodeEvidence(
                name="worker-2",
                ready="Unknown",
                conditions=[
                    PodCondition(
                        type="Ready",
                        status="Unknown",
                        reason="NodeStatusUnknown",
                        message="Kubelet stopped posting node status.",
                    )
                ],
            ),
        ],
        events=[
            make.event(
                "NodeNotReady",
                "Node worker-2 status is now: NodeNotReady",
                name="worker-2",
                kind="Node",
                namespace=None,
                type_="Normal",
            )
        ],
    )
    finding = assert_leads(
        analyze(ev),
        Category.NODE_FAILURE,
        Action.DRAIN_NODE,
        ObjectRef(kind="Node", name="worker-2"),
    )
    assert finding.params == {"node": "worker-2"}


def test_memory_pressure_eviction_is_node_failure_not_oom() -> None:
    evicted = make.pod(
        CHECKOUT_POD,
        make.container(
            "app",
            ready=False,
            state=make.waiting("ContainerStatusUnknown"),
            limits={"memory": "1Gi"},
        ),
        phase="Failed",
        node="worker-3",
        reason="Evicted",
        message="The node was low on resource: memory. Threshold quantity: 100Mi, available: "
        "42Mi. Container app was using 900Mi, which exceeds its request of 256Mi.",
    )
    ev = make.evidence(
        workload=make.deployment(ready=1),
        pods=[
            evicted,
            make.pod("checkout-7d9f6c8b5-fghij", make.container("app"), node="worker-1"),
        ],
        nodes=[
            NodeEvidence(
                name="worker-3",
                ready="True",
                conditions=[
                    PodCondition(
                        type="MemoryPressure", status="True", reason="KubeletHasInsufficientMemory"
                    )
                ],
            )
        ],
    )
    result = analyze(ev)
    assert result.findings[0].category is Category.NODE_FAILURE
    assert result.findings[0].target == ObjectRef(kind="Node", name="worker-3")
    assert by_category(result, Category.OOM_KILLED) == []


def test_healthy_nodes_and_bound_claims_fire_nothing() -> None:
    ev = make.evidence(
        workload=make.deployment(),
        pods=[make.pod(CHECKOUT_POD, make.container("app"), pvc_names=["data"])],
        nodes=[
            NodeEvidence(
                name="worker-1",
                ready="True",
                conditions=[PodCondition(type="DiskPressure", status="False")],
            )
        ],
        pvcs=[PVCEvidence(name="data", namespace="shop", phase="Bound", capacity="10Gi")],
    )
    assert analyze(ev).findings == ()


def _writing_to_its_claim(name: str, image: str, capacity: str, line: str) -> Evidence:
    """Evidence of a one-replica workload ``name`` whose pod ``<name>-0`` mounts the claim
    ``data-<name>-0`` of ``capacity`` and logs ``line``."""
    pod_name, claim = f"{name}-0", f"data-{name}-0"
    return make.evidence(
        workload=make.deployment(name, replicas=1),
        pods=[
            make.pod(
                pod_name,
                make.container(name, image, ready=True),
                replica_set=None,
                pvc_names=[claim],
                labels={"app": name},
            )
        ],
        pvcs=[PVCEvidence(name=claim, namespace="shop", phase="Bound", capacity=capacity)],
        logs=[make.log(pod_name, name, line)],
    )


def test_disk_full_in_logs_expands_the_pods_claim() -> None:
    ev = _writing_to_its_claim(
        "db",
        "postgres:16",
        "5Gi",
        'ERROR: could not extend file "base/16384/2619": No space left on device',
    )
    finding = top(ev)
    assert (finding.category, finding.target, finding.params["size"]) == (
        Category.STORAGE,
        ObjectRef(kind="PersistentVolumeClaim", namespace="shop", name="data-db-0"),
        "10Gi",
    )


def test_object_store_reporting_insufficient_storage_expands_its_claim() -> None:
    """An application that says its storage is full in its own words (HTTP 507, "storage
    resources are insufficient") is as full as ENOSPC, whatever alert surfaced it."""
    ev = _writing_to_its_claim(
        "store",
        "example/object-store:1",
        "50Gi",
        "Error: Storage resources are insufficient for the write operation (StorageFull)",
    )
    finding = top(ev)
    assert (finding.category, finding.action, finding.target.name) == (
        Category.STORAGE,
        Action.EXPAND_STORAGE,
        "data-store-0",
    )


def test_volume_usage_metric_near_capacity_is_storage() -> None:
    ev = make.evidence(
        workload=make.deployment(),
        pods=[make.pod(CHECKOUT_POD, make.container("app"), pvc_names=["uploads"])],
        pvcs=[PVCEvidence(name="uploads", namespace="shop", phase="Bound", capacity="20Gi")],
        metrics=[
            make.metric(
                'kubelet_volume_stats_used_bytes{persistentvolumeclaim="uploads"}',
                last=19.8 * 1024**3,
                first=15 * 1024**3,
                labels={"persistentvolumeclaim": "uploads", "namespace": "shop"},
            ),
            make.metric(
                'kubelet_volume_stats_capacity_bytes{persistentvolumeclaim="uploads"}',
                last=20 * 1024**3,
                labels={"persistentvolumeclaim": "uploads"},
            ),
        ],
    )
    finding = top(ev)
    assert finding.category is Category.STORAGE
    assert finding.target.name == "uploads"
    assert "99%" in finding.evidence[0].fact


def test_volume_half_full_is_not_storage() -> None:
    ev = make.evidence(
        workload=make.deployment(),
        pods=[make.pod(CHECKOUT_POD, make.container("app"), pvc_names=["uploads"])],
        metrics=[
            make.metric(
                'kubelet_volume_stats_used_bytes{persistentvolumeclaim="uploads"}',
                last=10 * 1024**3,
                labels={"persistentvolumeclaim": "uploads"},
            ),
            make.metric(
                'kubelet_volume_stats_capacity_bytes{persistentvolumeclaim="uploads"}',
                last=20 * 1024**3,
                labels={"persistentvolumeclaim": "uploads"},
            ),
        ],
    )
    assert by_category(analyze(ev), Category.STORAGE) == []


def _filling_alert_with_usage(used_gib: float) -> Evidence:
    """A KubePersistentVolumeFillingUp alert for a 500Gi claim whose kubelet stats now show
    ``used_gib`` in use (and falling back from a peak an hour ago)."""
    labels = {"persistentvolumeclaim": "data-store-0", "namespace": "shop"}
    return make.evidence(
        workload=make.deployment(),
        alerts=[
            make.alert(
                alertname="KubePersistentVolumeFillingUp",
                namespace="shop",
                persistentvolumeclaim="data-store-0",
            )
        ],
        pods=[make.pod(CHECKOUT_POD, make.container("app"), pvc_names=["data-store-0"])],
        pvcs=[PVCEvidence(name="data-store-0", namespace="shop", phase="Bound", capacity="500Gi")],
        metrics=[
            make.metric(
                'kubelet_volume_stats_used_bytes{persistentvolumeclaim="data-store-0"}',
                last=used_gib * 1024**3,
                first=440 * 1024**3,
                labels=labels,
            ),
            make.metric(
                'kubelet_volume_stats_capacity_bytes{persistentvolumeclaim="data-store-0"}',
                last=500 * 1024**3,
                labels=labels,
            ),
        ],
    )


def test_volume_alert_whose_space_was_reclaimed_is_not_storage() -> None:
    # Compaction or retention freed the space: 64% in use now, under the alert's own 85%.
    assert by_category(analyze(_filling_alert_with_usage(320)), Category.STORAGE) == []


def test_volume_alert_still_above_its_threshold_is_storage() -> None:
    finding = by_category(analyze(_filling_alert_with_usage(440)), Category.STORAGE)[0]
    assert (finding.action, finding.target.name) == (Action.EXPAND_STORAGE, "data-store-0")


def test_pending_because_the_only_node_is_not_ready_is_node_failure() -> None:
    message = (
        "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }."
    )
    ev = make.evidence(
        workload=make.deployment(ready=0),
        pods=[_pending()],
        nodes=[
            NodeEvidence(
                name="worker-1", ready="False", taints=["node.kubernetes.io/not-ready:NoSchedule"]
            )
        ],
        events=[make.event("FailedScheduling", message, name=CHECKOUT_POD)],
    )
    result = analyze(ev)
    assert result.findings[0].category is Category.NODE_FAILURE
    assert result.findings[0].target == ObjectRef(kind="Node", name="worker-1")
    assert by_category(result, Category.UNSCHEDULABLE)[0].confidence < 0.8


def test_pressure_on_nodes_without_our_pods_cannot_add_up_to_a_node_failure() -> None:
    pressured = [
        NodeEvidence(
            name=f"worker-{i}",
            ready="True",
            conditions=[PodCondition(type="DiskPressure", status="True")],
        )
        for i in range(2, 6)
    ]
    ev = make.evidence(
        workload=make.deployment(),
        pods=[make.pod(CHECKOUT_POD, make.container("app"), node="worker-1")],
        nodes=[NodeEvidence(name="worker-1", ready="True"), *pressured],
    )
    nodes = by_category(analyze(ev), Category.NODE_FAILURE)
    assert len(nodes) == 1
    assert nodes[0].confidence < 0.5


def _workflow(message: str) -> GenericObjectEvidence:
    return GenericObjectEvidence(
        ref=ObjectRef(kind="Workflow", namespace="data", name="etl-1"),
        fields={"status.messages": message, "status.phase": "Running"},
    )


_DATA_QUOTA = QuotaEvidence(
    name="compute", namespace="data", hard={"requests.cpu": "32"}, used={"requests.cpu": "28"}
)
_REFUSAL = (
    'pods "etl-1-transform-1" is forbidden: exceeded quota: compute, requested: '
    "requests.cpu=8, used: requests.cpu=28, limited: requests.cpu=32"
)


def test_a_step_pod_a_quota_refuses_as_its_custom_resource_says_frees_the_quota() -> None:
    """A workflow engine's step has no pod and no ReplicaSet event: the engine's resource says
    the API server refused the pod over a quota in scope, which is what to free."""
    ev = Evidence(
        collected_at=make.NOW,
        target=ObjectRef(kind="Namespace", name="data"),
        quotas=[_DATA_QUOTA],
        other_objects=[_workflow(_REFUSAL)],
    )
    finding = top(ev)
    assert (finding.category, finding.action) == (Category.UNSCHEDULABLE, Action.FREE_CAPACITY)
    assert finding.target == ObjectRef(kind="ResourceQuota", namespace="data", name="compute")


def test_a_quota_refusal_naming_a_quota_not_in_scope_is_not_aimed_at_it() -> None:
    """The quota the message names must be one the evidence shows in the resource's namespace;
    a step message without a refusal is no quota finding either."""
    other = Evidence(
        collected_at=make.NOW,
        target=ObjectRef(kind="Namespace", name="data"),
        quotas=[_DATA_QUOTA.model_copy(update={"name": "other"})],
        other_objects=[_workflow(_REFUSAL)],
    )
    plain = Evidence(
        collected_at=make.NOW,
        target=ObjectRef(kind="Namespace", name="data"),
        quotas=[_DATA_QUOTA],
        other_objects=[_workflow("child 'etl-1-transform-1' failed: exit code 1")],
    )
    for ev in (other, plain):
        assert not by_category(analyze(ev), Category.UNSCHEDULABLE)

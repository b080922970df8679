"""Checks storage reasoning about volumes that attach late, cannot attach, or are held by a
node plugin: an attach or mount failure the pod's containers have started since is a
passing hand-over, not the claim's fault; a node out of attachment slots needs another node
for the pod, not a larger claim; a Recreate rollout's previous revision served until the
rollout though none of its pods remain; and a CSI node plugin whose rollout crash-loops is
rolled back even when the pods it holds belong to a workload that rolled out later.

Real: the analyzer registry on Evidence factories, and ``build_evidence`` on API-shaped dicts.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.recency import AVAILABLE_REPLICAS, served_until
from kubetriage.analyzers.storage import check_storage
from kubetriage.analyzers.volume_spec_faults import spec_fault
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import ContainerState, PodCondition, PVCEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built
from tests.support.evidence import (
    ago,
    analyze,
    app_pod,
    container,
    crash_looping,
    deployment,
    event,
    evidence,
    metric,
    rollout_revisions,
    waiting,
)

APP = ObjectRef(kind="Deployment", namespace="shop", name="ledger")
POD = "ledger-6b5c8d7f49-x2k9l"
CLAIM = PVCEvidence(
    name="ledger-data",
    namespace="shop",
    phase="Bound",
    storage_class="gp3",
    requested="10Gi",
    capacity="10Gi",
    volume_name="pvc-1",
)
MULTI_ATTACH = (
    'Multi-Attach error for volume "pvc-1" Volume is already exclusively attached to one node '
    "and can't be attached to another"
)
SLOTS_USED = (
    'AttachVolume.Attach failed for volume "pvc-1" : rpc error: code = Internal desc = Could not '
    'attach volume "vol-0a1" to node "i-0b7": operation error EC2: AttachVolume, api error '
    "AttachmentLimitExceeded: You have reached the maximum number of volume attachments"
)
TIMED_OUT = (
    'AttachVolume.Attach failed for volume "pvc-1" : rpc error: code = DeadlineExceeded desc = '
    "context deadline exceeded"
)


def _attach_failed(message: str, *containers: Any) -> Any:
    failure = event("FailedAttachVolume", message, name=POD)
    failure = failure.model_copy(update={"first_seen": ago(20), "last_seen": ago(19)})
    return evidence(
        workload=deployment("ledger"),
        pods=[app_pod(POD, *containers, pvc_names=[CLAIM.name])],
        pvcs=[CLAIM],
        events=[failure],
    )


def _started(minutes_ago: float) -> ContainerState:
    return ContainerState(state="running", started_at=ago(minutes_ago))


def test_an_attach_failure_the_pod_has_started_since_blames_no_claim() -> None:
    # The container started 15 minutes ago, after the last Multi-Attach report 19 minutes ago:
    # the volume attached once the previous node let it go.
    ev = _attach_failed(MULTI_ATTACH, container("app", state=_started(15)))
    assert check_storage(ev) == []


def test_an_attach_failure_before_a_crash_loop_still_passed() -> None:
    # Crash-looping since: its last run started after the report, so the mount worked.
    looping = crash_looping("app").model_copy(
        update={"last_state": ContainerState(state="terminated", started_at=ago(3))}
    )
    assert check_storage(_attach_failed(MULTI_ATTACH, looping)) == []


def test_an_attach_failure_the_pod_still_waits_on_blames_the_claim() -> None:
    creating = container("app", ready=False, state=waiting("ContainerCreating"))
    findings = check_storage(_attach_failed(MULTI_ATTACH, creating))
    assert [(f.category, f.target) for f in findings] == [
        (
            Category.STORAGE,
            ObjectRef(kind="PersistentVolumeClaim", namespace="shop", name=CLAIM.name),
        )
    ]


def test_a_container_started_before_the_failure_does_not_clear_it() -> None:
    # Started an hour ago, then the volume failed to attach again (a later restart of the pod
    # elsewhere): the start says nothing about the newer failure.
    findings = check_storage(_attach_failed(MULTI_ATTACH, container("app", state=_started(60))))
    assert findings


def test_the_clouds_words_for_a_node_out_of_attachment_slots() -> None:
    for message in (
        SLOTS_USED,
        'AttachVolume.Attach failed for volume "pvc-1" : Retriable: false, RetryAfter: 0s, '
        "HTTPStatusCode: 409, RawError: The maximum number of data disks allowed to be attached "
        "to a VM of this size is 8.",
        'AttachVolume.Attach failed for volume "pvc-1" : googleapi: Error 400: Exceeded limit '
        "'maximum_persistent_disks' on resource 'gke-pool-1-abcd'.",
    ):
        fault = spec_fault(message)
        assert fault is not None, message
        assert fault.action is Action.FREE_CAPACITY, message
    assert spec_fault(TIMED_OUT) is None
    assert spec_fault("Scheduled 5 volumes to attach; exceeded no limit") is None


def test_a_node_out_of_attachment_slots_needs_another_node_not_a_larger_claim() -> None:
    creating = container("app", ready=False, state=waiting("ContainerCreating"))
    findings = check_storage(_attach_failed(SLOTS_USED, creating))
    assert [(f.category, f.action, f.target) for f in findings] == [
        (Category.STORAGE, Action.FREE_CAPACITY, APP)
    ]


def test_an_attach_that_times_out_is_still_the_claims() -> None:
    creating = container("app", ready=False, state=waiting("ContainerCreating"))
    findings = check_storage(_attach_failed(TIMED_OUT, creating))
    assert [f.action for f in findings] == [Action.EXPAND_STORAGE]


def _recreated(step_minutes_ago: float | None) -> Any:
    """A Recreate rollout 20 minutes ago whose one new pod crash-loops; the previous
    ReplicaSet is scaled to zero. ``step_minutes_ago``: when the available replicas stepped
    from 1 to 0 (None: no such series)."""
    metrics = []
    if step_minutes_ago is not None:
        available = metric(
            'max(kube_deployment_status_replicas_available{deployment="ledger"})',
            name=AVAILABLE_REPLICAS,
            first=1.0,
            last=0.0,
            changed_minutes_ago=step_minutes_ago,
        )
        metrics.append(available.model_copy(update={"before": 1.0, "after": 0.0}))
    return evidence(
        workload=deployment("ledger", replicas=1, ready=0, revision=10),
        revisions=rollout_revisions(
            10,
            {"app": "ledger:1.70"},
            {"app": "ledger:1.64"},
            minutes_ago=20,
            names=("ledger-6b5c8d7f49", "ledger-7f8d9c6b54"),
        ),
        pods=[app_pod(POD, crash_looping("app", "ledger:1.70"))],
        metrics=metrics,
    )


def test_a_recreate_rollout_served_until_its_available_replicas_stepped_to_zero() -> None:
    ev = _recreated(step_minutes_ago=20.5)
    assert served_until(ev, ev.revisions[0])
    lead = analyze(ev).findings[0]
    assert (lead.category, lead.action, lead.target) == (Category.BAD_ROLLOUT, Action.ROLLBACK, APP)


def test_availability_lost_long_after_the_rollout_says_nothing_of_the_previous_revision() -> None:
    for ev in (_recreated(step_minutes_ago=5), _recreated(step_minutes_ago=None)):
        assert not served_until(ev, ev.revisions[0])


def _unavailable_since(minutes_ago: float) -> Any:
    """The Recreate rollout without the series, its Deployment's ``Available`` condition False
    since ``minutes_ago`` (the rollout was 20 minutes ago)."""
    ev = _recreated(step_minutes_ago=None)
    condition = PodCondition(
        type="Available",
        status="False",
        reason="MinimumReplicasUnavailable",
        last_transition_time=ago(minutes_ago),
    )
    workload = ev.workload.model_copy(update={"conditions": [condition]})
    return ev.model_copy(update={"workload": workload})


def test_a_recreate_rollout_served_until_its_available_condition_turned_false() -> None:
    ev = _unavailable_since(19.9)
    assert served_until(ev, ev.revisions[0])
    lead = analyze(ev).findings[0]
    assert (lead.category, lead.action, lead.target) == (Category.BAD_ROLLOUT, Action.ROLLBACK, APP)


def test_availability_that_turned_false_before_or_long_after_the_rollout_says_nothing() -> None:
    # Near misses: unavailable since before the rollout (the old revision failed too) and
    # since long after it (the new pods served for a while).
    for minutes_ago in (45.0, 5.0):
        ev = _unavailable_since(minutes_ago)
        assert not served_until(ev, ev.revisions[0]), minutes_ago


PLUGIN = ObjectRef(kind="DaemonSet", namespace="kube-system", name="ebs-csi-node")
DRIVER = "ebs.csi.aws.com"
NODE = "ip-10-0-1-1"
NOT_REGISTERED = (
    'MountVolume.MountDevice failed for volume "pvc-1" : kubernetes.io/csi: attacher.MountDevice '
    f"failed to create newCsiDriverClient: driver name {DRIVER} not found in the list of "
    "registered CSI drivers"
)


def _at(minutes_ago: float) -> str:
    return ago(minutes_ago).isoformat().replace("+00:00", "Z")


def _plugin_template(flag: str | None) -> dict[str, Any]:
    args = ["node", "--endpoint=unix:///csi/csi.sock", *([flag] if flag else [])]
    return {
        "metadata": {"labels": {"app": PLUGIN.name}},
        "spec": {
            "containers": [{"name": "node", "image": "aws-ebs-csi-driver:v1.36.0", "args": args}],
            "volumes": [
                {"name": "plugin-dir", "hostPath": {"path": f"/var/lib/kubelet/plugins/{DRIVER}/"}}
            ],
        },
    }


def _plugin_cluster(*, plugin_down: bool) -> list[dict[str, Any]]:
    """A CSI node plugin DaemonSet rolled out 40 minutes ago (a new flag); its new pod on the
    node either crash-loops or runs. An app Deployment (Recreate) rolled out 25 minutes ago;
    its new pod landed on that node and its volume does not mount there."""
    revisions = [
        {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {
                "name": f"{PLUGIN.name}-{hsh}",
                "namespace": PLUGIN.namespace,
                "creationTimestamp": _at(minutes),
                "labels": {"app": PLUGIN.name, "controller-revision-hash": hsh},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "DaemonSet",
                        "name": PLUGIN.name,
                        "controller": True,
                    }
                ],
            },
            "revision": number,
            "data": {"spec": {"template": _plugin_template(flag)}},
        }
        for hsh, number, minutes, flag in (
            ("aaa", 1, 60 * 24 * 30, None),
            ("bbb", 2, 40, "--new-flag"),
        )
    ]
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": PLUGIN.name, "namespace": PLUGIN.namespace, "generation": 2},
        "spec": {
            "selector": {"matchLabels": {"app": PLUGIN.name}},
            "template": _plugin_template("--new-flag"),
        },
        "status": {
            "desiredNumberScheduled": 1,
            "numberReady": 0 if plugin_down else 1,
            "updatedNumberScheduled": 1,
        },
    }
    state: dict[str, Any] = (
        {"waiting": {"reason": "CrashLoopBackOff"}}
        if plugin_down
        else {"running": {"startedAt": _at(39)}}
    )
    plugin_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{PLUGIN.name}-x1",
            "namespace": PLUGIN.namespace,
            "creationTimestamp": _at(40),
            "labels": {"app": PLUGIN.name, "controller-revision-hash": "bbb"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "DaemonSet",
                    "name": PLUGIN.name,
                    "controller": True,
                }
            ],
        },
        "spec": {**_plugin_template("--new-flag")["spec"], "nodeName": NODE},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "node",
                    "ready": not plugin_down,
                    "restartCount": 9 if plugin_down else 0,
                    "state": state,
                    **(
                        {"lastState": {"terminated": {"reason": "Error", "exitCode": 2}}}
                        if plugin_down
                        else {}
                    ),
                }
            ],
        },
    }
    app_labels = {"app": "ledger"}

    def replica_set(
        hsh: str, number: int, minutes: float, image: str, replicas: int
    ) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"ledger-{hsh}",
                "namespace": "shop",
                "creationTimestamp": _at(minutes),
                "annotations": {"deployment.kubernetes.io/revision": str(number)},
                "labels": {**app_labels, "pod-template-hash": hsh},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "ledger",
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {**app_labels, "pod-template-hash": hsh}},
                "template": {
                    "metadata": {"labels": {**app_labels, "pod-template-hash": hsh}},
                    "spec": {"containers": [{"name": "app", "image": image}]},
                },
            },
            "status": {"replicas": replicas},
        }

    app = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "ledger",
            "namespace": "shop",
            "annotations": {"deployment.kubernetes.io/revision": "2"},
        },
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": app_labels},
            "template": {
                "metadata": {"labels": app_labels},
                "spec": {"containers": [{"name": "app", "image": "ledger:2"}]},
            },
        },
        "status": {"replicas": 1, "unavailableReplicas": 1},
    }
    app_pod_ = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "ledger-bbb-q1",
            "namespace": "shop",
            "creationTimestamp": _at(25),
            "labels": {**app_labels, "pod-template-hash": "bbb"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "ledger-bbb",
                    "controller": True,
                }
            ],
        },
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "app", "image": "ledger:2"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "ledger-data"}}],
        },
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                }
            ],
        },
    }
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "ledger-data", "namespace": "shop"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "gp3",
            "volumeName": "pvc-1",
        },
        "status": {"phase": "Bound", "capacity": {"storage": "20Gi"}},
    }
    mount_failed = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "ledger-bbb-q1.1", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "name": "ledger-bbb-q1", "namespace": "shop"},
        "reason": "FailedMount",
        "message": NOT_REGISTERED,
        "type": "Warning",
        "count": 12,
        "firstTimestamp": _at(24),
        "lastTimestamp": _at(1),
    }
    return [
        daemonset,
        *revisions,
        plugin_pod,
        app,
        replica_set("aaa", 1, 60 * 24 * 30, "ledger:1", 0),
        replica_set("bbb", 2, 25, "ledger:2", 1),
        app_pod_,
        claim,
        mount_failed,
    ]


def test_a_node_plugin_whose_rollout_crash_loops_is_rolled_back_before_the_app_it_holds() -> None:
    ev = built(_plugin_cluster(plugin_down=True), APP)
    lead = analyze(ev).findings[0]
    assert (lead.category, lead.action, lead.target) == (
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
        PLUGIN,
    )


def test_a_running_node_plugin_leaves_the_apps_own_rollout_the_suspect() -> None:
    ev = built(_plugin_cluster(plugin_down=False), APP)
    findings = analyze(ev).findings
    assert not [f for f in findings if f.target == PLUGIN]

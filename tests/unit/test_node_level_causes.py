"""Checks three pieces of node-level reasoning an SRE applies before blaming a node or a
container limit, each with a contrast that must keep the old answer:

- a node agent's fresh pod that does not run on a NotReady node (a CNI or proxy DaemonSet's
  new revision takes its node down): roll the DaemonSet back, not drain the node;
- an OOMKilled container whose working set peaked far below its limit on a node that ran out
  of memory itself (SystemOOM events, MemoryPressure): the node's OOM killer, not the limit;
- a node filesystem alert whose mountpoint is where the kubelet mounts a pod's volume: the
  claim bound to that PersistentVolume is what fills, not the node's disk (the exporter's own
  pod and namespace labels are no target).

Everything is real: Evidence models from ``tests.support.evidence``, ``run_analyzers``, the
pure target functions and the offline builder's ``ObjectIndex`` over raw objects.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.analyzers.nodes import CONFIDENCE as NODE_CONFIDENCE
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.notes import Notes
from kubetriage.evidence.scope import choose_target
from kubetriage.evidence.targets import candidate_targets
from kubetriage.evidence.volume_alerts import kubelet_volume, mounted_volumes
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.incident import Alert
from kubetriage.models.object_evidence import (
    ContainerEvidence,
    EventEvidence,
    NodeEvidence,
    PodCondition,
    PodEvidence,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category

AGENT = ObjectRef(kind="DaemonSet", namespace="kube-system", name="net-agent")
NOT_READY_MESSAGE = (
    "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
    "message:Network plugin returns error: cni plugin not initialized"
)


def _not_ready(name: str) -> NodeEvidence:
    return NodeEvidence(
        name=name,
        ready="False",
        conditions=[
            PodCondition(
                type="Ready", status="False", reason="KubeletNotReady", message=NOT_READY_MESSAGE
            )
        ],
    )


def _went_not_ready(node: str, minutes_ago: float) -> EventEvidence:
    return EventEvidence(
        type="Normal",
        reason="NodeNotReady",
        message=f"Node {node} status is now: NodeNotReady",
        involved=ObjectRef(kind="Node", name=node),
        first_seen=make.ago(minutes_ago),
        last_seen=make.ago(minutes_ago),
    )


def _agent_pod(node: str, created_minutes_ago: float, agent: ContainerEvidence) -> PodEvidence:
    pod = make.pod(
        f"net-agent-{node}",
        agent,
        namespace="kube-system",
        replica_set=None,
        node=node,
        labels={"k8s-app": "net-agent"},
        created_at=make.ago(created_minutes_ago),
    )
    return pod.model_copy(update={"owner": AGENT})


def _node_incident(
    agent_created: float, agent: ContainerEvidence, ready: str = "False"
) -> Evidence:
    """A Node incident: worker-2 NotReady 26 minutes ago, with a DaemonSet pod and an app pod."""
    node = _not_ready("worker-2")
    if ready != "False":
        node = node.model_copy(update={"ready": ready})
    app = make.pod("checkout-7d9f6c8b5-abcde", make.container("app", ready=False), node="worker-2")
    return make.evidence(
        target=ObjectRef(kind="Node", name="worker-2"),
        nodes=[node, NodeEvidence(name="worker-1", ready="True")],
        pods=[_agent_pod("worker-2", agent_created, agent), app],
        events=[_went_not_ready("worker-2", 26)],
        alerts=[make.alert(alertname="KubeNodeNotReady", node="worker-2")],
    )


def test_fresh_agent_pod_failing_on_not_ready_node_rolls_the_daemonset_back() -> None:
    result = analyze(_node_incident(27, make.crash_looping("agent", restarts=7)))
    assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, AGENT)
    drains = by_category(result, Category.NODE_FAILURE)
    assert drains
    assert all(f.confidence <= NODE_CONFIDENCE.agent_broke_cap for f in drains)


def test_agent_pod_created_just_after_the_node_went_not_ready_still_counts() -> None:
    # The node's Ready condition flips a heartbeat after the agent's first exit; its Event
    # may be stamped before the pod's creation time.
    result = analyze(_node_incident(25, make.crash_looping("agent", restarts=3)))
    assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, AGENT)


def test_long_running_agent_is_the_node_steady_state_and_the_node_is_drained() -> None:
    old = _node_incident(int(timedelta(days=3).total_seconds() // 60), make.crash_looping("agent"))
    result = analyze(old)
    assert_leads(
        result, Category.NODE_FAILURE, Action.DRAIN_NODE, ObjectRef(kind="Node", name="worker-2")
    )
    assert not [f for f in result.findings if f.analyzer == "node-agent-broke-node"]


def test_fresh_agent_that_runs_does_not_blame_its_rollout() -> None:
    result = analyze(_node_incident(27, make.container("agent")))
    assert not [f for f in result.findings if f.analyzer == "node-agent-broke-node"]
    assert result.findings[0].category is Category.NODE_FAILURE


def test_unreachable_node_is_not_judged_by_its_stale_pod_statuses() -> None:
    result = analyze(_node_incident(27, make.crash_looping("agent"), ready="Unknown"))
    assert not [f for f in result.findings if f.analyzer == "node-agent-broke-node"]


# --- the node's OOM killer, not the container's limit --------------------------------------


def _oom_killed_under_limit(*, node_ran_out: bool) -> Evidence:
    killed = make.container(
        "app",
        ready=False,
        restarts=3,
        state=make.running(),
        last_state=make.terminated("OOMKilled", 137),
        limits={"memory": "3Gi"},
        requests={"memory": "3Gi"},
    )
    pod = make.pod("claims-api-6c8d5f9b47-p8zq5", killed, node="worker-8")
    conditions = [PodCondition(type="Ready", status="True")]
    events = []
    if node_ran_out:
        conditions.append(PodCondition(type="MemoryPressure", status="True"))
        events.append(
            make.event(
                "SystemOOM",
                "System OOM encountered, victim process: java, pid: 412877",
                name="worker-8",
                kind="Node",
                namespace=None,
                count=3,
            )
        )
    working_set = make.metric(
        'container_memory_working_set_bytes{namespace="shop",container="app"}',
        last=0.8 * 1024**3,
        first=1.2 * 1024**3,
        max_=1.3 * 1024**3,
        labels={"container": "app"},
    )
    return make.evidence(
        workload=make.deployment(),
        pods=[pod],
        nodes=[NodeEvidence(name="worker-8", ready="True", conditions=conditions)],
        events=events,
        metrics=[working_set],
    )


def test_kill_far_below_the_limit_on_a_node_out_of_memory_is_the_node() -> None:
    result = analyze(_oom_killed_under_limit(node_ran_out=True))
    assert not by_category(result, Category.OOM_KILLED)
    assert_leads(
        result, Category.NODE_FAILURE, Action.DRAIN_NODE, ObjectRef(kind="Node", name="worker-8")
    )


def test_kill_far_below_the_limit_on_a_calm_node_stays_the_container() -> None:
    result = analyze(_oom_killed_under_limit(node_ran_out=False))
    assert result.findings[0].category is Category.OOM_KILLED


# --- a node filesystem alert about a pod's volume ------------------------------------------

PV = "pvc-3f6e1b9a-52c4-4d8e-a1f7-9b2c6d0e4a81"
POD_DIR = "/var/lib/kubelet/pods/fdfb74ef-9b22-1cfc-5982-4446c7e18f4c"
MOUNT = f"{POD_DIR}/volumes/kubernetes.io~csi/{PV}/mount"
CLAIM = ObjectRef(kind="PersistentVolumeClaim", namespace="orders", name="data-orders-db-0")


def _filesystem_alert(mountpoint: str) -> Alert:
    return Alert(
        labels={
            "alertname": "NodeFilesystemAlmostOutOfSpace",
            "namespace": "monitoring",
            "pod": "node-exporter-m7x2q",
            "instance": "10.224.4.5:9100",
            "mountpoint": mountpoint,
        }
    )


def test_kubelet_volume_mountpoints_name_their_volume() -> None:
    assert kubelet_volume(MOUNT) == PV
    in_tree = f"{POD_DIR}/volumes/kubernetes.io~aws-ebs/pvc-1"
    assert kubelet_volume(in_tree) == "pvc-1"
    assert kubelet_volume("/") is None
    assert kubelet_volume("/var/lib/kubelet") is None


def test_the_exporter_labels_of_a_volume_alert_are_no_strong_target() -> None:
    alert = _filesystem_alert(MOUNT)
    assert mounted_volumes([alert]) == [PV]
    assert not [c for c in candidate_targets(None, [alert]) if c.kind == "Pod"]
    root = _filesystem_alert("/")
    assert mounted_volumes([root]) == []
    assert candidate_targets(None, [root])[0].kind == "Pod"  # unchanged for the node's own disk


def test_builder_takes_the_claim_bound_to_the_mounted_volume() -> None:
    objects = [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": PV},
            "spec": {
                "claimRef": {
                    "kind": "PersistentVolumeClaim",
                    "namespace": "orders",
                    "name": CLAIM.name,
                }
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": CLAIM.name, "namespace": "orders"},
            "spec": {"volumeName": PV},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "node-exporter-m7x2q", "namespace": "monitoring"},
        },
    ]
    index = ObjectIndex(objects, Notes())
    chosen = choose_target(index, None, [_filesystem_alert(MOUNT)], Notes())
    assert chosen is not None
    assert chosen.same_object(CLAIM)
    namespace = ObjectRef(kind="Namespace", name="monitoring")
    chosen = choose_target(index, namespace, [_filesystem_alert(MOUNT)], Notes())
    assert chosen is not None
    assert chosen.same_object(CLAIM)


def test_a_volume_alert_is_no_node_alert() -> None:
    volume_alert = make.alert(
        alertname="NodeFilesystemAlmostOutOfSpace", instance="worker-4:9100", mountpoint=MOUNT
    )
    disk_alert = make.alert(
        alertname="NodeFilesystemAlmostOutOfSpace", instance="worker-4:9100", mountpoint="/"
    )
    assert not by_category(analyze(make.evidence(alerts=[volume_alert])), Category.NODE_FAILURE)
    assert by_category(analyze(make.evidence(alerts=[disk_alert])), Category.NODE_FAILURE)

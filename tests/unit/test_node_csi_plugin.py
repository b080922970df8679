"""Checks CSI node-plugin reasoning: a pod whose mount fails because the kubelet cannot reach
a CSI driver on the pod's node (the driver never registered there, or its socket refuses)
names that node and driver; the DaemonSet pod on that node serving the driver (its plugin
directory on the host, its ``--drivername``) names its DaemonSet as the dependency to
follow; the claim is not blamed for the plugin's failure; and a plugin OOMKilled on that node
is the fix (raise its DaemonSet's memory).

Real: the pure helpers, ``build_evidence`` on API-shaped dicts and the analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.csi_errors import unreachable_csi_driver
from kubetriage.evidence.node_plugins import csi_failing_nodes, node_csi_hosts
from kubetriage.models.base import ObjectRef
from kubetriage.models.vocabulary import Action, Category
from tests.support.built import built
from tests.support.evidence import analyze, assert_leads, by_category, named

DRIVER = "ebs.csi.aws.com"
BROKEN = "ip-10-0-1-1"
FINE = "ip-10-0-1-2"
PLUGIN = ObjectRef(kind="DaemonSet", namespace="kube-system", name="ebs-csi-node")
REFUSED = (
    'MountVolume.MountDevice failed for volume "pvc-1" : rpc error: code = Unavailable desc = '
    'connection error: desc = "transport: Error while dialing: dial unix '
    f'/var/lib/kubelet/plugins/{DRIVER}/csi.sock: connect: connection refused"'
)
NOT_REGISTERED = (
    'MountVolume.MountDevice failed for volume "pvc-1" : kubernetes.io/csi: attacher.MountDevice '
    f"failed to create newCsiDriverClient: driver name {DRIVER} not found in the list of "
    "registered CSI drivers"
)
TIMED_OUT = (
    "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data]: "
    "timed out waiting for the condition"
)


def test_the_kubelets_words_for_an_unreachable_driver() -> None:
    assert unreachable_csi_driver(REFUSED) == DRIVER
    assert unreachable_csi_driver(NOT_REGISTERED) == DRIVER
    assert unreachable_csi_driver(TIMED_OUT) is None
    assert unreachable_csi_driver('Multi-Attach error for volume "pvc-1"') is None


def _pod(name: str, node: str, **fields: Any) -> dict[str, Any]:
    namespace = fields.pop("namespace", "shop")
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": fields.pop("labels")}
    if owner := fields.pop("owner", None):
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "controller": True, **owner}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"nodeName": node, **fields.pop("spec")},
        "status": fields.pop("status", {"phase": "Running"}),
    }


def _app_pod(name: str, node: str) -> dict[str, Any]:
    return _pod(
        name,
        node,
        labels={"app": "ledger"},
        spec={
            "containers": [{"name": "app", "image": "ledger:1"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": f"data-{name}"}}],
        },
        status={
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                }
            ],
        },
    )


def _plugin_pod(node: str, *, killed: bool = False, driver: str = DRIVER) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Running"}
    if killed:
        status["containerStatuses"] = [
            {
                "name": "node",
                "ready": False,
                "restartCount": 9,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
            }
        ]
    return _pod(
        f"{PLUGIN.name}-{node[-1]}",
        node,
        namespace=PLUGIN.namespace,
        labels={"app": PLUGIN.name},
        owner={"kind": "DaemonSet", "name": PLUGIN.name},
        spec={
            "containers": [
                {
                    "name": "node",
                    "image": "aws-ebs-csi-driver:v1.37.0",
                    "args": ["node", "--endpoint=$(CSI_ENDPOINT)"],
                    "resources": {"limits": {"memory": "256Mi"}},
                }
            ],
            "volumes": [
                {"name": "plugin-dir", "hostPath": {"path": f"/var/lib/kubelet/plugins/{driver}/"}}
            ],
        },
        status=status,
    )


def _event(pod: str, message: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{pod}.1", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "name": pod, "namespace": "shop"},
        "reason": "FailedMount",
        "message": message,
        "type": "Warning",
        "count": 12,
    }


def test_the_node_and_driver_a_pods_failed_mount_names() -> None:
    pods = [_app_pod("ledger-0", BROKEN), _app_pod("ledger-1", FINE)]
    lines = [
        (named("event Pod/ledger-0 FailedMount"), REFUSED),
        (named("event Pod/ledger-1 FailedMount"), TIMED_OUT),
        (named("log shop/ledger-1/app"), REFUSED),  # not the kubelet's words about a mount
    ]
    assert csi_failing_nodes(lines, pods) == [
        (BROKEN, DRIVER, named("event Pod/ledger-0 FailedMount"))
    ]


def test_only_the_daemonset_pod_serving_the_driver_on_that_node_is_named() -> None:
    pods = [
        _plugin_pod(BROKEN),
        _plugin_pod(FINE),
        {**_plugin_pod(BROKEN, driver="efs.csi.aws.com"), "metadata": {"name": "efs-node"}},
    ]
    hosts = node_csi_hosts(pods, [(BROKEN, DRIVER, named("event Pod/ledger-0 FailedMount"))])
    assert [(h.kind, h.namespace, h.name, h.source) for h in hosts] == [
        ("DaemonSet", PLUGIN.namespace, PLUGIN.name, named("event Pod/ledger-0 FailedMount"))
    ]


def _cluster(killed: bool) -> list[dict[str, Any]]:
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": PLUGIN.name, "namespace": PLUGIN.namespace},
        "spec": {
            "selector": {"matchLabels": {"app": PLUGIN.name}},
            "template": {"metadata": {"labels": {"app": PLUGIN.name}}},
        },
        "status": {"desiredNumberScheduled": 2, "numberReady": 1 if killed else 2},
    }
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data-ledger-0", "namespace": "shop"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3"},
        "status": {"phase": "Bound", "capacity": {"storage": "20Gi"}},
    }
    return [
        _app_pod("ledger-0", BROKEN),
        claim,
        daemonset,
        _plugin_pod(BROKEN, killed=killed),
        _plugin_pod(FINE),
        _event("ledger-0", REFUSED),
        _event("ledger-0", TIMED_OUT),
    ]


def _evidence(killed: bool) -> Any:
    return built(_cluster(killed), ObjectRef(kind="Pod", namespace="shop", name="ledger-0"))


def test_the_plugin_of_the_failing_node_is_followed_as_what_the_pod_waits_on() -> None:
    first = _evidence(killed=True).dependencies[0]
    assert first.workload == PLUGIN
    assert [p.last_terminated for p in first.failing_pods] == ["OOMKilled"]
    assert first.named_by == [named("event Pod/ledger-0 FailedMount")]


def test_a_plugin_oomkilled_on_the_failing_node_gets_more_memory_not_the_claim() -> None:
    result = analyze(_evidence(killed=True))
    assert_leads(result, Category.OOM_KILLED, Action.INCREASE_MEMORY, PLUGIN)
    assert not by_category(result, Category.STORAGE)


def test_a_mount_failing_for_its_own_reasons_still_blames_the_claim() -> None:
    cluster = [o for o in _cluster(killed=False) if o["kind"] != "Event"]
    cluster.append(_event("ledger-0", TIMED_OUT))
    result = analyze(built(cluster, ObjectRef(kind="Pod", namespace="shop", name="ledger-0")))
    assert by_category(result, Category.STORAGE)
    assert not by_category(result, Category.OOM_KILLED)

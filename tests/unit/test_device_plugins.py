"""Checks the device plugin that does not run on nodes advertising none of its device.
Evidence (``kubetriage.evidence.node_hosts``): ``device_starved_nodes`` names the Ready,
schedulable nodes a pending pod's node selector allows that advertise none of an extended
resource the pod requests and the scheduler finds insufficient (a node that advertises some,
one outside the selector, a resource the pod does not request, or cpu, names none);
``node_device_plugin_hosts`` follows the DaemonSet whose pod there mounts the kubelet's
device-plugin directory and does not run (a running plugin, another DaemonSet, or a plugin on
another node is not followed). Analyzer (``device-plugin-pull``): such a plugin whose pods
cannot pull their image leads to fixing its image, above the unschedulable finding for the
pending pods; a plugin that crashes, or one reached otherwise, adds nothing.

Real: the pure evidence functions over raw objects, the analyzer registry and ranking
(``tests.support.evidence.analyze``), the Evidence models. Synthetic: every object and time.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.device_plugins import CONFIDENCE, NAME
from kubetriage.evidence.node_hosts import device_starved_nodes, node_device_plugin_hosts
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import NodeEvidence
from kubetriage.models.relations import (
    DEVICE_PLUGIN_SOURCE,
    DependencyEvidence,
    DependencyRoute,
    PodTrouble,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, named, naming

GPU = "nvidia.com/gpu"
SAID = (
    "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are "
    "available: 3 No preemption victims found for incoming pod."
)
PLUGIN = ObjectRef(kind="DaemonSet", namespace="kube-system", name="nvidia-device-plugin")


def _node(name: str, gpus: str | None, *, pool: str = "gpu", ready: str = "True") -> dict[str, Any]:
    allocatable = {"cpu": "7910m", "memory": "30Gi"} | ({GPU: gpus} if gpus is not None else {})
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": {"pool": pool}},
        "spec": {},
        "status": {
            "allocatable": allocatable,
            "conditions": [{"type": "Ready", "status": ready}],
        },
    }


def _pending(message: str = SAID, resource: str = GPU) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": "ranker-5d6b8c7f49-c7wqj", "namespace": "ranking"},
        "spec": {
            "nodeSelector": {"pool": "gpu"},
            "containers": [
                {"name": "triton", "resources": {"limits": {resource: "1"}}},
            ],
        },
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": message,
                }
            ],
        },
    }


NODES = [_node("gpu-old", "1"), _node("gpu-new", None), _node("apps-1", None, pool="apps")]


def test_a_node_meant_for_the_pod_that_advertises_none_of_its_device_is_named() -> None:
    assert device_starved_nodes([_pending()], NODES) == [("gpu-new", GPU)]
    # A zero allocatable is none too; a mig profile's dotted name is read whole.
    mig = "nvidia.com/mig-3g.40gb"
    said = SAID.replace(GPU, mig)
    assert device_starved_nodes([_pending(said, mig)], [_node("gpu-new", None)]) == [
        ("gpu-new", mig)
    ]
    assert device_starved_nodes([_pending()], [_node("gpu-new", "0")]) == [("gpu-new", GPU)]


def test_nodes_with_the_device_or_outside_the_selector_or_other_shortages_name_none() -> None:
    assert device_starved_nodes([_pending()], [_node("gpu-old", "1")]) == []
    assert device_starved_nodes([_pending()], [_node("apps-1", None, pool="apps")]) == []
    assert device_starved_nodes([_pending()], [_node("gpu-new", None, ready="False")]) == []
    cpu_short = "0/3 nodes are available: 3 Insufficient cpu."
    assert device_starved_nodes([_pending(cpu_short)], NODES) == []
    # The scheduler names a device the pod does not request (another pod's shortage).
    assert device_starved_nodes([_pending(resource="amd.com/gpu")], NODES) == []


def _plugin_pod(
    node: str, *, pulling: bool = True, owner: str = "nvidia-device-plugin", mounts: bool = True
) -> dict[str, Any]:
    state = (
        {"waiting": {"reason": "ImagePullBackOff"}}
        if pulling
        else {"running": {"startedAt": "2026-11-20T09:14:05Z"}}
    )
    volumes = (
        [{"name": "device-plugin", "hostPath": {"path": "/var/lib/kubelet/device-plugins"}}]
        if mounts
        else [{"name": "data", "hostPath": {"path": "/var/lib/agent"}}]
    )
    return {
        "kind": "Pod",
        "metadata": {
            "name": f"{owner}-{node}",
            "namespace": "kube-system",
            "ownerReferences": [{"kind": "DaemonSet", "name": owner, "controller": True}],
        },
        "spec": {"nodeName": node, "volumes": volumes},
        "status": {
            "phase": "Pending" if pulling else "Running",
            "conditions": [{"type": "Ready", "status": "False" if pulling else "True"}],
            "containerStatuses": [
                {"name": "plugin", "ready": not pulling, "restartCount": 0, "state": state}
            ],
        },
    }


def test_the_plugin_not_running_on_a_starved_node_is_followed() -> None:
    starved = [("gpu-new", GPU)]
    [host] = node_device_plugin_hosts([_plugin_pod("gpu-new"), _plugin_pod("gpu-old")], starved)
    assert (host.kind, host.namespace, host.name) == ("DaemonSet", "kube-system", PLUGIN.name)
    assert host.source == named(f"{DEVICE_PLUGIN_SOURCE} of node gpu-new: advertises no {GPU}")
    assert host.route == DependencyRoute(kind="device-plugin", node="gpu-new", resource=GPU)


def test_a_running_plugin_another_agent_or_another_nodes_plugin_is_not_followed() -> None:
    starved = [("gpu-new", GPU)]
    assert node_device_plugin_hosts([_plugin_pod("gpu-new", pulling=False)], starved) == []
    other = _plugin_pod("gpu-new", owner="log-agent", mounts=False)
    assert node_device_plugin_hosts([other], starved) == []
    assert node_device_plugin_hosts([_plugin_pod("gpu-old")], starved) == []


# --- analyzer ---------------------------------------------------------------------------


def _plugin(*, waiting: str = "ImagePullBackOff", routed: bool = True) -> DependencyEvidence:
    trouble = PodTrouble(
        pod="nvidia-device-plugin-kz6vd", phase="Pending", container="plugin", waiting=waiting
    )
    image = "registry.example/nvidia/k8s-device-plugin:v0.16.2"
    return DependencyEvidence(
        ref=PLUGIN,
        workload=PLUGIN,
        named_by=naming(f"{DEVICE_PLUGIN_SOURCE} of node gpu-new: advertises no {GPU}"),
        routes=[DependencyRoute(kind="device-plugin", node="gpu-new", resource=GPU)]
        if routed
        else [],
        pods=3,
        failing_pods=[trouble],
        warnings=[
            f'Pod/nvidia-device-plugin-kz6vd Failed: Failed to pull image "{image}": rpc '
            f'error: code = NotFound desc = failed to resolve reference "{image}": not found'
        ],
    )


def _pending_on_gpus(plugin: DependencyEvidence) -> Evidence:
    pod = make.pod(
        "checkout-7d9f6c8b5-c7wqj",
        make.container(
            "app",
            ready=False,
            state=make.waiting("ContainerCreating"),
            requests={GPU: "1"},
            limits={GPU: "1"},
        ),
        phase="Pending",
        node=None,
        node_selector={"pool": "gpu"},
    )
    return make.evidence(
        workload=make.deployment(replicas=2, ready=1),
        pods=[pod],
        nodes=[
            NodeEvidence(
                name="gpu-old", ready="True", labels={"pool": "gpu"}, allocatable={GPU: "1"}
            ),
            NodeEvidence(name="gpu-new", ready="True", labels={"pool": "gpu"}),
        ],
        events=[make.event("FailedScheduling", SAID, name="checkout-7d9f6c8b5-c7wqj", count=9)],
        dependencies=[plugin],
    )


def _found(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == NAME]


def test_a_plugin_that_cannot_pull_on_the_starved_nodes_leads_to_its_image() -> None:
    first = assert_leads(
        analyze(_pending_on_gpus(_plugin())), Category.IMAGE_PULL, Action.FIX_IMAGE, PLUGIN
    )
    assert first.analyzer == NAME
    assert first.confidence == CONFIDENCE.cannot_pull_there
    assert first.params["image"] == "registry.example/nvidia/k8s-device-plugin:v0.16.2"


def test_a_crashing_plugin_or_one_reached_otherwise_is_not_this_rule() -> None:
    assert _found(_pending_on_gpus(_plugin(waiting="CrashLoopBackOff"))) == []
    assert _found(_pending_on_gpus(_plugin(routed=False))) == []

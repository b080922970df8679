"""Checks the in-cluster server of a pod's NFS volume as a dependency: the Service whose
ClusterIP or cluster DNS name is the volume's NFS server (inline, through the PersistentVolume
bound to the pod's claim, or the NFS CSI driver's ``server`` attribute) is followed like a
callee named by the volume (``node_plugins.volume_server_hosts``), and when its pods are
OOMKilled while the pods mounting it do not serve, raising its memory leads
(``dependencies.caller_fails_on``, ``oom.check_callee_oom``); an external NFS server, or pods
that serve, are not. Likewise the CSI controller a Pending claim waits on
(``waiting_provisioners``, ``provisioner_hosts``): when it is OOMKilled, its memory leads
over the claim itself; a claim still waiting for its first consumer waits on nothing.

Real: raw objects as the API returns them, the Evidence models from ``tests.support.evidence``
and ``run_analyzers``.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.node_plugins import (
    provisioner_hosts,
    volume_server_hosts,
    waiting_provisioners,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import PVCEvidence
from kubetriage.models.relations import DependencyEvidence, DependencyRoute, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, named, naming

_NFS = ObjectRef(kind="StatefulSet", namespace="nfs", name="nfs-server")


def _pod(volume: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "wiki-7c9d-x2k4p", "namespace": "docs"},
        "spec": {"containers": [{"name": "wiki"}], "volumes": [{"name": "data", **volume}]},
    }


def _claim() -> dict[str, Any]:
    return {"metadata": {"name": "uploads", "namespace": "docs"}, "spec": {"volumeName": "pv-1"}}


def _volume(spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "pv-1"}, "spec": spec}


def _service(ip: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "nfs-server", "namespace": "nfs"},
        "spec": {"clusterIP": ip, "clusterIPs": [ip]},
    }


_CLAIMED = {"persistentVolumeClaim": {"claimName": "uploads"}}


def test_the_service_behind_a_bound_volumes_nfs_address_is_followed() -> None:
    [host] = volume_server_hosts(
        [_pod(_CLAIMED)],
        [_claim()],
        [_volume({"nfs": {"server": "172.20.9.14", "path": "/export/pv-1"}})],
        [_service("172.20.9.14")],
    )
    assert (host.namespace, host.name) == ("nfs", "nfs-server")
    assert host.source == named("volume uploads served from 172.20.9.14")


def test_a_cluster_dns_server_of_the_nfs_csi_driver_or_inline_needs_no_service_list() -> None:
    attributes = {"server": "nfs-server.nfs.svc"}
    csi = {"csi": {"driver": "nfs.csi.k8s.io", "volumeAttributes": attributes}}
    inline = {"nfs": {"server": "nfs-server.nfs.svc.cluster.local", "path": "/"}}
    for pods, volumes in (([_pod(_CLAIMED)], [_volume(csi)]), ([_pod(inline)], [])):
        [host] = volume_server_hosts(pods, [_claim()], volumes, [])
        assert (host.namespace, host.name) == ("nfs", "nfs-server")


def test_an_nfs_server_outside_the_cluster_is_no_service() -> None:
    # Near miss: the filer's address is no Service's ClusterIP.
    volumes = [_volume({"nfs": {"server": "10.40.0.12", "path": "/vol/docs"}})]
    assert not volume_server_hosts([_pod(_CLAIMED)], [_claim()], volumes, [_service("172.20.9.14")])


def _wiki_on_killed_nfs_server(*, wiki_serving: bool) -> Evidence:
    restarts = 0 if wiki_serving else 5
    wiki = make.pod(
        "wiki-7c9d-x2k4p",
        make.container("wiki", ready=wiki_serving, restarts=restarts),
        namespace="docs",
        replica_set="wiki-7c9d",
        pvc_names=["uploads"],
    )
    server = DependencyEvidence(
        service=make.service("nfs-server", "nfs", ready=0, matching=1),
        named_by=naming("volume uploads served from 172.20.9.14"),
        routes=[DependencyRoute(kind="volume-server", claim="uploads", host="172.20.9.14")],
        workload=_NFS,
        desired_replicas=1,
        ready_replicas=0,
        pods=1,
        failing_pods=[
            PodTrouble(
                pod="nfs-server-0",
                container="nfs",
                waiting="CrashLoopBackOff",
                restarts=6,
                last_terminated="OOMKilled",
            )
        ],
    )
    return make.evidence(
        workload=make.deployment("wiki", "docs", replicas=1, ready=0 if not wiki_serving else 1),
        pods=[wiki],
        dependencies=[server],
    )


def test_pods_hanging_on_an_oom_killed_nfs_server_raise_the_servers_memory() -> None:
    # The pods log no failing call: they block on the mount and their probes time out.
    finding = assert_leads(
        analyze(_wiki_on_killed_nfs_server(wiki_serving=False)),
        Category.OOM_KILLED,
        Action.INCREASE_MEMORY,
        _NFS,
    )
    assert finding.analyzer == "callee-oom-killed"


def test_serving_pods_do_not_blame_their_volumes_server() -> None:
    # Near miss: the server is OOMKilled, but the pods mounting it serve.
    run = analyze(_wiki_on_killed_nfs_server(wiki_serving=True))
    assert all(f.analyzer != "callee-oom-killed" for f in run.findings)


def _waiting_claim(**annotations: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "uploads",
            "namespace": "docs",
            "annotations": {
                "volume.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
                **annotations,
            },
        },
        "spec": {},
        "status": {"phase": "Pending"},
    }


def _controller(name: str, sidecar: str | None) -> dict[str, Any]:
    containers = [{"name": "plugin", "image": "registry.example/driver:1.0"}]
    if sidecar:
        containers.append({"name": "csi-provisioner", "image": sidecar})
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {"template": {"spec": {"containers": containers}}},
    }


_SIDECAR = "registry.k8s.io/sig-storage/csi-provisioner:v5.1.0"
_NODE = {"volume.kubernetes.io/selected-node": "worker-1"}


def test_a_claim_waiting_on_its_provisioner_follows_that_drivers_controller() -> None:
    waiting = waiting_provisioners([_pod(_CLAIMED)], [_waiting_claim(**_NODE)], [])
    assert waiting == [("uploads", "ebs.csi.aws.com")]
    controllers = [
        _controller("efs-csi-controller", _SIDECAR),
        _controller("ebs-csi-controller", _SIDECAR),
        _controller("ebs-snapshot-exporter", None),
    ]
    [host] = provisioner_hosts(waiting, controllers)
    assert (host.kind, host.namespace, host.name) == (
        "Deployment",
        "kube-system",
        "ebs-csi-controller",
    )
    assert host.source == named("volume uploads provisioned by ebs.csi.aws.com")


def test_the_controllers_event_names_the_provisioner_a_claim_waits_on() -> None:
    event = {
        "involvedObject": {"kind": "PersistentVolumeClaim", "namespace": "docs", "name": "uploads"},
        "reason": "ExternalProvisioning",
        "message": "Waiting for a volume to be created either by the external provisioner "
        "'ebs.csi.aws.com' or manually by the system administrator.",
    }
    assert waiting_provisioners([_pod(_CLAIMED)], [_waiting_claim()], [event]) == [
        ("uploads", "ebs.csi.aws.com")
    ]


def test_a_claim_waiting_for_its_first_consumer_waits_on_no_provisioner() -> None:
    # Near miss: no node picked yet, no event: the claim waits for the scheduler.
    assert not waiting_provisioners([_pod(_CLAIMED)], [_waiting_claim()], [])


def _pending_broker_behind_killed_provisioner() -> Evidence:
    broker = make.pod(
        "kafka-3", namespace="docs", replica_set=None, phase="Pending", pvc_names=["uploads"]
    )
    controller = ObjectRef(kind="Deployment", namespace="kube-system", name="ebs-csi-controller")
    provisioner = DependencyEvidence(
        ref=controller,
        named_by=naming("volume uploads provisioned by ebs.csi.aws.com"),
        routes=[DependencyRoute(kind="volume-provisioner", claim="uploads")],
        workload=controller,
        desired_replicas=2,
        ready_replicas=0,
        pods=2,
        failing_pods=[
            PodTrouble(
                pod=f"ebs-csi-controller-6d8f-{suffix}",
                container="csi-provisioner",
                waiting="CrashLoopBackOff",
                restarts=14,
                last_terminated="OOMKilled",
            )
            for suffix in ("k7x2m", "w9pqd")
        ],
    )
    return make.evidence(
        pods=[broker],
        pvcs=[PVCEvidence(name="uploads", namespace="docs", phase="Pending", requested="500Gi")],
        dependencies=[provisioner],
        target=ObjectRef(kind="StatefulSet", namespace="docs", name="kafka"),
    )


def test_a_claim_waiting_on_an_oom_killed_provisioner_raises_the_controllers_memory() -> None:
    assert_leads(
        analyze(_pending_broker_behind_killed_provisioner()),
        Category.OOM_KILLED,
        Action.INCREASE_MEMORY,
        ObjectRef(kind="Deployment", namespace="kube-system", name="ebs-csi-controller"),
    )

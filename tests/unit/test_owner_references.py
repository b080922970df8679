"""Ownership as controllers read it (``models.objects.controller_ref`` / ``controlled_by``),
the workload behind a pod without reading its ReplicaSet (``pod_workload``), and the object a
reference names among a list call's answer (``evidence.raw.listed``).

Pure: plain object dicts; nothing real is needed.
"""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.raw import listed
from kubetriage.models.base import ObjectRef
from kubetriage.models.objects import controlled_by, controller_ref, pod_workload


def _obj(*refs: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "web-7c9d-abcde", "ownerReferences": list(refs)}}


RS = {"kind": "ReplicaSet", "name": "web-7c9d", "uid": "u1", "controller": True}
GC_ONLY = {"kind": "ConfigMap", "name": "owner-for-gc", "uid": "u2"}


def test_the_controller_reference_wins_whatever_its_position() -> None:
    assert controller_ref(_obj(GC_ONLY, RS)) == RS
    assert controller_ref(_obj(GC_ONLY, RS), controller_only=True) == RS


def test_without_a_controller_the_first_reference_stands_in_unless_only_controllers_count() -> None:
    assert controller_ref(_obj(GC_ONLY)) == GC_ONLY
    assert controller_ref(_obj(GC_ONLY), controller_only=True) is None


def test_no_references_or_malformed_ones_mean_no_owner() -> None:
    assert controller_ref({"metadata": {}}) is None
    assert controller_ref({"metadata": {"ownerReferences": ["x", 3]}}) is None
    assert controller_ref({}, controller_only=True) is None


def test_a_same_named_successor_does_not_control_by_uid() -> None:
    owner = {"kind": "ReplicaSet", "metadata": {"name": "web-7c9d", "uid": "u1"}}
    successor = {"kind": "ReplicaSet", "metadata": {"name": "web-7c9d", "uid": "u9"}}
    assert controlled_by(_obj(RS), owner)
    assert not controlled_by(_obj(RS), successor)
    assert not controlled_by(_obj(GC_ONLY), owner)


def test_the_object_a_reference_names_is_found_among_a_list_calls_answer() -> None:
    shop = {"kind": "Deployment", "metadata": {"name": "cart", "namespace": "shop"}}
    other = {"kind": "Deployment", "metadata": {"name": "cart", "namespace": "stage"}}
    node = {"kind": "Node", "metadata": {"name": "w1"}}
    objects = [other, shop, node]
    assert listed(objects, ObjectRef(kind="Deployment", namespace="shop", name="cart")) is shop
    assert listed(objects, ObjectRef(kind="Node", name="w1")) is node
    assert listed(objects, ObjectRef(kind="StatefulSet", namespace="shop", name="cart")) is None


def _pod(ref: dict[str, Any], template_hash: str | None = None) -> dict[str, Any]:
    pod = _obj(ref)
    if template_hash is not None:
        pod["metadata"]["labels"] = {"pod-template-hash": template_hash}
    return pod


def test_a_pods_deployment_is_its_replicasets_name_without_the_template_hash() -> None:
    assert pod_workload(_pod(RS, "7c9d")) == ("Deployment", "web")
    # A ReplicaSet created by hand, not named after a template hash, names no Deployment.
    assert pod_workload(_pod(RS, "abcd")) is None
    assert pod_workload(_pod(RS)) is None
    # The hash must be a whole dash-separated suffix, not a tail of the name.
    assert pod_workload(_pod({**RS, "name": "web7c9d"}, "7c9d")) is None


def test_daemonset_and_statefulset_pods_name_their_controller_directly() -> None:
    for kind in ("DaemonSet", "StatefulSet"):
        ref = {"kind": kind, "name": "agent", "uid": "u3", "controller": True}
        assert pod_workload(_pod(ref)) == (kind, "agent")
    assert pod_workload(_pod({"kind": "Job", "name": "once", "controller": True})) is None
    assert pod_workload({"metadata": {}}) is None

"""Checks the under-requested rule: pods of one workload evicted again and again for their
node's memory, each named by the kubelet as the largest user at many times its memory request,
call for an honest request on the workload, above draining the node; one eviction, pods using
about their request, or small BestEffort pods leave the node-failure finding in charge.

Everything is real: Evidence models from ``tests.support.evidence``, the kubelet's eviction
words as it writes them, and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.analyzers.support import suggest_memory
from kubetriage.analyzers.under_requested import CONFIDENCE
from kubetriage.evictions import top_user, top_user_resource
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import NodeEvidence, PodCondition, PodEvidence
from kubetriage.models.quantity import MI
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

_NODE = "worker-1"
_REPORTS = ObjectRef(kind="Deployment", namespace="shop", name="reports")


def _words(used: str, request: str, container: str = "api") -> str:
    return (
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 86212Ki. "
        f"Container {container} was using {used}, request is {request}, has larger consumption "
        "of memory. "
    )


def _evicted(suffix: str, used: str, request: str | None) -> PodEvidence:
    requests = {"memory": request} if request else {}
    return make.app_pod(
        f"reports-6d8b7c5f9a-{suffix}",
        make.container("api", ready=False, state=make.terminated("Error", 137), requests=requests),
        phase="Failed",
        reason="Evicted",
        message=_words(used, request or "0"),
        node=_NODE,
    )


def _pressured(*pods: PodEvidence) -> Evidence:
    node = NodeEvidence(
        name=_NODE,
        ready="True",
        conditions=[
            PodCondition(type="MemoryPressure", status="True"),
            PodCondition(type="Ready", status="True"),
        ],
    )
    running = make.app_pod("reports-6d8b7c5f9a-run01", make.container("api"), node=_NODE)
    return make.evidence(
        workload=make.deployment("reports", replicas=3, ready=1),
        nodes=[node],
        pods=[*pods, running],
        events=[make.event("Evicted", p.message or "", name=p.name) for p in pods],
    )


def _under_requested(ev: Evidence) -> list[str]:
    return [f.analyzer for f in analyze(ev).findings if f.analyzer == "under-requested"]


def test_eviction_words_name_the_container_its_use_and_request() -> None:
    found = top_user(_words("3012548Ki", "64Mi"))
    assert found is not None
    assert (found.resource, found.container) == ("memory", "api")
    assert found.used == 3012548 * 1024
    assert found.request == 64 * MI
    disk = top_user(
        "The node was low on resource: ephemeral-storage. Threshold quantity: 10%, available: "
        "8%. Container worker was using 11943216Ki, request is 0, has larger consumption of "
        "ephemeral-storage."
    )
    assert disk is not None
    assert (disk.resource, disk.request) == ("disk", 0.0)
    assert top_user_resource(_words("1Gi", "1Gi")) == "memory"
    # Without the container the kubelet ranked first, the words say nothing of a top user.
    assert top_user("The node was low on resource: memory. Threshold quantity: 100Mi. ") is None


def test_pods_evicted_at_many_times_their_request_raise_the_request() -> None:
    ev = _pressured(_evicted("ev001", "3012548Ki", "64Mi"), _evicted("ev002", "4406112Ki", "64Mi"))
    first = assert_leads(analyze(ev), Category.NODE_FAILURE, Action.INCREASE_MEMORY, _REPORTS)
    assert first.analyzer == "under-requested"
    assert first.confidence == CONFIDENCE.evicted_over_request
    assert first.params["container"] == "api"
    # Sized from the largest use the kubelet reported, not from the tiny request.
    assert first.params["memory"] == suggest_memory(64 * MI, 4406112 * 1024)


def test_pods_without_any_request_count_as_requesting_nothing() -> None:
    ev = _pressured(_evicted("ev001", "2900Mi", None), _evicted("ev002", "2700Mi", None))
    assert_leads(analyze(ev), Category.NODE_FAILURE, Action.INCREASE_MEMORY, _REPORTS)


def test_one_eviction_leaves_the_node_in_charge() -> None:
    ev = _pressured(_evicted("ev001", "3012548Ki", "64Mi"))
    assert not _under_requested(ev)
    assert_leads(
        analyze(ev), Category.NODE_FAILURE, Action.DRAIN_NODE, ObjectRef(kind="Node", name=_NODE)
    )


def test_pods_using_about_their_request_are_only_ranked_first() -> None:
    ev = _pressured(_evicted("ev001", "1187Mi", "1Gi"), _evicted("ev002", "1204Mi", "1Gi"))
    assert not _under_requested(ev)
    assert_leads(
        analyze(ev), Category.NODE_FAILURE, Action.DRAIN_NODE, ObjectRef(kind="Node", name=_NODE)
    )


def test_small_besteffort_pods_do_not_overcommit_a_node() -> None:
    # Many times a zero request, but a few hundred MiB: not what ran the node out of memory.
    ev = _pressured(_evicted("ev001", "212604Ki", None), _evicted("ev002", "298112Ki", None))
    assert not _under_requested(ev)


def test_a_disk_eviction_is_not_a_memory_request() -> None:
    disk = (
        "The node was low on resource: ephemeral-storage. Threshold quantity: 10%, available: 8%. "
        "Container api was using 9123456Ki, request is 0, has larger consumption of "
        "ephemeral-storage. "
    )
    pods = [
        _evicted(s, "1Gi", None).model_copy(update={"message": disk}) for s in ("ev001", "ev002")
    ]
    assert not _under_requested(_pressured(*pods))


def test_the_request_falls_back_to_the_kubelets_words() -> None:
    # A pod captured without its containers: the kubelet's own report of the request decides.
    pods = [
        _evicted(s, "3Gi", "64Mi").model_copy(update={"containers": []}) for s in ("ev001", "ev002")
    ]
    assert _under_requested(_pressured(*pods)) == ["under-requested"]
    # The same words with a request close to the use: no finding.
    close = [p.model_copy(update={"message": _words("3Gi", "2Gi")}) for p in pods]
    assert not _under_requested(_pressured(*close))

"""Failures that follow the nodes' platform (architecture, OS, Windows build, CPU features),
and a revision that dropped its platform nodeSelector; with the near misses that must not
fire: a split that follows one node's fault or the revision, failures on both platforms."""

from __future__ import annotations

from kubetriage.analyzers.images import CONFIDENCE as IMAGE_CONFIDENCE
from kubetriage.analyzers.images import check_image_pull
from kubetriage.analyzers.platform_split import (
    CONFIDENCE,
    check_dropped_pin,
    check_platform_split,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ContainerEvidence, NodeEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    analyze,
    app_pod,
    assert_leads,
    container,
    crash_looping,
    deployment,
    evidence,
    revision,
    terminated,
    waiting,
)

ARCH = "kubernetes.io/arch"
OS = "kubernetes.io/os"
AVX512 = "feature.node.kubernetes.io/cpu-cpuid.AVX512F"
WORKLOAD = ObjectRef(kind="Deployment", namespace="shop", name="search")


def _node(name: str, **labels: str) -> NodeEvidence:
    return NodeEvidence(name=name, ready="True", labels=labels)


def _arch_nodes() -> list[NodeEvidence]:
    return [
        _node("amd-1", **{ARCH: "amd64", OS: "linux"}),
        _node("amd-2", **{ARCH: "amd64", OS: "linux"}),
        _node("arm-1", **{ARCH: "arm64", OS: "linux"}),
        _node("arm-2", **{ARCH: "arm64", OS: "linux"}),
    ]


def _pods(
    placement: dict[str, str], broken: ContainerEvidence, rs: dict[str, str] | None = None
) -> list[PodEvidence]:
    """One pod per entry: its name ends in -bad when it fails, it runs otherwise; ``rs``
    gives a pod another ReplicaSet (default: all of search-6d5f8c7b9)."""
    pods = []
    for name, node in placement.items():
        owner = (rs or {}).get(name, "search-6d5f8c7b9")
        one = broken if name.endswith("bad") else container("app")
        pods.append(app_pod(f"{owner}-{name}", one, node=node))
    return pods


def _split_evidence(
    placement: dict[str, str], broken: ContainerEvidence, **fields: object
) -> Evidence:
    fields.setdefault("nodes", _arch_nodes())
    return evidence(
        workload=deployment("search", replicas=len(placement), ready=1),
        pods=_pods(placement, broken, fields.pop("rs", None)),  # type: ignore[arg-type]
        **fields,
    )


def test_crash_only_on_arm64_nodes_is_the_image() -> None:
    ev = _split_evidence(
        {"aok": "amd-1", "bok": "amd-2", "cbad": "arm-1", "dbad": "arm-2"},
        crash_looping("app", exit_code=1),
    )
    found = check_platform_split(ev)
    assert [(f.category, f.action, f.target) for f in found] == [
        (Category.CRASH_LOOP, Action.FIX_IMAGE, WORKLOAD)
    ]
    assert found[0].confidence == CONFIDENCE.split
    assert "arch=arm64" in found[0].summary
    assert_leads(analyze(ev), Category.CRASH_LOOP, Action.FIX_IMAGE, WORKLOAD)


def test_container_the_runtime_cannot_start_there_is_an_image_that_does_not_fit() -> None:
    nodes = [
        _node("win-2019", **{OS: "windows", "node.kubernetes.io/windows-build": "10.0.17763"}),
        _node("win-2022", **{OS: "windows", "node.kubernetes.io/windows-build": "10.0.20348"}),
    ]
    start_error = container(
        "app",
        ready=False,
        restarts=4,
        state=waiting("CrashLoopBackOff"),
        last_state=terminated("StartError", 128, "hcs::CreateComputeSystem: OS mismatch"),
    )
    ev = _split_evidence({"aok": "win-2019", "bbad": "win-2022"}, start_error, nodes=nodes)
    found = check_platform_split(ev)
    assert [(f.category, f.action) for f in found] == [(Category.IMAGE_PULL, Action.FIX_IMAGE)]
    assert "windows-build=10.0.20348" in found[0].summary


def test_missing_cpu_feature_counts_as_a_platform() -> None:
    nodes = [
        _node("intel-1", **{ARCH: "amd64", AVX512: "true"}),
        _node("epyc-1", **{ARCH: "amd64"}),
    ]
    ev = _split_evidence(
        {"aok": "intel-1", "bbad": "epyc-1"}, crash_looping("app", exit_code=132), nodes=nodes
    )
    found = check_platform_split(ev)
    assert len(found) == 1
    assert "cpu-cpuid.AVX512F=absent" in found[0].summary


def test_failures_on_both_platforms_are_not_the_platform() -> None:
    # The look-alike: one failing replica on the new arm64 node, one on an amd64 node.
    ev = _split_evidence(
        {"aok": "amd-1", "bbad": "arm-1", "cbad": "amd-2"}, crash_looping("app", exit_code=1)
    )
    assert check_platform_split(ev) == []


def test_split_that_follows_the_revision_is_not_the_platform() -> None:
    ev = _split_evidence(
        {"aok": "amd-1", "bbad": "arm-1"},
        crash_looping("app", exit_code=1),
        rs={"bbad": "search-7f8e9d0c1"},
    )
    assert check_platform_split(ev) == []


def test_same_platform_everywhere_is_not_a_split() -> None:
    ev = _split_evidence({"aok": "amd-1", "bbad": "amd-2"}, crash_looping("app", exit_code=1))
    assert check_platform_split(ev) == []


def test_killed_containers_and_running_pods_on_the_other_platform_do_not_split() -> None:
    # OOM kills (137) are not the image failing to run; and a replica of each platform runs.
    oom = _split_evidence(
        {"aok": "amd-1", "bbad": "arm-1"}, crash_looping("app", exit_code=137, reason="OOMKilled")
    )
    assert check_platform_split(oom) == []
    mixed = _split_evidence(
        {"aok": "amd-1", "bok": "arm-2", "cbad": "arm-1"}, crash_looping("app", exit_code=1)
    )
    assert check_platform_split(mixed) == []


PULL = 'failed to pull and unpack image "acr.io/portal:4.12": no match for platform in manifest'


def _pin_evidence(*, new_selector: dict[str, str]) -> Evidence:
    nodes = [_node("linux-1", **{OS: "linux"}), _node("win-1", **{OS: "windows"})]
    pulling = container(
        "app", "acr.io/portal:4.12", ready=False, state=waiting("ImagePullBackOff", PULL)
    )
    new = app_pod("portal-7d5c9b8f6d-x1", pulling, node="linux-1", node_selector=new_selector)
    old = app_pod(
        "portal-5f8b6c4d9a-y2",
        container("app", "acr.io/portal:4.11"),
        node="win-1",
        node_selector={OS: "windows"},
    )
    return evidence(
        workload=deployment("portal", replicas=2, ready=1, revision=23),
        pods=[new, old],
        nodes=nodes,
        revisions=[
            revision("portal-7d5c9b8f6d", 23, {"app": "acr.io/portal:4.12"}, current=True),
            revision("portal-5f8b6c4d9a", 22, {"app": "acr.io/portal:4.11"}, ready=1),
        ],
    )


def test_revision_that_dropped_the_os_nodeselector_is_rolled_back() -> None:
    ev = _pin_evidence(new_selector={})
    portal = ObjectRef(kind="Deployment", namespace="shop", name="portal")
    found = check_dropped_pin(ev)
    assert [(f.category, f.action, f.target, f.params) for f in found] == [
        (Category.BAD_ROLLOUT, Action.ROLLBACK, portal, {"revision": "22"})
    ]
    pulls = [f for f in check_image_pull(ev) if f.action is Action.FIX_IMAGE]
    assert pulls
    assert pulls[0].confidence == CONFIDENCE.pin_yield
    assert_leads(analyze(ev), Category.BAD_ROLLOUT, Action.ROLLBACK, portal)


def test_revision_that_kept_the_nodeselector_is_no_dropped_pin() -> None:
    # The new pod still asks for windows (it waits on its pull on a node of that OS for
    # another reason): nothing dropped, the pull finding keeps its own confidence.
    ev = _pin_evidence(new_selector={OS: "windows"})
    assert check_dropped_pin(ev) == []
    pulls = [f for f in check_image_pull(ev) if f.action is Action.FIX_IMAGE]
    assert pulls
    assert pulls[0].confidence >= IMAGE_CONFIDENCE.waiting

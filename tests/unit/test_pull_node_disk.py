"""Checks that a pull which fails because the node's own disk is full is read as the node's
failure, not the image's: the runtime fetched the layers but could not unpack them ("no space
left on device"), so the image reference and the registry are fine and the fix is the node
(drain it, free its disk). Contrasts keep the old answers: a pull the registry refuses (no
such tag) stays an image problem even on a node under disk pressure, and a node whose pulls
do not fail for space earns no finding from this signal.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``;
the kubelet and containerd messages follow their real wording.
"""

from __future__ import annotations

from kubetriage.analyzers.images import pulls_out_of_disk
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import NodeEvidence, PodCondition
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD, analyze, assert_leads, by_category

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
IMAGE = "ghcr.io/example/app:1.0"
NO_SPACE = (
    f'Failed to pull image "{IMAGE}": failed to pull and unpack image "{IMAGE}": failed to '
    "extract layer sha256:5b0e9d5a: write /var/lib/containerd/io.containerd.snapshotter.v1."
    "overlayfs/snapshots/2231/fs/usr/lib/libapp.so: no space left on device: unknown"
)
NOT_FOUND = (
    f'Failed to pull image "{IMAGE}": rpc error: code = NotFound desc = failed to pull and '
    f'unpack image "{IMAGE}": failed to resolve reference "{IMAGE}": {IMAGE}: not found'
)


def _node(name: str, *, disk_pressure: bool) -> NodeEvidence:
    return NodeEvidence(
        name=name,
        ready="True",
        conditions=[
            PodCondition(type="Ready", status="True"),
            PodCondition(
                type="DiskPressure",
                status="True" if disk_pressure else "False",
                reason="KubeletHasDiskPressure" if disk_pressure else "KubeletHasNoDiskPressure",
            ),
        ],
    )


def _pulling(message: str, *, disk_pressure: bool) -> Evidence:
    """One checkout pod on worker-1 in ImagePullBackOff, its last failed pull saying
    ``message``; worker-1 under disk pressure or not."""
    stuck = make.container(
        "app",
        IMAGE,
        ready=False,
        state=make.waiting("ImagePullBackOff", f'Back-off pulling image "{IMAGE}"'),
    )
    return make.checkout_evidence(
        stuck,
        nodes=[_node("worker-1", disk_pressure=disk_pressure)],
        events=[
            make.event("Failed", message, name=CHECKOUT_POD, count=7),
            make.event(
                "BackOff",
                f'Back-off pulling image "{IMAGE}"',
                name=CHECKOUT_POD,
                type_="Normal",
                count=60,
            ),
        ],
    )


def test_pull_out_of_disk_on_a_pressured_node_is_the_nodes_failure() -> None:
    result = analyze(_pulling(NO_SPACE, disk_pressure=True))
    node = ObjectRef(kind="Node", name="worker-1")
    leader = assert_leads(result, Category.NODE_FAILURE, Action.DRAIN_NODE, node)
    pulls = by_category(result, Category.IMAGE_PULL)
    assert pulls
    assert pulls[0].confidence < leader.confidence
    assert "free disk space on the node" in pulls[0].summary


def test_pull_out_of_disk_names_the_node_even_before_it_reports_pressure() -> None:
    # The kubelet's eviction thresholds lag the runtime's failed write: the ENOSPC alone
    # says the node cannot store images.
    ev = _pulling(NO_SPACE, disk_pressure=False)
    assert set(pulls_out_of_disk(ev)) == {"worker-1"}
    result = analyze(ev)
    assert_leads(
        result, Category.NODE_FAILURE, Action.DRAIN_NODE, ObjectRef(kind="Node", name="worker-1")
    )


def test_registry_refusal_on_a_pressured_node_stays_an_image_problem() -> None:
    ev = _pulling(NOT_FOUND, disk_pressure=True)
    assert pulls_out_of_disk(ev) == {}
    assert_leads(analyze(ev), Category.IMAGE_PULL, Action.FIX_IMAGE, CHECKOUT)


def test_out_of_disk_words_outside_a_pull_are_not_a_pull_failure() -> None:
    # A container that logs ENOSPC while writing its own files is not failing to pull.
    crashed = make.crash_looping("app", IMAGE)
    ev = make.checkout_evidence(
        crashed,
        nodes=[_node("worker-1", disk_pressure=False)],
        events=[
            make.event("Failed", "write /data/out.bin: no space left on device", name=CHECKOUT_POD)
        ],
    )
    assert pulls_out_of_disk(ev) == {}

"""The callee image-pull rule (``analyzers.images.check_callee_image_pull``): a dependency the
workload calls is down because its own pods cannot pull their image, so the fix is that
workload's image. Synthetic evidence from ``tests/support/evidence``; the rule is real."""

from __future__ import annotations

from kubetriage.analyzers.images import check_callee_image_pull
from kubetriage.models.base import ObjectRef
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make

DB = ObjectRef(kind="StatefulSet", namespace="shop", name="db")
PULL_WARNING = (
    'Pod/db-0 Failed: Failed to pull image "docker.io/library/mysql:8.0.99": rpc error: '
    "code = NotFound desc = failed to pull and unpack image"
)


def _callee(*, ready: int, waiting: str = "ImagePullBackOff") -> DependencyEvidence:
    return DependencyEvidence(
        service=make.service("db", "shop", ready=ready),
        named_by=["pod web-1 env DB_HOST"],
        workload=DB,
        desired_replicas=1,
        ready_replicas=ready,
        pods=1,
        failing_pods=[PodTrouble(pod="db-0", phase="Pending", container="mysql", waiting=waiting)],
        warnings=[PULL_WARNING],
    )


def test_a_callee_down_on_its_image_is_fixed_at_its_image() -> None:
    (finding,) = check_callee_image_pull(make.evidence(dependencies=[_callee(ready=0)]))
    assert (finding.category, finding.action, finding.target) == (
        Category.IMAGE_PULL,
        Action.FIX_IMAGE,
        DB,
    )
    assert finding.params.get("image") == "docker.io/library/mysql:8.0.99"
    assert "correct the image tag" in finding.summary


def test_a_callee_still_serving_is_not_blamed_on_one_pod_s_pull() -> None:
    assert check_callee_image_pull(make.evidence(dependencies=[_callee(ready=1)])) == []


def test_a_callee_crashing_is_not_an_image_pull() -> None:
    callee = _callee(ready=0, waiting="CrashLoopBackOff")
    assert check_callee_image_pull(make.evidence(dependencies=[callee])) == []

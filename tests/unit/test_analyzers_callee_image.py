"""The callee image-pull rule (``analyzers.images.check_callee_image_pull``): a dependency the
workload calls is down because its own pods cannot pull their image, so the fix is that
workload's image. Synthetic evidence from ``tests/support/evidence``; the rule is real."""

from __future__ import annotations

from kubetriage.analyzers.images import check_callee_image_pull
from kubetriage.models.base import ObjectRef
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import naming

DB = ObjectRef(kind="StatefulSet", namespace="shop", name="db")
PULL_WARNING = (
    'Pod/db-0 Failed: Failed to pull image "docker.io/library/mysql:8.0.99": rpc error: '
    "code = NotFound desc = failed to pull and unpack image"
)


def _callee(
    *, ready: int, waiting: str = "ImagePullBackOff", desired: int = 1, pulling: int = 1
) -> DependencyEvidence:
    return DependencyEvidence(
        service=make.service("db", "shop", ready=ready),
        named_by=naming("pod web-1 env DB_HOST"),
        workload=DB,
        desired_replicas=desired,
        ready_replicas=ready,
        pods=desired,
        failing_pods=[
            PodTrouble(pod=f"db-{i}", phase="Pending", container="mysql", waiting=waiting)
            for i in range(pulling)
        ],
        warnings=[PULL_WARNING],
    )


CALLS_TIME_OUT = make.log("web-1", "app", "db call timed out after 300 ms, serving cached rows")


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


def test_a_callee_left_with_a_minority_of_replicas_by_failed_pulls_is_fixed_at_its_image() -> None:
    callee = _callee(ready=1, desired=4, pulling=3)
    (finding,) = check_callee_image_pull(
        make.evidence(dependencies=[callee], logs=[CALLS_TIME_OUT])
    )
    assert (finding.action, finding.target) == (Action.FIX_IMAGE, DB)
    assert finding.narrative is not None
    assert "1 of 4 replicas ready" in finding.narrative.because[0].text
    (down,) = check_callee_image_pull(make.evidence(dependencies=[_callee(ready=0)]))
    assert finding.confidence < down.confidence


def test_a_short_callee_is_not_blamed_while_the_caller_s_calls_succeed() -> None:
    callee = _callee(ready=1, desired=4, pulling=3)
    assert check_callee_image_pull(make.evidence(dependencies=[callee])) == []


def test_a_callee_keeping_most_replicas_is_not_blamed_on_a_failed_pull() -> None:
    callee = _callee(ready=3, desired=4, pulling=1)
    evidence = make.evidence(dependencies=[callee], logs=[CALLS_TIME_OUT])
    assert check_callee_image_pull(evidence) == []

"""Checks ``rollback_subject``: the release a rollback of the incident's workload would undo
is the workload (of a kind a rollback applies to) with its current revision and the newest
revision before it; no release without a previous revision or for a kind that cannot be
rolled back (a CronJob's Job).

Everything is real: Evidence models from ``tests.support.evidence``; no I/O.
"""

from __future__ import annotations

from kubetriage.analyzers.revisions import Release, rollback_subject
from kubetriage.models.base import ObjectRef
from tests.support import evidence as make

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
V1 = make.revision("checkout-5d9c7b8f6", 1, {"app": "shop/checkout:1.0"})
V2 = make.revision("checkout-7f8b9c6d5", 2, {"app": "shop/checkout:1.1"})
V3 = make.revision("checkout-6b7c8d9f4", 3, {"app": "shop/checkout:1.2"}, current=True)


def test_the_release_is_the_current_revision_and_the_newest_before_it() -> None:
    evidence = make.evidence(workload=make.deployment(revision=3), revisions=[V1, V3, V2])
    assert rollback_subject(evidence) == Release(CHECKOUT, V3, V2)


def test_the_current_revision_is_the_one_marked_current_not_the_highest() -> None:
    v4 = make.revision("checkout-8c9d6f7b5", 4, {"app": "shop/checkout:1.3"})
    evidence = make.evidence(workload=make.deployment(revision=3), revisions=[V1, V2, V3, v4])
    assert rollback_subject(evidence) == Release(CHECKOUT, V3, V2)


def test_no_release_without_a_previous_revision() -> None:
    only = make.revision("checkout-5d9c7b8f6", 1, {"app": "shop/checkout:1.0"}, current=True)
    evidence = make.evidence(workload=make.deployment(revision=1), revisions=[only])
    assert rollback_subject(evidence) is None


def test_no_release_for_a_workload_a_rollback_does_not_apply_to() -> None:
    cron = ObjectRef(kind="CronJob", namespace="shop", name="report")
    workload = make.deployment(revision=3).model_copy(update={"controller": cron})
    evidence = make.evidence(workload=workload, revisions=[V2, V3])
    assert rollback_subject(evidence) is None


def test_no_release_without_a_workload() -> None:
    assert rollback_subject(make.evidence(revisions=[V2, V3])) is None

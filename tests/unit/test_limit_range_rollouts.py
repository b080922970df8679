"""Checks that a rollout whose new pods a LimitRange refuses at admission is not blamed when it
left the pods' requests and limits alone: the previous template carries the same resources, so
the range (created after the running pods) would refuse a rollback's pods too, and the finding
that leads is the LimitRange's (free-capacity: bring the resources within the range, or relax
it). The near miss: a rollout that changed the resources is what the range refuses and stays
the suspect (roll it back). The ResourceQuota counterpart is checked in
``test_analyzers_changes``.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry; the
refusal is the LimitRanger admission plugin's own wording.
"""

from __future__ import annotations

import pytest

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, top

WORKLOAD = ObjectRef(kind="Deployment", namespace="shop", name="checkout")

# The LimitRanger's refusals: a limit/request ratio over the range's bound, a limit over its max.
RATIO = (
    'pods "checkout-new-" is forbidden: memory max limit to request ratio per Container is 2, '
    "but provided ratio is 4.000000"
)
MAXIMUM = 'pods "checkout-new-" is forbidden: maximum cpu usage per Container is 1, but limit is 2'


def _refused_rollout(message: str, *aspects: str) -> Evidence:
    """Revision 5 rolled out 30 minutes ago (``aspects``); its ReplicaSet cannot create a single
    pod, the LimitRange refuses each; the previous revision's pods still serve."""
    return make.evidence(
        workload=make.deployment(revision=5, replicas=4, ready=3),
        pods=[
            make.pod(
                f"checkout-old-{s}", make.container("app", "app:1.0"), replica_set="checkout-old"
            )
            for s in "abc"
        ],
        revisions=make.rollout_revisions(
            5,
            {"app": "app:1.1"},
            {"app": "app:1.0"},
            minutes_ago=30,
            names=("checkout-new", "checkout-old"),
        ),
        events=[
            make.event(
                "FailedCreate", f"Error creating: {message}", kind="ReplicaSet", name="checkout-new"
            )
        ],
        changes=[
            ChangeEvidence(
                at=ago(30),
                kind="rollout",
                object=WORKLOAD,
                aspects=list(aspects),
                details=["revision 4 -> 5", "app image app:1.0 -> app:1.1"],
                from_revision=4,
                to_revision=5,
            )
        ],
    )


def _correlated(ev: Evidence) -> bool:
    return any(f.analyzer == "change-correlation" for f in analyze(ev).findings)


@pytest.mark.parametrize("message", [RATIO, MAXIMUM])
def test_an_image_only_rollout_refused_by_a_limit_range_is_not_blamed(message: str) -> None:
    ev = _refused_rollout(message, "image")
    assert not _correlated(ev)
    lead = top(ev)
    assert lead.category is Category.UNSCHEDULABLE
    assert lead.action is Action.FREE_CAPACITY
    assert lead.target == WORKLOAD


def test_a_priority_change_does_not_make_a_limit_range_refusal_the_rollouts() -> None:
    # A LimitRange bounds requests and limits only; the priority class a quota may select on
    # is no part of what it judges.
    assert not _correlated(_refused_rollout(RATIO, "image", "priority"))


def test_a_rollout_that_changed_the_resources_stays_the_suspect() -> None:
    # Near miss: the release raised the limits past the range: rolling back restores pods the
    # range admits.
    ev = _refused_rollout(RATIO, "image", "resources")
    assert _correlated(ev)
    lead = top(ev)
    assert lead.category is Category.BAD_ROLLOUT
    assert lead.action is Action.ROLLBACK


def test_a_refusal_that_is_not_a_limit_range_does_not_clear_the_rollout() -> None:
    # Near miss: a FailedCreate for another reason (the controller could not reach the API)
    # says nothing about what the previous template would meet.
    ev = _refused_rollout(
        'pods "checkout-new-" is forbidden: error looking up service account shop/checkout', "image"
    )
    assert _correlated(ev)

"""Checks the one rollout-recency window the analyzers share (``analyzers/recency.py``): the
current revision's age, whether it replaced an older one within the window, and which
rollouts of the change timeline fall inside it, the workload's own apart from its neighbours'.

Real: the evidence models and the helpers, on synthetic evidence; nothing is faked.
"""

from __future__ import annotations

from kubetriage.analyzers.recency import (
    RECENT_ROLLOUT,
    is_recent,
    own_rollouts_within,
    revision_age,
    rolled_out_recently,
    rollouts_within,
)
from kubetriage.analyzers.support import timestamp
from kubetriage.models.base import ObjectRef
from tests.support.evidence import (
    NOW,
    deployment,
    evidence,
    revision,
    rollout_change,
    rollout_revisions,
)

WINDOW_MINUTES = RECENT_ROLLOUT.total_seconds() / 60
CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
CART = ObjectRef(kind="Deployment", namespace="shop", name="cart")


def test_the_age_of_a_revision_is_counted_from_the_collection() -> None:
    current, _ = rollout_revisions(2, {"app": "v2"}, {"app": "v1"}, minutes_ago=90)
    assert revision_age(evidence(), current) == 90 * 60
    assert revision_age(evidence(), None) is None
    undated = current.model_copy(update={"created_at": None})
    assert revision_age(evidence(), undated) is None


def test_recent_means_within_the_window_and_unknown_is_not_recent() -> None:
    window = RECENT_ROLLOUT.total_seconds()
    assert is_recent(0.0)
    assert is_recent(window)
    assert not is_recent(window + 1)
    assert not is_recent(None)


def test_a_revision_that_replaced_an_older_one_inside_the_window_is_a_recent_rollout() -> None:
    revisions = rollout_revisions(4, {"app": "v4"}, {"app": "v3"}, minutes_ago=30)
    assert rolled_out_recently(evidence(revisions=revisions))


def test_an_old_revision_or_a_first_revision_is_no_recent_rollout() -> None:
    old = rollout_revisions(4, {"app": "v4"}, {"app": "v3"}, minutes_ago=WINDOW_MINUTES + 10)
    assert not rolled_out_recently(evidence(revisions=old))
    first = [revision("checkout-7d9f6c8b5", 1, {"app": "v1"}, current=True, created_minutes_ago=5)]
    assert not rolled_out_recently(evidence(revisions=first))
    assert not rolled_out_recently(evidence())


def test_only_dated_rollouts_inside_the_window_are_kept() -> None:
    inside = rollout_change(CHECKOUT, 3, "image", minutes_ago=20)
    outside = rollout_change(CHECKOUT, 2, "env", minutes_ago=WINDOW_MINUTES + 5)
    undated = inside.model_copy(update={"at": None})
    config = inside.model_copy(update={"kind": "config"})
    kept = rollouts_within([inside, outside, undated, config], timestamp(NOW))
    assert kept == [inside]


def test_the_workloads_own_rollouts_are_told_from_a_neighbours() -> None:
    mine = rollout_change(CHECKOUT, 3, "image", minutes_ago=20)
    theirs = rollout_change(CART, 7, "image", minutes_ago=10)
    ev = evidence(workload=deployment(), changes=[theirs, mine])
    assert own_rollouts_within(ev) == [mine]
    assert own_rollouts_within(evidence(workload=deployment(), changes=[theirs])) == []
    assert own_rollouts_within(evidence(changes=[mine])) == []

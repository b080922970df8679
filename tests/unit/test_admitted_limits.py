"""Checks that a memory limit filled in at admission is recognised among the pods of one
revision: after a scale-out, the pods admitted since a LimitRange default or a mutating
policy appeared carry a limit the template does not set and are OOM-killed there, while the
pods of the same revision admitted before it run without one. The limit is what to raise
(on the workload, where the template then sets it); nothing the revision changed is blamed.
The near miss: every pod of the revision runs under that limit, so nothing says admission
gave it.

Real: Evidence models from ``tests.support.evidence``, ``pods.admitted_memory_limit`` and
the whole analyzer registry; the pods, revisions and limits are synthetic.
"""

from __future__ import annotations

from kubetriage.analyzers.pods import admitted_memory_limit
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import top


def _scaled_out(earlier_limits: dict[str, str]) -> Evidence:
    """Revision 5 (app:1.1, no memory limit in its template) has run for days; the pod added
    by a scale-out is OOM-killed at 512Mi while a pod of the same revision admitted earlier
    runs with ``earlier_limits``."""
    added = make.pod(
        "checkout-new-b",
        make.container(
            "app",
            "app:1.1",
            ready=False,
            restarts=5,
            last_state=make.terminated("OOMKilled", 137),
            limits={"memory": "512Mi"},
        ),
        replica_set="checkout-new",
    )
    earlier = make.pod(
        "checkout-new-a",
        make.container("app", "app:1.1", limits=earlier_limits),
        replica_set="checkout-new",
    )
    return make.evidence(
        workload=make.deployment(
            revision=5, replicas=2, ready=1, containers=[make.container("app", "app:1.1")]
        ),
        pods=[earlier, added],
        revisions=make.rollout_revisions(
            5,
            {"app": "app:1.1"},
            {"app": "app:1.0"},
            minutes_ago=60 * 24 * 3,
            names=("checkout-new", "checkout-old"),
        ),
    )


def test_a_limit_only_the_pods_added_later_carry_was_filled_in_at_admission() -> None:
    ev = _scaled_out({})
    fact = admitted_memory_limit(ev)
    assert fact is not None
    assert "same revision" in fact.fact
    finding = top(ev)
    assert (finding.category, finding.action) == (Category.OOM_KILLED, Action.INCREASE_MEMORY)
    assert any("admitted" in e.fact for e in finding.evidence)
    # A pod of the same revision admitted with a higher limit says the same.
    assert admitted_memory_limit(_scaled_out({"memory": "2Gi"})) is not None


def test_a_limit_every_pod_of_the_revision_shares_says_nothing_about_admission() -> None:
    assert admitted_memory_limit(_scaled_out({"memory": "512Mi"})) is None
    assert admitted_memory_limit(_scaled_out({"memory": "256Mi"})) is None

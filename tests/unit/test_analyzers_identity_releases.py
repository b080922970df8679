"""Checks the identity-a-release-brought rule: the cloud refuses the workload identity of a
workload's pods, the refusals begin right after the workload's own rollout and only pods of
the new revision refuse: roll the release back, above the plain refusal's configuration fix.
Near misses (the refusal stays a configuration fix): the rollout long before the refusals
began, a refusing pod of the previous revision, and a tail that dates no refusal.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
NEW = "checkout-7d9f6c8b5"
OLD = "checkout-5c4b3a291"
_REFUSED = (
    "botocore.errorfactory.InvalidIdentityTokenException: An error occurred "
    "(InvalidIdentityToken) when calling the AssumeRoleWithWebIdentity operation: "
    "Incorrect token audience"
)


def _evidence(
    *,
    rollout_minutes_ago: float = 30,
    logged_minutes_ago: float = 2,
    refusing_set: str = NEW,
    dated: bool = True,
) -> Evidence:
    """Two revisions of ``checkout`` (``NEW`` current); a pod of ``refusing_set`` logs the
    refusal (after a dated line ``logged_minutes_ago`` unless not ``dated``)."""
    when = ago(logged_minutes_ago).strftime("%Y-%m-%d %H:%M:%S,000")
    head = f"{when} ERROR exporter.worker job failed, will retry" if dated else "job failed"
    pod = make.pod(f"{refusing_set}-aaaaa", make.container("app"), replica_set=refusing_set)
    return make.evidence(
        workload=make.deployment(replicas=1, ready=1),
        pods=[pod],
        revisions=[
            make.revision(OLD, 4, {"app": "app:1.0"}),
            make.revision(NEW, 5, {"app": "app:1.0"}, current=True, ready=1),
        ],
        changes=[make.rollout_change(CHECKOUT, 4, "labels", minutes_ago=rollout_minutes_ago)],
        logs=[make.log(pod.name, "app", f"{head}\nTraceback (most recent call last):\n{_REFUSED}")],
    )


def test_refusals_that_begin_with_the_release_roll_it_back() -> None:
    finding = assert_leads(analyze(_evidence()), Category.BAD_ROLLOUT, Action.ROLLBACK, CHECKOUT)
    assert finding.analyzer == "identity-since-rollout"


def test_refusals_the_release_does_not_explain_stay_a_configuration_fix() -> None:
    for evidence in (
        _evidence(rollout_minutes_ago=60 * 24 * 3),  # released days before the refusals
        _evidence(refusing_set=OLD),  # a pod of the previous revision refuses too
        _evidence(dated=False),  # the tail dates no refusal
    ):
        result = analyze(evidence)
        assert not [f for f in result.findings if f.analyzer == "identity-since-rollout"]
        assert_leads(result, Category.CONFIG_MISSING, Action.FIX_CONFIG, CHECKOUT)

"""A bare ``kubectl rollout restart`` (``carried_configs.only_restarted``): a revision whose pod
template differs from the previous one only in the ``kubectl.kubernetes.io/restartedAt`` stamp
runs what the previous revision ran, so a crash that shows on its fresh pods was latent in
both and a rollback would recreate the same pods: the crash is escalated, and the bad-rollout
finding stays a low alternative. Near misses: a ConfigMap edited before the restart (the
restart carried it in) and an image tag that floats (the restart may pull a new build).

Real: the change timeline built from raw ReplicaSets (``evidence.changes.rollout_changes``)
and the whole analyzer registry over Evidence models. Synthetic: every object and log line.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubetriage.analyzers.carried_configs import only_restarted
from kubetriage.evidence.changes import RESTART, rollout_changes
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.objects import RESTARTED_AT
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import NOW, analyze, assert_leads, by_category

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
_IMAGE = "ghcr.io/example/app:1.9"


def _replica_set(revision: int, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"checkout-{revision}",
            "namespace": "shop",
            "creationTimestamp": f"2026-11-{10 + revision}T10:00:00Z",
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
        },
        "spec": {
            "template": {
                "metadata": {"annotations": annotations},
                "spec": {"containers": [{"name": "app", "image": _IMAGE}]},
            }
        },
    }


def _aspects(old: dict[str, str], new: dict[str, str]) -> list[str]:
    workload = {"kind": "Deployment", "metadata": {"name": "checkout", "namespace": "shop"}}
    [change] = rollout_changes(workload, [_replica_set(1, old), _replica_set(2, new)])
    return change.aspects


def test_a_restart_stamp_is_a_restart_not_a_config_change() -> None:
    old = {RESTARTED_AT: "2026-10-02T07:15:40Z"}
    assert _aspects(old, {RESTARTED_AT: "2026-11-20T09:38:12Z"}) == [RESTART]


def test_a_config_checksum_is_still_a_config_change() -> None:
    assert _aspects({"checksum/config": "a1"}, {"checksum/config": "b2"}) == ["config"]


def _restarted(*extra: ChangeEvidence, image: str = _IMAGE) -> Evidence:
    """Revision 5 of checkout, a restart of revision 4 30 minutes ago: its one pod
    crash-loops while revision 4's pod still serves."""
    new = make.crash_looping("app", image, restarts=6)
    old = make.container("app", image)
    change = make.rollout_change(CHECKOUT, 4, RESTART, minutes_ago=30)
    return make.evidence(
        workload=make.deployment(revision=5, ready=1),
        pods=[
            make.pod("checkout-7d9f6c8b5-new01", new),
            make.pod("checkout-5c6d7e8f9-old01", old, replica_set="checkout-5c6d7e8f9"),
        ],
        revisions=make.rollout_revisions(
            5, {"app": image}, {"app": image}, minutes_ago=30, old_ready=1
        ),
        changes=[change, *extra],
        logs=[
            make.log(
                "checkout-7d9f6c8b5-new01",
                "app",
                "RangeError: Maximum call stack size exceeded\n    at attach (/app/tree.js:41:31)",
            )
        ],
    )


def test_crash_after_a_bare_restart_is_escalated_not_rolled_back() -> None:
    result = analyze(_restarted())
    assert_leads(result, Category.CRASH_LOOP, Action.ESCALATE, CHECKOUT)
    assert all(f.confidence <= 0.5 for f in by_category(result, Category.BAD_ROLLOUT))
    assert only_restarted(_restarted(), 5)


def test_a_config_edit_before_the_restart_is_what_it_carried_in() -> None:
    edit = ChangeEvidence(
        at=NOW - timedelta(minutes=45),
        kind="config",
        object=ObjectRef(kind="ConfigMap", namespace="shop", name="checkout-config"),
        aspects=["data"],
    )
    assert not only_restarted(_restarted(edit), 5)


def test_a_floating_tag_may_have_pulled_a_new_build_on_restart() -> None:
    assert not only_restarted(_restarted(image="ghcr.io/example/app:latest"), 5)

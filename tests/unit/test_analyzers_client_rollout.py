"""Checks the client-rollout rule: a dependency that refuses new clients for lack of
connection slots ("too many clients") from right after the caller rolled out a revision whose
pods set how many connections they open (concurrency, workers, pool size) is the caller's
rollout, rolled back; and the near misses: no new ReplicaSet replaced the old one, the
refusals began before the rollout, the pods set nothing about their connections.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.object_evidence import EventEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, by_category

WORKERS = ObjectRef(kind="Deployment", namespace="media", name="render-worker")
_NEW_RS = "render-worker-7c9d5f8b6"
_REFUSED = (
    'psycopg2.OperationalError: connection to server at "db.media.svc.cluster.local" '
    "(10.96.3.4), port 5432 failed: FATAL:  sorry, too many clients already"
)


def _scaling(message: str, minutes_ago: float) -> EventEvidence:
    return EventEvidence(
        type="Normal",
        reason="ScalingReplicaSet",
        message=message,
        involved=ObjectRef(kind="Deployment", namespace="media", name="render-worker"),
        first_seen=ago(minutes_ago),
        last_seen=ago(minutes_ago),
    )


_ROLLOUT = [
    _scaling(f"Scaled up replica set {_NEW_RS} to 3", 30),
    _scaling("Scaled down replica set render-worker-5b8f6d9c4 to 0 from 3", 28),
]


def _evidence(
    *,
    args: list[str] | None = None,
    events: list[EventEvidence] = _ROLLOUT,
    firing_since: float = 25,
) -> Evidence:
    worker = make.container(
        "worker", args=args if args is not None else ["worker", "--concurrency=64"]
    )
    pod_name = f"{_NEW_RS}-x2k9q"
    return make.evidence(
        target=ObjectRef(kind="Namespace", name="media"),
        pods=[make.app_pod(pod_name, worker, namespace="media")],
        logs=[make.log(pod_name, "worker", _REFUSED, namespace="media")],
        # The database's Service, which the collector reads when a log line names it.
        services=[make.service("db", namespace="media", ready=1, matching=1)],
        events=events,
        alerts=[
            AlertEvidence(
                labels={"alertname": "TaskFailureRateHigh", "namespace": "media"},
                starts_at=ago(firing_since),
                status="firing",
            )
        ],
    )


def test_slots_exhausted_right_after_the_callers_rollout_rolls_the_caller_back() -> None:
    finding = assert_leads(analyze(_evidence()), Category.BAD_ROLLOUT, Action.ROLLBACK, WORKERS)
    assert any("--concurrency=64" in e.fact for e in finding.evidence)


def test_no_new_replica_set_leaves_it_to_the_dependency() -> None:
    result = analyze(_evidence(events=[]))
    assert not by_category(result, Category.BAD_ROLLOUT)
    assert by_category(result, Category.DEPENDENCY_FAILURE)


def test_refusals_that_began_before_the_rollout_are_not_its_doing() -> None:
    assert not by_category(analyze(_evidence(firing_since=50)), Category.BAD_ROLLOUT)


def test_pods_that_set_nothing_about_their_connections_are_not_blamed() -> None:
    assert not by_category(analyze(_evidence(args=["worker"])), Category.BAD_ROLLOUT)

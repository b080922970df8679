"""Checks the rotated-mount rule: the Secrets Store CSI driver rotated what a Deployment's pods
mount (an event on each pod), the replicas started before the rotation have their logins
refused while one of the same revision started after it logs in, so the workload is restarted;
and its near misses (no replica started after the rotation, the fresh one refused too, no
rotation event).

Everything is real: Evidence models built by ``tests.support.evidence`` and the full analyzer
registry via ``run_analyzers``; nothing is mocked.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ContainerState, EventEvidence, PodEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads

_WORKLOAD = ObjectRef(kind="Deployment", namespace="shop", name="orders")
_REFUSED = (
    "error acquire conn: failed to connect to `user=orders database=orders`: failed SASL auth: "
    'FATAL: password authentication failed for user "orders" (SQLSTATE 28P01)'
)
_SERVED = "info request POST /v1/orders status=200 duration_ms=41"


def _replica(suffix: str, started_minutes_ago: float) -> PodEvidence:
    state = ContainerState(state="running", started_at=ago(started_minutes_ago))
    return make.app_pod(
        f"orders-6c9d8f7b5-{suffix}",
        make.container("app", state=state),
        created_at=ago(started_minutes_ago),
    )


def _rotated(pod: PodEvidence, minutes_ago: float) -> EventEvidence:
    event = make.event(
        "MountRotationComplete",
        "successfully rotated mounted contents for spc shop/orders-db",
        name=pod.name,
        type_="Normal",
    )
    return event.model_copy(update={"first_seen": ago(minutes_ago), "last_seen": ago(minutes_ago)})


def _case(
    *,
    starts: tuple[float, ...] = (4000, 4000, 30),
    rotated_minutes_ago: float | None = 55,
    fresh_refused: bool = False,
) -> Evidence:
    pods = [_replica(f"p{i}", start) for i, start in enumerate(starts)]
    rotated_at = rotated_minutes_ago
    old = [p for p, s in zip(pods, starts, strict=True) if rotated_at is None or s > rotated_at]
    logs = [
        make.log(
            p.name,
            "app",
            f"{_REFUSED}\n{_SERVED}" if p in old or fresh_refused else f"{_SERVED}\n{_SERVED}",
        )
        for p in pods
    ]
    events = [_rotated(p, rotated_at) for p in old] if rotated_at is not None else []
    return make.evidence(
        workload=make.deployment("orders", replicas=len(pods)),
        pods=pods,
        logs=logs,
        events=events,
        alerts=[make.alert(alertname="OrdersErrorRatioHigh", namespace="shop")],
    )


def test_replicas_started_before_a_mount_rotation_are_restarted() -> None:
    finding = assert_leads(analyze(_case()), Category.CONFIG_MISSING, Action.RESTART, _WORKLOAD)
    assert finding.analyzer == "rotated-mounts"
    assert any("MountRotationComplete" in e.fact for e in finding.evidence)
    assert any("after the rotation" in e.fact for e in finding.evidence)


def test_without_a_replica_started_after_the_rotation_nothing_proves_the_new_value() -> None:
    # Near miss: every replica predates the rotation; the new value may be as wrong.
    result = analyze(_case(starts=(4000, 4000, 3000)))
    assert all(f.analyzer != "rotated-mounts" for f in result.findings)


def test_a_fresh_replica_refused_too_is_not_a_stale_copy() -> None:
    # Near miss: the replica that read the rotated value is refused as well: the value
    # itself (or the server) is wrong, a restart would not help.
    result = analyze(_case(fresh_refused=True))
    assert all(f.analyzer != "rotated-mounts" for f in result.findings)


def test_without_a_rotation_event_the_split_is_not_a_rotation() -> None:
    result = analyze(_case(rotated_minutes_ago=None))
    assert all(f.analyzer != "rotated-mounts" for f in result.findings)

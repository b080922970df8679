"""Checks two readings of a followed server's own words against what else the evidence says:
a server that refuses work in its own words from right after its own workload rolled out,
its caller unchanged since, is that rollout (bad-rollout, roll the dependency back), while
the same refusal long after its rollout, before it, or with the caller rolled out since stays
an escalation to the server; and a "disk full" alarm of a server whose claim the kubelet
measures far from full is its own threshold, not a volume to grow (a claim measured full, or
not measured, still is).

Real: the analyzer registry on Evidence models from ``tests.support.evidence``; the server's
log lines, its rollout, the caller and the volume metrics are synthetic.
"""

from __future__ import annotations

from datetime import datetime

from kubetriage.analyzers.dependency_server import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence, MetricSummary, PVCEvidence
from kubetriage.models.relations import DependencyEvidence, DependencyVolume
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, by_category, naming

CALLER_POD = "orders-6f7d8c9b5-x1y2z"
BROKER = ObjectRef(kind="StatefulSet", namespace="data", name="mq")
SERVICE = ObjectRef(kind="Service", namespace="data", name="mq")
CLAIM = ObjectRef(kind="PersistentVolumeClaim", namespace="data", name="data-mq-0")


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S.000000+00:00")


def _refusal(minutes_ago: float) -> str:
    return f"{_stamp(ago(minutes_ago))} [warning] <0.485.0> *** Publishers will be blocked ***"


def _broker(lines: list[str], *, rolled_minutes_ago: float | None = 30) -> DependencyEvidence:
    changes = (
        [
            ChangeEvidence(
                at=ago(rolled_minutes_ago),
                kind="rollout",
                object=BROKER,
                aspects=["resources"],
                details=["revision 3 -> 4", "mq resources limits memory=4Gi -> 12Gi"],
                from_revision=3,
                to_revision=4,
            )
        ]
        if rolled_minutes_ago is not None
        else []
    )
    return DependencyEvidence(
        service=make.service("mq", "data", ready=1, matching=1, port_numbers=[5672]),
        workload=BROKER,
        named_by=naming(f"pod {CALLER_POD} env AMQP_URL"),
        pods=1,
        desired_replicas=1,
        ready_replicas=1,
        logs=[make.log("mq-0", "mq", "\n".join(lines), namespace="data")],
        changes=changes,
        volumes=[
            DependencyVolume(
                pod="mq-0", claim=PVCEvidence(name="data-mq-0", namespace="data", phase="Bound")
            )
        ],
    )


def _caller(dep: DependencyEvidence, *, rolled_minutes_ago: float | None = None) -> Evidence:
    changes = (
        [
            ChangeEvidence(
                at=ago(rolled_minutes_ago),
                kind="rollout",
                object=ObjectRef(kind="Deployment", namespace="shop", name="orders"),
                aspects=["image"],
                details=["revision 7 -> 8"],
            )
        ]
        if rolled_minutes_ago is not None
        else []
    )
    return make.evidence(
        workload=make.deployment("orders"),
        pods=[make.app_pod(CALLER_POD, make.container("app"))],
        dependencies=[dep],
        logs=[
            make.log(CALLER_POD, "app", "ERROR publish timed out after 5000ms (channel blocked)")
        ],
        changes=changes,
    )


def test_refusals_from_right_after_the_servers_own_rollout_roll_it_back() -> None:
    ev = _caller(_broker([_refusal(28), _refusal(3)]))
    finding = assert_leads(analyze(ev), Category.BAD_ROLLOUT, Action.ROLLBACK, BROKER)
    assert finding.confidence == CONFIDENCE.refusing_since_rollout
    assert finding.params == {"revision": "3"}
    assert "rolled out" in finding.summary


def test_refusals_that_began_before_the_rollout_or_long_after_it_escalate() -> None:
    for dep in (
        _broker([_refusal(40), _refusal(3)], rolled_minutes_ago=30),  # refusing before it
        _broker([_refusal(3)], rolled_minutes_ago=300),  # hours after it
        _broker([_refusal(3)], rolled_minutes_ago=None),  # no rollout at all
    ):
        assert_leads(analyze(_caller(dep)), Category.DEPENDENCY_FAILURE, Action.ESCALATE, SERVICE)


def test_a_caller_rolled_out_since_the_servers_rollout_is_not_cleared() -> None:
    result = analyze(_caller(_broker([_refusal(28)]), rolled_minutes_ago=25))
    assert not [f for f in by_category(result, Category.BAD_ROLLOUT) if f.target == BROKER]


def _fill(used: float, capacity: float = 20e9) -> list[MetricSummary]:
    labels = {"namespace": "data", "persistentvolumeclaim": "data-mq-0"}
    return [
        make.metric(
            'kubelet_volume_stats_used_bytes{persistentvolumeclaim="data-mq-0"}',
            last=used,
            labels=labels,
        ),
        make.metric(
            'kubelet_volume_stats_capacity_bytes{persistentvolumeclaim="data-mq-0"}',
            last=capacity,
            labels=labels,
        ),
    ]


ALARM = "[warning] <0.485.0> disk resource limit alarm set on node 'rabbit@mq-0'."


def test_a_disk_alarm_on_a_claim_measured_far_from_full_grows_nothing() -> None:
    ev = _caller(_broker([ALARM], rolled_minutes_ago=None))
    ev.metrics = _fill(5e9)
    assert by_category(analyze(ev), Category.STORAGE) == []


def test_a_disk_alarm_on_a_claim_measured_full_or_unmeasured_grows_it() -> None:
    measured = _caller(_broker([ALARM], rolled_minutes_ago=None))
    measured.metrics = _fill(19.5e9)
    unmeasured = _caller(_broker([ALARM], rolled_minutes_ago=None))
    for ev in (measured, unmeasured):
        assert_leads(analyze(ev), Category.STORAGE, Action.EXPAND_STORAGE, CLAIM)

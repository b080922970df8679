"""Checks the shared-outage rule: the incident's workload fails calling a dependency it shares
and another caller of it (``DependencyEvidence.callers``, with its log tails) that did not
change fails on it the same way since the onset: the dependency is escalated, above the
workload's own rollout; and the near misses: the other caller rolled out, its failures are
older than the onset, it logs no failure, the dependency itself changed, the workload's
calls do not fail, callers of two dependencies fail.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.analyzers.changes import CONFIDENCE as CHANGE_CONFIDENCE
from kubetriage.analyzers.shared_outage import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.object_evidence import ChangeEvidence, WorkloadEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, naming

OWN = ObjectRef(kind="Deployment", namespace="shop", name="cart")
CACHE = ObjectRef(kind="Service", namespace="cache", name="kv-main")
QUEUE = ObjectRef(kind="Service", namespace="cache", name="mq")
OTHER = ObjectRef(kind="Deployment", namespace="identity", name="profile")
OWN_FAILS = '{"ts":"2026-11-20T09:52:10Z","err":"dial tcp 10.1.2.3:6379: i/o timeout"}'
OTHER_FAILS = "2026-11-20T09:51:40.112Z warn [client] Command timed out: GET k:1"
OTHER_FINE = "2026-11-20T09:51:40.112Z info GET /profile/1 200 4ms"


def _caller(
    text: str = OTHER_FAILS, *, rolled_minutes_ago: float | None = None, service: ObjectRef = CACHE
) -> CallerEvidence:
    changes = (
        [make.rollout_change(OTHER, 7, "image", minutes_ago=rolled_minutes_ago)]
        if rolled_minutes_ago is not None
        else []
    )
    return CallerEvidence(
        ref=OTHER,
        callee=service,
        named_by=naming(f"Deployment {OTHER.name} env KV_ADDR"),
        changes=changes,
        logs=[
            make.log("profile-5d6c-g5w8", "api", text, namespace="identity", source="dependency")
        ],
    )


def _dependency(
    service: ObjectRef = CACHE,
    callers: list[CallerEvidence] | None = None,
    changes: list[ChangeEvidence] | None = None,
) -> DependencyEvidence:
    assert service.namespace is not None
    return DependencyEvidence(
        service=make.service(service.name, service.namespace, ready=1, matching=1),
        ref=service,
        named_by=naming(f"Deployment cart env {service.name.upper()}_URL"),
        desired_replicas=1,
        ready_replicas=1,
        pods=1,
        changes=changes or [],
        callers=callers if callers is not None else [_caller()],
    )


def _evidence(
    *,
    dependencies: list[DependencyEvidence] | None = None,
    own_log: str = OWN_FAILS,
    own_rollout: bool = True,
) -> Evidence:
    own = [make.rollout_change(OWN, 40, "volumes", minutes_ago=26)] if own_rollout else []
    return make.evidence(
        target=OWN,
        workload=WorkloadEvidence(ref=OWN, desired_replicas=3, ready_replicas=3),
        alerts=[
            AlertEvidence(
                labels={"alertname": "CartErrorRatioHigh", "namespace": "shop"},
                starts_at=ago(9),
                status="firing",
            )
        ],
        logs=[make.log("cart-69d7-n8v6x", "api", own_log)],
        changes=own,
        dependencies=dependencies if dependencies is not None else [_dependency()],
    )


def _outage(evidence: Evidence) -> list[object]:
    return [f for f in analyze(evidence).findings if f.analyzer == "shared-outage"]


def test_an_unchanged_caller_failing_at_the_same_time_blames_the_dependency() -> None:
    finding = assert_leads(
        analyze(_evidence()), Category.DEPENDENCY_FAILURE, Action.ESCALATE, CACHE
    )
    assert finding.analyzer == "shared-outage"
    assert finding.confidence == CONFIDENCE.caller_fails_too > CHANGE_CONFIDENCE.rollout
    assert any("Command timed out" in e.fact for e in finding.evidence)
    assert any("i/o timeout" in e.fact for e in finding.evidence)
    assert "None" not in finding.summary


def test_it_holds_without_a_rollout_of_the_workload() -> None:
    assert _outage(_evidence(own_rollout=False))


def test_a_pool_wait_is_a_failing_call() -> None:
    line = '{"ts":"2026-11-20T09:53:02Z","error":"redis: connection pool timeout"}'
    assert _outage(_evidence(own_log=line))


def test_silent_when_the_other_caller_rolled_out_before_the_onset() -> None:
    evidence = _evidence(dependencies=[_dependency(callers=[_caller(rolled_minutes_ago=20)])])
    assert not _outage(evidence)


def test_an_old_rollout_of_the_other_caller_does_not_count() -> None:
    old = _caller(rolled_minutes_ago=60 * 24 * 3)
    assert _outage(_evidence(dependencies=[_dependency(callers=[old])]))


def test_silent_when_the_other_caller_failed_long_before_the_onset() -> None:
    chronic = f"2026-11-20T08:40:00Z warn Command timed out: GET k:0\n{OTHER_FAILS}"
    assert not _outage(_evidence(dependencies=[_dependency(callers=[_caller(chronic)])]))


def test_silent_when_the_other_caller_logs_no_failure() -> None:
    assert not _outage(_evidence(dependencies=[_dependency(callers=[_caller(OTHER_FINE)])]))


def test_silent_when_the_workloads_calls_do_not_fail() -> None:
    line = '{"ts":"2026-11-20T09:52:10Z","msg":"request","status":200}'
    assert not _outage(_evidence(own_log=line))


def test_silent_when_the_dependency_itself_changed() -> None:
    rolled = make.rollout_change(
        ObjectRef(kind="StatefulSet", namespace="cache", name="kv-main"), 4, "image", minutes_ago=20
    )
    assert not _outage(_evidence(dependencies=[_dependency(changes=[rolled])]))


def test_silent_when_callers_of_two_dependencies_fail() -> None:
    both = [_dependency(), _dependency(QUEUE, callers=[_caller(service=QUEUE)])]
    assert not _outage(_evidence(dependencies=both))


def test_silent_when_a_network_policy_guards_the_dependency() -> None:
    # A policy in front of it fails every caller at once: the network rules name it.
    policy = make.network_policy(
        "kv-allow-clients",
        "ingress: from app=cart",
        namespace="cache",
        pod_selector={"app": "kv-main"},
    )
    evidence = _evidence().model_copy(update={"network_policies": [policy]})
    assert not _outage(evidence)


def test_an_external_dependency_is_escalated_too() -> None:
    # A managed cache outside the cluster, behind an ExternalName Service.
    dependency = _dependency().model_copy(
        update={"service": make.external_service("kv-main", "kv.example.net", namespace="cache")}
    )
    finding = assert_leads(
        analyze(_evidence(dependencies=[dependency])),
        Category.DEPENDENCY_FAILURE,
        Action.ESCALATE,
        CACHE,
    )
    assert finding.analyzer == "shared-outage"


# A provider refusing both clients for rate (the workload's own line undated, Stripe's error code).
OWN_RATE = (
    '{"level":50,"time":1795168332000,"msg":"stripe request failed",'
    '"type":"StripeRateLimitError","code":"rate_limit","statusCode":429}'
)
OTHER_RATE = "2026-11-20T09:51:40.112Z WARN backfill: 429 rate_limit on price_1, retrying in 0.5s"
JOB = ObjectRef(kind="Job", namespace="billing-ops", name="price-backfill")


def test_two_clients_refused_for_rate_at_once_share_the_providers_limit() -> None:
    # A Job calling the same provider is refused for rate since the same onset: the limit is
    # shared (one account), so the workload's release is not what exhausted it.
    job = _caller(OTHER_RATE).model_copy(update={"ref": JOB})
    evidence = _evidence(dependencies=[_dependency(callers=[job])], own_log=OWN_RATE)
    finding = assert_leads(analyze(evidence), Category.DEPENDENCY_FAILURE, Action.ESCALATE, CACHE)
    assert finding.analyzer == "shared-outage"


def test_a_rate_limit_setting_is_no_refusal() -> None:
    # Near miss: the other caller only logs its configured rate limit, no call refused.
    quiet = "2026-11-20T09:51:40.112Z INFO backfill: rate_limit set to 20/s"
    job = _caller(quiet).model_copy(update={"ref": JOB})
    evidence = _evidence(dependencies=[_dependency(callers=[job])], own_log=OWN_RATE)
    assert not _outage(evidence)


def test_an_undated_witness_line_is_no_witness() -> None:
    # Near miss: the workload's own tail is the present, dated or not; another caller's
    # failure must be dated since the onset to say the two fail together.
    undated = '{"level":50,"msg":"stripe request failed","code":"rate_limit","statusCode":429}'
    job = _caller(undated).model_copy(update={"ref": JOB})
    evidence = _evidence(dependencies=[_dependency(callers=[job])], own_log=OWN_RATE)
    assert not _outage(evidence)

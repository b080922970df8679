"""Checks the shared-dependency rule: the incident's workload fails calling a dependency it
shares (``DependencyEvidence.callers``), neither it nor the dependency changed, and one other
caller rolled out a revision that changes how it loads the dependency right before the onset:
that caller is rolled back, above the dependency's own refusal; and the near misses: several
callers changed, the workload changed too, the dependency rolled out, the caller's change
touched no load, the calls do not fail, the dependency is down or refuses rather than
keeps its callers waiting.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.analyzers.shared_dependency import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.object_evidence import ChangeEvidence, WorkloadEvidence
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, by_category, naming

OWN = ObjectRef(kind="Deployment", namespace="shop", name="cart")
CACHE = ObjectRef(kind="Service", namespace="cache", name="kv-main")
OTHER = ObjectRef(kind="Deployment", namespace="identity", name="sweeper")
THIRD = ObjectRef(kind="Deployment", namespace="reports", name="exporter")
TIMEOUT = '{"level":50,"msg":"kv command failed","err":"Command timed out"}'


def _caller(ref: ObjectRef, *aspects: str, minutes_ago: float = 18) -> CallerEvidence:
    return CallerEvidence(
        ref=ref,
        callee=CACHE,
        named_by=naming(f"Deployment {ref.name} env KV_ADDR"),
        changes=[make.rollout_change(ref, 7, *aspects, minutes_ago=minutes_ago)],
    )


def _evidence(
    *,
    callers: list[CallerEvidence] | None = None,
    own_changes: list[ChangeEvidence] | None = None,
    dependency_changes: list[ChangeEvidence] | None = None,
    log_text: str = TIMEOUT,
    ready: int = 1,
    failing: list[PodTrouble] | None = None,
) -> Evidence:
    dependency = DependencyEvidence(
        service=make.service("kv-main", "cache", ready=1, matching=1),
        ref=CACHE,
        named_by=naming("Deployment cart env KV_URL"),
        workload=ObjectRef(kind="StatefulSet", namespace="cache", name="kv-main"),
        desired_replicas=1,
        ready_replicas=ready,
        pods=1,
        failing_pods=failing or [],
        changes=dependency_changes or [],
        callers=callers if callers is not None else [_caller(OTHER, "image")],
    )
    return make.evidence(
        target=OWN,
        workload=WorkloadEvidence(ref=OWN, desired_replicas=2, ready_replicas=2),
        alerts=[
            AlertEvidence(
                labels={"alertname": "CartLatencyHigh", "namespace": "shop"},
                starts_at=ago(15),
                status="firing",
            )
        ],
        logs=[make.log("cart-7d9f-x1", "cart", log_text)],
        changes=own_changes or [],
        dependencies=[dependency],
    )


def _shared(evidence: Evidence) -> list[object]:
    return [
        f
        for f in by_category(analyze(evidence), Category.BAD_ROLLOUT)
        if f.analyzer == "shared-dependency"
    ]


def test_another_callers_rollout_before_the_onset_is_rolled_back() -> None:
    finding = assert_leads(analyze(_evidence()), Category.BAD_ROLLOUT, Action.ROLLBACK, OTHER)
    assert finding.analyzer == "shared-dependency"
    assert finding.confidence == CONFIDENCE.named
    assert any("KV_ADDR" in e.fact for e in finding.evidence)
    assert any("Command timed out" in e.fact for e in finding.evidence)


def test_the_caller_changed_its_resources_or_args_too() -> None:
    for aspect in ("resources", "args", "env"):
        evidence = _evidence(callers=[_caller(OTHER, aspect)])
        assert_leads(analyze(evidence), Category.BAD_ROLLOUT, Action.ROLLBACK, OTHER)


def test_silent_when_two_callers_changed() -> None:
    evidence = _evidence(callers=[_caller(OTHER, "image"), _caller(THIRD, "env")])
    assert not _shared(evidence)


def test_one_changed_caller_among_unchanged_ones_is_still_the_suspect() -> None:
    evidence = _evidence(
        callers=[_caller(OTHER, "image"), _caller(THIRD, "env", minutes_ago=60 * 24)]
    )
    assert_leads(analyze(evidence), Category.BAD_ROLLOUT, Action.ROLLBACK, OTHER)


def test_silent_when_the_incidents_workload_rolled_out_too() -> None:
    own = make.rollout_change(OWN, 3, "image", minutes_ago=25)
    assert not _shared(_evidence(own_changes=[own]))


def test_silent_when_the_dependency_itself_rolled_out() -> None:
    rolled = make.rollout_change(
        ObjectRef(kind="StatefulSet", namespace="cache", name="kv-main"), 4, "image", minutes_ago=20
    )
    assert not _shared(_evidence(dependency_changes=[rolled]))


def test_silent_when_the_callers_change_touched_no_load() -> None:
    assert not _shared(_evidence(callers=[_caller(OTHER, "labels", "probes")]))


def test_silent_when_the_callers_rollout_is_long_before_the_onset() -> None:
    assert not _shared(_evidence(callers=[_caller(OTHER, "image", minutes_ago=60 * 6)]))


def test_silent_when_the_calls_do_not_fail() -> None:
    assert not _shared(_evidence(log_text="GET /api/cart 200 12ms"))


def test_a_caller_whose_pods_are_the_incidents_own_is_not_another_caller() -> None:
    # A Service's canary Deployment: its pods are among the incident's, its failures its own.
    canary = make.pod("sweeper-6c8d9f7b5-x1", namespace="identity", replica_set="sweeper-6c8d9f7b5")
    evidence = _evidence().model_copy(update={"workload": None, "pods": [canary]})
    assert not _shared(evidence)


def test_silent_when_the_dependency_is_down_rather_than_loaded() -> None:
    # A dependency with a replica not ready, or crashing, is its own story: another caller's
    # rollout does not explain a dead server, however close in time.
    assert not _shared(_evidence(ready=0))
    crashing = PodTrouble(pod="kv-main-0", container="kv", waiting="CrashLoopBackOff", restarts=4)
    assert not _shared(_evidence(failing=[crashing]))


def test_silent_when_the_calls_are_refused_rather_than_kept_waiting() -> None:
    refused = '{"level":50,"msg":"kv command failed","err":"connect ECONNREFUSED 10.0.3.4:6379"}'
    assert not _shared(_evidence(log_text=refused))
    # A client's own timeout waiting for an answer is load.
    waited = "redis: i/o timeout after 500ms reading reply"
    assert_leads(analyze(_evidence(log_text=waited)), Category.BAD_ROLLOUT, Action.ROLLBACK, OTHER)


def test_a_search_stores_tripped_breaker_or_full_queue_says_it_is_loaded() -> None:
    lines = (
        'level=ERROR msg="search failed" status=429 type=circuit_breaking_exception '
        'reason="[parent] Data too large, data for [<http_request>] would be [8.1gb]"',
        "ApiError(429, 'es_rejected_execution_exception', 'rejected execution of "
        "TimedRunnable on EsThreadPoolExecutor[name = es-data-0/search, queue capacity = 1000]')",
    )
    for line in lines:
        finding = assert_leads(
            analyze(_evidence(log_text=line)), Category.BAD_ROLLOUT, Action.ROLLBACK, OTHER
        )
        assert finding.analyzer == "shared-dependency"


def test_a_clients_own_open_circuit_breaker_is_not_the_store_loaded() -> None:
    # Resilience4j's breaker in the caller itself opened: it says nothing of the server's load.
    own_breaker = (
        "io.github.resilience4j.circuitbreaker.CallNotPermittedException: "
        "CircuitBreaker 'catalog' is OPEN and does not permit further calls"
    )
    assert not _shared(_evidence(log_text=own_breaker))

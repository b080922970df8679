"""Checks the callee-quorum rule (``kubetriage.analyzers.callee_quorum``): a dependency run as a
StatefulSet of several members, most of them Pending because the scheduler finds no node and
the rest running unready without restarts, leaves its callers without a leader; when the
caller fails on it, or its pods are held before their app starts while their own spec names
it, the finding is unschedulable / free-capacity on that StatefulSet, above the dependency-down
escalation. Near misses: a single Pending replica (simply down), a running member that
crashes, only a minority Pending, a ready member left, a caller neither failing nor held, a
held pod whose spec names something else.

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry; the
scheduler's FailedScheduling message in its own wording.
"""

from __future__ import annotations

from kubetriage.analyzers.callee_quorum import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import PodCondition
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, naming

SERVERS = ObjectRef(kind="StatefulSet", namespace="consul", name="consul-server")
HELD_POD = "billing-api-6c7d8b9f5a-m8vnd"
ZONE_CONFLICT = (
    "Pod/consul-server-1 FailedScheduling: 0/11 nodes are available: 1 node(s) had volume node "
    "affinity conflict, 2 node(s) didn't match pod anti-affinity rules, 8 node(s) didn't match "
    "Pod's node affinity/selector."
)
UNREADY = PodTrouble(pod="consul-server-0", container="consul")


def _servers(
    *,
    desired: int = 3,
    pending: int = 2,
    others: tuple[PodTrouble, ...] = (UNREADY,),
    ready: int = 0,
    named_by: str = f"pod {HELD_POD} args",
) -> DependencyEvidence:
    return DependencyEvidence(
        ref=SERVERS,
        missing_service="consul-server",
        named_by=naming(named_by),
        workload=SERVERS,
        desired_replicas=desired,
        ready_replicas=ready,
        pods=pending + len(others) + ready,
        failing_pods=[
            *others,
            *(PodTrouble(pod=f"consul-server-{i + 1}", phase="Pending") for i in range(pending)),
        ],
        warnings=[ZONE_CONFLICT],
    )


def _held(dependency: DependencyEvidence, *, held: bool = True) -> Evidence:
    """billing-api with one pod held by its running init container (or, with ``held``
    False, running and ready), no failing call logged."""
    init = make.container("connect-init", ready=False, init=True)
    app = make.container("api", ready=not held, state=make.waiting("PodInitializing"))
    conditions = [PodCondition(type="Initialized", status="False" if held else "True")]
    pod = make.app_pod(
        HELD_POD,
        init,
        app if held else make.container("api"),
        namespace="billing",
        phase="Pending" if held else "Running",
        conditions=conditions,
    )
    return make.evidence(
        workload=make.deployment("billing-api", "billing"), pods=[pod], dependencies=[dependency]
    )


def _quorum(ev: Evidence) -> list[str]:
    return [f.analyzer for f in analyze(ev).findings if f.analyzer == "callee-quorum"]


def test_most_members_unscheduled_hold_the_caller_free_capacity_on_the_callee() -> None:
    leader = assert_leads(
        analyze(_held(_servers())), Category.UNSCHEDULABLE, Action.FREE_CAPACITY, SERVERS
    )
    assert leader.confidence == CONFIDENCE.quorum_unscheduled
    facts = " ".join(e.fact for e in leader.evidence)
    assert "volume node affinity conflict" in facts
    assert "consul-server-0: consul not ready" in facts


def test_a_caller_failing_on_the_callee_needs_no_held_pod() -> None:
    ev = _held(_servers(named_by=f"log billing/{HELD_POD}/api"), held=False)
    assert _quorum(ev) == ["callee-quorum"]


def test_a_single_pending_replica_is_the_dependency_rules_answer() -> None:
    assert _quorum(_held(_servers(desired=1, pending=1, others=()))) == []


def test_a_running_member_that_crashes_has_a_fault_of_its_own() -> None:
    crashing = PodTrouble(
        pod="consul-server-0", container="consul", waiting="CrashLoopBackOff", restarts=4
    )
    assert _quorum(_held(_servers(others=(crashing,)))) == []


def test_a_minority_pending_or_a_ready_member_left_is_not_this_finding() -> None:
    second = PodTrouble(pod="consul-server-2", container="consul")
    assert _quorum(_held(_servers(pending=1, others=(UNREADY, second)))) == []
    assert _quorum(_held(_servers(pending=2, others=(), ready=1))) == []


def test_a_caller_neither_failing_nor_held_for_it_does_not_blame_it() -> None:
    assert _quorum(_held(_servers(), held=False)) == []
    assert _quorum(_held(_servers(named_by="pod ledger-7c8d9e-xyz12 args"))) == []

"""The callee-liveness rule (``kubetriage.analyzers.callee_probes``): a dependency the workload
fails on whose replicas are restarted one after another by liveness probes that time out is
killed by a probe too tight for its load, so its StatefulSet's probe is fixed, above the
dependency's refusals (a replica set without a primary) that the kills explain; and the rule
stays silent for one wedged replica, for OOM kills, for probes that fail rather than time out,
and for a dependency that just rolled out.

Real: the whole analyzer registry run over Evidence models. Synthetic: every object, the
kubelet's Warning lines in its own words, a MongoDB driver's error in the caller's log.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.analyzers.callee_probes import check_callee_liveness
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence
from kubetriage.models.relations import DependencyEvidence, PodTrouble
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    NOW,
    analyze,
    assert_leads,
    checkout_evidence,
    checkout_log,
    naming,
)

MONGO = ObjectRef(kind="StatefulSet", namespace="shop", name="mongo")
_SERVICE = ObjectRef(kind="Service", namespace="shop", name="mongo")
_TIMED_OUT = 'Liveness probe failed: command timed out: "ping-mongodb.sh" timed out after 2s'
_CALLER = "MongoNetworkError: connect ECONNREFUSED 10.0.0.9:27017 (mongo.shop.svc)"


def _restarted(pod: str, restarts: int, last: str = "Completed") -> PodTrouble:
    return PodTrouble(
        pod=pod,
        container="mongodb",
        restarts=restarts,
        last_terminated=last,
        last_finished=NOW - timedelta(minutes=restarts),
    )


def _evidence(
    *,
    killed: tuple[str, ...] = ("mongo-0", "mongo-1", "mongo-2"),
    last: str = "Completed",
    probe: str = _TIMED_OUT,
    rolled_minutes_ago: float | None = None,
) -> Evidence:
    dependency = DependencyEvidence(
        ref=_SERVICE,
        workload=MONGO,
        named_by=naming("pod checkout env MONGO_URL"),
        desired_replicas=3,
        ready_replicas=3,
        pods=3,
        restarted_pods=[_restarted(p, 4, last) for p in killed],
        warnings=[f"Pod/{p} Unhealthy: {probe}" for p in killed],
        changes=[]
        if rolled_minutes_ago is None
        else [
            ChangeEvidence(
                at=NOW - timedelta(minutes=rolled_minutes_ago), kind="rollout", object=MONGO
            )
        ],
    )
    return checkout_evidence(logs=[checkout_log(_CALLER)], dependencies=[dependency])


def test_replicas_killed_by_liveness_timeouts_fix_the_dependencys_probe() -> None:
    first = assert_leads(analyze(_evidence()), Category.PROBE_FAILURE, Action.FIX_PROBE, MONGO)
    assert first.analyzer == "callee-liveness"
    assert "timed out after 2s" in first.evidence[0].fact


def test_one_wedged_replica_is_the_probe_doing_its_job() -> None:
    assert check_callee_liveness(_evidence(killed=("mongo-0",))) == []


def test_oom_kills_are_not_the_probes() -> None:
    assert check_callee_liveness(_evidence(last="OOMKilled")) == []


def test_a_probe_that_fails_rather_than_times_out_is_not_too_tight() -> None:
    refused = "Liveness probe failed: dial tcp 10.0.0.9:27017: connect: connection refused"
    assert check_callee_liveness(_evidence(probe=refused)) == []


def test_silent_after_the_dependencys_own_rollout() -> None:
    assert check_callee_liveness(_evidence(rolled_minutes_ago=30)) == []


def test_silent_when_the_caller_does_not_fail_on_it() -> None:
    ev = _evidence().model_copy(update={"logs": []})
    assert check_callee_liveness(ev) == []

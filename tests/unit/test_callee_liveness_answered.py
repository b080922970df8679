"""The callee-liveness rule for probes the server answers (``kubetriage.analyzers.callee_probes``):
a dependency the workload fails on whose replicas are restarted one after another by a liveness
probe that fails without timing out or being refused (an exec command that exits non-zero, an
HTTP endpoint that answers with an error status: a probe that checks cluster-wide health rather
than the process) has its StatefulSet's probe fixed, above the dependency being down, which the
kills explain, and below the timeout variant. Silent for one replica, for refused or broken
connections (nothing listening), for OOM kills and for a dependency that just rolled out.

Real: the whole analyzer registry run over Evidence models. Synthetic: every object, the
kubelet's Warning lines in its own words, an Elasticsearch client's error in the caller's log.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from kubetriage.analyzers.callee_probes import ANSWERED_CONFIDENCE, check_callee_liveness
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

SEARCH = ObjectRef(kind="StatefulSet", namespace="shop", name="search")
_SERVICE = ObjectRef(kind="Service", namespace="shop", name="search")
_CALLER = (
    "elasticsearch.ApiError: ApiError(503, 'search_phase_execution_exception') (search.shop.svc)"
)


def _restarted(pod: str, last: str) -> PodTrouble:
    return PodTrouble(
        pod=pod,
        container="elasticsearch",
        restarts=5,
        last_terminated=last,
        last_finished=NOW - timedelta(minutes=3),
    )


def _evidence(
    probe: str,
    *,
    killed: tuple[str, ...] = ("search-0", "search-1", "search-2"),
    last: str = "Error",
    rolled_minutes_ago: float | None = None,
) -> Evidence:
    dependency = DependencyEvidence(
        ref=_SERVICE,
        workload=SEARCH,
        named_by=naming("pod checkout env ES_HOSTS"),
        desired_replicas=3,
        ready_replicas=0,
        pods=3,
        failing_pods=[_restarted(p, last) for p in killed],
        warnings=[f"Pod/{p} Unhealthy: {probe}" for p in killed],
        changes=[]
        if rolled_minutes_ago is None
        else [
            ChangeEvidence(
                at=NOW - timedelta(minutes=rolled_minutes_ago), kind="rollout", object=SEARCH
            )
        ],
    )
    return checkout_evidence(logs=[checkout_log(_CALLER)], dependencies=[dependency])


@pytest.mark.parametrize(
    "probe",
    [
        "Liveness probe failed: ",
        "Liveness probe failed: HTTP probe failed with statuscode: 408",
        'Liveness probe failed: {"status":"yellow","timed_out":true}',
    ],
)
def test_replicas_killed_by_a_probe_they_answer_fix_the_dependencys_probe(probe: str) -> None:
    first = assert_leads(
        analyze(_evidence(probe.rstrip())), Category.PROBE_FAILURE, Action.FIX_PROBE, SEARCH
    )
    assert first.analyzer == "callee-liveness"
    assert first.confidence == ANSWERED_CONFIDENCE


def test_one_replica_failing_its_probe_is_the_probe_doing_its_job() -> None:
    assert check_callee_liveness(_evidence("Liveness probe failed: ", killed=("search-0",))) == []


@pytest.mark.parametrize(
    "probe",
    [
        'Liveness probe failed: Get "http://10.0.0.9:9200/": dial tcp 10.0.0.9:9200: '
        "connect: connection refused",
        'Liveness probe failed: Get "http://10.0.0.9:9200/": EOF',
        "Liveness probe failed: read tcp 10.0.0.1:5123->10.0.0.9:9200: read: connection reset "
        "by peer",
    ],
)
def test_a_server_that_is_not_there_to_answer_is_not_judged_by_its_probe(probe: str) -> None:
    assert check_callee_liveness(_evidence(probe)) == []


def test_oom_kills_are_not_the_probes() -> None:
    assert check_callee_liveness(_evidence("Liveness probe failed: ", last="OOMKilled")) == []


def test_a_dependency_that_just_rolled_out_may_have_changed_its_probe() -> None:
    assert check_callee_liveness(_evidence("Liveness probe failed: ", rolled_minutes_ago=20)) == []

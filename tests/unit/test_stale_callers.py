"""Checks the stale-caller-proxies rule (``kubetriage.analyzers.stale_callers``): one caller of
the incident's Service whose mesh proxies fail to connect (``UF``) to addresses no workload
owns (destination workload ``unknown``) while another caller reaches the same Service without
failures is restarted, ahead of the callee's own rollout; the near misses: the failures land
on the callee's pods (a known destination workload), every caller fails, no other caller is
seen, the failures have stopped.

Real: Evidence models from ``tests.support.evidence``, the series as the
``istio_requests_by_source`` template answers, and the whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.analyzers.stale_callers import CONFIDENCE
from kubetriage.evidence.query_templates_mesh import REQUESTS_BY_SOURCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads

CALLER = ObjectRef(kind="Deployment", namespace="ledger", name="ledger-api")
CALLEE = ObjectRef(kind="Service", namespace="pay", name="pay")


def _series(
    source: str, code: str, flags: str, destination: str, rate: float = 1.5
) -> MetricSummary:
    return make.metric(
        REQUESTS_BY_SOURCE,
        name=REQUESTS_BY_SOURCE,
        first=0.0,
        last=rate,
        labels={
            "source_workload": source,
            "source_workload_namespace": "ledger" if source == CALLER.name else "shop",
            "destination_workload": destination,
            "response_code": code,
            "response_flags": flags,
        },
    )


def _evidence(*metrics: MetricSummary) -> Evidence:
    return make.evidence(
        workload=make.deployment("pay", "pay"),
        callers=[CallerEvidence(ref=CALLER, callee=CALLEE, named_by=make.naming("PAYMENTS_URL"))],
        metrics=list(metrics),
    )


STALE = _series(CALLER.name, "503", "UF", "unknown")
OTHER_OK = _series("checkout", "200", "-", "pay", rate=4.0)


def test_the_one_caller_connecting_to_vanished_addresses_is_restarted() -> None:
    result = analyze(_evidence(STALE, _series(CALLER.name, "200", "-", "pay"), OTHER_OK))
    found = assert_leads(result, Category.NETWORK, Action.RESTART, CALLER)
    assert (found.analyzer, found.confidence) == (
        "stale-caller-proxies",
        CONFIDENCE.stale_endpoints,
    )


def test_silent_when_the_failures_land_on_the_callees_own_pods() -> None:
    result = analyze(_evidence(_series(CALLER.name, "503", "UF", "pay"), OTHER_OK))
    assert "stale-caller-proxies" not in result.fired


def test_silent_when_every_caller_fails() -> None:
    other_failing = _series("checkout", "503", "UF", "unknown")
    result = analyze(_evidence(STALE, OTHER_OK, other_failing))
    assert "stale-caller-proxies" not in result.fired


def test_silent_when_no_other_caller_is_seen() -> None:
    assert "stale-caller-proxies" not in analyze(_evidence(STALE)).fired


def test_silent_when_the_failures_have_stopped() -> None:
    stopped = _series(CALLER.name, "503", "UF", "unknown", rate=0.0)
    assert "stale-caller-proxies" not in analyze(_evidence(stopped, OTHER_OK)).fired

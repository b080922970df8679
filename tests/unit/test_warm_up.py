"""Checks the warm-up rule: latency that spikes after a rollout, where each new pod of the
current revision and pods of the previous revision that started in the window began slow and
settled at the previous revision's level, behind a readiness probe that only opens a socket,
is a probe to fix, not a release to roll back; near misses: the new revision settles slower
(the release is slower), only the new revision's pods began slow, and a readiness probe that
asks the app (no warm-up finding, yet the release is not blamed either).

Real: Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import MetricSummary, ProbeSpec
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, by_category, top

WORKLOAD = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
NEW, OLD = "checkout-7d9f6c8b5", "checkout-5c6d7e8f9"


def _p99(pod: str, first: float, last: float) -> MetricSummary:
    return make.metric(
        f'pod_p99{{pod="{pod}"}}',
        name="pod_latency_p99_seconds",
        labels={"pod": pod},
        first=first,
        last=last,
    )


def _evidence(series: list[MetricSummary], readiness: ProbeSpec | None = None) -> Evidence:
    probe = readiness or make.tcp_probe("readiness", 8080)
    app = make.container("app", ports=[make.port(8080, "http")], probes=[probe])
    return make.evidence(
        workload=make.deployment(containers=[app], revision=8),
        pods=[make.app_pod(f"{NEW}-abcde", app), make.app_pod(f"{NEW}-fghij", app)],
        revisions=make.rollout_revisions(
            8, {"app": "app:2"}, {"app": "app:1"}, minutes_ago=8, ready=2, names=(NEW, OLD)
        ),
        changes=[make.rollout_change(WORKLOAD, 7, "image", minutes_ago=8)],
        metrics=series,
        alerts=[make.alert(alertname="CheckoutLatencyHigh", namespace="shop")],
    )


COLD = [
    _p99(f"{OLD}-kkkkk", 0.2, 0.2),  # ran all along
    _p99(f"{OLD}-lllll", 3.4, 0.2),  # a scale-up before the rollout, slow at first
    _p99(f"{NEW}-abcde", 3.4, 0.2),
    _p99(f"{NEW}-fghij", 2.9, 0.21),
]


def test_new_pods_of_both_revisions_slow_at_start_need_a_readiness_probe_not_a_rollback() -> None:
    finding = top(_evidence(COLD))
    assert (finding.category, finding.action, finding.target) == (
        Category.PROBE_FAILURE,
        Action.FIX_PROBE,
        WORKLOAD,
    )
    assert not by_category(analyze(_evidence(COLD)), Category.BAD_ROLLOUT)


def test_a_new_revision_that_settles_slower_is_not_warm_up() -> None:
    # Near miss: the new pods began slow and stay twice as slow as the old ones.
    slower = [*COLD[:2], _p99(f"{NEW}-abcde", 3.4, 0.5), _p99(f"{NEW}-fghij", 2.9, 0.45)]
    result = analyze(_evidence(slower))
    assert not [f for f in result.findings if f.analyzer == "cold-starts"]


def test_only_the_new_revisions_pods_slow_at_start_is_not_enough() -> None:
    # Near miss: no pod of the previous revision started in the window to compare with.
    fresh = [COLD[0], *COLD[2:]]
    result = analyze(_evidence(fresh))
    assert not [f for f in result.findings if f.analyzer == "cold-starts"]
    # ... and the release the latency followed stays the suspect.
    assert by_category(result, Category.BAD_ROLLOUT)


def test_a_readiness_probe_that_asks_the_app_is_not_blamed_nor_is_the_release() -> None:
    # Near miss: an httpGet readiness endpoint may well report warm-up; the rule names no
    # probe to fix, but the previous revision's pods were as slow at start, so the release
    # is not what the latency follows either.
    ev = _evidence(COLD, make.http_probe("readiness", "/ready", 8080))
    result = analyze(ev)
    assert not [f for f in result.findings if f.analyzer == "cold-starts"]
    assert not [f for f in result.findings if f.analyzer == "change-correlation"]

"""Checks that an autoscaler at its maximum whose pods went idle (their CPU fell to a third or
less of what it was) while their calls to a dependency time out is read as workers waiting on
that dependency: the dependency leads and the saturation finding is doubted; and the near
misses: pods whose CPU held or rose, pods that were never busy, a raw CPU counter, and idle
pods with no timed-out call stay resource saturation.

Real: the analyzer registry (``run_analyzers``), ``kubetriage.analyzers.idle_workers`` and the
autoscaler doubts, on Evidence models from ``tests.support.evidence``; the pods, autoscaler,
metric summaries and log lines (a Celery worker's requests ReadTimeout) are synthetic.
"""

from __future__ import annotations

from kubetriage.analyzers.idle_workers import idle_waiting, went_idle
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import AutoscalerEvidence, MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, by_category

WORKER = ObjectRef(kind="Deployment", namespace="billing", name="invoice-worker")
RATES = ObjectRef(kind="Service", namespace="pricing", name="fx-rates")
PODS = [f"invoice-worker-7c9d5f6b84-p{i}" for i in range(4)]
TIMEOUT = (
    "[2026-11-20 09:41:02,771: ERROR/ForkPoolWorker-5] Task billing.tasks.render_invoice"
    '[9a0d4b17] raised unexpected: ReadTimeout(ReadTimeoutError("HTTPConnectionPool('
    "host='fx-rates.pricing.svc.cluster.local', port=8080): Read timed out. (read timeout=10)\"))"
)
DONE = "[2026-11-20 09:08:12,410: INFO/MainProcess] Task billing.tasks.render_invoice succeeded"


def _hpa() -> AutoscalerEvidence:
    return autoscalers.hpa(
        WORKER, current=4, maximum=4, limited=True, name="keda-hpa-invoice-worker"
    )


def _usage(pod: str, first: float, last: float, *, rate: bool = True) -> MetricSummary:
    selector = f'namespace="billing",pod="{pod}",container="worker"'
    query = (
        f"sum by (pod, container) (rate(container_cpu_usage_seconds_total{{{selector}}}[5m]))"
        if rate
        else f"container_cpu_usage_seconds_total{{{selector}}}"
    )
    return make.metric(query, name="cpu_usage_cores", first=first, last=last, labels={"pod": pod})


def _evidence(usage: list[MetricSummary], line: str = TIMEOUT) -> Evidence:
    return make.evidence(
        workload=make.deployment("invoice-worker", "billing", replicas=4),
        pods=[
            make.pod(
                p,
                make.container("worker"),
                namespace="billing",
                replica_set="invoice-worker-7c9d5f6b84",
            )
            for p in PODS
        ],
        autoscalers=[_hpa()],
        services=[make.service("fx-rates", "pricing", ready=2, matching=2)],
        metrics=usage,
        logs=[make.log(PODS[0], "worker", f"{DONE}\n{line}", namespace="billing")],
    )


def _idle_then_new() -> list[MetricSummary]:
    """Two pods busy at the window's start now idle; two started idle during the window."""
    return [
        _usage(PODS[0], 0.6, 0.05),
        _usage(PODS[1], 0.58, 0.04),
        _usage(PODS[2], 0.05, 0.05),
        _usage(PODS[3], 0.04, 0.05),
    ]


def test_idle_workers_at_the_maximum_whose_calls_time_out_lead_to_the_dependency() -> None:
    result = analyze(_evidence(_idle_then_new()))
    assert_leads(result, Category.DEPENDENCY_FAILURE, Action.ESCALATE, RATES)
    (saturation,) = by_category(result, Category.RESOURCE_SATURATION)
    assert saturation.confidence < 0.7
    assert any("0.6 -> 0.05 cores" in e.fact for e in saturation.evidence)


def test_busy_workers_at_the_maximum_stay_saturation_though_calls_time_out() -> None:
    ev = _evidence([_usage(p, 0.6, 0.62) for p in PODS])
    assert idle_waiting(ev) is None
    assert_leads(analyze(ev), Category.RESOURCE_SATURATION, Action.SCALE_OUT, WORKER)


def test_idle_workers_with_no_timed_out_call_are_no_doubt() -> None:
    ev = _evidence(_idle_then_new(), line="[2026-11-20 09:41:02,771: INFO/MainProcess] idle")
    assert went_idle(ev)
    assert idle_waiting(ev) is None
    assert_leads(analyze(ev), Category.RESOURCE_SATURATION, Action.SCALE_OUT, WORKER)


def test_a_pod_whose_cpu_rose_says_the_work_grew() -> None:
    usage = [*_idle_then_new(), _usage("invoice-worker-7c9d5f6b84-p9", 0.3, 0.9)]
    assert went_idle(_evidence(usage)) == []


def test_never_busy_pods_and_raw_counters_say_nothing() -> None:
    never_busy = [_usage(p, 0.03, 0.005) for p in PODS]
    assert went_idle(_evidence(never_busy)) == []
    counters = [_usage(p, 81000.0, 300.0, rate=False) for p in PODS]
    assert went_idle(_evidence(counters)) == []

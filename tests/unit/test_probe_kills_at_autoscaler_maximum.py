"""Liveness probes that time out and get a busy container killed: the kill is the probe's own
harm (fix-probe), unless the workload's autoscaler already runs its maximum while its traffic
grew (``analyzers.saturation.outrun_autoscaler``). Then the pods are too busy because demand
outran the replicas the autoscaler may add, and the kills only report it: more replicas
(scale-out) lead, the probe ranks below. Flat traffic, or an autoscaler with room left, keep
the probe in front.

Real: the analyzer registry (``run_analyzers``) on Evidence models from the
``tests.support.evidence`` factories; the autoscaler, CPU and request-rate series are
summaries as the metrics stage writes them (no Prometheus).
"""

from __future__ import annotations

from kubetriage.analyzers.saturation import outrun_autoscaler
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import AutoscalerEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import autoscalers
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")


def _hpa(replicas: int, max_replicas: int = 4) -> AutoscalerEvidence:
    return autoscalers.hpa(
        CHECKOUT,
        current=replicas,
        maximum=max_replicas,
        limited=replicas >= max_replicas,
        metrics=["cpu"],
    )


def _killed_while_busy(*, requests_from: float, replicas: int = 4) -> Evidence:
    """Checkout's liveness probe times out and the kubelet kills its container three times
    while its CPU usage (no CPU limit) rose from 0.3 to 1 core; the request rate rose from
    ``requests_from`` to 450/s; its CPU-scaled autoscaler runs ``replicas`` of 4."""
    app = make.container(
        "app",
        ready=False,
        restarts=3,
        limits={"memory": "1Gi"},
        last_state=make.terminated("Error", 143),
        probes=[make.http_probe("liveness", "/healthz", "http", timeout_seconds=1)],
    )
    return make.checkout_evidence(
        app,
        workload=make.deployment(replicas=4, ready=1),
        autoscalers=[_hpa(replicas)],
        events=[
            make.event(
                "Unhealthy",
                'Liveness probe failed: Get "http://10.1.2.3:3000/healthz": context deadline '
                "exceeded (Client.Timeout exceeded while awaiting headers)",
                name=CHECKOUT_POD,
                count=40,
            ),
            make.event(
                "Killing",
                "Container app failed liveness probe, will be restarted",
                name=CHECKOUT_POD,
                type_="Normal",
                count=3,
            ),
        ],
        metrics=[
            make.metric(
                "sum by (pod, container) (rate(container_cpu_usage_seconds_total"
                '{pod=~"checkout-.*"}[5m]))',
                name="cpu_usage_cores",
                labels={"pod": CHECKOUT_POD, "container": "app"},
                first=0.3,
                last=1.0,
                trend="rising",
            ),
            make.metric(
                'sum(rate(http_requests_total{namespace="shop",job=~"(.+/)?checkout"}[5m]))',
                name="http_request_rate",
                first=requests_from,
                last=450.0,
            ),
        ],
    )


def test_kills_of_busy_pods_while_the_autoscaler_is_maxed_by_traffic_scale_out() -> None:
    result = make.analyze(_killed_while_busy(requests_from=150.0))
    first = make.assert_leads(result, Category.RESOURCE_SATURATION, Action.SCALE_OUT, CHECKOUT)
    probe = make.by_category(result, Category.PROBE_FAILURE)
    assert probe
    assert probe[0].confidence < first.confidence
    # The probe finding says why it steps back: the autoscaler at its maximum.
    assert any("(max)" in e.fact for e in probe[0].evidence), probe[0].evidence


def test_kills_of_busy_pods_at_flat_traffic_stay_the_probes() -> None:
    ev = _killed_while_busy(requests_from=440.0)
    assert outrun_autoscaler(ev, CHECKOUT) is None
    make.assert_leads(make.analyze(ev), Category.PROBE_FAILURE, Action.FIX_PROBE, CHECKOUT)


def test_kills_of_busy_pods_with_autoscaler_room_left_stay_the_probes() -> None:
    ev = _killed_while_busy(requests_from=150.0, replicas=3)
    assert outrun_autoscaler(ev, CHECKOUT) is None
    make.assert_leads(make.analyze(ev), Category.PROBE_FAILURE, Action.FIX_PROBE, CHECKOUT)


def test_the_autoscaler_of_another_workload_does_not_count() -> None:
    ev = _killed_while_busy(requests_from=150.0)
    other = ObjectRef(kind="Deployment", namespace="shop", name="cart")
    assert outrun_autoscaler(ev, other) is None
    assert outrun_autoscaler(ev, CHECKOUT) is not None

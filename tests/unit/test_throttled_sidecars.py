"""Checks that CPU throttling is weighed by where requests go: a sidecar no request passes
through (a log shipper beside the container a Service sends to) slows no request, so its
throttling does not answer a latency page. Near misses keep the finding: the serving
container throttled, a mesh proxy (it intercepts the traffic), an alert that names the
sidecar, and a pod no Service is known to send to.

Real: the analyzer registry and ``analyzers/serving.py`` on synthetic evidence
(``tests.support.evidence``); nothing is faked.
"""

from __future__ import annotations

from kubetriage.analyzers.serving import auxiliary_agent, off_request_path, served_containers
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ContainerEvidence, MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD, analyze, assert_leads, by_category

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
APP = make.container("app", limits={"cpu": "1"}, ports=[make.port(8080, "http")])
SHIPPER = make.container("fluent-bit", "fluent/fluent-bit:3.1", limits={"cpu": "100m"})
PROXY = make.container("istio-proxy", "istio/proxyv2:1.24", limits={"cpu": "100m"})
LATENCY = make.metric(
    "histogram_quantile(0.99, sum by (le) "
    '(rate(http_request_duration_seconds_bucket{job="checkout"}[5m])))',
    name="p99_latency",
    first=0.2,
    last=0.9,
    trend="rising",
)


def _throttled(container: str, share: float) -> MetricSummary:
    return make.metric(
        f'sum(rate(container_cpu_cfs_throttled_periods_total{{container="{container}"}}[5m])) / '
        f'sum(rate(container_cpu_cfs_periods_total{{container="{container}"}}[5m]))',
        name="cpu_throttling_ratio",
        first=share / 2,
        last=share,
        labels={"container": container},
    )


def _page(
    sidecar: ContainerEvidence,
    *,
    app_share: float = 0.02,
    sidecar_share: float = 0.7,
    service: bool = True,
    alertname: str = "CheckoutLatencyHigh",
    **labels: str,
) -> Evidence:
    """Checkout's latency page: its ``app`` container serves the Service's ``http`` port,
    ``sidecar`` beside it; each throttled in the given share of its CFS periods."""
    return make.evidence(
        workload=make.deployment(containers=[APP, sidecar]),
        pods=[make.pod(CHECKOUT_POD, APP, sidecar)],
        metrics=[_throttled("app", app_share), _throttled(sidecar.name, sidecar_share), LATENCY],
        alerts=[make.alert(alertname=alertname, namespace="shop", **labels)],
        services=(
            [make.service("checkout", ports=[make.service_port(80, "http", "http")])]
            if service
            else []
        ),
    )


def test_the_container_a_service_sends_to_is_in_the_request_path() -> None:
    ev = _page(SHIPPER)
    pod = ev.pods[0]
    assert served_containers(ev, pod) == {"app"}
    assert off_request_path(ev, pod, SHIPPER)
    assert not off_request_path(ev, pod, APP)
    assert not off_request_path(ev, pod, PROXY)


def test_a_throttled_log_shipper_does_not_answer_a_latency_page() -> None:
    result = analyze(_page(SHIPPER))
    throttled = by_category(result, Category.CPU_THROTTLING)
    assert not [f for f in throttled if f.params.get("container") == "fluent-bit"], throttled


def test_the_serving_container_throttled_still_answers_it() -> None:
    result = analyze(_page(SHIPPER, app_share=0.6, sidecar_share=0.7))
    leader = assert_leads(result, Category.CPU_THROTTLING, Action.INCREASE_CPU, CHECKOUT)
    assert leader.params["container"] == "app"


def test_a_throttled_mesh_proxy_is_in_the_request_path() -> None:
    leader = assert_leads(
        analyze(_page(PROXY)), Category.CPU_THROTTLING, Action.INCREASE_CPU, CHECKOUT
    )
    assert leader.params["container"] == "istio-proxy"


def test_an_alert_that_names_the_sidecar_keeps_its_throttling() -> None:
    ev = _page(SHIPPER, alertname="CPUThrottlingHigh", container="fluent-bit")
    leader = assert_leads(analyze(ev), Category.CPU_THROTTLING, Action.INCREASE_CPU, CHECKOUT)
    assert leader.params["container"] == "fluent-bit"


def test_without_a_service_the_request_path_is_unknown_and_nothing_is_excused() -> None:
    ev = _page(SHIPPER, service=False)
    assert served_containers(ev, ev.pods[0]) == set()
    leader = assert_leads(analyze(ev), Category.CPU_THROTTLING, Action.INCREASE_CPU, CHECKOUT)
    assert leader.params["container"] == "fluent-bit"


def test_a_portless_container_the_served_one_may_call_over_localhost_is_not_excused() -> None:
    # PHP-FPM behind nginx declares no port, yet every request waits on it.
    fpm = make.container(
        "php-fpm", "registry.example/shop/catalog-php:2026.11", limits={"cpu": "500m"}
    )
    ev = _page(fpm)
    assert not off_request_path(ev, ev.pods[0], fpm)
    leader = assert_leads(analyze(ev), Category.CPU_THROTTLING, Action.INCREASE_CPU, CHECKOUT)
    assert leader.params["container"] == "php-fpm"


def test_agents_are_known_by_name_or_by_image() -> None:
    assert auxiliary_agent(
        make.container("logs", "cr.fluentbit.io/fluent/fluent-bit:3.1@sha256:ab")
    )
    assert auxiliary_agent(make.container("fluentd"))
    assert auxiliary_agent(make.container("metrics", "quay.io/prometheus/nginx-exporter:1.3"))
    assert not auxiliary_agent(make.container("app", "ghcr.io/example/exporter-api:2.0"))
    assert not auxiliary_agent(make.container("cloud-sql-proxy", "gcr.io/cloud-sql-proxy:2.11"))

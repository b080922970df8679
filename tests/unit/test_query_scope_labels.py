"""Which series the live path's queries reach: the scrape-job templates also find the series of
a Service scraped under another job name, ingress-nginx's requests also when a ServiceMonitor
renamed its labels, and a Pod target's rollout and replica series are its workload's.

The rendered templates are evaluated by the real ``promtool test rules`` over synthetic
series, so a matcher that misses the series fails here.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from kubetriage.evidence.queries import build_scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from tests.support.promtool_checks import assert_evaluates

WINDOW = timedelta(minutes=30)
CHECKOUT = ObjectRef(kind="Deployment", name="checkout", namespace="shop")
FAMILIES = frozenset({"latency", "errors", "saturation"})


def _queries(target: ObjectRef, alerts: list[Alert] | None = None) -> dict[str, str]:
    scope = build_scope(target, alerts or [])
    return {q.name: q.promql for q in select_queries(scope, WINDOW, families=FAMILIES)}


def test_request_rate_finds_the_series_of_a_service_scraped_under_another_job(
    tmp_path: Path,
) -> None:
    # A ServiceMonitor whose jobLabel names the job after the app: the Service label stays.
    series = [('http_requests_total{namespace="shop",job="web-app",service="checkout"}', "0+60x30")]
    assert_evaluates(tmp_path, series, _queries(CHECKOUT)["http_request_rate"], 1.0)


def test_the_scrape_jobs_own_series_win_over_the_service_labelled_ones(tmp_path: Path) -> None:
    series = [
        ('http_requests_total{namespace="shop",job="checkout"}', "0+60x30"),
        ('http_requests_total{namespace="shop",job="other",service="checkout"}', "0+600x30"),
    ]
    assert_evaluates(tmp_path, series, _queries(CHECKOUT)["http_request_rate"], 1.0)


def test_error_ratio_by_service_label(tmp_path: Path) -> None:
    series = [
        ('http_requests_total{namespace="shop",service="checkout",code="200"}', "0+45x30"),
        ('http_requests_total{namespace="shop",service="checkout",code="503"}', "0+15x30"),
    ]
    assert_evaluates(tmp_path, series, _queries(CHECKOUT)["http_5xx_ratio"], 0.25)


def test_another_services_series_stay_out(tmp_path: Path) -> None:
    series = [
        ('http_requests_total{namespace="shop",service="checkout-db"}', "0+60x30"),
        ('http_requests_total{namespace="other",service="checkout"}', "0+60x30"),
    ]
    assert_evaluates(tmp_path, series, _queries(CHECKOUT)["http_request_rate"], None)


def test_ingress_requests_relabelled_by_a_service_monitor(tmp_path: Path) -> None:
    # Scraped in the controller's namespace, the Ingress's namespace and backend Service are
    # kept as exported_namespace and exported_service.
    series = [
        (
            'nginx_ingress_controller_requests{namespace="ingress-nginx",'
            'exported_namespace="shop",exported_service="checkout",status="200"}',
            "0+120x30",
        ),
        (
            'nginx_ingress_controller_requests{namespace="ingress-nginx",'
            'exported_namespace="shop",exported_service="search",status="200"}',
            "0+600x30",
        ),
    ]
    assert_evaluates(tmp_path, series, _queries(CHECKOUT)["ingress_request_rate"], 2.0)


def _ingress_buckets(labels: str, fast: str, slow: str) -> list[tuple[str, str]]:
    """ingress-nginx's request duration histogram for ``labels``: ``fast`` of the requests
    within 0.1s, the rest (``slow``) within 1s."""
    name = "nginx_ingress_controller_request_duration_seconds_bucket"
    return [
        (f'{name}{{{labels},le="0.1"}}', fast),
        (f'{name}{{{labels},le="1"}}', slow),
        (f'{name}{{{labels},le="+Inf"}}', slow),
    ]


def test_ingress_latency_is_read_under_either_label_vocabulary(tmp_path: Path) -> None:
    # Every request within 1s and 20% slower than 0.1s: the p99 lies in (0.1, 1]. The
    # ServiceMonitor-relabelled series of the Service answer; another Service's stay out.
    query = _queries(CHECKOUT)["ingress_latency_p99_seconds"]
    own = 'namespace="ingress-nginx",exported_namespace="shop",exported_service="checkout"'
    other = 'namespace="ingress-nginx",exported_namespace="shop",exported_service="search"'
    series = [
        *_ingress_buckets(own, "0+80x30", "0+100x30"),
        *_ingress_buckets(other, "0+100x30", "0+100x30"),
    ]
    assert_evaluates(tmp_path, series, query, 0.9550000000000002)
    direct = [*_ingress_buckets('namespace="shop",service="checkout"', "0+80x30", "0+100x30")]
    assert_evaluates(tmp_path, direct, query, 0.9550000000000002)


def test_ingress_latency_of_another_service_only_is_no_answer(tmp_path: Path) -> None:
    query = _queries(CHECKOUT)["ingress_latency_p99_seconds"]
    series = _ingress_buckets('namespace="shop",service="search"', "0+80x30", "0+100x30")
    assert_evaluates(tmp_path, series, query, None)


def test_a_pod_targets_rollout_and_replicas_are_its_workloads() -> None:
    pod = ObjectRef(kind="Pod", name="checkout-7d9f6c8b5-x2x9k", namespace="shop")
    scope = build_scope(pod, [], workload=CHECKOUT)
    assert scope.pod_regex == "checkout-7d9f6c8b5-x2x9k"  # per-pod series stay the pod's
    assert scope.deployment == "checkout"
    assert scope.job == "checkout"
    names = {q.name for q in select_queries(scope, WINDOW, families=frozenset({"restarts"}))}
    assert {"deployment_replicas_available", "deployment_generation"} <= names
    database = ObjectRef(kind="StatefulSet", name="pg", namespace="shop")
    assert build_scope(pod, [], workload=database).statefulset == "pg"
    # The alert's job still names the scrape job.
    alert = Alert(status="firing", labels={"alertname": "X", "job": "checkout-web"})
    assert build_scope(pod, [alert], workload=CHECKOUT).job == "checkout-web"


def test_the_workload_widens_only_a_pod_target_of_its_own_namespace() -> None:
    pod = ObjectRef(kind="Pod", name="checkout-7d9f6c8b5-x2x9k", namespace="shop")
    elsewhere = ObjectRef(kind="Deployment", name="checkout", namespace="other")
    assert build_scope(pod, [], workload=elsewhere).deployment is None
    service = ObjectRef(kind="Service", name="checkout", namespace="shop")
    assert build_scope(service, [], workload=CHECKOUT).deployment is None
    assert build_scope(pod, []).deployment is None


def test_opentelemetry_series_are_found_by_their_resource_labels(tmp_path: Path) -> None:
    # Exported by an OpenTelemetry collector and scraped in the collector's own namespace:
    # the workload's namespace and service are only in the resource attributes' labels.
    series = [
        (
            'http_server_request_duration_seconds_count{namespace="observability",'
            'job="storefront/checkout",k8s_namespace_name="shop",service_name="checkout",'
            'http_response_status_code="200"}',
            "0+90x30",
        ),
        (
            'http_server_request_duration_seconds_count{namespace="observability",'
            'job="storefront/checkout",k8s_namespace_name="shop",service_name="checkout",'
            'http_response_status_code="503"}',
            "0+30x30",
        ),
        (
            'http_server_request_duration_seconds_count{namespace="observability",'
            'k8s_namespace_name="other",service_name="checkout",http_response_status_code="200"}',
            "0+600x30",
        ),
    ]
    queries = _queries(CHECKOUT)
    assert_evaluates(tmp_path, series, queries["http_request_rate_from_histogram"], 2.0)
    assert_evaluates(tmp_path, series, queries["otel_http_server_5xx_ratio"], 0.25)


def test_opentelemetry_series_named_by_their_deployment(tmp_path: Path) -> None:
    # spanmetrics or an SDK whose service.name differs from the workload: the k8sattributes
    # processor still names the Deployment.
    series = [
        (
            'http_server_request_duration_seconds_count{k8s_namespace_name="shop",'
            'k8s_deployment_name="checkout",service_name="checkout-service"}',
            "0+120x30",
        )
    ]
    assert_evaluates(tmp_path, series, _queries(CHECKOUT)["http_request_rate_from_histogram"], 2.0)


OTEL_POD = (
    'k8s_namespace_name="shop",k8s_pod_name="checkout-5f6b7c8d9-tz6wq",k8s_container_name="app"'
)
POD_LABELS = '{container="app", pod="checkout-5f6b7c8d9-tz6wq"}'


def test_an_opentelemetry_collectors_pod_series_answer_the_per_container_queries(
    tmp_path: Path,
) -> None:
    # kubeletstats and k8s_cluster receivers through the collector's Prometheus exporter:
    # pod and container only in resource attributes, the limit and CPU under their own names.
    series = [
        (f'container_memory_working_set_bytes{{namespace="observability",{OTEL_POD}}}', "900x30"),
        (f'k8s_container_memory_limit_bytes{{namespace="observability",{OTEL_POD}}}', "1000x30"),
        (f'container_cpu_time_seconds_total{{namespace="observability",{OTEL_POD}}}', "0+30x30"),
        (
            'container_memory_working_set_bytes{k8s_namespace_name="other",'
            'k8s_pod_name="checkout-5f6b7c8d9-tz6wq",k8s_container_name="app"}',
            "5000x30",
        ),
    ]
    queries = _queries(CHECKOUT)
    assert_evaluates(tmp_path, series, queries["memory_working_set_bytes"], 900, POD_LABELS)
    assert_evaluates(tmp_path, series, queries["memory_working_set_vs_limit"], 0.9, POD_LABELS)
    assert_evaluates(tmp_path, series, queries["cpu_usage_cores"], 0.5, POD_LABELS)


def test_cadvisor_series_still_answer_the_per_container_queries(tmp_path: Path) -> None:
    series = [
        (
            'container_memory_working_set_bytes{namespace="shop",'
            'pod="checkout-5f6b7c8d9-tz6wq",container="app"}',
            "700x30",
        ),
        (
            'kube_pod_container_resource_limits{namespace="shop",pod="checkout-5f6b7c8d9-tz6wq",'
            'container="app",resource="memory"}',
            "1000x30",
        ),
    ]
    queries = _queries(CHECKOUT)
    assert_evaluates(tmp_path, series, queries["memory_working_set_vs_limit"], 0.7, POD_LABELS)


def test_opentelemetry_series_labelled_with_the_kubernetes_namespace(tmp_path: Path) -> None:
    # A pipeline that writes the pod's namespace as ``namespace`` and keeps service_name: the
    # service's series are found; another namespace's service of that name is not.
    series = [
        (
            'http_server_request_duration_seconds_count{namespace="shop",service_name="checkout",'
            'http_response_status_code="200"}',
            "0+90x30",
        ),
        (
            'http_server_request_duration_seconds_count{namespace="shop",service_name="checkout",'
            'http_response_status_code="503"}',
            "0+30x30",
        ),
        (
            'http_server_request_duration_seconds_count{namespace="other",service_name="checkout",'
            'http_response_status_code="200"}',
            "0+600x30",
        ),
    ]
    queries = _queries(CHECKOUT)
    assert_evaluates(tmp_path, series, queries["http_request_rate_from_histogram"], 2.0)
    assert_evaluates(tmp_path, series, queries["otel_http_server_5xx_ratio"], 0.25)
    elsewhere = [(s.replace('namespace="shop"', 'namespace="x"'), v) for s, v in series[:2]]
    assert_evaluates(tmp_path, elsewhere, queries["otel_http_server_5xx_ratio"], None)


def test_the_scrape_jobs_series_win_over_namespace_and_service_name(tmp_path: Path) -> None:
    series = [
        ('http_requests_total{namespace="shop",job="checkout"}', "0+60x30"),
        ('http_requests_total{namespace="shop",service_name="checkout"}', "0+600x30"),
    ]
    assert_evaluates(tmp_path, series, _queries(CHECKOUT)["http_request_rate"], 1.0)


def test_an_expired_certificate_of_the_namespaces_own_probe_is_found(tmp_path: Path) -> None:
    # blackbox stops the series when the handshake fails: its last expiry is what stays.
    probe = 'probe_ssl_earliest_cert_expiry{namespace="shop",instance="https://shop.example.org/"}'
    expr = _queries(CHECKOUT)["namespace_probe_certificates_seconds"]
    assert_evaluates(
        tmp_path, [(probe, "600x9 _x20")], expr, -600.0, '{instance="https://shop.example.org/"}'
    )


def test_a_valid_certificate_or_another_namespaces_probe_stays_out(tmp_path: Path) -> None:
    expr = _queries(CHECKOUT)["namespace_probe_certificates_seconds"]
    valid = 'probe_ssl_earliest_cert_expiry{namespace="shop",instance="https://shop.example.org/"}'
    assert_evaluates(tmp_path, [(valid, f"{1200 + 30 * 86400}x30")], expr, None)
    other = 'probe_ssl_earliest_cert_expiry{namespace="web",instance="https://web.example.org/"}'
    assert_evaluates(tmp_path, [(other, "600x30")], expr, None)

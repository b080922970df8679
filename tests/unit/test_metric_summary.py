"""Checks series summaries (trend, changed_at), query-template selection and label escaping.

Pure functions over real models; the PromQL syntax checks run the real ``promtool check
rules`` on every rendered template, including ones filled with hostile label values.
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from kubetriage.evidence.prometheus import choose_step
from kubetriage.evidence.queries import (
    TEMPLATES,
    Scope,
    alert_expression,
    alert_families,
    alert_queries,
    build_scope,
    escape_label_value,
    escape_regex,
    metrics_target,
    select_queries,
)
from kubetriage.evidence.series import summarize_series
from kubetriage.models.alerts_view import volume_claims
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.object_evidence import PVCEvidence
from kubetriage.models.relations import DependencyEvidence, DependencyVolume
from kubetriage.replay.promtool import PROMTOOL_BINARY
from tests.support import evidence as make

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=66)


def _points(values: list[float], step_seconds: int = 60) -> list[tuple[datetime, float]]:
    return [(T0 + timedelta(seconds=i * step_seconds), v) for i, v in enumerate(values)]


# --- summaries ----------------------------------------------------------------------------


def test_summary_basic_statistics() -> None:
    summary = summarize_series("m", "q", {"a": "b"}, _points([3.0, 1.0, 4.0, 1.0, 5.0]))
    assert (summary.first, summary.last, summary.min, summary.max) == (3.0, 5.0, 1.0, 5.0)
    assert summary.samples == 5
    assert summary.labels == {"a": "b"}


def test_summary_sorts_points_and_skips_non_finite() -> None:
    points = _points([1.0, float("nan"), 2.0, float("inf"), 3.0])
    summary = summarize_series("m", "q", {}, list(reversed(points)))
    assert (summary.first, summary.last, summary.samples) == (1.0, 3.0, 3)
    # How far back the series shows the workload: its first finite sample.
    assert summary.first_at == points[0][0]
    late = summarize_series("m", "q", {}, [(points[0][0], float("nan")), *points[2:]])
    assert late.first_at == points[2][0]


def test_summary_of_empty_series() -> None:
    summary = summarize_series("m", "q", {}, [])
    assert summary.samples == 0
    assert summary.last is None
    assert summary.trend == "unknown"


@pytest.mark.parametrize(
    ("values", "trend"),
    [
        ([100.0, 105.0, 109.0], "flat"),  # within 10% of magnitude
        ([100.0, 150.0, 120.0], "rising"),
        ([100.0, 50.0, 80.0], "falling"),
        ([1.0, 0.0], "falling"),
        ([0.0, 5.0], "rising"),
        ([0.0, 0.0, 0.0], "flat"),
        ([-10.0, -20.0], "falling"),
        ([7.0], "unknown"),  # one sample has no direction
    ],
)
def test_trend(values: list[float], trend: str) -> None:
    assert summarize_series("m", "q", {}, _points(values)).trend == trend


def test_changed_at_is_first_point_after_last_step() -> None:
    values = [1.0] * 30 + [0.0] * 10
    summary = summarize_series("probe", "q", {}, _points(values))
    assert summary.changed_at == T0 + timedelta(minutes=30)


def test_changed_at_follows_the_latest_of_several_steps() -> None:
    values = [0.0] * 5 + [1.0] * 5 + [2.0] * 5 + [3.0] * 2
    summary = summarize_series("restarts", "q", {}, _points(values))
    assert summary.changed_at == T0 + timedelta(minutes=15)


def test_changed_at_none_for_flat_and_smooth_ramp() -> None:
    assert summarize_series("m", "q", {}, _points([5.0] * 20)).changed_at is None
    ramp = [float(i) for i in range(100)]
    summary = summarize_series("m", "q", {}, _points(ramp))
    assert summary.trend == "rising"
    assert summary.changed_at is None


def test_changed_at_sees_a_drop_in_a_sawtooth() -> None:
    values = [60.0, 120.0, 170.0, 250.0, 60.0, 61.0, 62.0]
    summary = summarize_series("m", "q", {}, _points(values))
    assert summary.changed_at == T0 + timedelta(minutes=4)


def _rise_and_ease() -> list[float]:
    """A p99 at 0.22 s for 38 minutes, rising over 5 (a rate window) to 0.47 s, held, then
    easing to 0.39 s in the last minutes."""
    rise = [0.22 + 0.05 * i for i in range(1, 6)]
    return [0.22] * 38 + rise + [0.47] * 10 + [0.45, 0.42, 0.39] + [0.39] * 4


def test_departed_at_dates_when_a_series_first_left_its_level_not_its_latest_move() -> None:
    summary = summarize_series("p99", "q", {}, _points(_rise_and_ease()))
    # The latest big move is the easing; the onset is where it left 0.22 s.
    assert summary.changed_at == T0 + timedelta(minutes=55)
    assert summary.departed_at == T0 + timedelta(minutes=38)
    # A plain step departs where it steps.
    step = summarize_series("m", "q", {}, _points([1.0] * 30 + [5.0] * 30))
    assert step.departed_at == step.changed_at == T0 + timedelta(minutes=30)
    # A drop departs too.
    drop = summarize_series("m", "q", {}, _points([1.0] * 30 + [0.0] * 10))
    assert drop.departed_at == T0 + timedelta(minutes=30)


def test_no_departure_without_a_level_to_leave_or_a_moment_to_leave_it() -> None:
    def departed(values: list[float]) -> datetime | None:
        return summarize_series("m", "q", {}, _points(values)).departed_at

    # Near misses: flat, a smooth ramp (no moment it began), a ramp from the first sample,
    # a one-sample blip that came back (then a real step later departs there), noise.
    assert departed([5.0] * 30) is None
    assert departed([float(i) for i in range(60)]) is None
    assert departed([1.0] * 30 + [1.0 + 0.1 * i for i in range(30)]) is None
    assert departed([1.0] * 20 + [9.0] + [1.0] * 20 + [10.0] * 10) == T0 + timedelta(minutes=41)
    assert departed([10.0, 10.2, 9.9] * 20) is None
    assert departed([9.0, 1.0, 1.0, 1.0]) is None


@pytest.mark.parametrize(("minutes", "step"), [(66, 34), (60, 31), (1, 1), (0, 1), (240, 122)])
def test_choose_step_bounds_points(minutes: int, step: int) -> None:
    start = T0
    end = T0 + timedelta(minutes=minutes)
    chosen = choose_step(start, end)
    assert chosen == step
    assert minutes * 60 // chosen + 1 <= 120


# --- scope and template selection ---------------------------------------------------------


EVERY_FAMILY = frozenset(
    {"latency", "errors", "saturation", "throttling", "queue", "restarts", "cache"}
)


def _alert(**labels: str) -> Alert:
    return Alert(status="firing", labels={"alertname": "X", **labels})


def test_scope_for_pod_target_with_container_alert() -> None:
    target = ObjectRef(kind="Pod", name="csv-exporter-5f7d8c9b6d-k2x9p", namespace="exports")
    alert = _alert(
        namespace="exports", pod=target.name, container="exporter", job="kube-state-metrics"
    )
    scope = build_scope(target, [alert])
    assert scope.namespace == "exports"
    assert scope.pod_regex == "csv-exporter-5f7d8c9b6d-k2x9p"
    assert scope.container == "exporter"
    assert scope.job is None  # kube-state-metrics names the exporter, not the workload
    assert not scope.namespace_wide


def test_scope_for_deployment_matches_its_pods_only() -> None:
    target = ObjectRef(kind="Deployment", name="checkout", namespace="shop")
    scope = build_scope(target, [])
    assert scope.pod_regex is not None
    pattern = re.compile(scope.pod_regex)
    assert pattern.fullmatch("checkout-7d9f6c8b5-x2x9k")
    assert pattern.fullmatch("checkout-7d9f6c-x2x9k")
    assert not pattern.fullmatch("checkout-db-0")
    assert not pattern.fullmatch("checkout-db-7d9f6c8b5-x2x9k")
    assert scope.deployment == "checkout"
    assert scope.job == "checkout"


def test_selection_skips_templates_with_unknown_scope() -> None:
    scope = build_scope(ObjectRef(kind="Node", name="worker-1"), [])
    names = {q.name for q in select_queries(scope, WINDOW)}
    assert "node_condition_true" in names
    assert not any(n.startswith(("memory", "cpu", "http", "volume", "deployment")) for n in names)
    for query in select_queries(scope, WINDOW):
        assert "$" not in query.promql


def test_selection_for_namespace_with_job() -> None:
    target = ObjectRef(kind="Namespace", name="newsletter")
    scope = build_scope(target, [_alert(namespace="newsletter", job="mailer")])
    names = {q.name for q in select_queries(scope, WINDOW)}
    assert {"http_5xx_ratio", "http_latency_p99_seconds", "failing_probes"} <= names
    assert "memory_working_set_bytes" not in names  # no pods known


def test_selection_covers_every_template_with_a_full_scope() -> None:
    scope = Scope(
        namespace="ns",
        pod_regex="p",
        container="c",
        node="n",
        persistentvolumeclaim="pvc",
        deployment="d",
        statefulset="s",
        job="j",
        namespace_wide=True,
        dependency_hosts=("api.example.com",),
        callees=(ObjectRef(kind="Deployment", namespace="pricing", name="pricing"),),
        claims=(ObjectRef(kind="PersistentVolumeClaim", namespace="ns", name="data"),),
        tenants=(ObjectRef(kind="Pod", namespace="media", name="uploads-7d9f6c8b5-x2x9k"),),
        scrapes=True,
    )
    selected = select_queries(scope, WINDOW, families=EVERY_FAMILY)
    assert [q.name for q in selected] == [t.name for t in TEMPLATES]


def test_callee_throttling_is_queried_for_the_pods_of_each_called_workload() -> None:
    callees = [
        ObjectRef(kind="Deployment", namespace="pricing", name="pricing"),
        ObjectRef(kind="StatefulSet", namespace="data", name="pg.main"),
        ObjectRef(kind="Service", namespace="data", name="pg"),  # no pods of its own
    ]
    scope = build_scope(
        ObjectRef(kind="Deployment", namespace="shop", name="checkout"), [], callees=callees
    )
    query = next(q for q in select_queries(scope, WINDOW) if q.name == "callee_cpu_throttled_ratio")
    assert 'namespace=~"pricing|data"' in query.promql
    assert r'pod=~"pricing-[a-z0-9]{1,10}-[a-z0-9]{5}|pg\\.main-[0-9]+"' in query.promql
    assert "callee_cpu_throttled_ratio" not in {
        q.name for q in select_queries(build_scope(None, [_alert(namespace="shop")]), WINDOW)
    }


def test_mounted_claims_are_queried_for_their_fill_in_each_namespace() -> None:
    claims = [
        ObjectRef(kind="PersistentVolumeClaim", namespace="shop", name="uploads"),
        ObjectRef(kind="PersistentVolumeClaim", namespace="data", name="data-pg.main-0"),
        ObjectRef(kind="Service", namespace="data", name="pg"),  # not a claim
    ]
    scope = build_scope(
        ObjectRef(kind="Deployment", namespace="shop", name="checkout"), [], claims=claims
    )
    queries = {q.name: q.promql for q in select_queries(scope, WINDOW)}
    used = queries["claims_used_ratio"]
    assert 'namespace=~"shop|data"' in used
    assert r'persistentvolumeclaim=~"uploads|data-pg\\.main-0"' in used
    assert "kubelet_volume_stats_capacity_bytes" in used
    assert "claims_inodes_used_ratio" in queries
    # Their cloud volumes' burst credits, by the claim tags of the volume's info series.
    burst = queries["claims_burst_balance"]
    assert 'tag_kubernetes_io_created_for_pvc_name=~"uploads|data-pg\\\\.main-0"' in burst
    assert '"persistentvolumeclaim", "$1"' in burst
    assert "claims_used_ratio" not in {
        q.name for q in select_queries(build_scope(None, [_alert(namespace="shop")]), WINDOW)
    }


def test_a_namespace_wide_incident_scoped_by_its_one_workload_keeps_its_probe_queries() -> None:
    workload = ObjectRef(kind="Deployment", namespace="shop", name="web")
    alert = _alert(namespace="shop", instance="https://shop.example.com/")
    narrowed = {q.name for q in select_queries(build_scope(workload, [alert]), WINDOW)}
    kept = {
        q.name for q in select_queries(build_scope(workload, [alert], namespace_wide=True), WINDOW)
    }
    assert "expiring_probe_certificates_seconds" not in narrowed
    assert {"expiring_probe_certificates_seconds", "failing_probes"} <= kept
    assert "cpu_throttled_ratio" in kept  # and the workload's own series


def test_family_templates_run_only_for_their_alerts() -> None:
    scope = Scope(namespace="ns", pod_regex="p", deployment="d", job="j")
    latency = alert_families([_alert(alertname="HighRequestLatency")])
    assert latency == frozenset({"latency"})
    names = {q.name for q in select_queries(scope, WINDOW, families=latency)}
    assert {"http_request_rate", "cpu_seconds_per_request", "deployment_generation"} <= names
    assert "kafka_consumergroup_lag" not in names
    disk = alert_families([_alert(alertname="KubePersistentVolumeFillingUp")])
    assert disk == frozenset()
    assert not {"http_request_rate", "deployment_generation"} & {
        q.name for q in select_queries(scope, WINDOW, families=disk)
    }
    lag = alert_families([_alert(alertname="KafkaConsumerLagHigh")])
    assert "queue" in lag
    assert "kafka_consumergroup_lag" in {
        q.name for q in select_queries(scope, WINDOW, families=lag)
    }


def test_queue_labels_ask_for_input_rate_consumed_rate_and_consumers_cpu() -> None:
    # Named only by its labels: the alert's name says nothing about a queue.
    backlog = alert_families([_alert(alertname="InvoicesDelayed", queue="invoices")])
    assert "queue" in backlog
    namespace_wide = Scope(namespace="billing", namespace_wide=True)
    names = {q.name for q in select_queries(namespace_wide, WINDOW, families=backlog)}
    assert {
        "queue_messages_ready",
        "queue_input_rate",
        "topic_input_rate",
        "queue_consumed_rate",
        "namespace_pod_cpu_cores",
    } <= names
    # A known workload's pods have their own CPU queries; the namespace-wide one is not run.
    narrow = Scope(namespace="billing", pod_regex="worker-.+")
    assert "namespace_pod_cpu_cores" not in {
        q.name for q in select_queries(narrow, WINDOW, families=backlog)
    }
    assert "queue_input_rate" not in {
        q.name
        for q in select_queries(
            namespace_wide, WINDOW, families=alert_families([_alert(alertname="X")])
        )
    }


def test_series_shapes_tell_a_step_from_a_ramp_and_a_spike() -> None:
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def shape(values: list[float]) -> tuple[str, float | None, float | None]:
        points = [(start + timedelta(minutes=i), v) for i, v in enumerate(values)]
        summary = summarize_series("m", "q", {}, points)
        return summary.shape, summary.before, summary.after

    assert shape([1.0] * 30 + [5.0] * 30) == ("step", 1.0, 5.0)
    assert shape([float(i) for i in range(1, 61)])[0] == "ramp"
    assert shape([1.0] * 25 + [9.0] * 3 + [1.0] * 32)[0] == "spike"
    assert shape([10.0, 10.2, 9.9] * 20)[0] == "flat"
    assert shape([1.0, 2.0])[0] == "unknown"


def test_escape_label_value() -> None:
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert escape_regex("a.b+c") == "a\\.b\\+c"


HOSTILE = 'x"} or vector(1) or up{a="\\'


def _hostile_alert() -> Alert:
    """An alert whose every label a query template may use carries ``HOSTILE``."""
    labels = ("namespace", "pod", "container", "node", "persistentvolumeclaim", "deployment")
    return _alert(**dict.fromkeys((*labels, "statefulset", "job"), HOSTILE))


def test_hostile_label_values_stay_inside_their_string() -> None:
    alert = _hostile_alert()
    callee = ObjectRef(kind="Deployment", namespace=HOSTILE, name=HOSTILE)
    claim = ObjectRef(kind="PersistentVolumeClaim", namespace=HOSTILE, name=HOSTILE)
    tenant = ObjectRef(kind="Pod", namespace=HOSTILE, name=HOSTILE)
    scope = build_scope(
        None,
        [alert],
        dependency_hosts=[HOSTILE],
        callees=[callee],
        claims=[claim],
        tenants=[tenant],
        scrapes=True,
    )
    queries = select_queries(scope, WINDOW, families=EVERY_FAMILY)
    assert len(queries) == len(TEMPLATES)
    for query in queries:
        # Outside string literals the query must hold no trace of the injected text.
        outside = _strip_string_literals(query.promql)
        assert "vector(1)" not in outside, query.name


def _strip_string_literals(promql: str) -> str:
    out: list[str] = []
    in_string = False
    index = 0
    while index < len(promql):
        char = promql[index]
        if in_string:
            if char == "\\":
                index += 2
                continue
            if char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        else:
            out.append(char)
        index += 1
    assert not in_string, f"unterminated string in {promql}"
    return "".join(out)


def test_every_rendered_template_is_valid_promql(tmp_path: Path) -> None:
    hostile = build_scope(
        None,
        [_hostile_alert()],
        dependency_hosts=[HOSTILE, "api.example.com"],
        callees=[ObjectRef(kind="Deployment", namespace=HOSTILE, name=HOSTILE)],
        claims=[ObjectRef(kind="PersistentVolumeClaim", namespace=HOSTILE, name=HOSTILE)],
    )
    plain = build_scope(
        ObjectRef(kind="Deployment", name="checkout", namespace="shop"),
        [_alert(namespace="shop", container="app", node="n1", persistentvolumeclaim="data")],
        dependency_hosts=["api.example.com"],
        callees=[
            ObjectRef(kind="Deployment", namespace="pricing", name="pricing"),
            ObjectRef(kind="StatefulSet", namespace="data", name="pg.main"),
        ],
        claims=[ObjectRef(kind="PersistentVolumeClaim", namespace="data", name="data-pg.main-0")],
    )
    rules = [
        {"record": f"check:{i}", "expr": q.promql}
        for i, q in enumerate(select_queries(hostile, WINDOW) + select_queries(plain, WINDOW))
    ]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "t", "rules": rules}]}), encoding="utf-8")
    completed = subprocess.run(
        [PROMTOOL_BINARY, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


# --- the alert's own expression ----------------------------------------------------------


def test_alert_expression_from_generator_url() -> None:
    url = (
        "http://prometheus.example:9090/graph?g0.expr=rate%28errors_total%7Bjob%3D%22api%22"
        "%7D%5B5m%5D%29+%3E+0.1&g0.tab=1"
    )
    assert alert_expression(url) == 'rate(errors_total{job="api"}[5m]) > 0.1'
    assert alert_expression("http://x/graph?g0.tab=1") is None
    assert alert_expression(None) is None
    assert alert_expression("not a url") is None


def test_alert_queries_deduplicate() -> None:
    url = "http://p/graph?g0.expr=up+%3D%3D+0&g0.tab=1"
    alerts = [
        Alert(labels={"alertname": "A"}, generatorURL=url),
        Alert(labels={"alertname": "B"}, generatorURL=url),
        Alert(labels={"alertname": "C"}),
    ]
    queries = alert_queries(alerts)
    assert [(q.name, q.promql) for q in queries] == [("alert_expr", "up == 0")]


def test_a_services_metrics_are_scoped_by_the_workload_behind_it() -> None:
    service = ObjectRef(kind="Service", name="accounts", namespace="accounts")
    workload = ObjectRef(kind="Deployment", name="accounts-api", namespace="accounts")
    pod = ObjectRef(kind="Pod", name="accounts-api-7d9f6c8b5-abcde", namespace="accounts")
    assert metrics_target(service, workload) == workload
    assert metrics_target(None, workload) == workload
    # A pod or workload target keeps its own, narrower scope; no workload, no change.
    assert metrics_target(pod, workload) == pod
    assert metrics_target(service, None) == service
    scope = build_scope(metrics_target(service, workload), [_alert(alertname="HighLatency")])
    names = {
        q.name
        for q in select_queries(
            scope, WINDOW, families=alert_families([_alert(alertname="HighLatency")])
        )
    }
    # The latency alert on a Service now asks for its pods' CPU, throttling and rollouts.
    assert {"cpu_throttled_ratio", "cpu_usage_cores", "deployment_generation"} <= names


def test_the_claims_to_query_are_the_workloads_and_its_callees_mounted_claims() -> None:
    own = PVCEvidence(name="uploads", namespace="shop")
    callee_claim = PVCEvidence(name="data-pg-0", namespace="data")
    dependency = DependencyEvidence(
        service=make.service("pg", namespace="data"),
        volumes=[
            DependencyVolume(pod="pg-0", claim=callee_claim),
            DependencyVolume(pod="pg-1", claim=callee_claim),  # one claim, one query
        ],
    )
    ev = make.evidence(pvcs=[own], dependencies=[dependency])
    assert volume_claims(ev) == [
        ObjectRef(kind="PersistentVolumeClaim", namespace="shop", name="uploads"),
        ObjectRef(kind="PersistentVolumeClaim", namespace="data", name="data-pg-0"),
    ]


def test_a_namespace_wide_slow_service_asks_for_every_containers_throttling() -> None:
    latency = alert_families([_alert(alertname="FrontendLatencyP95High")])
    namespace_wide = Scope(namespace="astronomy", namespace_wide=True)
    query = next(
        q
        for q in select_queries(namespace_wide, WINDOW, families=latency)
        if q.name == "namespace_cpu_throttled_ratio"
    )
    assert 'namespace="astronomy"' in query.promql
    assert "sum by (pod, container)" in query.promql
    # A known workload has its own throttling queries; an error alert is not about CPU.
    narrow = Scope(namespace="astronomy", pod_regex="currency-.+")
    assert "namespace_cpu_throttled_ratio" not in {
        q.name for q in select_queries(narrow, WINDOW, families=latency)
    }
    errors = alert_families([_alert(alertname="FrontendHttp5xxRatioHigh")])
    assert "namespace_cpu_throttled_ratio" not in {
        q.name for q in select_queries(namespace_wide, WINDOW, families=errors)
    }

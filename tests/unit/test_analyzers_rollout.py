"""Checks the workload analyzers: bad-rollout (a new revision broke a working workload, or load
stepped up right after it) and resource-saturation (HPA at max, traffic growth with latency
measured or alerted, load with no CPU limit and no rollout while latency rises or the server
says its workers are all busy), plus near misses where they must stay quiet.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage import prose
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import (
    AutoscalerEvidence,
    MetricSummary,
    PodCondition,
    PodEvidence,
    RevisionEvidence,
)
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import (
    CHECKOUT_POD,
    analyze,
    assert_leads,
    assert_ranks_below,
    by_category,
    top,
)

CHECKOUT = ObjectRef(kind="Deployment", namespace="shop", name="checkout")


def _rollout(old_ready: bool = True) -> dict[str, object]:
    crashing = make.crash_looping(
        "app",
        "ghcr.io/example/app:2.0",
        restarts=4,
    )
    old = make.container(
        "app",
        "ghcr.io/example/app:1.9",
        ready=old_ready,
        restarts=0 if old_ready else 3,
        state=None if old_ready else make.waiting("CrashLoopBackOff"),
        last_state=None if old_ready else make.terminated("Error", 1),
    )
    return {
        "workload": make.deployment(replicas=2, ready=1 if old_ready else 0, revision=7),
        "revisions": make.rollout_revisions(
            7,
            {"app": crashing.image},
            {"app": old.image},
            minutes_ago=20,
            old_ready=1 if old_ready else 0,
        ),
        "pods": [
            make.pod("checkout-7d9f6c8b5-new01", crashing),
            make.pod("checkout-5c6d7e8f9-old01", old, replica_set="checkout-5c6d7e8f9"),
        ],
        "logs": [
            make.log(
                "checkout-7d9f6c8b5-new01",
                "app",
                "Traceback (most recent call last):\nAttributeError: 'NoneType' object",
            )
        ],
    }


def test_new_revision_crashing_while_old_pods_serve_is_bad_rollout() -> None:
    result = analyze(make.evidence(**_rollout()))
    first = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, CHECKOUT)
    assert first.params == {"revision": "6"}
    assert "ghcr.io/example/app:1.9 -> ghcr.io/example/app:2.0" in first.evidence[0].fact
    assert_ranks_below(result, Category.CRASH_LOOP, first)


def test_old_revision_failing_too_is_not_a_bad_rollout() -> None:
    result = analyze(make.evidence(**_rollout(old_ready=False)))
    assert by_category(result, Category.BAD_ROLLOUT) == []
    assert result.findings[0].category is Category.CRASH_LOOP


def test_progress_deadline_exceeded_alone_is_a_weaker_rollout_signal() -> None:
    ev = make.evidence(
        workload=make.deployment(
            revision=3,
            conditions=[
                PodCondition(type="Progressing", status="False", reason="ProgressDeadlineExceeded")
            ],
        ),
        revisions=[
            make.revision("checkout-7d9f6c8b5", 3, {"app": "a:2"}, current=True),
            make.revision("checkout-5c6d7e8f9", 2, {"app": "a:1"}),
        ],
        pods=[make.pod(CHECKOUT_POD, make.container("app", "a:2"))],
    )
    finding = top(ev)
    assert finding.category is Category.BAD_ROLLOUT
    assert finding.confidence < 0.75


def test_single_revision_never_fires_bad_rollout() -> None:
    ev = make.evidence(
        workload=make.deployment(revision=1),
        revisions=[make.revision("checkout-7d9f6c8b5", 1, {"app": "a:1"}, current=True)],
        pods=[
            make.pod(
                CHECKOUT_POD,
                make.crash_looping("app", restarts=3, exit_code=1),
            )
        ],
    )
    assert by_category(analyze(ev), Category.BAD_ROLLOUT) == []


def _checkout_pods(pods: int, replicas: int | None = None, **fields: object) -> Evidence:
    """The checkout Deployment of ``replicas`` (default: ``pods``) with ``pods`` healthy pods."""
    return make.evidence(
        workload=make.deployment(replicas=replicas or pods),
        pods=[make.pod(f"checkout-7d9f6c8b5-p{i}", make.container("app")) for i in range(pods)],
        **fields,
    )


def _hpa(max_replicas: int, replicas: int, **fields: object) -> AutoscalerEvidence:
    """The checkout HPA, at ``replicas`` (current and desired) of ``max_replicas``."""
    return AutoscalerEvidence.model_validate(
        {
            "name": "checkout",
            "namespace": "shop",
            "target": CHECKOUT,
            "max_replicas": max_replicas,
            "current_replicas": replicas,
            "desired_replicas": replicas,
            **fields,
        }
    )


def test_hpa_at_maximum_is_saturation_with_scale_out() -> None:
    ev = _checkout_pods(
        5,
        autoscalers=[
            _hpa(
                5,
                5,
                min_replicas=2,
                conditions=[
                    PodCondition(
                        type="ScalingLimited",
                        status="True",
                        reason="TooManyReplicas",
                        message="the desired replica count is more than the maximum replica count",
                    )
                ],
            )
        ],
    )
    finding = assert_leads(analyze(ev), Category.RESOURCE_SATURATION, Action.SCALE_OUT, CHECKOUT)
    assert finding.params == {"replicas": "10", "hpa": "checkout"}


def test_hpa_below_maximum_is_not_saturation() -> None:
    ev = _checkout_pods(
        1,
        replicas=3,
        autoscalers=[_hpa(10, 3)],
    )
    assert analyze(ev).findings == ()


def test_traffic_growth_with_rising_latency_is_saturation() -> None:
    ev = _checkout_pods(
        2,
        metrics=[
            make.metric(
                'sum(rate(http_requests_total{namespace="shop",service="checkout"}[5m]))',
                name="request_rate",
                first=100.0,
                last=420.0,
                trend="rising",
            ),
            make.metric(
                "histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket"
                '{service="checkout"}[5m])) by (le))',
                name="latency_p99",
                first=0.2,
                last=1.4,
                trend="rising",
            ),
        ],
    )
    finding = top(ev)
    assert finding.category is Category.RESOURCE_SATURATION
    assert finding.params["replicas"] == "8"  # 2 replicas x 4.2 growth, capped at 4x
    assert 0.6 <= finding.confidence <= 0.8


def test_raw_request_counter_rising_is_not_traffic_growth() -> None:
    ev = _checkout_pods(
        1,
        replicas=2,
        metrics=[make.metric('http_requests_total{service="checkout"}', first=1e6, last=3e6)],
    )
    assert by_category(analyze(ev), Category.RESOURCE_SATURATION) == []


def _fresh_rollout() -> list[RevisionEvidence]:
    """Revision 9 (a:3.1) rolled out 15 minutes ago over revision 8 (a:3.0)."""
    return make.rollout_revisions(9, {"app": "a:3.1"}, {"app": "a:3.0"}, minutes_ago=15, ready=2)


def test_error_ratio_stepping_up_after_a_fresh_rollout_is_bad_rollout() -> None:
    ratio = make.error_ratio(first=0.001, last=0.35, changed_minutes_ago=12)
    ev = make.evidence(
        workload=make.deployment(revision=9),
        revisions=_fresh_rollout(),
        pods=[
            make.pod(f"checkout-7d9f6c8b5-p{i}", make.container("app", "a:3.1")) for i in range(2)
        ],
        metrics=[ratio],
    )
    finding = top(ev)
    assert (finding.category, finding.action, finding.params) == (
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
        {"revision": "8"},
    )


def test_error_ratio_that_rose_before_the_rollout_is_not_blamed_on_it() -> None:
    ratio = make.error_ratio(first=0.001, last=0.35, changed_minutes_ago=50, job=None)
    ev = make.evidence(
        workload=make.deployment(revision=9),
        revisions=_fresh_rollout(),
        pods=[make.pod("checkout-7d9f6c8b5-p0", make.container("app", "a:3.1"))],
        metrics=[ratio],
    )
    assert by_category(analyze(ev), Category.BAD_ROLLOUT) == []


# --- load after a rollout vs. load from demand ---------------------------------------------


def _busy_pods(cpu_limit: str | None = None) -> list[PodEvidence]:
    limits = {"memory": "1Gi"} | ({"cpu": cpu_limit} if cpu_limit else {})
    return [
        make.pod(
            f"render-6c7d8e9f0a-p{i}",
            make.container("render", limits=limits),
            namespace="media",
            replica_set="render-6c7d8e9f0a",
            labels={"app": "render"},
        )
        for i in range(2)
    ]


def _cpu(first: float, last: float, changed_minutes_ago: float) -> MetricSummary:
    return make.metric(
        'sum by (pod, container) (rate(container_cpu_usage_seconds_total{namespace="media"}[5m]))',
        first=first,
        last=last,
        name="cpu_usage_cores",
        labels={"container": "render"},
        trend="rising",
        changed_minutes_ago=changed_minutes_ago,
    )


def _latency(first: float, last: float, changed_minutes_ago: float) -> MetricSummary:
    query = "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"
    return make.metric(
        query,
        first=first,
        last=last,
        name="http_latency_p99_seconds",
        trend="rising",
        changed_minutes_ago=changed_minutes_ago,
    )


def _render_revisions(new_minutes_ago: float) -> list[RevisionEvidence]:
    return [
        make.revision(
            "render-6c7d8e9f0a",
            12,
            {"render": "ghcr.io/example/render:3.2"},
            current=True,
            ready=2,
            created_minutes_ago=new_minutes_ago,
        ),
        make.revision("render-1a2b3c4d5e", 11, {"render": "ghcr.io/example/render:3.1"}),
    ]


def test_latency_and_cpu_jumping_with_no_cpu_limit_and_no_rollout_is_saturation() -> None:
    ev = make.evidence(
        workload=make.deployment("render", "media"),
        pods=_busy_pods(),
        revisions=_render_revisions(new_minutes_ago=60 * 24 * 9),
        metrics=[_cpu(0.2, 1.6, 25), _latency(0.3, 2.4, 25)],
        logs=[
            make.log(
                "render-6c7d8e9f0a-p0",
                "render",
                "[ERROR] uwsgi: no free workers available, request queued",
                namespace="media",
            )
        ],
    )
    found = by_category(analyze(ev), Category.RESOURCE_SATURATION)
    assert found
    assert found[0].action is Action.SCALE_OUT
    assert found[0].target == ObjectRef(kind="Deployment", namespace="media", name="render")
    assert found[0].confidence >= 0.7
    assert not by_category(analyze(ev), Category.BAD_ROLLOUT)


def _request_rate(first: float, last: float) -> MetricSummary:
    return make.metric(
        'sum(rate(http_requests_total{namespace="media",job="render"}[5m]))',
        name="http_request_rate",
        first=first,
        last=last,
        trend="rising",
    )


def _slow(**fields: object) -> Evidence:
    """The render Deployment, long unchanged, with no CPU limit, while a latency alert fires."""
    fields.setdefault("pods", _busy_pods())
    return make.evidence(
        workload=make.deployment("render", "media"),
        revisions=_render_revisions(new_minutes_ago=60 * 24 * 9),
        alerts=[make.alert(alertname="HighRequestLatency", namespace="media", service="render")],
        **fields,
    )


def test_traffic_growth_while_a_latency_alert_fires_is_saturation() -> None:
    # No latency series of its own was found: the firing alert is the measure of slowness.
    result = analyze(_slow(metrics=[_request_rate(50.0, 150.0)]))
    finding = assert_leads(
        result,
        Category.RESOURCE_SATURATION,
        Action.SCALE_OUT,
        ObjectRef(kind="Deployment", namespace="media", name="render"),
    )
    assert any(e.source == "alert" for e in finding.evidence)


def test_a_latency_alert_contradicted_by_the_services_own_latency_series_is_no_strain() -> None:
    # Near miss: the service's own p99 is back where it was (a spike that is over), so the
    # alert alone does not make the extra traffic or CPU a saturation.
    flat = _latency(0.1, 0.1, 5)
    ev = _slow(metrics=[_request_rate(50.0, 150.0), _cpu(0.1, 0.4, 25), flat])
    assert not by_category(analyze(ev), Category.RESOURCE_SATURATION)


def _workers_busy(line: str, cpu: MetricSummary, cpu_limit: str | None = None) -> Evidence:
    """The render Deployment, long unchanged, whose CPU usage is ``cpu`` while its server
    logs ``line``."""
    return make.evidence(
        workload=make.deployment("render", "media"),
        pods=_busy_pods(cpu_limit),
        revisions=_render_revisions(new_minutes_ago=60 * 24 * 9),
        metrics=[cpu],
        logs=[make.log("render-6c7d8e9f0a-p0", "render", line, namespace="media")],
    )


def test_cpu_rising_while_the_server_says_its_workers_are_all_busy_is_saturation() -> None:
    # No latency series and no latency alert: the server's own words are the strain.
    ev = _workers_busy(
        "[alert] 4096 worker_connections are not enough while connecting to upstream",
        _cpu(0.3, 2.9, 20),
    )
    finding = top(ev)
    assert (finding.category, finding.action) == (Category.RESOURCE_SATURATION, Action.SCALE_OUT)
    assert finding.confidence >= 0.7
    # Near miss: under a CPU limit, the same busy workers are throttling's to explain.
    limited = ev.model_copy(update={"pods": _busy_pods(cpu_limit="1")})
    assert not by_category(analyze(limited), Category.RESOURCE_SATURATION)


def test_workers_exhausted_with_cpu_below_its_limit_is_saturation() -> None:
    # A CPU limit that the busy pods stay well below throttles nothing: the server's full
    # worker pool and the CPU it burns are demand, not the limit.
    ev = _workers_busy(
        "WARNING: [pool www] server reached pm.max_children setting (16), consider raising it",
        _cpu(0.5, 1.2, 20),
        cpu_limit="2",
    )
    finding = assert_leads(
        analyze(ev),
        Category.RESOURCE_SATURATION,
        Action.SCALE_OUT,
        ObjectRef(kind="Deployment", namespace="media", name="render"),
    )
    assert any("CPU limit" in e.fact for e in finding.evidence)
    # Near miss: usage at its limit is throttling's to explain, workers busy or not.
    at_limit = ev.model_copy(update={"metrics": [_cpu(0.5, 1.9, 20)]})
    assert not by_category(analyze(at_limit), Category.RESOURCE_SATURATION)


def test_cpu_jump_under_a_cpu_limit_is_not_called_saturation() -> None:
    # Near miss: with a CPU limit the same picture is throttling's to explain.
    ev = make.evidence(
        workload=make.deployment("render", "media"),
        pods=_busy_pods(cpu_limit="500m"),
        metrics=[_cpu(0.1, 0.5, 25), _latency(0.3, 2.4, 25)],
    )
    assert not by_category(analyze(ev), Category.RESOURCE_SATURATION)


def test_cpu_and_latency_stepping_up_after_a_fresh_revision_is_bad_rollout() -> None:
    ev = make.evidence(
        workload=make.deployment("render", "media"),
        pods=_busy_pods(),
        revisions=_render_revisions(new_minutes_ago=30),
        metrics=[_cpu(0.2, 1.6, 25), _latency(0.3, 2.4, 25)],
    )
    result = analyze(ev)
    rollout = by_category(result, Category.BAD_ROLLOUT)
    assert rollout
    assert rollout[0].action is Action.ROLLBACK
    assert rollout[0].params["revision"] == "11"
    assert not by_category(result, Category.RESOURCE_SATURATION)


def test_cpu_that_rose_before_the_revision_is_not_blamed_on_it() -> None:
    ev = make.evidence(
        workload=make.deployment("render", "media"),
        pods=_busy_pods(),
        revisions=_render_revisions(new_minutes_ago=20),
        metrics=[_cpu(0.2, 1.6, 45), _latency(0.3, 2.4, 45)],
    )
    assert not by_category(analyze(ev), Category.BAD_ROLLOUT)


def test_bad_rollout_reads_as_a_causal_chain_with_its_age() -> None:
    first = analyze(make.evidence(**_rollout())).findings[0]
    assert first.summary == (
        "Revision 7 of Deployment shop/checkout is failing (1 of 1 new pod unhealthy); "
        "roll back to revision 6."
    )
    assert first.narrative is not None
    text = prose.root_cause(first.narrative.because, prose.evidence_ids(first.evidence))
    assert text.startswith(
        "Revision 7 replaced revision 6 20m ago, changing app app:1.9 to app:2.0 [E1]."
    )
    assert "1 of its 1 new pod is unhealthy [E2]." in text
    assert text.endswith("Pods of revision 6 still serve [E3].")


def _moved_server(*aspects: str) -> Evidence:
    """Revision 7 rolled out 40 minutes ago; its pod's liveness and readiness probes on :8080
    are refused while its server says it listens on :3000; revision 6 still serves."""
    new = make.container(
        "app",
        "ghcr.io/example/app:1.9",
        ready=False,
        restarts=9,
        last_state=make.terminated("Error", 143),
    )
    old = make.container("app", "ghcr.io/example/app:1.9")
    new_pod = "checkout-7d9f6c8b5-new01"
    refused = [
        make.event(
            "Unhealthy",
            f'{kind} probe failed: Get "http://10.1.2.3:8080/health": dial tcp 10.1.2.3:8080: '
            "connect: connection refused",
            name=new_pod,
            count=40,
        )
        for kind in ("Liveness", "Readiness")
    ]
    return make.evidence(
        workload=make.deployment(replicas=2, ready=1, revision=7),
        revisions=make.rollout_revisions(
            7, {"app": new.image}, {"app": old.image}, minutes_ago=40, old_ready=1
        ),
        pods=[
            make.pod(new_pod, new),
            make.pod("checkout-5c6d7e8f9-old01", old, replica_set="checkout-5c6d7e8f9"),
        ],
        events=[
            *refused,
            make.event(
                "Killing",
                "Container app failed liveness probe, will be restarted",
                name=new_pod,
                type_="Normal",
                count=9,
            ),
        ],
        logs=[
            make.log(new_pod, "app", '{"level":30,"msg":"Server listening at http://0.0.0.0:3000"}')
        ],
        changes=[make.rollout_change(CHECKOUT, 6, *aspects, minutes_ago=40)],
    )


def test_a_server_moved_off_its_unchanged_probe_port_is_rolled_back() -> None:
    result = analyze(_moved_server("env"))
    first = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, CHECKOUT)
    assert any("listens on port 3000" in e.fact and "8080" in e.fact for e in first.evidence)
    assert_ranks_below(result, Category.PROBE_FAILURE, first)


def test_a_rollout_that_changed_the_probes_leaves_the_probe_in_question() -> None:
    result = analyze(_moved_server("env", "probes"))
    rollout = by_category(result, Category.BAD_ROLLOUT)
    assert rollout
    assert not any("listens on port" in e.fact for e in rollout[0].evidence)

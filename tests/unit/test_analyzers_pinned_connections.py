"""The pinned-connections rule (``kubetriage.analyzers.pinned_connections``): behind a Service
that declares gRPC or HTTP/2, the pods a scale-out added sit idle beside busy older pods of the
same revision, which went out with changed settings shortly before the scale-out: the release
is rolled back, above the CPU limit and the autoscaler maximum the busy pods suggest; and the
rule stays silent for a plain HTTP Service, when an idle pod is older than a busy one, when no
release precedes the scale-out (or it is days old), and for ClientIP affinity (the
sticky-service rule's).

Real: the whole analyzer registry run over Evidence models built by the shared factories.
Synthetic: every object.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.pinned_connections import (
    check_pinned_connections,
    multiplexed_protocol,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    ago,
    analyze,
    app_pod,
    assert_leads,
    deployment,
    evidence,
    metric,
    rollout_change,
    rollout_revisions,
    service,
)

NS = "risk"
APP = deployment("scorer", NS, replicas=4, revision=12)
RS = "scorer-7c5d9b8f6a"
BUSY = (f"{RS}-hk2vx", f"{RS}-q7dfn")
IDLE = (f"{RS}-z5wpt", f"{RS}-c8mrl")
RELEASED = 17 * 60  # minutes ago
SCALED_OUT = 40  # minutes ago


def _cpu(pod: str, cores: float) -> Any:
    return metric(
        f'sum by (pod, container) (rate(container_cpu_usage_seconds_total{{pod="{pod}"}}[5m]))',
        name="cpu_usage_cores",
        labels={"namespace": NS, "pod": pod, "container": "scorer"},
        last=cores,
        first=cores,
    )


def _case(
    *,
    protocol: str = "grpc",
    idle_created: float = SCALED_OUT,
    released: float | None = RELEASED,
    **service_fields: Any,
) -> Evidence:
    pods = [app_pod(name, namespace=NS, created_at=ago(RELEASED - 2)) for name in BUSY]
    pods += [app_pod(name, namespace=NS, created_at=ago(idle_created)) for name in IDLE]
    changes = (
        []
        if released is None
        else [rollout_change(APP.ref, 11, "env", "image", minutes_ago=released)]
    )
    return evidence(
        workload=APP,
        pods=pods,
        revisions=rollout_revisions(
            12,
            {"scorer": "scorer:4.2.0"},
            {"scorer": "scorer:4.1.3"},
            minutes_ago=released or RELEASED,
            ready=4,
            names=(RS, "scorer-66f8b4d7c9"),
        ),
        changes=changes,
        services=[service("scorer", NS, ready=4, declared_protocols=[protocol], **service_fields)],
        metrics=[*(_cpu(p, 1.0) for p in BUSY), *(_cpu(p, 0.02) for p in IDLE)],
    )


def test_idle_scale_out_pods_behind_grpc_after_a_release_roll_the_release_back() -> None:
    result = analyze(_case())
    found = assert_leads(
        result,
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
        ObjectRef(kind="Deployment", namespace=NS, name="scorer"),
    )
    assert found.analyzer == "pinned-connections"
    assert any("grpc" in e.fact for e in found.evidence)


def test_kubernetes_h2c_app_protocol_counts_as_multiplexed() -> None:
    assert check_pinned_connections(_case(protocol="kubernetes.io/h2c"))


def test_plain_http_service_is_not_read_as_pinned() -> None:
    assert check_pinned_connections(_case(protocol="http")) == []


def test_an_idle_pod_older_than_the_busy_ones_is_not_a_scale_out() -> None:
    assert check_pinned_connections(_case(idle_created=RELEASED)) == []


def test_pods_added_moments_ago_have_not_been_offered_calls_yet() -> None:
    assert check_pinned_connections(_case(idle_created=2)) == []


def test_no_release_before_the_scale_out_says_nothing_changed() -> None:
    assert check_pinned_connections(_case(released=None)) == []


def test_a_release_days_before_the_scale_out_is_not_what_changed() -> None:
    assert check_pinned_connections(_case(released=4 * 24 * 60)) == []


def test_client_ip_affinity_is_left_to_the_sticky_service_rule() -> None:
    assert check_pinned_connections(_case(session_affinity="ClientIP")) == []


def test_declared_protocols() -> None:
    assert multiplexed_protocol("kubernetes.io/h2c") == "h2c"
    assert multiplexed_protocol("grpc-api") == "grpc"
    assert multiplexed_protocol("HTTP2") == "http2"
    assert multiplexed_protocol("http") is None
    assert multiplexed_protocol("tcp") is None

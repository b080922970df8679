"""Checks the rules for finite connection resources along a call path: a node of another
build breaking the replicas placed on it (``node_builds`` through the node-localized rule),
clients waiting for a pooler's connections as the symptom of a throttled callee
(``pool_waits`` through ``callee-cpu-throttling``), a caller whose release pins its calls on
a few callee replicas (``caller_pinning``), and a pool whose leases are held by a slow callee
(``pool_callee``); each with the near misses that must stay quiet.

Everything is real: Evidence models from ``tests.support.evidence`` and the analyzers.
"""

from __future__ import annotations

from kubetriage.analyzers.caller_pinning import REPLICA_CPU, check_caller_pinning
from kubetriage.analyzers.metrics import check_callee_throttling
from kubetriage.analyzers.pool_callee import check_pool_callee
from kubetriage.analyzers.pool_waits import pool_waits
from kubetriage.analyzers.support import metrics_named
from kubetriage.evidence.queries import TEMPLATES
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.object_evidence import ChangeEvidence, LogTail, NodeEvidence, PodEvidence
from kubetriage.models.relations import DependencyEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    ago,
    analyze,
    app_pod,
    container,
    crash_looping,
    deployment,
    evidence,
    log,
    metric,
    naming,
    rollout_change,
    service,
)

# --- a node of another build -------------------------------------------------------------

NEW_NODE = "worker-3"


def _build_node(name: str, kubelet: str) -> NodeEvidence:
    return NodeEvidence(name=name, ready="True", kubelet_version=kubelet)


def _gateway(suffix: str, node: str, *, failing: bool, minutes: float) -> PodEvidence:
    return app_pod(
        f"gateway-6d9f7c8b5-{suffix}",
        crash_looping("app") if failing else container("app"),
        node=node,
        created_at=ago(minutes),
    )


def _node_build_evidence(*, new_kubelet: str, config_edit: bool = False) -> Evidence:
    changes = [
        ChangeEvidence(
            at=ago(45), kind="node", object=ObjectRef(kind="Node", name=NEW_NODE), details=[]
        )
    ]
    if config_edit:
        changes.append(
            ChangeEvidence(
                at=ago(50),
                kind="config",
                object=ObjectRef(kind="ConfigMap", namespace="shop", name="gateway-config"),
                details=["data written"],
            )
        )
    return evidence(
        workload=deployment("gateway", replicas=4, ready=2),
        pods=[
            _gateway("a1b2c", "worker-1", failing=False, minutes=2 * 24 * 60),
            _gateway("d3e4f", "worker-2", failing=False, minutes=2 * 24 * 60),
            _gateway("g5h6j", NEW_NODE, failing=True, minutes=40),
            _gateway("k7m8n", NEW_NODE, failing=True, minutes=40),
        ],
        nodes=[
            _build_node("worker-1", "v1.31.2-eks-94953ac"),
            _build_node("worker-2", "v1.31.2-eks-94953ac"),
            _build_node(NEW_NODE, new_kubelet),
        ],
        changes=changes,
    )


def _localized(ev: Evidence) -> list[tuple[Category, Action, ObjectRef]]:
    return [
        (f.category, f.action, f.target)
        for f in analyze(ev).findings
        if f.analyzer == "node-localized"
    ]


def test_replicas_failing_only_on_a_new_node_of_another_build_drain_that_node() -> None:
    found = _localized(_node_build_evidence(new_kubelet="v1.31.7-eks-473151a"))
    assert found == [
        (Category.NODE_FAILURE, Action.DRAIN_NODE, ObjectRef(kind="Node", name=NEW_NODE))
    ]


def test_a_new_node_of_the_same_build_or_a_config_edit_since_is_not_the_nodes_fault() -> None:
    assert _localized(_node_build_evidence(new_kubelet="v1.31.2-eks-94953ac")) == []
    edited = _node_build_evidence(new_kubelet="v1.31.7-eks-473151a", config_edit=True)
    assert _localized(edited) == []


def test_pods_admitted_differently_on_the_new_node_are_not_the_builds_fault() -> None:
    ev = _node_build_evidence(new_kubelet="v1.31.7-eks-473151a")
    injected = container("app", env={"AZURE_CLIENT_ID": "x"})
    pods = [
        p.model_copy(update={"containers": [injected]}) if p.node != NEW_NODE else p
        for p in ev.pods
    ]
    assert _localized(ev.model_copy(update={"pods": pods})) == []


# --- clients waiting for a pooler's connections ---------------------------------------------

DB = ObjectRef(kind="StatefulSet", namespace="db", name="billing-pg")


def _waiting_alert(name: str, summary: str) -> AlertEvidence:
    return AlertEvidence(
        labels={"alertname": name, "namespace": "db"},
        annotations={"summary": summary},
        starts_at=ago(20),
        status="firing",
    )


def _pooler_evidence(alert: AlertEvidence, *, throttled_from: float = 0.01) -> Evidence:
    return evidence(
        workload=deployment("pgbouncer", "db", replicas=1),
        pods=[app_pod("pgbouncer-5f6b9c7d8e-w2kqd", container("pgbouncer"), namespace="db")],
        alerts=[alert],
        dependencies=[DependencyEvidence(service=service("billing-pg", "db"), workload=DB, pods=1)],
        metrics=[
            metric(
                "callee_cpu_throttled_ratio",
                name="callee_cpu_throttled_ratio",
                labels={"namespace": "db", "pod": "billing-pg-0", "container": "postgres"},
                first=throttled_from,
                last=0.76,
                trend="rising",
                changed_minutes_ago=40,
            )
        ],
    )


def test_clients_waiting_on_a_pooler_in_front_of_a_throttled_database_raise_its_limit() -> None:
    alert = _waiting_alert(
        "PgBouncerClientsWaitingHigh", "PgBouncer has clients waiting for a server connection"
    )
    found = check_callee_throttling(_pooler_evidence(alert))
    assert [(f.category, f.action, f.target) for f in found] == [
        (Category.CPU_THROTTLING, Action.INCREASE_CPU, DB)
    ]


def test_a_waiting_container_or_a_callee_always_throttled_is_no_pool_wait() -> None:
    waiting_container = _waiting_alert("KubeContainerWaiting", "Pod container waiting longer")
    assert check_callee_throttling(_pooler_evidence(waiting_container)) == []
    pooled = _waiting_alert("PgBouncerClientsWaitingHigh", "clients waiting for a connection")
    assert check_callee_throttling(_pooler_evidence(pooled, throttled_from=0.7)) == []


def test_a_waiting_clients_series_counts_only_when_a_queue_grew_from_empty() -> None:
    name = "pgbouncer_pools_client_waiting_connections"
    grew = evidence(metrics=[metric(name, first=0.0, last=120.0)])
    assert pool_waits(grew)
    steady = evidence(metrics=[metric(name, first=3.0, last=4.0)])
    assert pool_waits(steady) == []


# --- a caller's release pins its calls on a few callee replicas -----------------------------

CHECKOUT = ObjectRef(kind="Deployment", namespace="checkout", name="checkout-api")
PRICING_PODS = ("h2k8m", "r5ztq", "w8nvc", "f4jxd")


def _pricing_pod(suffix: str, minutes: float) -> PodEvidence:
    return app_pod(
        f"pricing-58d9c6b7f4-{suffix}",
        container("pricing"),
        namespace="pricing",
        created_at=ago(minutes),
    )


def _pinning_evidence(loads: dict[str, float], *, pods_age: float = 24 * 60) -> Evidence:
    callee = ObjectRef(kind="Service", namespace="pricing", name="pricing")
    caller = CallerEvidence(
        ref=CHECKOUT,
        callee=callee,
        named_by=naming("Deployment checkout-api env PRICING_ADDR"),
        changes=[rollout_change(CHECKOUT, 41, "image", "env", minutes_ago=36)],
        replicas=3,
    )
    return evidence(
        workload=deployment("pricing", "pricing", replicas=4),
        pods=[_pricing_pod(s, pods_age) for s in PRICING_PODS],
        services=[service("pricing", "pricing")],
        callers=[caller],
        alerts=[
            AlertEvidence(
                labels={"alertname": "CPUThrottlingHigh", "namespace": "pricing"},
                starts_at=ago(15),
                status="firing",
            )
        ],
        metrics=[
            metric(
                REPLICA_CPU,
                name=REPLICA_CPU,
                labels={"namespace": "pricing", "pod": f"pricing-58d9c6b7f4-{s}"},
                first=0.4,
                last=load,
                trend="rising" if load > 0.5 else "falling",
                changed_minutes_ago=35,
            )
            for s, load in loads.items()
        ],
    )


HOT_AND_IDLE = {"h2k8m": 1.0, "r5ztq": 0.02, "w8nvc": 0.99, "f4jxd": 0.03}


def test_a_callers_release_that_leaves_callee_replicas_idle_beside_hot_ones_is_rolled_back() -> (
    None
):
    found = check_caller_pinning(_pinning_evidence(HOT_AND_IDLE))
    assert [(f.category, f.action, f.target) for f in found] == [
        (Category.BAD_ROLLOUT, Action.ROLLBACK, CHECKOUT)
    ]


def test_an_even_load_or_replicas_younger_than_the_callers_release_are_no_pinning() -> None:
    even = {s: 0.95 for s in PRICING_PODS}
    assert check_caller_pinning(_pinning_evidence(even)) == []
    assert check_caller_pinning(_pinning_evidence(HOT_AND_IDLE, pods_age=20)) == []


def test_replica_series_are_never_read_as_the_alerted_pods_own() -> None:
    ev = _pinning_evidence(HOT_AND_IDLE)
    assert metrics_named(ev, "replica_cpu_usage_cores") == []
    template = next(t for t in TEMPLATES if t.name == REPLICA_CPU)
    assert template.requires == frozenset({"namespace", "deployment"})
    assert "$deployment-" in template.promql


# --- a pool whose leases a slow callee holds ------------------------------------------------

QUOTES_POD = "quote-api-6d8f9b7c44-r7k2d"
RATING = ObjectRef(kind="Service", namespace="rating", name="rating-engine")


def _pool_evidence(line: str, *, traffic_rose: bool = False, own_change: bool = False) -> Evidence:
    own = ObjectRef(kind="Deployment", namespace="quotes", name="quote-api")
    rate = metric(
        'sum(rate(http_requests_total{job="quote-api"}[5m]))',
        name="http_request_rate",
        first=100.0,
        last=300.0 if traffic_rose else 100.0,
    )
    return evidence(
        workload=deployment("quote-api", "quotes", replicas=2),
        pods=[app_pod(QUOTES_POD, container("quote-api"), namespace="quotes")],
        alerts=[
            AlertEvidence(
                labels={"alertname": "HttpClientConnectionPoolPendingHigh", "namespace": "quotes"},
                annotations={"summary": "requests are waiting for HTTP client connections"},
                starts_at=ago(25),
                status="firing",
            )
        ],
        dependencies=[
            DependencyEvidence(
                service=service("rating-engine", "rating"),
                workload=ObjectRef(kind="Deployment", namespace="rating", name="rating-engine"),
                desired_replicas=2,
                ready_replicas=2,
                pods=2,
            )
        ],
        logs=[_quotes_log(line)],
        metrics=[rate],
        changes=[rollout_change(own, 30, "image", minutes_ago=40)] if own_change else [],
    )


def _quotes_log(line: str) -> LogTail:
    return log(QUOTES_POD, "quote-api", line, namespace="quotes")


SLOW_CALL = (
    "2026-11-20T09:29:12Z WARN rating call slow: POST "
    "http://rating-engine.rating.svc.cluster.local:8080/v2/rate took 2984ms"
)


def test_a_pool_waiting_on_a_slow_healthy_callee_escalates_to_the_callee() -> None:
    found = check_pool_callee(_pool_evidence(SLOW_CALL))
    assert [(f.category, f.action, f.target) for f in found] == [
        (Category.DEPENDENCY_FAILURE, Action.ESCALATE, RATING)
    ]


def test_fast_calls_more_traffic_or_an_own_release_leave_the_pool_alone() -> None:
    fast = SLOW_CALL.replace("2984ms", "84ms")
    assert check_pool_callee(_pool_evidence(fast)) == []
    assert check_pool_callee(_pool_evidence(SLOW_CALL, traffic_rose=True)) == []
    assert check_pool_callee(_pool_evidence(SLOW_CALL, own_change=True)) == []

"""Checks the clients a server closes as slow consumers, named by address, and the
throttled-slow-consumer rule.

Evidence side (``kubetriage.evidence.refused_clients`` through the real builder): the client
socket on a NATS "Slow Consumer Detected" line (and a Redis output-buffer close) is mapped to
the pod holding that address (``status.podIPs`` too, dual stack), its ReplicaSet's Deployment
and its rollouts; a line that closes nobody names no client, nor does the server's own
address in a time stamp. Analyzer side (``kubetriage.analyzers.slow_consumers``): a slow
consumer whose container is throttled in a large share of its CFS periods, from a per-pod
ratio series or the two counters of its pods, gets a higher CPU limit; near misses: the
client is not throttled, the series are another workload's, no server named a client.

Real: raw Pod, ReplicaSet and Deployment manifests as the API returns them, the pure builder,
Evidence models from ``tests.support.evidence`` and the whole analyzer registry.
"""

from __future__ import annotations

from typing import Any

from kubetriage.analyzers.slow_consumers import CONFIDENCE, NAME
from kubetriage.evidence.refused_clients import client_addresses, slow_consumer_addresses
from kubetriage.models.alerts_view import callee_workloads
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import RefusedClientEvidence
from kubetriage.models.object_evidence import MetricSummary, WorkloadEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.built import built
from tests.support.evidence import ago, analyze, assert_leads

NATS = ObjectRef(kind="StatefulSet", namespace="nats", name="nats")
FANOUT = ObjectRef(kind="Deployment", namespace="fleet", name="fanout")


def _closed(address: str) -> str:
    return (
        f"[1] 2026/11/20 09:41:02.660915 [WRN] {address}:51840 - cid:70388 - "
        '"v1.37.0:go" - Slow Consumer Detected: WriteDeadline of 10s exceeded'
    )


def _client_objects(pod_status: dict[str, Any]) -> list[dict[str, Any]]:
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "fanout", "controller": True}
    template = {
        "metadata": {"labels": {"app": "fanout"}},
        "spec": {"containers": [{"name": "fanout", "image": "fanout:3"}]},
    }
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "fanout", "namespace": "fleet"},
            "spec": {"selector": {"matchLabels": {"app": "fanout"}}, "template": template},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": "fanout-6c9f",
                "namespace": "fleet",
                "labels": {"app": "fanout"},
                "annotations": {"deployment.kubernetes.io/revision": "4"},
                "ownerReferences": [owner],
            },
            "spec": {"selector": {"matchLabels": {"app": "fanout"}}, "template": template},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "fanout-6c9f-7hmv4",
                "namespace": "fleet",
                "labels": {"app": "fanout"},
                "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "fanout-6c9f"}
                    | {"controller": True}
                ],
            },
            "spec": {"containers": [{"name": "fanout", "image": "fanout:3"}]},
            "status": {"phase": "Running", **pod_status},
        },
    ]


def test_the_slow_consumers_address_is_mapped_to_its_deployment() -> None:
    logs = [make.log("nats-1", "nats", _closed("10.52.2.18"), namespace="nats")]
    evidence = built(_client_objects({"podIP": "10.52.2.18"}), NATS, logs=logs)
    [client] = evidence.slow_consumers
    assert (client.ref, client.address, client.pod) == (FANOUT, "10.52.2.18", "fanout-6c9f-7hmv4")
    assert evidence.refused_clients == []
    dual = {"podIP": "fd00::12", "podIPs": [{"ip": "fd00::12"}, {"ip": "10.52.2.18"}]}
    assert [c.ref for c in built(_client_objects(dual), NATS, logs=logs).slow_consumers] == [FANOUT]


def test_lines_that_close_nobody_name_no_client() -> None:
    created = "[1] 2026/11/20 09:39:39.402290 [INF] 10.52.2.18:51840 - cid:70388 - Client created"
    logs = [make.log("nats-1", "nats", created, namespace="nats")]
    assert built(_client_objects({"podIP": "10.52.2.18"}), NATS, logs=logs).slow_consumers == []
    elsewhere = [make.log("nats-1", "nats", _closed("10.52.9.9"), namespace="nats")]
    assert (
        built(_client_objects({"podIP": "10.52.2.18"}), NATS, logs=elsewhere).slow_consumers == []
    )


def test_the_client_socket_is_read_where_each_server_writes_it() -> None:
    redis = (
        "1:M 20 Nov 2026 09:41:02.660 # Client id=3 addr=10.8.1.4:52218 laddr=10.8.0.2:6379 "
        "cmd=subscribe scheduled to be closed ASAP for overcoming of output buffer limits."
    )
    logs = [make.log("redis-0", "redis", redis, namespace="cache")]
    assert [a for a, _ in slow_consumer_addresses(logs)] == ["10.8.1.4"]
    refusal = "WARNING C-0x1: (nodb)/(nouser)@10.12.3.101:52218 no more connections allowed"
    both = [*logs, make.log("pgbouncer-1", "pgbouncer", refusal, namespace="db")]
    assert client_addresses(both) == ["10.12.3.101", "10.8.1.4"]
    callers = [make.log("api-1", "api", _closed("10.52.2.18"), namespace="x", source="webhook")]
    assert slow_consumer_addresses(callers) == []


# --- the rule ----------------------------------------------------------------------------


def _throttled(pod: str, share: float, *, namespace: str = "fleet") -> MetricSummary:
    return make.metric(
        "sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total"
        f'{{namespace="{namespace}"}}[5m])) / sum by (namespace, pod, container) '
        "(rate(container_cpu_cfs_periods_total[5m]))",
        name="callee_cpu_throttled_ratio",
        labels={"namespace": namespace, "pod": pod, "container": "fanout"},
        first=share,
        last=share,
    )


def _counter(name: str, pod: str, first: float, last: float) -> MetricSummary:
    return make.metric(
        f'{name}{{namespace="fleet",pod="{pod}",container="fanout"}}',
        labels={"namespace": "fleet", "pod": pod, "container": "fanout"},
        first=first,
        last=last,
    )


def _evidence(
    metrics: list[MetricSummary], clients: list[RefusedClientEvidence] | None = None
) -> Evidence:
    client = RefusedClientEvidence(
        ref=FANOUT, address="10.52.2.18", pod="fanout-6c9f-7hmv4", line=_closed("10.52.2.18")
    )
    return make.evidence(
        target=NATS,
        workload=WorkloadEvidence(ref=NATS, desired_replicas=3, ready_replicas=3),
        alerts=[
            AlertEvidence(
                labels={"alertname": "NatsSlowConsumers", "namespace": "nats"},
                starts_at=ago(14),
                status="firing",
            )
        ],
        logs=[make.log("nats-1", "nats", _closed("10.52.2.18"), namespace="nats")],
        slow_consumers=[client] if clients is None else clients,
        metrics=metrics,
    )


def _fired(evidence: Evidence) -> list[object]:
    return [f for f in analyze(evidence).findings if f.analyzer == NAME]


def test_a_throttled_slow_consumer_gets_a_higher_cpu_limit() -> None:
    result = analyze(_evidence([_throttled("fanout-6c9f-7hmv4", 0.9)]))
    first = assert_leads(result, Category.CPU_THROTTLING, Action.INCREASE_CPU, FANOUT)
    assert first.analyzer == NAME
    assert first.confidence == CONFIDENCE.throttled_client
    assert first.params == {"container": "fanout"}


def test_the_counters_of_the_clients_pods_say_the_same() -> None:
    pod = "fanout-6c9f-7hmv4"
    metrics = [
        _counter("container_cpu_cfs_throttled_periods_total", pod, 310000, 340000),
        _counter("container_cpu_cfs_periods_total", pod, 4200000, 4236000),
    ]
    assert _fired(_evidence(metrics))
    barely = [
        _counter("container_cpu_cfs_throttled_periods_total", pod, 310000, 311000),
        _counter("container_cpu_cfs_periods_total", pod, 4200000, 4236000),
    ]
    assert _fired(_evidence(barely)) == []


def test_silent_when_the_slow_consumer_is_not_throttled_or_the_series_are_anothers() -> None:
    assert _fired(_evidence([_throttled("fanout-6c9f-7hmv4", 0.05)])) == []
    assert _fired(_evidence([_throttled("tracker-7d9-x1", 0.9)])) == []
    assert _fired(_evidence([_throttled("fanout-6c9f-7hmv4", 0.9, namespace="other")])) == []
    assert _fired(_evidence([_throttled("fanout-6c9f-7hmv4", 0.9)], clients=[])) == []


def test_the_slow_consumers_are_queried_with_the_callees() -> None:
    """Their throttling is read by the callees' per-pod queries (``callee_workloads``)."""
    assert callee_workloads(_evidence([])) == [FANOUT]
    assert callee_workloads(_evidence([], clients=[])) == []

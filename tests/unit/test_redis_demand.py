"""Checks that a Redis server's demand is read from the commands it processes: the request-rate
query is selected for a latency alert on the Redis pods (redis_exporter's processed-commands
total, else the sum of its per-command counters), and a Redis whose command rate stayed flat
while a client rolled out a new revision right before the strain is that client's rollout
(rolled back) rather than a Redis short of replicas; a command rate that tripled keeps the
rollout from being blamed.

Real: the query catalogue and the whole analyzer registry, run over Evidence models from the
shared factories. Synthetic: every object and series summary.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.analyzers.callers import CONFIDENCE
from kubetriage.evidence.queries import Scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, by_category, naming

REDIS = ObjectRef(kind="StatefulSet", namespace="cache", name="redis-master")
SERVICE = ObjectRef(kind="Service", namespace="cache", name="redis-master")
CLIENT = ObjectRef(kind="Deployment", namespace="pricing", name="pricing-api")
_PODS = '{namespace="cache",pod=~"redis-master-[0-9]+"}'


def _commands(first: float, last: float) -> MetricSummary:
    return make.metric(
        f"sum(rate(redis_commands_processed_total{_PODS}[5m]))"
        f" or sum(rate(redis_commands_total{_PODS}[5m]))",
        name="redis_request_rate",
        first=first,
        last=last,
    )


def _cpu() -> MetricSummary:
    return make.metric(
        f"sum(rate(container_cpu_usage_seconds_total{_PODS}[5m]))",
        name="cpu_usage_cores",
        first=0.2,
        last=1.0,
        trend="rising",
        changed_minutes_ago=25,
    )


def _evidence(commands: MetricSummary) -> Evidence:
    release = make.rollout_change(CLIENT, 31, "image", minutes_ago=28)
    return make.evidence(
        target=REDIS,
        alerts=[
            AlertEvidence(
                labels={"alertname": "RedisCommandLatencyHigh", "namespace": "cache"},
                starts_at=ago(20),
                status="firing",
            )
        ],
        metrics=[commands, _cpu()],
        callers=[
            CallerEvidence(
                ref=CLIENT,
                callee=SERVICE,
                named_by=naming("Deployment pricing-api env SPRING_DATA_REDIS_HOST"),
                changes=[release],
            )
        ],
    )


def test_the_command_rate_is_queried_for_a_latency_alert_on_redis_pods() -> None:
    scope = Scope(namespace="cache", pod_regex="redis-master-[0-9]+", statefulset="redis-master")
    queries = select_queries(scope, timedelta(hours=1), families=frozenset({"latency"}))
    rate = next(q for q in queries if q.name == "redis_request_rate")
    assert "redis_commands_processed_total" in rate.promql
    assert 'pod=~"redis-master-[0-9]+"' in rate.promql


def test_flat_commands_after_a_clients_release_roll_the_client_back() -> None:
    leader = assert_leads(
        analyze(_evidence(_commands(1018.0, 934.0))), Category.BAD_ROLLOUT, Action.ROLLBACK, CLIENT
    )
    assert leader.confidence == CONFIDENCE.flat_demand


def test_commands_that_tripled_do_not_blame_the_clients_release() -> None:
    result = analyze(_evidence(_commands(1000.0, 3100.0)))
    assert not [f for f in by_category(result, Category.BAD_ROLLOUT) if f.target == CLIENT]

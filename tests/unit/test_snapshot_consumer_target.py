"""Checks that a replayed queue alert raised in the broker's namespace is diagnosed on the
Deployment consuming its group in another namespace, as the collector finds it
(``kubetriage.replay.snapshot`` with ``targets.consumer_workload``), but not for an Incident
confined to the broker's namespace.

Real: the case model, the snapshot evidence source and the pure builder (which, given no
target, chooses the same way: ``index.choose_target``); no cluster.
"""

from __future__ import annotations

from typing import Any

from kubetriage.models.case import Case
from kubetriage.models.incident import Alert
from kubetriage.replay.snapshot import SnapshotEvidenceSource
from kubetriage.tenancy import Scope
from tests.support.built import built
from tests.support.evidence import NOW


def _object(kind: str, namespace: str, name: str, **extra: Any) -> dict[str, Any]:
    api = "apps/v1" if kind == "Deployment" else "v1"
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"namespace": namespace, "name": name},
        **extra,
    }


def _case(*objects: dict[str, Any]) -> Case:
    return Case.model_validate(
        {
            "id": "t",
            "alert": {"labels": {"alertname": "KafkaConsumerGroupLagHigh"}},
            "cluster": list(objects),
        }
    )


def _lag(group: str) -> Alert:
    return Alert(
        labels={
            "alertname": "KafkaConsumerGroupLagHigh",
            "namespace": "kafka",
            "consumergroup": group,
            "topic": "articles",
        }
    )


async def _target(case: Case, alert: Alert, scope: Scope | None = None) -> str | None:
    source = SnapshotEvidenceSource(case)
    query: dict[str, Any] = {
        "target": None,
        "alerts": [alert],
        "title": "t",
        "description": None,
        "now": NOW,
    }
    evidence = await source.collect(scope=scope, **query)
    return evidence.target.key() if evidence.target is not None else None


CLUSTER = (
    _object("Pod", "kafka", "kafka-0"),
    _object("Deployment", "content", "feed-aggregator"),
    _object("Deployment", "content", "feed-api"),
)


async def test_the_consumer_deployment_in_its_own_namespace_is_the_target() -> None:
    case = _case(*CLUSTER)
    assert await _target(case, _lag("feed-aggregator")) == "Deployment/content/feed-aggregator"
    assert await _target(case, _lag("unknown-group")) == "Namespace/-/kafka"


async def test_a_scope_confined_to_the_brokers_namespace_does_not_reach_it() -> None:
    case = _case(*CLUSTER)
    scope = Scope("kafka", False)
    assert await _target(case, _lag("feed-aggregator"), scope) == "Namespace/-/kafka"


def test_the_builder_without_a_target_picks_the_consumer_too() -> None:
    """``build_evidence`` with no target (``index.choose_target``) takes the same Deployment."""
    evidence = built(list(CLUSTER), None, alerts=[_lag("feed-aggregator")])
    assert evidence.target is not None
    assert evidence.target.key() == "Deployment/content/feed-aggregator"

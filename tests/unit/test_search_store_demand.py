"""Checks that a search store's own demand is read and weighed: the query for the searches
its nodes serve (elasticsearch_exporter's per-node counter labelled with the node's name,
the OpenSearch exporter plugin's labelled with ``node``) reaches the store pods' series and
no other namespace's, and a store whose CPU and latency rose while its searches stayed flat,
right after a client rolled out a new revision, is that client's release to roll back rather
than a store to scale out; with more searches the client is left alone.

Real: the query is rendered by ``kubetriage.evidence.queries`` and evaluated by the real
``promtool test rules`` over synthetic series; the analyzers run on Evidence models from
``tests.support.evidence`` with the whole registry.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kubetriage.analyzers.callers import CONFIDENCE
from kubetriage.analyzers.demand import flat_demand
from kubetriage.evidence.queries import build_scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import AlertEvidence, Evidence
from kubetriage.models.neighbours import CallerEvidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, by_category, naming
from tests.support.promtool_checks import assert_evaluates

STORE = ObjectRef(kind="StatefulSet", namespace="search", name="products-es-data")
SERVICE = ObjectRef(kind="Service", namespace="search", name="products-es-http")
INDEXER = ObjectRef(kind="Deployment", namespace="catalog", name="catalog-indexer")
NAME = "search_store_query_throughput"


def _query() -> str:
    scope = build_scope(STORE, [])
    queries = {q.name: q.promql for q in select_queries(scope, timedelta(minutes=30))}
    return queries[NAME]


@pytest.mark.parametrize(
    ("counter", "label"),
    [
        ("elasticsearch_indices_search_query_total", "name"),
        ("opensearch_indices_search_query_count", "node"),
    ],
)
def test_the_query_reads_the_store_nodes_searches(tmp_path: Path, counter: str, label: str) -> None:
    series = [
        (f'{counter}{{namespace="search",{label}="products-es-data-0"}}', "0+600x30"),
        (f'{counter}{{namespace="search",{label}="products-es-data-1"}}', "0+600x30"),
        # another cluster's nodes, and another namespace's store of the same name
        (f'{counter}{{namespace="search",{label}="logs-es-data-0"}}', "0+6000x30"),
        (f'{counter}{{namespace="other",{label}="products-es-data-0"}}', "0+6000x30"),
    ]
    assert_evaluates(tmp_path, series, _query(), 20)


def _throughput(first: float, last: float) -> MetricSummary:
    return make.metric(_query(), name=NAME, first=first, last=last)


def _store_evidence(throughput: MetricSummary) -> Evidence:
    change = make.rollout_change(INDEXER, 35, "image", "env", minutes_ago=36)
    cpu = make.metric(
        'sum by (pod, container) (rate(container_cpu_usage_seconds_total{namespace="search"}[5m]))',
        name="cpu_usage_cores",
        first=2.1,
        last=5.6,
        trend="rising",
        changed_minutes_ago=35,
    )
    return make.evidence(
        target=STORE,
        pods=[
            make.pod(
                "products-es-data-0",
                make.container("elasticsearch", limits={"memory": "32Gi"}),
                namespace="search",
            )
        ],
        alerts=[
            AlertEvidence(
                labels={"alertname": "ElasticsearchSearchLatencyHigh", "namespace": "search"},
                starts_at=ago(10),
                status="firing",
            )
        ],
        metrics=[cpu, throughput],
        callers=[
            CallerEvidence(
                ref=INDEXER,
                callee=SERVICE,
                named_by=naming("Deployment catalog-indexer env ES_URL"),
                changes=[change],
            )
        ],
    )


def test_searches_count_as_the_stores_demand() -> None:
    assert flat_demand(make.evidence(metrics=[_throughput(1600.0, 1610.0)])) is not None
    assert flat_demand(make.evidence(metrics=[_throughput(1600.0, 3200.0)])) is None


def test_a_busy_store_with_flat_searches_after_a_clients_release_rolls_it_back() -> None:
    result = analyze(_store_evidence(_throughput(1600.0, 1610.0)))
    finding = assert_leads(result, Category.BAD_ROLLOUT, Action.ROLLBACK, INDEXER)
    assert finding.confidence == CONFIDENCE.flat_demand
    assert any(NAME in e.fact for e in finding.evidence)


def test_more_searches_leave_the_client_alone() -> None:
    result = analyze(_store_evidence(_throughput(1600.0, 3600.0)))
    assert not [f for f in by_category(result, Category.BAD_ROLLOUT) if f.target == INDEXER]

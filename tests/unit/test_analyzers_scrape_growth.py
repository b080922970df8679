"""The ingestion rule: a scraping metrics server OOM-killed only after one scrape job's
targets began returning many times the samples they did is filled by that job's workload
(roll it back, above the kill itself); a server whose scrape jobs did not grow, or whose pods
are newer than the growth, keeps the oom-killed reading. The samples per job are queried only
for an incident whose pods run such a server.

Real: the query planner (``evidence.queries``), the image vocabulary and the whole analyzer
registry over Evidence from ``tests.support.evidence``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from kubetriage.analyzers.changes import EXPLAINED_CAP
from kubetriage.analyzers.scrape_growth import GROWTH
from kubetriage.evidence.label_vocabulary import runs_metrics_server
from kubetriage.evidence.queries import build_scope, select_queries
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import ago, analyze, assert_leads, by_category

PROMETHEUS = "quay.io/prometheus/prometheus:v2.55.1"
SERVER = ObjectRef(kind="StatefulSet", namespace="monitoring", name="prometheus-k8s")


def _samples(
    job: str, namespace: str, first: float, peak: float, minutes_ago: float
) -> MetricSummary:
    return make.metric(
        "sum by (namespace, job) (scrape_samples_scraped)",
        name="scrape_samples_by_job",
        labels={"namespace": namespace, "job": job},
        first=first,
        last=peak,
        max_=peak,
        trend="rising",
        changed_minutes_ago=minutes_ago,
    )


def _server(*metrics: MetricSummary, created_minutes_ago: float = 60 * 24 * 9) -> Evidence:
    killed = make.crash_looping("prometheus", PROMETHEUS, exit_code=137, reason="OOMKilled")
    server = make.pod(
        "prometheus-k8s-0",
        killed,
        namespace="monitoring",
        replica_set=None,
        labels={"app.kubernetes.io/name": "prometheus"},
        created_at=ago(created_minutes_ago),
    )
    return make.evidence(
        pods=[server],
        workload=make.deployment("prometheus-k8s", "monitoring").model_copy(update={"ref": SERVER}),
        metrics=list(metrics),
    )


@pytest.mark.parametrize(
    ("image", "scrapes"),
    [
        (PROMETHEUS, True),
        ("prom/prometheus@sha256:5a09d0eb999f88702045a5d54bdec4e3615", True),
        ("victoriametrics/vmagent:v1.106.1", True),
        ("quay.io/prometheus-operator/prometheus-config-reloader:v0.78.2", False),
        ("otel/opentelemetry-collector-contrib:0.114.0", False),
    ],
)
def test_a_scraping_server_is_told_by_its_image(image: str, scrapes: bool) -> None:
    assert runs_metrics_server([image]) is scrapes


def test_the_samples_per_job_are_queried_only_for_a_scraping_server() -> None:
    pod = ObjectRef(kind="Pod", namespace="monitoring", name="prometheus-k8s-0")
    window = timedelta(hours=1)
    names = {q.name for q in select_queries(build_scope(pod, [], scrapes=True), window)}
    assert "scrape_samples_by_job" in names
    names = {q.name for q in select_queries(build_scope(pod, []), window)}
    assert "scrape_samples_by_job" not in names


def test_a_job_whose_samples_grew_before_the_kills_is_rolled_back() -> None:
    result = analyze(_server(_samples("search-api", "search", 2400, 700_000, 42)))
    assert_leads(
        result,
        Category.BAD_ROLLOUT,
        Action.ROLLBACK,
        ObjectRef(kind="Deployment", namespace="search", name="search-api"),
    )
    assert all(f.confidence <= EXPLAINED_CAP for f in by_category(result, Category.OOM_KILLED))


def test_jobs_that_did_not_grow_leave_the_kill_to_its_limit() -> None:
    steady = _samples("search-api", "search", 2400, 2400 * (GROWTH - 1), 42)
    top = analyze(_server(steady)).findings[0]
    assert (top.category, top.action) == (Category.OOM_KILLED, Action.INCREASE_MEMORY)


def test_a_server_started_after_the_growth_is_not_filled_by_it() -> None:
    grown = _samples("search-api", "search", 2400, 700_000, 42)
    result = analyze(_server(grown, created_minutes_ago=20))
    assert not by_category(result, Category.BAD_ROLLOUT)

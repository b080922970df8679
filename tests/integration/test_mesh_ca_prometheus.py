"""Checks that the collector asks a real Prometheus when the service mesh's CA expires, from
any incident: the Istio intermediate-CA case's istiod series are backfilled, and the
collector's evidence for the caller's workload carries the seconds left on the CA's chain
(negative: expired) and on its root, which the mesh-ca-expiry rule reads.

Real: promtool backfills the train case's metrics, ``/usr/bin/prometheus`` serves them on
127.0.0.1, and PrometheusEvidenceCollector queries it over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import yaml

from kubetriage.evidence.prometheus import PrometheusEvidenceCollector
from kubetriage.models.base import ObjectRef
from kubetriage.models.case import Case
from kubetriage.replay.promtool import LocalPrometheus, start_with_case_metrics
from tests.integration.prometheus_fixtures import case_alert, replay_end
from tests.support.cases import TRAIN

CASE = "certificate-expiry-istio-plugged-intermediate-ca-mtls-verify-failed"
FRONTEND = ObjectRef(kind="Deployment", namespace="web", name="frontend")


def _case() -> Case:
    path = TRAIN / CASE / "case.yaml"
    return Case.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def end() -> datetime:
    return replay_end()


@pytest.fixture(scope="module")
def mesh_prometheus(end: datetime) -> Iterator[LocalPrometheus]:
    metrics = _case().metrics
    assert metrics is not None
    with start_with_case_metrics(metrics, end) as running:
        yield running


async def test_the_mesh_cas_expiry_is_collected_for_any_incident(
    mesh_prometheus: LocalPrometheus, end: datetime
) -> None:
    case = _case()
    collector = PrometheusEvidenceCollector(mesh_prometheus.url, timeout_seconds=5.0)
    result = await collector.collect(FRONTEND, [case_alert(case, end)], end)
    assert result.status == "ok", result.message
    chain = next(s for s in result.summaries if s.name == "mesh_ca_chain_expiry_seconds")
    root = next(s for s in result.summaries if s.name == "mesh_ca_root_expiry_seconds")
    assert chain.labels == {"namespace": "istio-system"}
    # The case's chain has expired (its series holds a past Unix time); its root has years.
    assert chain.last is not None
    assert chain.last < 0
    assert root.last is not None
    assert root.last > 365 * 86400

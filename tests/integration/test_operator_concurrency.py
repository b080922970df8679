"""Configurable concurrency holds under a burst: 12 Incidents created at once with
``concurrency=3`` are all diagnosed, and never more than 3 diagnoses run at the same time.
Real: emulator over HTTP, Kopf, the operator and pipeline; the evidence comes from the real
builder over a captured case, through a wrapper that only counts diagnoses in flight."""

from __future__ import annotations

import asyncio
from datetime import datetime

from kubetriage.crd import build_incident_crd
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.incident import Alert
from kubetriage.pipeline import Stages
from kubetriage.redaction import redact_evidence
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.snapshot import SnapshotEvidenceSource
from kubetriage.settings import Settings
from kubetriage.tenancy import Scope
from tests.support.cases import EXAMPLES
from tests.support.incidents import incident
from tests.support.operator import OperatorThread
from tests.support.polling import wait_for

SHARED = EXAMPLES
BURST = 12
LIMIT = 3


class InFlightCounter:
    def __init__(self, inner: SnapshotEvidenceSource) -> None:
        self.inner = inner
        self.in_flight = 0
        self.peak = 0
        self.calls = 0

    async def collect(
        self,
        *,
        target: ObjectRef | None,
        alerts: list[Alert],
        title: str,
        description: str | None,
        now: datetime,
        scope: Scope,
    ) -> Evidence:
        self.in_flight += 1
        self.calls += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.3)  # long enough for a burst to pile up
            return await self.inner.collect(
                target=target,
                alerts=alerts,
                title=title,
                description=description,
                now=now,
                scope=scope,
            )
        finally:
            self.in_flight -= 1


def test_burst_respects_the_concurrency_limit(emulator: EmulatorThread) -> None:
    case = load_case(SHARED / "example-oom-csv-exporter")
    emulator.emulator.load([build_incident_crd(), *case.cluster])
    counter = InFlightCounter(SnapshotEvidenceSource(case))
    stages = Stages(evidence=counter, redact=redact_evidence)
    settings = Settings(memory_enabled=False, concurrency=LIMIT)
    incidents = [
        incident(f"burst-{i}", "exports", title="csv-exporter restarting", workload="csv-exporter")
        for i in range(BURST)
    ]
    with OperatorThread(emulator.kubeconfig_path, settings=settings, stages=stages):
        emulator.emulator.load(incidents)
        wait_for(
            lambda: [
                (
                    (emulator.emulator.get("incidents", f"burst-{i}", "exports") or {}).get(
                        "status"
                    )
                    or {}
                ).get("phase")
                for i in range(BURST)
            ],
            until=lambda phases: all(p == "Diagnosed" for p in phases),
            what="every Incident of the burst diagnosed",
            within=90,
        )
    assert counter.calls == BURST
    assert counter.peak == LIMIT

"""Configurable concurrency holds under a burst: 12 Incidents created at once with
``concurrency=3`` are all diagnosed, and never more than 3 diagnoses run at the same time.
Real: emulator over HTTP, Kopf, the operator and pipeline; the evidence comes from the real
builder over a captured case, through ``tests.support.counting``'s wrapper, which only
counts collections in flight (each held until the limit's worth are in flight at once, so the
burst piles up behind the limit)."""

from __future__ import annotations

from kubetriage.crd import build_incident_crd
from kubetriage.pipeline import Stages
from kubetriage.redaction import redact_evidence
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.snapshot import SnapshotEvidenceSource
from kubetriage.settings import Settings
from tests.support.cases import EXAMPLES
from tests.support.counting import CountingEvidence, InFlight
from tests.support.incidents import incident
from tests.support.operator import OperatorThread
from tests.support.polling import wait_for

SHARED = EXAMPLES
BURST = 12
LIMIT = 3


def test_burst_respects_the_concurrency_limit(emulator: EmulatorThread) -> None:
    case = load_case(SHARED / "example-oom-csv-exporter")
    emulator.emulator.load([build_incident_crd(), *case.cluster])
    counter = InFlight()
    # Each collection stays in flight until LIMIT are at once: the burst piles up behind it.
    evidence = CountingEvidence(SnapshotEvidenceSource(case), counter, hold_until=LIMIT)
    stages = Stages(evidence=evidence, redact=redact_evidence)
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

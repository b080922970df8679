"""Golden diagnoses: a case replayed through the real pipeline with no servers, and the texts
a person reads (summary, root cause, evidence) as the record checked into tests/golden.

The pipeline is ``kubetriage.pipeline.diagnose`` with the snapshot evidence source, the real
redaction, the analyzers and the combiner; metrics are the case's raw series summarised as the
Prometheus stage summarises query answers. No Prometheus runs here, so no rate or histogram
quantile is computed: a golden can differ from a full replay in metric wording, and where a
derived series decides (request rate, p99 latency, worker saturation) in its answer too (6 of
158 train cases). The objects and log tails are read as the collector reads them
(``SnapshotEvidenceSource``). No memory, no model.

``UPDATE_GOLDEN=1`` (``make golden``) rewrites the records instead of comparing them.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from kubetriage.alerts import spec_from_alerts
from kubetriage.evidence.series import summarize_series
from kubetriage.evidence.targets import target_namespace
from kubetriage.models.case import Case, parse_go_duration
from kubetriage.models.evidence import Evidence
from kubetriage.models.incident import Alert
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.pipeline import MetricsOutcome, PipelineResult, Stages, diagnose
from kubetriage.redaction import redact_evidence
from kubetriage.replay.cases import load_case
from kubetriage.replay.promtool import expand_series_values, parse_series_selector
from kubetriage.replay.session import case_alert, case_time, one_tenant
from kubetriage.replay.snapshot import SnapshotEvidenceSource
from kubetriage.settings import Settings
from kubetriage.tenancy import Tenancy
from tests.support.cases import CASES

GOLDEN = CASES.parent / "golden"
# Cases whose objects carry no timestamp replay as of this moment (a full replay uses "now").
FALLBACK_NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def updating() -> bool:
    return os.environ.get("UPDATE_GOLDEN", "") not in ("", "0")


class CaseSeries:
    """A ``MetricsSource`` answering with the case's series, the last sample at ``now``."""

    def __init__(self, case: Case) -> None:
        self._case = case

    async def __call__(
        self, evidence: Evidence, alerts: list[Alert], now: datetime
    ) -> MetricsOutcome:
        del evidence, alerts
        metrics = self._case.metrics
        if metrics is None or not metrics.series:
            return MetricsOutcome([], "no_data", "the case has no metrics")
        step = parse_go_duration(metrics.interval)
        summaries: list[MetricSummary] = []
        for series in metrics.series:
            selector = parse_series_selector(series.series)
            values = expand_series_values(series.values)
            start = now - step * (len(values) - 1)
            points = [
                (start + step * i, value)
                for i, value in enumerate(values)
                if isinstance(value, float)
            ]
            summaries.append(
                summarize_series(selector.name, series.series, dict(selector.labels), points)
            )
        return MetricsOutcome(summaries, "ok", f"{len(summaries)} series from the case")


def replay_offline(case_dir: Path) -> PipelineResult:
    """The case diagnosed as a full replay would diagnose it, under the same tenancy rule
    (``one_tenant``) and in the namespace the receiver places its Incident in."""
    case = load_case(case_dir / "case.yaml")
    now = case_time(case) or FALLBACK_NOW
    spec = spec_from_alerts([case_alert(case, now)])
    settings = one_tenant(case, Settings())
    stages = Stages(
        evidence=SnapshotEvidenceSource(case),
        redact=redact_evidence,
        metrics=CaseSeries(case),
        tenancy=Tenancy.from_settings(settings),
    )
    namespace = target_namespace(dict(case.alert.labels)) or settings.incident_namespace
    return asyncio.run(diagnose(spec, namespace=namespace, stages=stages, now=now))


def record(result: PipelineResult) -> dict[str, Any]:
    """What a person reads, plus what the text must stay consistent with."""
    diagnosis = result.diagnosis
    top = diagnosis.remediations[0] if diagnosis.remediations else None
    return {
        "category": diagnosis.category.value,
        "action": top.action.value if top else None,
        "target": top.target.display() if top else None,
        "summary": diagnosis.summary,
        "rootCause": diagnosis.root_cause,
        "evidence": [{"id": e.id, "source": e.source, "fact": e.fact} for e in diagnosis.evidence],
    }


def golden_path(case_dir: Path) -> Path:
    return GOLDEN / f"{case_dir.name}.yaml"


def dump(body: dict[str, Any]) -> str:
    return yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=1000)


def load(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: not a mapping")
    return loaded

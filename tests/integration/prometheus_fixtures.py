"""Shared data for the Prometheus integration tests: the example cases and their replay time.

The module-scoped Prometheus fixture itself lives in ``conftest.py`` (pytest fixtures must be
visible there); these helpers load cases and merge their metrics into one backfill.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import yaml

from kubetriage.models.case import Case, CaseMetrics, parse_go_duration
from kubetriage.models.incident import Alert
from tests.support.cases import EXAMPLES

CASES_DIR = EXAMPLES
OOM_CASE = "example-oom-csv-exporter"
MAILER_CASE = "example-external-api-503"


def load_case(case_id: str) -> Case:
    path = CASES_DIR / case_id / "case.yaml"
    return Case.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def replay_end() -> datetime:
    """'Now' for a replay, whole seconds so sample timestamps are exact."""
    return datetime.now(UTC).replace(microsecond=0)


def merged_metrics(cases: list[Case]) -> CaseMetrics:
    """All cases' series in one backfill (they share a 1m interval and never share names)."""
    intervals = {c.metrics.interval for c in cases if c.metrics is not None}
    assert len(intervals) == 1, intervals
    series = [s for c in cases if c.metrics is not None for s in c.metrics.series]
    return CaseMetrics(interval=intervals.pop(), series=series)


def case_alert(case: Case, end: datetime) -> Alert:
    """The case's alert as the receiver would build it, firing since ``startsAgo``."""
    starts_at = end - parse_go_duration(case.alert.starts_ago)
    return Alert(
        status="firing",
        labels=case.alert.labels,
        annotations=case.alert.annotations,
        startsAt=starts_at,
    )


def external_hosts(case: Case) -> list[str]:
    """ExternalName hosts of the case's Services: the dependencies it calls."""
    return [
        obj["spec"]["externalName"]
        for obj in case.cluster
        if obj["kind"] == "Service" and obj.get("spec", {}).get("externalName")
    ]


ONE_MINUTE = timedelta(minutes=1)

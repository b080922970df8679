"""Checks that an alert saying something arrives late is of the latency family
(``kubetriage.evidence.queries.alert_families``): "late" as a word of the summary or a
CamelCase word of the alert name ("LogsArriveLate"), never inside another word ("template",
"Latest", "Translate"). A late-arrival alert then asks for the namespace's throttling series,
as any latency alert naming no workload does.

Everything is real: the Alert model and the query selection of ``kubetriage.evidence.queries``.
"""

from __future__ import annotations

from datetime import timedelta

from kubetriage.evidence.queries import Scope, alert_families, select_queries
from kubetriage.models.incident import Alert

WINDOW = timedelta(hours=1)


def _alert(name: str, summary: str = "") -> Alert:
    return Alert(status="firing", labels={"alertname": name}, annotations={"summary": summary})


def test_late_arrival_alerts_are_latency_alerts() -> None:
    assert "latency" in alert_families([_alert("LokiCanaryLogsArriveLate")])
    assert "latency" in alert_families([_alert("CanaryCheck", "log lines reach Loki late")])


def test_late_inside_other_words_is_not_latency() -> None:
    for name, summary in (
        ("TemplateRenderFailed", "template render failed"),
        ("LatestBackupMissing", "no latest backup"),
        ("TranslateJobStuck", "translate job stuck"),
    ):
        assert "latency" not in alert_families([_alert(name, summary)]), name


def test_a_late_arrival_alert_asks_for_the_namespace_throttling() -> None:
    families = alert_families([_alert("LokiCanaryLogsArriveLate")])
    scope = Scope(namespace="logging", namespace_wide=True)
    names = {q.name for q in select_queries(scope, WINDOW, families=families)}
    assert "namespace_cpu_throttled_ratio" in names

"""Date-times without a timezone (accepted by the CRD's ``date-time`` format and, before
issue 10, by the receiver) are read as UTC, so the diagnosis can compare them with the
clock: an Incident written by hand with ``startsAt: 2026-11-26T10:00:00`` used to end
Failed/InternalError in the Prometheus planner. Pure: the models and the real planner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kubetriage.evidence.prometheus import PrometheusEvidenceCollector
from kubetriage.models.incident import IncidentSpec
from kubetriage.receiver.payload import parse_payload

NOW = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)


def test_incident_alert_times_without_timezone_are_utc() -> None:
    spec = IncidentSpec.model_validate(
        {
            "title": "t",
            "alerts": [{"startsAt": "2026-11-26T10:00:00", "endsAt": "2026-11-26T10:20:00Z"}],
        }
    )
    alert = spec.alerts[0]
    assert alert.starts_at == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    _, start = PrometheusEvidenceCollector("http://127.0.0.1:1").plan(None, spec.alerts, NOW)
    assert start == alert.starts_at - timedelta(minutes=60)


def test_webhook_times_without_timezone_are_utc() -> None:
    body = (
        b'{"version":"4","groupKey":"k","status":"resolved","alerts":[{"status":"resolved",'
        b'"labels":{"a":"b"},"startsAt":"2026-11-26T10:00:00+02:00",'
        b'"endsAt":"2026-11-26T10:20:00"}]}'
    )
    alert = parse_payload(body).alerts[0]
    assert alert.ends_at == datetime(2026, 11, 26, 10, 20, tzinfo=UTC)
    assert alert.starts_at is not None
    assert alert.ends_at > alert.starts_at

"""Alert-to-Incident mapping: deterministic valid names, severity and title from labels and
annotations, the most severe alert first. Pure."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from kubetriage.alerts import incident_name, label_fingerprint, severity_of, spec_from_alerts
from kubetriage.models.incident import Alert
from kubetriage.models.vocabulary import Severity

NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@given(st.text(max_size=200), st.text(max_size=200))
def test_incident_names_are_valid_and_deterministic(alertname: str, key: str) -> None:
    name = incident_name(alertname, key)
    assert NAME.match(name)
    assert len(name) <= 63
    assert name == incident_name(alertname, key)


def test_fingerprint_ignores_label_order() -> None:
    assert label_fingerprint({"a": "1", "b": "2"}) == label_fingerprint({"b": "2", "a": "1"})
    assert label_fingerprint({"a": "1"}) != label_fingerprint({"a": "2"})


def test_spec_from_alerts() -> None:
    warning = Alert(
        labels={"alertname": "KubePodCrashLooping", "severity": "warning"},
        annotations={"summary": "Pod is crash looping.", "description": "d1"},
    )
    critical = Alert(
        labels={"alertname": "KubePodNotReady", "severity": "critical"},
        annotations={"summary": "Pod not ready", "runbook_url": "https://r"},
    )
    spec = spec_from_alerts([warning, critical])
    assert spec.severity is Severity.CRITICAL
    assert spec.title == "KubePodNotReady: Pod not ready"
    assert spec.source == "alertmanager"
    assert spec.alerts[0].annotations["runbook_url"] == "https://r"
    assert severity_of({"severity": "page"}) is Severity.CRITICAL
    assert severity_of({}) is Severity.WARNING

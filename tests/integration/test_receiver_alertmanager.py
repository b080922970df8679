"""The receiver behind a REAL Alertmanager (``prometheus-alertmanager``, API v2 in, webhook
out with a bearer token) and the REAL operator (Kopf + pipeline, no LLM) against the
Kubernetes API emulator holding the example-oom-csv-exporter case: a posted alert becomes
one Incident that is Diagnosed; repeats add to it; an alert ended in the past resolves it;
firing again reopens and re-diagnoses the same Incident; a wrong token gets 401 and
Alertmanager counts the failed notifications."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubetriage.alerts import incident_name
from kubetriage.receiver.state import alertmanager_group_key
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.session import load_case_into
from tests.integration.alertmanager_fixtures import (
    TOKEN,
    Alertmanager,
    ReceiverThread,
    alertmanager_config,
    api_alert,
    incidents,
    prepare_cluster,
    receiver_settings,
)
from tests.support.cases import EXAMPLES
from tests.support.operator import OperatorThread
from tests.support.polling import wait_for

CASE = EXAMPLES / "example-oom-csv-exporter"


@pytest.fixture
def case_cluster(emulator: EmulatorThread) -> tuple[EmulatorThread, Any]:
    case = load_case(CASE)
    prepare_cluster(emulator)
    load_case_into(emulator.emulator, case)
    return emulator, case


def _only_incident(emulator: EmulatorThread) -> dict[str, Any] | None:
    found = incidents(emulator)
    assert len(found) <= 1, [i["metadata"]["name"] for i in found]
    return found[0] if found else None


def _phase(
    emulator: EmulatorThread,
    phase: str,
    written: Callable[[dict[str, Any]], object],
) -> Callable[[], dict[str, Any] | None]:
    """The only Incident once its phase is ``phase`` and the receiver's write the test reads
    next is there too (``written``): the receiver writes an Incident's spec and status in
    two requests (a new Incident's alert group after its creation, a resolution's phase
    before its spec, so the operator sees the phase first), and the operator writes the
    status meanwhile; no order between them is promised."""

    def probe() -> dict[str, Any] | None:
        incident = _only_incident(emulator)
        if incident and (incident.get("status") or {}).get("phase") == phase and written(incident):
            return incident
        return None

    return probe


def test_alert_lifecycle_through_alertmanager(
    case_cluster: tuple[EmulatorThread, Any], tmp_path: Path
) -> None:
    emulator, case = case_cluster
    labels = dict(case.alert.labels)
    annotations = dict(case.alert.annotations)
    with (
        ReceiverThread(receiver_settings(), emulator.kubeconfig_path) as receiver,
        OperatorThread(emulator.kubeconfig_path),
        Alertmanager(
            tmp_path, alertmanager_config(f"{receiver.url}/alerts", TOKEN, repeat_interval="1s")
        ) as alertmanager,
    ):
        alertmanager.post_alerts([api_alert(labels, annotations=annotations)])
        diagnosed = wait_for(
            _phase(emulator, "Diagnosed", lambda i: "alertGroup" in i["status"]),
            what="the Incident to be Diagnosed, with its alert group",
        )
        assert diagnosed["metadata"]["namespace"] == "exports"
        # The groupKey Alertmanager really sends is the one the replay helper builds, so a
        # replayed case names its Incident exactly as a live alert does.
        group_key = alertmanager_group_key(
            {"alertname": labels["alertname"], "namespace": labels["namespace"]}
        )
        assert diagnosed["status"]["alertGroup"]["groupKey"] == group_key
        assert diagnosed["metadata"]["name"] == incident_name(labels["alertname"], group_key)
        assert diagnosed["spec"]["target"]["kind"] == "Pod"
        assert diagnosed["spec"]["alerts"][0]["annotations"]["runbook_url"].startswith("https://")
        assert diagnosed["status"]["diagnosis"]["category"] == case.expect.category.value
        generation = diagnosed["metadata"]["generation"]

        # Repeats (repeat_interval 1s, and Prometheus re-posting the alert): one Incident,
        # the count grows, the spec does not change, so no re-diagnosis.
        alertmanager.post_alerts([api_alert(labels, annotations=annotations)])
        repeated = wait_for(
            lambda: (
                (i := _only_incident(emulator))
                and i["status"]["alertGroup"]["notifications"] >= 3
                and i
            ),
            what="repeat notifications",
            within=30,
        )
        assert repeated["metadata"]["generation"] == generation
        assert repeated["status"]["phase"] == "Diagnosed"

        # Prometheus sends the alert with endsAt in the past: resolved.
        now = datetime.now(UTC)
        alertmanager.post_alerts(
            [
                api_alert(
                    labels,
                    annotations=annotations,
                    starts_at=now - timedelta(minutes=10),
                    ends_at=now - timedelta(seconds=5),
                )
            ]
        )
        resolved = wait_for(
            _phase(emulator, "Resolved", lambda i: i["spec"]["alerts"][0]["status"] == "resolved"),
            what="the Incident to be Resolved, with its alert resolved",
        )
        conditions = {c["type"]: c for c in resolved["status"]["conditions"]}
        assert conditions["Resolved"]["status"] == "True"
        assert resolved["status"]["alertGroup"]["resolvedAt"]
        assert resolved["spec"]["alerts"][0]["status"] == "resolved"

        # It fires again: the same Incident reopens and is diagnosed again.
        alertmanager.post_alerts([api_alert(labels, annotations=annotations)])
        rediagnosed = wait_for(
            lambda: (
                (i := _only_incident(emulator))
                and i["status"]["phase"] == "Diagnosed"
                and i["status"].get("alertGroup", {}).get("reopened") == 1
                and i["status"]["observedGeneration"] == i["metadata"]["generation"]
                and i
            ),
            what="the reopened Incident to be diagnosed again",
        )
        assert rediagnosed["metadata"]["uid"] == diagnosed["metadata"]["uid"]
        assert rediagnosed["metadata"]["generation"] > generation
        conditions = {c["type"]: c for c in rediagnosed["status"]["conditions"]}
        assert conditions["Reopened"]["status"] == "True"
        assert "resolvedAt" not in rediagnosed["status"]["alertGroup"]

        def investigations() -> int:
            return sum(
                1
                for e in emulator.emulator.objects("events", "exports")
                if e["involvedObject"]["name"] == diagnosed["metadata"]["name"]
                and e["reason"] == "Investigating"
            )

        # Kopf posts events asynchronously but in order: once the re-diagnosis's event is
        # there, one for the resolved alert's spec change would be too. There is none.
        wait_for(investigations, until=lambda n: n >= 2, what="two investigations", within=10)
        assert investigations() == 2
        assert receiver.stats.failed == 0
    assert len(incidents(emulator)) == 1


def test_wrong_token_is_refused_and_alertmanager_counts_failures(
    case_cluster: tuple[EmulatorThread, Any], tmp_path: Path
) -> None:
    emulator, case = case_cluster
    with (
        ReceiverThread(receiver_settings(), emulator.kubeconfig_path) as receiver,
        Alertmanager(
            tmp_path, alertmanager_config(f"{receiver.url}/alerts", "not-the-token")
        ) as alertmanager,
    ):
        alertmanager.post_alerts([api_alert(dict(case.alert.labels))])
        wait_for(
            lambda: alertmanager.metric(
                "alertmanager_notifications_failed_total", integration="webhook"
            ),
            until=lambda failed: failed > 0,
            what="Alertmanager to count failed notifications",
            within=30,
        )
        assert receiver.stats.rejected.get(401, 0) >= 1
        assert receiver.stats.accepted == 0
    assert incidents(emulator) == []

"""Issue 10's receiver inputs over real HTTP against the emulated API server: every input
that used to be answered 2xx and then dropped, or answered 5xx, is now either normalised and
stored (the answer comes only once the Incident is written) or refused with a 4xx whose
message says why and whose reason is counted in ``kubetriage_receiver_rejected_total``. Also:
large groups are truncated instead of refused, Incidents stay below 1 MB whatever the
alerts carry, and slow clients are cut off. Real: the aiohttp server, raw sockets and
http.client, the kubernetes client, the emulator's API over HTTP, prometheus_client."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import time
import urllib.parse
from typing import Any

import pytest

from kubetriage.metrics import OperatorMetrics
from kubetriage.replay.emulator import EmulatorThread
from tests.integration import alertmanager_fixtures as am
from tests.integration.alertmanager_fixtures import TOKEN, ReceiverThread

GROUP = {"alertname": "KubePodCrashLooping", "namespace": "exports"}
ONE_MB = 1_000_000


def _one_alert() -> str:
    """A notification of one crash-looping alert, as JSON text."""
    return json.dumps(
        am.webhook_payload([am.webhook_alert(am.crashloop_labels())], group_labels=GROUP)
    )


@pytest.fixture
def cluster(emulator: EmulatorThread) -> EmulatorThread:
    am.prepare_cluster(emulator, "exports")
    return emulator


def _raw(url: str, body: bytes, headers: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    parsed = urllib.parse.urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=30)
    try:
        connection.request("POST", "/alerts", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _size(incident: dict[str, Any]) -> int:
    return len(json.dumps(incident).encode())


def test_lone_surrogate_is_normalised_and_stored(cluster: EmulatorThread) -> None:
    body = json.dumps(
        am.webhook_payload([am.webhook_alert(am.crashloop_labels())], group_labels=GROUP)
    )
    body = body.replace('"container": "exporter"', '"container": "exp\\ud800orter"')
    assert "\\ud800" in body
    with ReceiverThread(am.receiver_settings(), cluster.kubeconfig_path) as receiver:
        status, _, answer = am.post(receiver.url, body.encode())
        assert status == 200, answer
    [incident] = am.incidents(cluster, "exports")
    assert incident["spec"]["alerts"][0]["labels"]["container"] == "exp\ufffdorter"


def test_empty_alertname_still_makes_an_incident(cluster: EmulatorThread) -> None:
    labels = {**am.crashloop_labels(), "alertname": ""}
    payload = am.webhook_payload(
        [am.webhook_alert(labels)], group_labels={"alertname": "", "namespace": "exports"}
    )
    with ReceiverThread(am.receiver_settings(), cluster.kubeconfig_path) as receiver:
        status, _, answer = am.post(receiver.url, payload)
        assert status == 200, answer
    [incident] = am.incidents(cluster, "exports")
    assert incident["spec"]["title"] == "Alert"
    assert incident["metadata"]["name"].startswith("alertgroup-")


def test_resolve_mixing_naive_and_aware_times_resolves(cluster: EmulatorThread) -> None:
    firing = [am.webhook_alert(am.crashloop_labels(pod=p)) for p in ("a", "b")]
    resolved = [
        {**a, "status": "resolved", "endsAt": end}
        for a, end in zip(firing, ("2026-11-26T10:05:00Z", "2026-11-26T10:06:00"), strict=True)
    ]
    resolved[1]["startsAt"] = "2026-11-26T10:00:00"  # no timezone
    with ReceiverThread(am.receiver_settings(), cluster.kubeconfig_path) as receiver:
        assert am.post(receiver.url, am.webhook_payload(firing, group_labels=GROUP))[0] == 200
        status, _, answer = am.post(receiver.url, am.webhook_payload(resolved, group_labels=GROUP))
        assert status == 200, answer
    [incident] = am.incidents(cluster, "exports")
    assert incident["status"]["phase"] == "Resolved"
    assert incident["status"]["alertGroup"]["resolvedAt"].startswith("2026-11-26T10:06:00")


def test_non_utf8_authorization_header_is_401(cluster: EmulatorThread) -> None:
    metrics = OperatorMetrics()
    payload = json.dumps(
        am.webhook_payload([am.webhook_alert(am.crashloop_labels())], group_labels=GROUP)
    )
    with ReceiverThread(
        am.receiver_settings(), cluster.kubeconfig_path, metrics=metrics
    ) as receiver:
        status, answer = _raw(
            receiver.url,
            payload.encode(),
            {"Content-Type": "application/json", "Authorization": b"Bearer \xe9\xff"},
        )
        assert status == 401, answer
        assert "bearer token" in answer["error"]
    assert metrics.receiver_rejected.labels(reason="unauthorized")._value.get() == 1
    assert am.incidents(cluster) == []


def test_body_that_is_not_what_its_encoding_says_is_400(cluster: EmulatorThread) -> None:
    metrics = OperatorMetrics()
    payload = json.dumps(
        am.webhook_payload([am.webhook_alert(am.crashloop_labels())], group_labels=GROUP)
    )
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {TOKEN}",
        "Content-Encoding": "gzip",
    }
    with ReceiverThread(
        am.receiver_settings(), cluster.kubeconfig_path, metrics=metrics
    ) as receiver:
        status, answer = _raw(receiver.url, payload.encode(), headers)
        assert status == 400, answer
        assert "cannot be decoded" in answer["error"]
        # Real gzip is fine.
        status, answer = _raw(receiver.url, gzip.compress(payload.encode()), headers)
        assert status == 200, answer
        assert receiver.stats.reasons == {"bad_encoding": 1}
    exposition = metrics.exposition().decode()
    assert 'kubetriage_receiver_rejected_total{reason="bad_encoding"} 1.0' in exposition
    assert len(am.incidents(cluster, "exports")) == 1


def test_a_4000_alert_group_is_truncated_not_refused(cluster: EmulatorThread) -> None:
    """Alertmanager with max_alerts: 0 sends the whole group (~1.7 MB here); the receiver
    keeps the newest alerts and counts the rest instead of answering 413 forever."""
    alerts = [
        am.webhook_alert(
            am.crashloop_labels(pod=f"csv-exporter-{i:05d}"),
            annotations={"summary": "Pod is crash looping.", "description": "x" * 200},
        )
        for i in range(4000)
    ]
    payload = am.webhook_payload(alerts, group_labels=GROUP)
    body = json.dumps(payload).encode()
    assert len(body) > 1_500_000
    with ReceiverThread(am.receiver_settings(), cluster.kubeconfig_path) as receiver:
        status, _, answer = am.post(receiver.url, body)
        assert status == 200, answer
        assert answer["truncated"] == 3000
    [incident] = am.incidents(cluster, "exports")
    group = incident["status"]["alertGroup"]
    assert group["truncated"] == 3000
    assert len(incident["spec"]["alerts"]) + group["omitted"] == 1000
    assert _size(incident) < ONE_MB


def test_incident_stays_below_1mb_whatever_the_alerts_carry(cluster: EmulatorThread) -> None:
    """30 notifications of alerts with 64 annotations of 8 KiB and 1,024-character label
    names once grew one Incident to 30.8 MB; now it stays below 1 MB and says what it cut."""
    long_name = "l" * 1024
    with ReceiverThread(am.receiver_settings(), cluster.kubeconfig_path) as receiver:
        for n in range(30):
            alerts = [
                am.webhook_alert(
                    {**am.crashloop_labels(pod=f"p-{n}-{i}"), long_name: "v"},
                    annotations={f"note{j:02d}": "y" * 8192 for j in range(64)},
                )
                for i in range(4)
            ]
            status, _, answer = am.post(
                receiver.url, am.webhook_payload(alerts, group_labels=GROUP)
            )
            assert status == 200, answer
    [incident] = am.incidents(cluster, "exports")
    assert _size(incident) < ONE_MB
    group = incident["status"]["alertGroup"]
    assert group["clipped"] == 120
    assert len(incident["spec"]["alerts"]) + group["omitted"] == 120
    assert group["omitted"] > 0
    names = {k for a in incident["spec"]["alerts"] for k in a["labels"]}
    assert max(len(k) for k in names) == 128


def test_half_sent_head_is_cut_off_and_slow_body_gets_408(cluster: EmulatorThread) -> None:
    settings = am.receiver_settings(
        webhook_header_timeout_seconds=0.5, webhook_body_timeout_seconds=0.5
    )
    with ReceiverThread(settings, cluster.kubeconfig_path) as receiver:
        parsed = urllib.parse.urlparse(receiver.url)
        address = (parsed.hostname or "", parsed.port or 0)
        with socket.create_connection(address, timeout=30) as head:
            head.sendall(b"POST /alerts HTTP/1.1\r\nHost: x\r\n")
            assert head.recv(1024) == b""  # closed by the receiver, no answer
        with socket.create_connection(address, timeout=30) as body:
            body.sendall(
                b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n".encode()
                + b'{"version":'
            )
            answer = b""
            deadline = time.monotonic() + 30
            while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
                answer += body.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert receiver.stats.reasons == {"body_timeout": 1}

"""The receiver over real HTTP against the Kubernetes API emulator: accepted notifications
become Incidents; auth, content type, size and schema failures are 4xx with a JSON message
and create nothing; a full queue answers 503 with Retry-After and loses nothing; two
receivers racing on one group make exactly one Incident. Real: aiohttp server, the
kubernetes client, the emulator's API over HTTP."""

from __future__ import annotations

import concurrent.futures
import http.client
import urllib.parse
from typing import Any

import pytest

from kubetriage.kubeclient import api_client
from kubetriage.receiver import Receiver, ReceiverConfigError
from kubetriage.replay.emulator import EmulatorThread
from tests.integration import alertmanager_fixtures as am
from tests.integration.alertmanager_fixtures import TOKEN, ReceiverThread

GROUP = {"alertname": "KubePodCrashLooping", "namespace": "exports"}
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _payload(pods: list[str], group: dict[str, str] | None = None) -> dict[str, Any]:
    return am.webhook_payload(
        [
            am.webhook_alert(am.crashloop_labels(pod=p), annotations={"summary": "crash looping"})
            for p in pods
        ],
        group_labels=group or GROUP,
    )


@pytest.fixture
def cluster(emulator: EmulatorThread) -> EmulatorThread:
    am.prepare_cluster(emulator, "exports")
    return emulator


def test_notification_becomes_an_incident(cluster: EmulatorThread) -> None:
    with ReceiverThread(am.receiver_settings(), cluster.kubeconfig_path) as receiver:
        status, _, answer = am.post(receiver.url, _payload(["a"]), headers={"traceparent": TRACE})
        assert status == 200, answer
        receiver.drain()
        status, _, again = am.post(receiver.url, _payload(["a", "b"]))
        assert status == 200
        receiver.drain()
    [incident] = am.incidents(cluster, "exports")
    assert incident["metadata"]["name"] == answer["incident"] == again["incident"]
    assert incident["metadata"]["annotations"]["kubetriage.io/traceparent"] == TRACE
    spec = incident["spec"]
    assert spec["title"] == "KubePodCrashLooping: crash looping"
    assert spec["source"] == "alertmanager"
    assert sorted(a["labels"]["pod"] for a in spec["alerts"]) == ["a", "b"]
    group = incident["status"]["alertGroup"]
    assert group["notifications"] == 2
    assert group["firing"] == 2
    assert group["groupKey"].startswith("{}:{alertname=")


def test_health_endpoints(cluster: EmulatorThread) -> None:
    with ReceiverThread(am.receiver_settings(), cluster.kubeconfig_path) as receiver:
        parsed = urllib.parse.urlparse(receiver.url)
        for path in ("/healthz", "/readyz"):
            connection = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=5)
            connection.request("GET", path)
            assert connection.getresponse().status == 200
            connection.close()


@pytest.mark.parametrize(
    ("token", "headers"),
    [
        (None, {}),
        ("wrong", {}),
        (TOKEN + "x", {}),
        (None, {"Authorization": f"Basic {TOKEN}"}),
        (None, {"Authorization": "Bearer"}),
    ],
)
def test_missing_or_wrong_token_is_401(
    cluster: EmulatorThread, token: str | None, headers: dict[str, str]
) -> None:
    with ReceiverThread(am.receiver_settings(), cluster.kubeconfig_path) as receiver:
        status, response_headers, answer = am.post(
            receiver.url, _payload(["a"]), token=token, headers=headers
        )
        assert status == 401
        assert response_headers["WWW-Authenticate"] == "Bearer"
        assert "token" in answer["error"]
        receiver.drain()
        assert receiver.stats.accepted == 0
    assert am.incidents(cluster) == []


def test_receiver_refuses_to_start_without_a_token_unless_told(cluster: EmulatorThread) -> None:
    client = api_client(cluster.kubeconfig_path)
    with pytest.raises(ReceiverConfigError, match="KUBETRIAGE_WEBHOOK_TOKEN"):
        Receiver(am.receiver_settings(webhook_token=None), client)
    client.close()  # type: ignore[no-untyped-call]
    settings = am.receiver_settings(webhook_token=None, webhook_allow_unauthenticated=True)
    with ReceiverThread(settings, cluster.kubeconfig_path) as receiver:
        status, _, _ = am.post(receiver.url, _payload(["a"]), token=None)
        assert status == 200
        receiver.drain()
    assert len(am.incidents(cluster, "exports")) == 1


def _raw_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    parsed = urllib.parse.urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=10)
    try:
        connection.request("POST", "/alerts", body=body, headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_bad_input_is_4xx_with_a_message(cluster: EmulatorThread) -> None:
    settings = am.receiver_settings(webhook_max_body_bytes=4096)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with ReceiverThread(settings, cluster.kubeconfig_path) as receiver:
        status, _, answer = am.post(receiver.url, b"{}", content_type="text/plain")
        assert (status, "content type 'text/plain'" in answer["error"]) == (415, True)
        status, _, answer = am.post(receiver.url, b"{nope")
        assert status == 400
        assert answer["error"].startswith("malformed JSON")
        bad = _payload(["a"])
        bad["alerts"] = [*bad["alerts"], {"status": "firing", "labels": "x"}]
        status, _, answer = am.post(receiver.url, bad)
        assert (status, answer["error"]) == (422, "alerts[1].labels: expected object")
        status, _, answer = am.post(receiver.url, b" " * 5000)
        assert status == 413
        assert "4096 bytes" in answer["error"]

        # No Content-Length: the limit holds while reading a chunked body.
        def chunks() -> object:
            for _ in range(100):
                yield b" " * 1000

        status, text = _raw_post(
            receiver.url,
            chunks(),  # type: ignore[arg-type]
            {**auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        )
        assert status == 413, text
        receiver.drain()
        assert receiver.stats.accepted == 0
    assert am.incidents(cluster) == []


def test_full_queue_answers_503_and_loses_nothing(cluster: EmulatorThread) -> None:
    settings = am.receiver_settings(webhook_queue_size=2, webhook_workers=1)
    # The API server fails the first writes, so the worker holds its batch while retrying.
    cluster.emulator.fail_requests(6, code=503)
    groups = [{"alertname": f"A{i}", "namespace": "exports"} for i in range(3)]
    with (
        ReceiverThread(settings, cluster.kubeconfig_path) as receiver,
        concurrent.futures.ThreadPoolExecutor(3) as pool,
    ):
        answers = list(pool.map(lambda g: am.post(receiver.url, _payload(["a"], g)), groups))
        assert sorted(a[0] for a in answers) == [200, 200, 503]
        [(refused, busy)] = [(g, a) for g, a in zip(groups, answers, strict=True) if a[0] == 503]
        assert busy[1]["Retry-After"] == "5"
        assert "queue is full" in busy[2]["error"]
        # Alertmanager retries the refused one later.
        assert am.post(receiver.url, _payload(["a"], refused))[0] == 200
        assert receiver.stats.failed == 0
    names = sorted(i["metadata"]["name"] for i in am.incidents(cluster, "exports"))
    assert [n.split("-")[0] for n in names] == ["a0", "a1", "a2"]


def test_missing_namespace_falls_back_to_the_incident_namespace(cluster: EmulatorThread) -> None:
    with ReceiverThread(am.receiver_settings(), cluster.kubeconfig_path) as receiver:
        group = {"alertname": "KubePodCrashLooping", "namespace": "gone"}
        assert am.post(receiver.url, _payload(["a"], group))[0] == 200
        receiver.drain()
        assert am.post(receiver.url, _payload(["a", "b"], group))[0] == 200
        receiver.drain()
    [incident] = am.incidents(cluster)
    assert incident["metadata"]["namespace"] == "kubetriage"
    assert incident["status"]["alertGroup"]["notifications"] == 2


def test_two_receivers_racing_on_one_group_make_one_incident(cluster: EmulatorThread) -> None:
    """Two replicas get notifications for the same group at once: create-409-patch and
    resourceVersion conflicts must end in one Incident with every notification counted."""
    settings = am.receiver_settings(webhook_workers=4)
    rounds = 15
    with (
        ReceiverThread(settings, cluster.kubeconfig_path) as first,
        ReceiverThread(settings, cluster.kubeconfig_path) as second,
        concurrent.futures.ThreadPoolExecutor(8) as pool,
    ):
        futures = [
            pool.submit(am.post, receiver.url, _payload([f"pod-{i}"]))
            for i in range(rounds)
            for receiver in (first, second)
        ]
        assert {f.result()[0] for f in futures} == {200}
        first.drain()
        second.drain()
        assert first.stats.failed == second.stats.failed == 0
    [incident] = am.incidents(cluster, "exports")
    assert incident["status"]["alertGroup"]["notifications"] == 2 * rounds
    pods = {a["labels"]["pod"] for a in incident["spec"]["alerts"]}
    assert pods == {f"pod-{i}" for i in range(rounds)}


def test_a_permanent_api_error_is_counted_and_the_worker_lives_on(cluster: EmulatorThread) -> None:
    """A 403 from the API server is not retried by the writer: the batch is counted as failed
    (and logged), the request answered 503 so the sender retries, and the next notification
    for the group is written normally."""
    settings = am.receiver_settings(webhook_workers=1)
    cluster.emulator.fail_requests(
        1, code=403, predicate=lambda r: r.resource == "incidents" and r.verb == "create"
    )
    with ReceiverThread(settings, cluster.kubeconfig_path) as receiver:
        # Not stored, so not acknowledged: Alertmanager keeps it and sends it again.
        status, headers, _ = am.post(receiver.url, _payload(["a"]))
        assert status == 503
        assert headers["Retry-After"] == "5"
        assert receiver.stats.failed == 1
        assert am.incidents(cluster) == []
        assert am.post(receiver.url, _payload(["a"]))[0] == 200
        receiver.drain()
        assert receiver.stats.failed == 1
    [incident] = am.incidents(cluster, "exports")
    assert incident["status"]["alertGroup"]["notifications"] == 1

"""Teams Adaptive Cards and CloudEvents posted to local HTTP servers by the real notifier.

Real: the Kubernetes API emulator over HTTP (an Incident with a diagnosis in its status,
as the operator writes it), the notifier with its aiohttp poster and the ``cloudevents``
SDK, and a capture server on 127.0.0.1 recording every request. The diagnosis carries fake
credentials from the redaction corpus (``tests/unit/data/secret_shapes.yaml``) in its
summary and evidence; none may reach either body.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from kubetriage.crd import build_incident_crd
from kubetriage.incidents import IncidentStore
from kubetriage.kubeclient import api_client
from kubetriage.notify.notifier import Notifier, Sinks
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.settings import Settings
from tests.support.chat_servers import CaptureServer
from tests.support.incidents import checkout_restarting, raise_memory

CORPUS = yaml.safe_load(
    (Path(__file__).parents[1] / "unit" / "data" / "secret_shapes.yaml").read_text("utf-8")
)
SHAPES: list[dict[str, Any]] = CORPUS["shapes"][:25]
NAME, NAMESPACE = "checkout-oom", "shop"


def _incident(phase: str = "Diagnosed") -> dict[str, Any]:
    firing = {
        "status": "firing",
        "labels": {"alertname": "KubePodCrashLooping"},
        "generatorURL": "http://prometheus.example/graph?g0.expr=up",
    }
    return checkout_restarting(
        severity="critical",
        alerts=[firing],
        status={
            "phase": phase,
            "target": "Deployment/shop/checkout",
            "diagnosis": {
                "summary": "checkout is OOM-killed; " + SHAPES[0]["text"],
                "category": "oom-killed",
                "confidence": 0.93,
                "evidence": [
                    {"source": f"pod/shop/checkout-{i}", "fact": shape["text"][:1000]}
                    for i, shape in enumerate(SHAPES[:5])
                ],
                "remediations": [raise_memory()],
                "similarIncidents": [
                    {
                        "name": "oom-search-indexer",
                        "score": 0.8,
                        "category": "oom-killed",
                        "action": "increase-memory",
                    }
                ],
            },
        },
    )


def _secrets() -> list[str]:
    return [secret for shape in SHAPES[:5] for secret in shape["secrets"]]


async def _notify(emulator: EmulatorThread, settings: Settings) -> None:
    client = api_client(emulator.kubeconfig_path)
    notifier = Notifier(settings, IncidentStore(client), Sinks.from_settings(settings))
    try:
        await notifier.notify(NAMESPACE, NAME)
    finally:
        await notifier.aclose()
        client.close()  # type: ignore[no-untyped-call]


def _status(emulator: EmulatorThread) -> dict[str, Any]:
    return dict((emulator.emulator.get("incidents", NAME, NAMESPACE) or {})["status"])


async def test_teams_card_and_cloudevent_carry_the_diagnosis_and_no_credential(
    emulator: EmulatorThread,
) -> None:
    emulator.emulator.load([build_incident_crd(), _incident()])
    with CaptureServer() as teams, CaptureServer() as events:
        settings = Settings(
            memory_enabled=False,
            teams_webhook_url=SecretStr(f"{teams.url}/workflows/abc"),
            cloudevents_url=f"{events.url}/events",
            cloudevents_source="/kubetriage/test",
            notify_dashboard_url="http://grafana.example/d/k8s",
        )
        await _notify(emulator, settings)
        await _notify(emulator, settings)  # nothing changed: nothing is sent again
        (card_request,) = teams.requests
        (event_request,) = events.requests

    card = card_request.json()
    content = card["attachments"][0]["content"]
    assert card["type"] == "message"
    assert card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert content["type"] == "AdaptiveCard"
    texts = [block.get("text", "") for block in content["body"]]
    assert texts[0] == "[CRITICAL] checkout restarting"
    facts = {f["title"]: f["value"] for f in content["body"][1]["facts"]}
    assert facts["Category"] == "oom-killed"
    assert facts["Confidence"] == "0.93"
    assert "kubectl -n shop set resources deployment/checkout --limits=memory=1Gi" in texts
    assert [a["url"] for a in content["actions"]] == [
        "http://prometheus.example/graph?g0.expr=up",
        "http://grafana.example/d/k8s",
    ]

    assert event_request.headers["Content-Type"] == "application/cloudevents+json"
    event = event_request.json()
    assert event["specversion"] == "1.0"
    assert event["type"] == "io.kubetriage.incident.diagnosed"
    assert event["source"] == "/kubetriage/test"
    assert event["subject"] == "shop/checkout-oom"
    assert event["data"]["category"] == "oom-killed"
    assert event["data"]["remediations"][0]["command"].startswith("kubectl -n shop")

    for body in (card_request.body, event_request.body):
        text = body.decode()
        for secret in _secrets():
            assert secret not in text
        assert "[REDACTED:" in text

    notified = {c["type"]: c for c in _status(emulator)["conditions"]}["Notified"]
    assert (notified["status"], notified["reason"]) == ("True", "Sent")


async def test_event_ids_are_stable_per_transition_and_resolution_is_its_own_type(
    emulator: EmulatorThread,
) -> None:
    emulator.emulator.load([build_incident_crd(), _incident()])
    with CaptureServer() as events:
        events.script(503)  # the first delivery fails once and is retried
        settings = Settings(
            memory_enabled=False,
            cloudevents_url=f"{events.url}/events",
            notify_retry_delay_seconds=0.1,
        )
        await _notify(emulator, settings)
        client = api_client(emulator.kubeconfig_path)
        try:
            await IncidentStore(client).patch_status(NAMESPACE, NAME, {"phase": "Resolved"})
        finally:
            client.close()  # type: ignore[no-untyped-call]
        await _notify(emulator, settings)
        sent = [json.loads(r.body) for r in events.requests]
    assert [e["type"] for e in sent] == [
        "io.kubetriage.incident.diagnosed",
        "io.kubetriage.incident.diagnosed",
        "io.kubetriage.incident.resolved",
    ]
    assert sent[0]["id"] == sent[1]["id"]  # the retry: same id, the receiver deduplicates
    assert sent[2]["id"] != sent[0]["id"]
    state = _status(emulator)["notifications"]["cloudEvents"]
    assert state["eventId"] == sent[2]["id"]


async def test_a_teams_endpoint_that_refuses_shows_in_the_condition(
    emulator: EmulatorThread,
) -> None:
    emulator.emulator.load([build_incident_crd(), _incident()])
    with CaptureServer() as teams:
        teams.script(400)
        settings = Settings(
            memory_enabled=False, teams_webhook_url=SecretStr(f"{teams.url}/workflows/abc")
        )
        await _notify(emulator, settings)
    notified = {c["type"]: c for c in _status(emulator)["conditions"]}["Notified"]
    assert (notified["status"], notified["reason"]) == ("False", "TeamsFailed")
    assert "HTTP 400" in notified["message"]
    assert "workflows/abc" not in notified["message"]  # the webhook URL is a credential

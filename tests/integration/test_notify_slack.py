"""Slack notifications end to end: exactly one message per Incident, updated in place.

Real: the Kubernetes API emulator over HTTP, Kopf and the whole operator (pipeline on a
replayed OOM case), the official ``slack_sdk`` AsyncWebClient with its retry handlers,
talking to a scripted Slack Web API on 127.0.0.1 (``tests/support/chat_servers.py``) that
answers 429 with Retry-After, 500 and late answers when told to. Resolution and re-fire are
written to the Incident the way the Alertmanager receiver writes them (status first, then
spec). Two replicas are two real notifiers racing on the same Incident.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from kubetriage.crd import build_incident_crd
from kubetriage.incidents import IncidentStore
from kubetriage.kubeclient import api_client
from kubetriage.notify.notifier import Notifier, Sinks
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.snapshot import log_placement
from kubetriage.settings import Settings
from tests.support.cases import EXAMPLES
from tests.support.chat_servers import ScriptedSlackServer, rate_limited, server_error, slow
from tests.support.incidents import incident
from tests.support.operator import OperatorThread
from tests.support.polling import wait_for

NAME, NAMESPACE = "exporter-oom", "exports"


def _settings(slack: ScriptedSlackServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "memory_enabled": False,
        "slack_bot_token": slack.token,
        "slack_channel": "C0OPS",
        "slack_api_url": slack.api_url,
        "notify_timeout_seconds": 1.0,
        "notify_retry_delay_seconds": 0.3,
        "notify_quiet_period_seconds": 0.0,
        "retry_delay_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


def _load(emulator: EmulatorThread) -> None:
    case = load_case(EXAMPLES / "example-oom-csv-exporter")
    emulator.emulator.load([build_incident_crd(), *case.cluster])
    for namespace, pod, container, text, previous in log_placement(case):
        emulator.emulator.set_logs(namespace, pod, container, text, previous=previous)


def _incident() -> dict[str, Any]:
    return incident(
        NAME,
        NAMESPACE,
        title="csv-exporter restarting",
        workload="csv-exporter",
        severity="critical",
    )


def _status(emulator: EmulatorThread) -> dict[str, Any]:
    body = emulator.emulator.get("incidents", NAME, NAMESPACE) or {}
    return dict(body.get("status") or {})


def _notified(emulator: EmulatorThread) -> dict[str, Any] | None:
    for cond in _status(emulator).get("conditions") or []:
        if cond["type"] == "Notified":
            return dict(cond)
    return None


def _patch(emulator: EmulatorThread, body: dict[str, Any], *, status: bool = False) -> None:
    client = api_client(emulator.kubeconfig_path)
    try:
        store = IncidentStore(client)
        if status:
            asyncio.run(store.patch_status(NAMESPACE, NAME, body))
        else:
            asyncio.run(store.patch(NAMESPACE, NAME, body))
    finally:
        client.close()  # type: ignore[no-untyped-call]


def _notify_through(emulator: EmulatorThread, slack: ScriptedSlackServer, what: str) -> None:
    """Load the case and run the operator until the Incident is notified through ``slack``
    (Notified=True); ``what`` names the wait in a timeout's message."""
    _load(emulator)
    with OperatorThread(emulator.kubeconfig_path, settings=_settings(slack)):
        emulator.emulator.load([_incident()])
        wait_for(lambda: (_notified(emulator) or {}).get("status") == "True", within=60, what=what)


def _header(slack: ScriptedSlackServer) -> str:
    return str(slack.messages[0].blocks[0]["text"]["text"])


def test_one_message_across_rediagnosis_resolve_refire_and_restart(
    emulator: EmulatorThread,
) -> None:
    with ScriptedSlackServer() as slack:
        settings = _settings(slack)
        _load(emulator)
        with OperatorThread(emulator.kubeconfig_path, settings=settings):
            emulator.emulator.load([_incident()])
            notified = wait_for(lambda: _notified(emulator), what="Notified condition")
            assert notified["status"] == "True", notified
            state = _status(emulator)["notifications"]["slack"]
            assert [m.ts for m in slack.messages] == [state["ts"]]
            assert state["channel"] == "C0OPS"
            message = slack.messages[0]
            assert message.metadata is not None
            assert message.metadata["event_payload"]["uid"]
            assert _header(slack) == "[CRITICAL] csv-exporter restarting"
            text = message.text
            assert "oom-killed" in text
            assert "kubectl -n exports set resources deployment/csv-exporter" in text

            # A re-diagnosis (a spec edit) with the same conclusion: still one message.
            generation = int(_status(emulator)["observedGeneration"])
            _patch(emulator, {"spec": {"description": "still restarting"}})
            wait_for(
                lambda: (
                    _status(emulator).get("observedGeneration") == generation + 1
                    and _status(emulator).get("phase") == "Diagnosed"
                ),
                what="re-diagnosis",
            )

            # Resolved, as the receiver writes it: the message is edited in place.
            _patch(emulator, {"phase": "Resolved", "alertGroup": {"reopened": 0}}, status=True)
            wait_for(lambda: _header(slack).startswith("[RESOLVED]"), what="resolved edit")

            # A re-fire reopens the same Incident: the same message, one threaded reply.
            _patch(emulator, {"phase": "Pending", "alertGroup": {"reopened": 1}}, status=True)
            _patch(emulator, {"spec": {"description": "fired again"}})
            ts = slack.messages[0].ts
            replies = wait_for(lambda: slack.replies(ts), what="threaded reply")
            assert "Fired again" in replies[0].text
            wait_for(lambda: _header(slack).startswith("[CRITICAL]"), what="reopened edit")

        # A restarted operator (a new process, a new claim holder) finds the message in the
        # status: the next change edits it, nothing is posted again.
        with OperatorThread(emulator.kubeconfig_path, settings=settings):
            _patch(emulator, {"phase": "Resolved"}, status=True)
            wait_for(lambda: _header(slack).startswith("[RESOLVED]"), what="edit after restart")
        assert len(slack.messages) == 1
        assert len(slack.replies(slack.messages[0].ts)) == 1
        assert slack.messages[0].updates >= 3
        assert ("chat.postMessage", 200) in slack.calls


def test_rate_limits_server_errors_and_a_lost_answer_still_give_one_message(
    emulator: EmulatorThread,
) -> None:
    with ScriptedSlackServer() as slack:
        slack.script(
            rate_limited("chat.postMessage", retry_after=1),
            server_error("chat.postMessage"),
            # Slack posts it but the answer comes after the client's timeout.
            slow("chat.postMessage", seconds=2.5),
        )
        _notify_through(emulator, slack, "Notified=True after the faults")
        assert _status(emulator)["phase"] == "Diagnosed"
        posts = [status for method, status in slack.calls if method == "chat.postMessage"]
        assert posts[:3] == [429, 500, 200]  # the SDK's retry handlers retried both
        # The late answer was lost; the notifier found its own message instead of posting.
        assert ("conversations.history", 200) in slack.calls
        assert len(slack.messages) == 1
        assert _status(emulator)["notifications"]["slack"]["ts"] == slack.messages[0].ts


def test_a_failing_slack_never_fails_the_diagnosis(emulator: EmulatorThread) -> None:
    with ScriptedSlackServer() as slack:
        slack.script(*[server_error("chat.postMessage") for _ in range(20)])
        _load(emulator)
        settings = _settings(slack, notify_max_attempts=2)
        with OperatorThread(emulator.kubeconfig_path, settings=settings):
            emulator.emulator.load([_incident()])
            failed = wait_for(
                lambda: (
                    (_status(emulator).get("notifications") or {})
                    .get("slack", {})
                    .get("failures", 0)
                    >= 2
                    and _notified(emulator)
                ),
                within=60,
                what="two failed attempts recorded",
            )
            assert _status(emulator)["phase"] == "Diagnosed"
        assert failed["status"] == "False"
        assert failed["reason"] == "SlackFailed"
        assert "fatal_error" in failed["message"]
        assert slack.messages == []


async def test_two_replicas_racing_post_one_message(emulator: EmulatorThread) -> None:
    with ScriptedSlackServer() as slack:
        settings = _settings(slack)
        diagnosed = _incident()
        diagnosed["status"] = {
            "phase": "Diagnosed",
            "target": "Deployment/exports/csv-exporter",
            "diagnosis": {
                "summary": "csv-exporter is OOM-killed at its 256Mi limit",
                "category": "oom-killed",
                "confidence": 0.9,
            },
        }
        emulator.emulator.load([build_incident_crd(), diagnosed])
        clients = [api_client(emulator.kubeconfig_path) for _ in range(2)]
        replicas = [
            Notifier(settings, IncidentStore(c), Sinks.from_settings(settings), holder=f"r{i}")
            for i, c in enumerate(clients)
        ]
        try:
            for _ in range(3):
                await asyncio.gather(*(r.notify(NAMESPACE, NAME) for r in replicas))
        finally:
            for replica, client in zip(replicas, clients, strict=True):
                await replica.aclose()
                client.close()  # type: ignore[no-untyped-call]
        assert len(slack.messages) == 1
        state = _status(emulator)["notifications"]["slack"]
        assert state["ts"] == slack.messages[0].ts
        assert state["claimedBy"] in {"r0", "r1"}


def test_secret_files_are_read_for_tokens(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("xoxb-from-file\n", encoding="utf-8")
    settings = Settings(slack_bot_token_file=token, slack_channel="C1", memory_enabled=False)
    assert Sinks.from_settings(settings).slack is not None


async def test_changed_diagnosis_replies_once_and_flapping_stays_quiet(
    emulator: EmulatorThread,
) -> None:
    def diagnosed(category: str, action: str, reopened: int) -> dict[str, Any]:
        return {
            "phase": "Diagnosed",
            "alertGroup": {"reopened": reopened},
            "diagnosis": {
                "summary": f"looks like {category}",
                "category": category,
                "confidence": 0.9,
                "remediations": [
                    {
                        "id": "r1",
                        "action": action,
                        "title": f"{action} csv-exporter",
                        "target": {"kind": "Deployment", "namespace": NAMESPACE, "name": "c"},
                        "command": "kubectl -n exports rollout undo deployment/c",
                        "risk": "medium",
                    }
                ],
            },
        }

    with ScriptedSlackServer() as slack:
        settings = _settings(slack, notify_quiet_period_seconds=600.0)
        first = _incident()
        first["status"] = diagnosed("oom-killed", "increase-memory", 0)
        emulator.emulator.load([build_incident_crd(), first])
        client = api_client(emulator.kubeconfig_path)
        store = IncidentStore(client)
        notifier = Notifier(settings, store, Sinks.from_settings(settings))
        try:
            await notifier.notify(NAMESPACE, NAME)
            for category, action, reopened in (
                ("bad-rollout", "rollback", 0),  # changed: one reply
                ("oom-killed", "increase-memory", 1),  # flapping back, re-fired: quiet
                ("bad-rollout", "rollback", 2),
            ):
                await store.patch_status(NAMESPACE, NAME, diagnosed(category, action, reopened))
                await notifier.notify(NAMESPACE, NAME)
        finally:
            await notifier.aclose()
            client.close()  # type: ignore[no-untyped-call]
        (message,) = slack.messages
        replies = slack.replies(message.ts)
        assert [r.text.split(":")[0] for r in replies] == ["Diagnosis changed"]
        assert "oom-killed (increase-memory) → bad-rollout (rollback)" in replies[0].text
        assert message.updates == 3  # every change edits the one message
        assert "*Fired again* 2 time(s)" in message.text


def test_a_failed_lookup_never_posts_blind(emulator: EmulatorThread) -> None:
    with ScriptedSlackServer() as slack:
        slack.script(
            slow("chat.postMessage", seconds=2.5),  # posted, but the answer is lost
            slow("conversations.history", seconds=2.5),  # and so is the first lookup
        )
        _notify_through(emulator, slack, "Notified=True once Slack answers in time")
        history = [status for method, status in slack.calls if method == "conversations.history"]
        assert len(history) == 2
        assert len(slack.messages) == 1
        assert _status(emulator)["notifications"]["slack"]["ts"] == slack.messages[0].ts

"""An Incident event Kopf takes for new although the Incident is already diagnosed is not
diagnosed again: no second model call, no second Investigating Event, the stored diagnosis
untouched. Kopf does this when its watch lags behind its own progress write by more than
``persistence.consistency_timeout`` (in the diagnosis benchmark's burst of 1,000 Incidents at
concurrency 16 on a loaded machine, 14 were being diagnosed a second time when the burst
ended, the "not Diagnosed" of earlier reports); the test delivers such an event
directly, the Incident as stored but without Kopf's handled-record, as the older event
looks. A spec change still gets a new diagnosis (the guard is per generation).

Real: the emulator over HTTP, Kopf and the operator, the ``openai`` client against a
scripted OpenAI-compatible HTTP server; the OOM example case's objects and logs."""

from __future__ import annotations

from typing import Any

from kubetriage.replay.emulator import EmulatorThread
from tests.support.oom_example import ANSWER, NAMESPACE, create, prepare
from tests.support.openai_server import ScriptedOpenAIServer, answer
from tests.support.operator import OperatorThread, scripted_model_settings
from tests.support.polling import wait_for

NAME = "again"
HANDLED = "kubetriage.io/last-handled-configuration"


def _stored(emulator: EmulatorThread) -> dict[str, Any]:
    return emulator.emulator.get("incidents", NAME, NAMESPACE) or {}


def _handled(emulator: EmulatorThread) -> dict[str, Any]:
    """The Incident once Diagnosed and Kopf has recorded the diagnose handler done."""
    return wait_for(
        lambda: _stored(emulator),
        until=lambda body: (
            (body.get("status") or {}).get("phase") == "Diagnosed"
            and HANDLED in (body["metadata"].get("annotations") or {})
        ),
        what=f"{NAMESPACE}/{NAME} Diagnosed and handled",
    )


def _without_kopfs_record(body: dict[str, Any]) -> dict[str, Any]:
    meta = dict(body["metadata"])
    meta["annotations"] = {
        key: value
        for key, value in (meta.get("annotations") or {}).items()
        if not key.startswith("kubetriage.io/")
    }
    meta.pop("resourceVersion", None)
    return {**body, "metadata": meta}


def _investigating_events(emulator: EmulatorThread) -> int:
    return sum(
        1
        for event in emulator.emulator.objects("events", NAMESPACE)
        if event["involvedObject"]["name"] == NAME and event["reason"] == "Investigating"
    )


def test_a_redelivered_event_of_a_diagnosed_incident_is_not_diagnosed_again(
    emulator: EmulatorThread,
) -> None:
    prepare(emulator)
    with (
        ScriptedOpenAIServer(default=answer(ANSWER)) as server,
        OperatorThread(emulator.kubeconfig_path, settings=scripted_model_settings(server)),
    ):
        create(emulator, [NAME])
        first = _handled(emulator)
        assert len(server.chat_bodies) == 1
        emulator.emulator.load([_without_kopfs_record(first)])
        # Kopf has handled the redelivered event once its record is back.
        again = _handled(emulator)
        assert again["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]
        assert len(server.chat_bodies) == 1
        assert again["status"] == first["status"]
        assert _investigating_events(emulator) == 1

        # A new generation is a new question: diagnosed again.
        changed = _without_kopfs_record(again)
        changed["spec"] = {**changed["spec"], "title": "again: csv-exporter still restarting"}
        changed["metadata"]["generation"] = 2
        emulator.emulator.load([changed])
        wait_for(
            lambda: _stored(emulator),
            until=lambda body: (
                (body.get("status") or {}).get("observedGeneration") == 2
                and body["status"].get("phase") == "Diagnosed"
            ),
            what=f"{NAMESPACE}/{NAME} diagnosed for generation 2",
        )
        assert len(server.chat_bodies) == 2

"""Helpers the fault tests share (the OOM example itself is ``tests.support.oom_example``):
waiting until every Incident has settled, and the invariants every fault must leave intact
(every Incident ends Diagnosed, or Failed with a reason; none lost, none duplicated). Called
by ``tests/faults/test_faults.py``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from kubetriage.replay.emulator import EmulatorThread
from tests.support.polling import wait_for

FINAL_PHASES = frozenset({"Diagnosed", "Failed"})


def is_settled(body: dict[str, Any]) -> bool:
    """Final phase, written for the current generation (a later spec change is handled)."""
    status = body.get("status") or {}
    return status.get("phase") in FINAL_PHASES and status.get("observedGeneration") == body[
        "metadata"
    ].get("generation")


def all_incidents(emulator: EmulatorThread) -> list[dict[str, Any]]:
    return emulator.emulator.objects("incidents")


def wait_settled(
    emulator: EmulatorThread, expected: int, timeout: float = 60
) -> list[dict[str, Any]]:
    """Every Incident in the cluster, once ``expected`` of them exist and all have settled."""

    def pending(bodies: list[dict[str, Any]]) -> str:
        unsettled = {
            b["metadata"]["name"]: (b.get("status") or {}).get("phase") or "(none)"
            for b in bodies
            if not is_settled(b)
        }
        return f"{len(bodies)} of {expected} Incidents exist, unsettled: {unsettled}"

    return wait_for(
        lambda: all_incidents(emulator),
        until=lambda bodies: len(bodies) >= expected and all(is_settled(b) for b in bodies),
        what="every Incident to settle",
        within=timeout,
        show=pending,
    )


def conditions(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (body.get("status") or {}).get("conditions") or []}


def assert_settled_with_reasons(
    bodies: list[dict[str, Any]], expected_names: set[tuple[str, str]]
) -> None:
    """The invariant of every fault: exactly the expected Incidents exist (none lost, none
    duplicated), and each ended Diagnosed with a diagnosis, or Failed with a reason and a
    message on its ``Diagnosed`` condition."""
    names = Counter((b["metadata"]["namespace"], b["metadata"]["name"]) for b in bodies)
    duplicated = {key for key, count in names.items() if count > 1}
    assert not duplicated, f"duplicated Incidents: {sorted(duplicated)}"
    assert set(names) == expected_names, (
        f"lost: {sorted(expected_names - set(names))}; "
        f"unexpected: {sorted(set(names) - expected_names)}"
    )
    for body in bodies:
        name = body["metadata"]["name"]
        status = body.get("status") or {}
        diagnosed = conditions(body).get("Diagnosed")
        assert diagnosed is not None, f"{name}: no Diagnosed condition: {status}"
        if status.get("phase") == "Diagnosed":
            assert diagnosed["status"] == "True", f"{name}: {diagnosed}"
            assert status.get("diagnosis", {}).get("category"), f"{name}: no diagnosis"
        else:
            assert status.get("phase") == "Failed", f"{name}: phase {status.get('phase')}"
            assert diagnosed["status"] == "False", f"{name}: {diagnosed}"
            assert diagnosed.get("reason") not in (None, "", "Investigating"), diagnosed
            assert diagnosed.get("message"), f"{name}: Failed without a message"


def event_counts(emulator: EmulatorThread, reason: str) -> Counter[str]:
    """How many Events with ``reason`` each Incident got."""
    return Counter(
        event["involvedObject"]["name"]
        for event in emulator.emulator.objects("events")
        if event.get("reason") == reason and event["involvedObject"].get("kind") == "Incident"
    )


def wait_events(
    emulator: EmulatorThread, reason: str, names: Iterable[str], timeout: float = 10
) -> Counter[str]:
    """Event counts for ``reason`` once every named Incident has at least one: Kopf posts
    Events from a queue of its own, a moment after the status write they follow."""
    wanted = set(names)
    return wait_for(
        lambda: event_counts(emulator, reason),
        until=lambda counts: wanted <= set(counts),
        what=f"{reason} events for {sorted(wanted)}",
        within=timeout,
    )

"""Several replicas, one worker: with Kopf peering, of two operators watching the same
Incidents only the higher-priority one diagnoses; when it stops, the other takes over.
Real: the emulator over HTTP with Kopf's peering CRDs (from crds/kopf-peering.yaml), two
full operators (Kopf + pipeline) in threads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kubetriage.crd import build_incident_crd
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.session import load_case_into
from kubetriage.settings import Settings
from tests.support.cases import EXAMPLES
from tests.support.incidents import incident
from tests.support.operator import OperatorThread
from tests.support.polling import wait_for

ROOT = Path(__file__).resolve().parents[2]
SHARED = EXAMPLES


def _incident(name: str) -> dict[str, Any]:
    return incident(name, "exports", title="csv-exporter restarting", workload="csv-exporter")


def _phase(emulator: EmulatorThread, name: str) -> str | None:
    body = emulator.emulator.get("incidents", name, "exports") or {}
    return (body.get("status") or {}).get("phase")


def _peers(emulator: EmulatorThread) -> dict[str, Any]:
    return (emulator.emulator.get("clusterkopfpeerings", "kubetriage") or {}).get("status") or {}


def _investigations(emulator: EmulatorThread, name: str) -> int:
    return sum(
        1
        for e in emulator.emulator.objects("events", "exports")
        if e["involvedObject"]["name"] == name and e["reason"] == "Investigating"
    )


def test_only_one_replica_works(emulator: EmulatorThread) -> None:
    peering_crds = list(yaml.safe_load_all((ROOT / "crds" / "kopf-peering.yaml").read_text()))
    case = load_case(SHARED / "example-oom-csv-exporter")
    emulator.emulator.load([build_incident_crd(), *[c for c in peering_crds if c]])
    emulator.emulator.load(
        [
            {
                "apiVersion": "kopf.dev/v1",
                "kind": "ClusterKopfPeering",
                "metadata": {"name": "kubetriage"},
            }
        ]
    )
    load_case_into(emulator.emulator, case)

    def replica(priority: int) -> OperatorThread:
        settings = Settings(memory_enabled=False, peering_priority=priority)
        return OperatorThread(emulator.kubeconfig_path, settings=settings, standalone=False)

    low, high = replica(10).start(), replica(20).start()
    try:
        # Both announce themselves in the peering object; the lower priority then pauses.
        wait_for(lambda: _peers(emulator), until=lambda p: len(p) == 2, what="two peers")
        emulator.emulator.load([_incident("first")])
        wait_for(lambda: _phase(emulator, "first"), until=lambda p: p == "Diagnosed", what="first")
        # Both replicas see the Incident at the same moment: a second worker would have
        # announced its investigation before the first one finished.
        assert _investigations(emulator, "first") == 1
        high.stop()
        emulator.emulator.load([_incident("second")])
        wait_for(
            lambda: _phase(emulator, "second"),
            until=lambda p: p == "Diagnosed",
            what="second, taken over by the remaining replica",
            within=90,
        )
        assert _investigations(emulator, "second") == 1
    finally:
        low.stop()
        if high.alive:
            high.stop()

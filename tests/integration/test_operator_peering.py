"""Several replicas, one worker: with Kopf peering, of two operators watching the same
Incidents only the higher-priority one diagnoses; when it stops, the other takes over.
Real: the emulator over HTTP with Kopf's peering CRDs (from crds/kopf-peering.yaml), two
full operators (Kopf + pipeline) in threads."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from kubetriage.crd import build_incident_crd
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.session import log_placement
from kubetriage.settings import Settings
from tests.support.cases import EXAMPLES
from tests.support.operator import OperatorThread

ROOT = Path(__file__).resolve().parents[2]
SHARED = EXAMPLES


def _incident(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "kubetriage.io/v1alpha1",
        "kind": "Incident",
        "metadata": {"name": name, "namespace": "exports"},
        "spec": {
            "title": "csv-exporter restarting",
            "target": {"kind": "Deployment", "namespace": "exports", "name": "csv-exporter"},
        },
    }


def _wait_diagnosed(emulator: EmulatorThread, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = emulator.emulator.get("incidents", name, "exports") or {}
        if (body.get("status") or {}).get("phase") == "Diagnosed":
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} was never diagnosed")


def _investigations(emulator: EmulatorThread, name: str) -> int:
    return sum(
        1
        for e in emulator.emulator.objects("events", "exports")
        if e["involvedObject"]["name"] == name and e["reason"] == "Investigating"
    )


def test_only_one_replica_works(emulator: EmulatorThread) -> None:
    peering_crds = list(yaml.safe_load_all((ROOT / "crds" / "kopf-peering.yaml").read_text()))
    case = load_case(SHARED / "example-oom-csv-exporter")
    emulator.emulator.load([build_incident_crd(), *[c for c in peering_crds if c], *case.cluster])
    emulator.emulator.load(
        [
            {
                "apiVersion": "kopf.dev/v1",
                "kind": "ClusterKopfPeering",
                "metadata": {"name": "kubetriage"},
            }
        ]
    )
    for namespace, pod, container, text, previous in log_placement(case):
        emulator.emulator.set_logs(namespace, pod, container, text, previous=previous)

    def replica(priority: int) -> OperatorThread:
        settings = Settings(memory_enabled=False, peering_priority=priority)
        return OperatorThread(emulator.kubeconfig_path, settings=settings, standalone=False)

    low, high = replica(10).start(), replica(20).start()
    try:
        time.sleep(2)  # let both announce themselves; the low one pauses
        emulator.emulator.load([_incident("first")])
        _wait_diagnosed(emulator, "first")
        time.sleep(1)
        assert _investigations(emulator, "first") == 1
        peers = emulator.emulator.get("clusterkopfpeerings", "kubetriage") or {}
        assert len(peers.get("status") or {}) == 2, peers
        high.stop()
        emulator.emulator.load([_incident("second")])
        _wait_diagnosed(emulator, "second", timeout=90)
        assert _investigations(emulator, "second") == 1
    finally:
        low.stop()
        if high._thread.is_alive():
            high.stop()

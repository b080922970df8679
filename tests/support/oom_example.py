"""The OOM example case as integration, e2e and fault tests use it: loaded into the API
emulator with the Incident CRD, Incidents aimed at its Deployment, and a model answer that
agrees with the analyzers on it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubetriage.crd import build_incident_crd
from kubetriage.models.case import Case
from kubetriage.replay.cases import load_case
from kubetriage.replay.emulator import EmulatorThread
from kubetriage.replay.session import load_case_into
from tests.support import incidents
from tests.support.cases import EXAMPLES

OOM_CASE = EXAMPLES / "example-oom-csv-exporter"
NAMESPACE = "exports"
WORKLOAD = {"kind": "Deployment", "namespace": NAMESPACE, "name": "csv-exporter"}
# A model answer that agrees with the analyzers on the OOM case.
ANSWER: dict[str, Any] = {
    "category": "oom-killed",
    "confidence": 0.9,
    "summary": "csv-exporter is killed at its 256Mi limit while loading a table",
    "root_cause": "the export loads the whole table into memory",
    "evidence": ["OOMKilled exit 137, 5 restarts"],
    "remediations": [
        {"action": "increase-memory", "target": WORKLOAD, "rationale": "peak > limit"}
    ],
    "disagrees_with_analyzers": None,
}


def prepare(emulator: EmulatorThread) -> Case:
    """The Incident CRD plus the OOM case's cluster objects and container logs."""
    case = load_case(OOM_CASE)
    emulator.emulator.load([build_incident_crd()])
    load_case_into(emulator.emulator, case)
    return case


def title_of(name: str) -> str:
    """A title unique to the Incident, so model requests can be told apart by prompt."""
    return f"{name}: csv-exporter restarting"


def incident(name: str, **spec: Any) -> dict[str, Any]:
    return incidents.incident(
        name, NAMESPACE, title=title_of(name), workload=WORKLOAD["name"], **spec
    )


def create(emulator: EmulatorThread, names: Iterable[str], **spec: Any) -> None:
    emulator.emulator.load([incident(name, **spec) for name in names])

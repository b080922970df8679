"""The learning loop end to end: an Incident is diagnosed, a person gives feedback with
kubectl patch, the operator stores it (redacted) in incident memory, and the next similar
Incident is diagnosed with it as a similar past incident whose fix ranks first. Real: the
API (the local control plane with kwok, or another real cluster), kubectl, Kopf, the
operator, the ONNX embedding model, Qdrant local mode on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubetriage.memory.embeddings import OnnxMiniLMEmbedder
from kubetriage.memory.store import IncidentMemory
from kubetriage.redaction import redact_text
from kubetriage.replay.cases import load_case
from kubetriage.replay.session import load_case_into
from kubetriage.replay.snapshot import log_placement
from kubetriage.settings import Settings
from tests.e2e.conftest import Cluster
from tests.e2e.test_operator_e2e import _get, _incident, _wait_phase
from tests.support.cases import EXAMPLES
from tests.support.operator import OperatorThread
from tests.support.polling import wait_for

pytestmark = pytest.mark.e2e

SHARED_CASES = EXAMPLES
MANIFESTS = Path(__file__).parent / "manifests"
TARGET = {"kind": "Deployment", "namespace": "exports", "name": "csv-exporter"}


def _load_oom(cluster: Cluster) -> None:
    case = load_case(SHARED_CASES / "example-oom-csv-exporter")
    if cluster.emulator is None:
        logs = [
            (container, text, previous) for _, _, container, text, previous in log_placement(case)
        ]
        cluster.break_workload(
            MANIFESTS / "oom.yaml", "exports", "csv-exporter", {"OOMKilled"}, logs
        )
        return
    load_case_into(cluster.emulator, case)


def _apply(cluster: Cluster, tmp_path: Path, name: str) -> None:
    manifest = tmp_path / f"{name}.yaml"
    manifest.write_text(
        _incident(name, "exports", title="csv-exporter keeps restarting", target=TARGET)
    )
    cluster.kubectl("apply", "-f", str(manifest))


def _wait(cluster: Cluster, name: str, predicate: Any) -> dict[str, Any]:
    return wait_for(
        lambda: _get(cluster, "exports", name),
        until=lambda body: predicate(body.get("status") or {}),
        what=f"exports/{name}",
    )


def test_feedback_is_learned_and_recalled(crd_installed: Cluster, tmp_path: Path) -> None:
    cluster = crd_installed
    _load_oom(cluster)
    store = tmp_path / "memory"
    settings = Settings(memory_enabled=True, qdrant_path=store, cluster_name="e2e")
    with OperatorThread(cluster.kubeconfig, settings=settings):
        _apply(cluster, tmp_path, "first-oom")
        first = _wait_phase(cluster, "exports", "first-oom", {"Diagnosed"})
        memory = {c["type"]: c for c in first["status"]["conditions"]}["MemoryAvailable"]
        assert memory["status"] == "False"
        assert memory["reason"] == "NoSimilarIncidents"

        feedback = {
            "helpful": True,
            "actionTaken": "increase-memory",
            "resolution": "raised the limit to 512Mi; db password=hunter2 was not involved",
            "by": "alice",
        }
        cluster.kubectl(
            "patch",
            "inc",
            "first-oom",
            "-n",
            "exports",
            "--type",
            "merge",
            "-p",
            json.dumps({"spec": {"feedback": feedback}}),
        )
        learned = _wait(cluster, "first-oom", lambda s: s.get("learned"))
        assert learned["status"]["phase"] == "Resolved"
        assert learned["status"]["learned"]["category"] == "oom-killed"
        assert {c["type"]: c for c in learned["status"]["conditions"]}["Learned"][
            "status"
        ] == "True"

        _apply(cluster, tmp_path, "second-oom")
        second = _wait_phase(cluster, "exports", "second-oom", {"Diagnosed"})

    diagnosis = second["status"]["diagnosis"]
    similar = diagnosis["similarIncidents"]
    assert similar[0]["name"] == "first-oom"
    assert similar[0]["action"] == "increase-memory"
    assert similar[0]["score"] > 0.9
    assert "hunter2" not in json.dumps(similar)
    top = diagnosis["remediations"][0]
    assert top["action"] == "increase-memory"
    assert "memory" in top["proposedBy"]
    memory = {c["type"]: c for c in second["status"]["conditions"]}["MemoryAvailable"]
    assert memory["status"] == "True"

    # What reached the store: redacted, under the right category and cluster.
    with IncidentMemory(OnnxMiniLMEmbedder(), redact=redact_text, path=store) as stored:
        found = stored.get("first-oom", "e2e", "exports")
        assert found is not None
        record, embedded_text = found
        assert "hunter2" not in embedded_text
        assert record.category.value == "oom-killed"
        assert record.helpful is True
        assert "hunter2" not in (record.resolution or "")
        assert "512Mi" in (record.resolution or "")


def test_corrected_category_is_what_is_remembered(crd_installed: Cluster, tmp_path: Path) -> None:
    cluster = crd_installed
    _load_oom(cluster)
    store = tmp_path / "memory"
    settings = Settings(memory_enabled=True, qdrant_path=store, cluster_name="e2e")
    with OperatorThread(cluster.kubeconfig, settings=settings):
        _apply(cluster, tmp_path, "misread")
        _wait_phase(cluster, "exports", "misread", {"Diagnosed"})
        cluster.kubectl(
            "patch",
            "inc",
            "misread",
            "-n",
            "exports",
            "--type",
            "merge",
            "-p",
            json.dumps(
                {
                    "spec": {
                        "feedback": {
                            "helpful": False,
                            "correctCategory": "bad-rollout",
                            "actionTaken": "rollback",
                            "resolution": "a new build leaked memory; rolled back",
                        }
                    }
                }
            ),
        )
        learned = _wait(cluster, "misread", lambda s: s.get("learned"))
    assert learned["status"]["learned"]["category"] == "bad-rollout"
    with IncidentMemory(OnnxMiniLMEmbedder(), redact=redact_text, path=store) as stored:
        found = stored.get("misread", "e2e", "exports")
        assert found is not None
        record, _ = found
        assert record.category.value == "bad-rollout"
        assert record.corrected is True
        assert record.actions[0].value == "rollback"

"""The Incident CRD: generated files identical to the generator (repo and chart), schema
structural and in agreement with the pydantic models (nothing the operator writes is
pruned, vocabulary enums match). Pure; no cluster."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kubetriage.crd import build_incident_crd, render_incident_crd_yaml
from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import Diagnosis, LLMUsage, Remediation, SimilarIncident
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.incident import Alert, Condition, Feedback, IncidentSpec, IncidentStatus
from kubetriage.models.vocabulary import Action, Category, Risk

ROOT = Path(__file__).resolve().parents[2]
CRD_FILES = [
    ROOT / "crds" / "incidents.kubetriage.io.yaml",
    ROOT / "helm" / "kubetriage" / "crds" / "incidents.kubetriage.io.yaml",
]


def _schema() -> dict[str, Any]:
    crd = build_incident_crd()
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def _undeclared(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Fields a structural-schema API server would prune."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        problems = []
        for key, item in value.items():
            if props is not None and key in props:
                problems += _undeclared(item, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                problems += _undeclared(item, extra, f"{path}.{key}")
            else:
                problems.append(f"{path}.{key}")
        return problems
    if isinstance(value, list):
        return [p for item in value for p in _undeclared(item, schema.get("items", {}), path)]
    return []


def _full_status() -> IncidentStatus:
    target = ObjectRef(kind="Deployment", namespace="shop", name="checkout")
    return IncidentStatus(
        phase="Diagnosed",
        observed_generation=3,
        target="Deployment/shop/checkout",
        conditions=[
            Condition(
                type="Diagnosed",
                status="True",
                reason="DiagnosisWritten",
                message="ok",
                last_transition_time=datetime(2026, 11, 1, tzinfo=UTC),
            )
        ],
        diagnosis=Diagnosis(
            summary="checkout is OOMKilled",
            category=Category.OOM_KILLED,
            confidence=0.93,
            root_cause="limit too low",
            evidence=[EvidenceItem(source="pod/shop/checkout-1", fact="OOMKilled exit 137")],
            remediations=[
                Remediation(
                    id="increase-memory-abc123",
                    action=Action.INCREASE_MEMORY,
                    title="Raise the memory limit",
                    description="x",
                    target=target,
                    command="kubectl -n shop set resources deployment/checkout",
                    risk=Risk.LOW,
                    proposed_by=["analyzer", "llm"],
                    score=1.2,
                )
            ],
            similar_incidents=[
                SimilarIncident(
                    name="inc-1",
                    score=0.9,
                    category=Category.OOM_KILLED,
                    resolution="raised limit",
                    action=Action.INCREASE_MEMORY,
                    namespace="shop",
                    cluster="prod",
                )
            ],
            analyzers=["oom"],
            llm=LLMUsage(
                used=True,
                model="m",
                provider="openai",
                input_tokens=10,
                output_tokens=5,
                duration_ms=12,
                response_format="json_schema",
                attempts=1,
                cached=False,
                reason=None,
            ),
            disagreement="x",
            evidence_hash="abc",
        ),
    )


@pytest.mark.parametrize("path", CRD_FILES, ids=["crds", "chart"])
def test_crd_files_are_the_generator_output(path: Path) -> None:
    assert path.read_text(encoding="utf-8") == render_incident_crd_yaml(), (
        f"{path} is stale: run `kubetriage crd --write {' '.join(map(str, CRD_FILES))}`"
    )


def test_crd_identity_and_printer_columns() -> None:
    crd = yaml.safe_load(CRD_FILES[0].read_text())
    assert crd["metadata"]["name"] == "incidents.kubetriage.io"
    assert crd["spec"]["names"]["shortNames"] == ["inc"]
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1alpha1"
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns == ["Phase", "Severity", "Category", "Confidence", "Target", "Age"]


def test_status_model_dump_is_valid_and_nothing_is_pruned() -> None:
    status = _full_status().dump_k8s()
    schema = _schema()["properties"]["status"]
    jsonschema.validate(status, schema)
    assert _undeclared(status, schema) == []


def test_spec_model_dump_is_valid_and_nothing_is_pruned() -> None:
    spec = IncidentSpec(
        title="t",
        description="d",
        target=ObjectRef(kind="Deployment", namespace="a", name="b"),
        alerts=[
            Alert(
                status="firing",
                labels={"alertname": "X"},
                annotations={"summary": "s"},
                starts_at=datetime(2026, 11, 1, tzinfo=UTC),
                ends_at=datetime(2026, 11, 1, 1, tzinfo=UTC),
                fingerprint="abc",
                generator_url="http://prom/graph?g0.expr=up",
            )
        ],
        feedback=Feedback(
            helpful=False,
            correct_category=Category.STORAGE,
            resolution="r",
            action_taken=Action.EXPAND_STORAGE,
            by="alice",
        ),
        approve="expand-storage-123456",
    ).dump_k8s()
    schema = _schema()["properties"]["spec"]
    jsonschema.validate(spec, schema)
    assert _undeclared(spec, schema) == []


def test_schema_enums_are_the_vocabulary() -> None:
    diagnosis = _schema()["properties"]["status"]["properties"]["diagnosis"]["properties"]
    assert diagnosis["category"]["enum"] == [c.value for c in Category]
    remediation = diagnosis["remediations"]["items"]["properties"]
    assert remediation["action"]["enum"] == [a.value for a in Action]
    assert remediation["risk"]["enum"] == ["low", "medium", "high"]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({}, "title"),
        ({"title": "x", "severity": "bogus"}, "severity"),
        ({"title": "x" * 300}, "title"),
        ({"title": "x", "target": {"name": "a"}}, "kind"),
        ({"title": "x", "alerts": [{}] * 101}, "alerts"),
        ({"title": "x", "feedback": {"correctCategory": "gremlins"}}, "correctCategory"),
    ],
)
def test_schema_rejects_bad_specs(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(jsonschema.ValidationError) as caught:
        jsonschema.validate(spec, _schema()["properties"]["spec"])
    assert field in str(caught.value.path) + caught.value.message

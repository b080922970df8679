"""status.remediation and spec.approvedBy against the generated CRD schema: a full record is
valid and nothing in it would be pruned by a structural-schema API server. Pure; the real
CRD generator and jsonschema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jsonschema

from kubetriage.crd import build_incident_crd
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import (
    FieldChange,
    IncidentSpec,
    IncidentStatus,
    RemediationRecord,
    RemediationResult,
    RemediationUndo,
)
from kubetriage.models.vocabulary import Action


def _schema() -> dict[str, Any]:
    crd = build_incident_crd()
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def _pruned(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        return [
            p
            for key, item in value.items()
            for p in (
                _pruned(item, props[key], f"{path}.{key}") if key in props else [f"{path}.{key}"]
            )
        ]
    if isinstance(value, list):
        return [p for item in value for p in _pruned(item, schema.get("items", {}), path)]
    return []


def test_a_full_remediation_record_fits_the_crd() -> None:
    at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    record = RemediationRecord(
        id="increase-memory-50651e",
        action=Action.INCREASE_MEMORY,
        target=ObjectRef(kind="Deployment", namespace="exports", name="csv-exporter"),
        approved_by="alice@example.com",
        approved_by_source="spec.approvedBy",
        approved_at=at,
        applied_at=at,
        result=RemediationResult.APPLIED,
        reason="Applied",
        message="memory limit of exporter: 256Mi -> 384Mi",
        dry_run=True,
        changes=[FieldChange(path="spec.replicas", before="1", after="2")],
        undo=RemediationUndo(patch_type="strategic", patch="{}", command="kubectl patch", note="n"),
        observed_generation=2,
    )
    status = IncidentStatus(remediation=record).dump_k8s()
    schema = _schema()
    document = {"apiVersion": "v", "kind": "Incident", "spec": {"title": "t"}, "status": status}
    jsonschema.validate(document, schema)
    assert _pruned(status, schema["properties"]["status"]) == []
    assert set(status["remediation"]) >= {"approvedBy", "approvedAt", "changes", "undo"}


def test_approved_by_is_a_spec_field() -> None:
    spec = IncidentSpec(title="t", approve="x", approved_by="alice").dump_k8s()
    schema = _schema()
    jsonschema.validate({"spec": spec}, schema)
    assert _pruned(spec, schema["properties"]["spec"]) == []
    assert spec["approvedBy"] == "alice"

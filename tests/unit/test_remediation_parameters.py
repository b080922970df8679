"""A remediation's typed parameters: one validated model per action, kept through the
status round trip, and the only thing approval executes. Rewording a command template (or
editing the stored command) cannot change the plan. Pure: the real combiner, command
templates and planner, objects from the example cases; the template is swapped with
pytest's monkeypatch."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from kubetriage import combine as combine_module
from kubetriage.combine import combine
from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import LLMUsage, Remediation
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import WorkloadEvidence
from kubetriage.models.remediation import (
    PARAMETERS,
    MemoryParameters,
    NoParameters,
    RemediationParameters,
    RollbackParameters,
    ScaleParameters,
    parameters_from_hints,
    validate_parameters,
)
from kubetriage.models.vocabulary import Action, Category
from kubetriage.remediation.plan import Related, build_plan
from kubetriage.remediation.policy import Bounds
from kubetriage.replay.cases import load_case
from tests.support.cases import EXAMPLES

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LEDGER = '[{"at":"2026-11-26T12:00:00Z"}]'
# A template reworded so that, read back as text, it would name another container, another
# quantity, another replica count and another revision than the parameters hold.
REWORDED = (
    "kubectl -n elsewhere set resources deployment/other -c sidecar "
    "--limits=memory=64Gi --requests=memory=64Gi --limits=cpu=64 --replicas=99 --to-revision=1"
)


def test_every_action_has_a_parameters_model() -> None:
    assert set(PARAMETERS) == set(Action)


@pytest.mark.parametrize(
    ("action", "data"),
    [
        (Action.INCREASE_MEMORY, {"container": "app; rm -rf /"}),
        (Action.INCREASE_MEMORY, {"memory": "$(curl evil)"}),
        (Action.INCREASE_MEMORY, {"replicas": 3}),
        (Action.SCALE_OUT, {"replicas": 0}),
        (Action.ROLLBACK, {"revision": "3 && kubectl delete ns prod"}),
        (Action.RESTART, {"container": "app"}),
    ],
)
def test_malformed_or_foreign_parameters_are_rejected(action: Action, data: Any) -> None:
    with pytest.raises(ValidationError):
        validate_parameters(action, data)


def test_hints_keep_what_the_action_takes_and_drop_the_rest() -> None:
    hints = {"container": "app", "memory": "512Mi", "currentMemory": "256Mi", "exitCode": "137"}
    assert parameters_from_hints(Action.INCREASE_MEMORY, hints) == MemoryParameters(
        container="app", memory="512Mi"
    )
    bad = {"container": "app", "memory": "lots"}
    assert parameters_from_hints(Action.INCREASE_MEMORY, bad) == MemoryParameters(container="app")
    assert parameters_from_hints(Action.SCALE_OUT, {"replicas": "6", "hpa": "web"}) == (
        ScaleParameters(replicas=6)
    )
    assert parameters_from_hints(Action.RESTART, hints) == NoParameters()


def test_parameters_survive_the_status_round_trip_as_the_actions_model() -> None:
    target = ObjectRef(kind="Deployment", namespace="shop", name="web")
    remediation = Remediation(
        id="rollback-abc123",
        action=Action.ROLLBACK,
        title="t",
        target=target,
        parameters=RollbackParameters(revision=3),
        command="kubectl -n shop rollout undo deployment/web --to-revision=3",
        risk="medium",
    )
    body = remediation.dump_k8s()
    assert body["parameters"] == {"revision": 3}
    restored = Remediation.model_validate(body)
    assert type(restored.parameters) is RollbackParameters
    assert restored == remediation
    with pytest.raises(ValidationError):
        Remediation.model_validate({**body, "parameters": {"replicas": 3}})


def _deployment(case: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    objects = copy.deepcopy(load_case(EXAMPLES / case).cluster)
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    deployment["metadata"]["resourceVersion"] = "7"
    return deployment, [o for o in objects if o["kind"] == "ReplicaSet"]


def _combined(deployment: dict[str, Any], action: Action, hints: dict[str, str]) -> Remediation:
    meta = deployment["metadata"]
    ref = ObjectRef(kind="Deployment", namespace=meta["namespace"], name=meta["name"])
    finding = Finding(
        analyzer="test-analyzer",
        category=Category.OOM_KILLED,
        confidence=0.9,
        summary="seen",
        action=action,
        target=ref,
        params=hints,
    )
    diagnosis = combine(
        evidence=Evidence(collected_at=NOW, target=ref, workload=WorkloadEvidence(ref=ref)),
        findings=[finding],
        opinion=None,
        llm=LLMUsage(used=False, reason="not configured"),
        similar=[],
    )
    return diagnosis.remediations[0]


@pytest.mark.parametrize(
    ("case", "action", "hints"),
    [
        ("example-oom-csv-exporter", Action.INCREASE_MEMORY, {"memory": "384Mi"}),
        ("example-oom-csv-exporter", Action.INCREASE_CPU, {"cpu": "750m"}),
        ("example-oom-csv-exporter", Action.SCALE_OUT, {"replicas": "2"}),
        ("example-image-tag-typo", Action.ROLLBACK, {"revision": "3"}),
    ],
)
def test_rewording_a_template_cannot_change_what_executes(
    monkeypatch: pytest.MonkeyPatch, case: str, action: Action, hints: dict[str, str]
) -> None:
    deployment, replica_sets = _deployment(case)
    related = Related(replica_sets=replica_sets)
    original = _combined(deployment, action, hints)
    expected = build_plan(original, deployment, related, Bounds(), LEDGER, NOW)

    def reworded(action: Action, target: ObjectRef, parameters: RemediationParameters) -> str:
        return REWORDED

    monkeypatch.setattr(combine_module, "render_command", reworded)
    rewritten = _combined(deployment, action, hints)
    assert rewritten.command == REWORDED != original.command
    assert rewritten.parameters == original.parameters
    assert build_plan(rewritten, deployment, related, Bounds(), LEDGER, NOW) == expected
    # An edited command in the stored status changes nothing either.
    edited = Remediation.model_validate({**original.dump_k8s(), "command": REWORDED})
    assert build_plan(edited, deployment, related, Bounds(), LEDGER, NOW) == expected

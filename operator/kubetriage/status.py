"""Pure status bookkeeping: Kubernetes-style conditions and the status patches the handlers
write. Called by ``kubetriage.handlers`` and the receiver; no I/O here.

Condition types the operator maintains (each failure is visible here, not only in a log):

- ``EvidenceCollected``: the Kubernetes API gave the evidence (False: target missing, partial)
- ``MetricsAvailable``: Prometheus answered with data (False: not configured, down, no data)
- ``MemoryAvailable``: the incident memory was searched (False: not configured, down, empty)
- ``LLMUnavailable``: True when no model answer was used (not configured, timeout, garbage)
- ``AnalyzerDisagreement``: True when the model contradicted an analyzer
- ``Diagnosed``: True once a diagnosis is written; False with the reason when it failed
- ``Notified``: written by ``kubetriage.notify``: what was sent, or why not (a sink failed,
  no route, below the confidence floor)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from kubetriage import prose
from kubetriage.models.base import valid_items
from kubetriage.models.diagnosis import Diagnosis
from kubetriage.models.incident import Condition, Phase
from kubetriage.models.objects import without_nulls

ConditionStatus = Literal["True", "False", "Unknown"]
MAX_MESSAGE = 2048


def replacing(body: Any) -> Any:
    """A JSON merge-patch value that *replaces* what is stored: a field absent from the new
    value is sent as null (merge-patch's "delete"), so nothing of an earlier diagnosis (say
    ``llm.cached``) survives under the new one. Lists are replaced whole by merge-patch, so
    their items carry no nulls."""
    if isinstance(body, dict):
        return {key: replacing(value) for key, value in body.items()}
    if isinstance(body, list):
        return [without_nulls(item) for item in body]
    return body


def condition(
    type_: str, status: ConditionStatus, reason: str, message: str = "", *, now: datetime
) -> Condition:
    return Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message[:MAX_MESSAGE],
        last_transition_time=now,
    )


def merge_conditions(existing: list[Condition], updates: list[Condition]) -> list[Condition]:
    """Replace conditions by type; keep ``lastTransitionTime`` when the status is unchanged,
    as Kubernetes controllers do, so a re-diagnosis does not look like a transition."""
    by_type = {c.type: c for c in existing}
    for update in updates:
        previous = by_type.get(update.type)
        if previous is not None and previous.status == update.status:
            update = update.model_copy(
                update={"last_transition_time": previous.last_transition_time}
            )
        by_type[update.type] = update
    return list(by_type.values())


def parse_conditions(raw: Any) -> list[Condition]:
    return valid_items(Condition, raw)


def parse_diagnosis(raw: Any) -> Diagnosis | None:
    """``status.diagnosis`` as a model; None when absent or invalid (hand-edited, older)."""
    if not raw:
        return None
    try:
        return Diagnosis.model_validate(raw)
    except ValueError:
        return None


def conditions_body(conditions: list[Condition]) -> list[dict[str, Any]]:
    return [c.dump_k8s() for c in conditions]


def investigating_patch(
    existing: list[Condition], *, generation: int | None, now: datetime
) -> dict[str, Any]:
    merged = merge_conditions(
        existing,
        [condition("Diagnosed", "False", "Investigating", "Gathering evidence.", now=now)],
    )
    return {
        "phase": Phase.INVESTIGATING.value,
        "conditions": conditions_body(merged),
    }


def diagnosed_patch(
    existing: list[Condition],
    diagnosis: Diagnosis,
    stage_conditions: list[Condition],
    *,
    target: str | None,
    generation: int | None,
    now: datetime,
) -> dict[str, Any]:
    done = condition(
        "Diagnosed",
        "True",
        "DiagnosisWritten",
        prose.headline(diagnosis.category.value, diagnosis.confidence, diagnosis.summary),
        now=now,
    )
    merged = merge_conditions(existing, [*stage_conditions, done])
    body: dict[str, Any] = {
        "phase": Phase.DIAGNOSED.value,
        "observedGeneration": generation,
        "conditions": conditions_body(merged),
        "diagnosis": replacing(diagnosis.model_dump(by_alias=True, mode="json")),
    }
    if target:
        body["target"] = target[:400]
    return body


def failed_patch(
    existing: list[Condition],
    *,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime,
    stage_conditions: list[Condition] | None = None,
) -> dict[str, Any]:
    failed = condition("Diagnosed", "False", reason, message, now=now)
    merged = merge_conditions(existing, [*(stage_conditions or []), failed])
    return {
        "phase": Phase.FAILED.value,
        "observedGeneration": generation,
        "conditions": conditions_body(merged),
    }

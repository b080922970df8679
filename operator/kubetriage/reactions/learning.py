"""Learning from a resolved Incident: one that carries feedback is stored in incident memory
(redacted, ``kubetriage.learning``), once per generation. Runs on every event, the initial
listing after a restart included, so nothing is missed; the ``status.learned`` marker makes
it idempotent. A feedback with a resolution on a manual Incident also closes it.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from kubetriage.learning import NothingToLearn, parse_time, record_from_incident
from kubetriage.memory.errors import IncidentMemoryError
from kubetriage.models.diagnosis import Diagnosis
from kubetriage.models.incident import IncidentSpec, IncidentView, Phase
from kubetriage.reactions.context import Logger, OperatorContext, PostEvent
from kubetriage.status import condition, conditions_body, merge_conditions, parse_conditions


def _closes_manual_incident(incident: IncidentView) -> bool:
    spec = incident.spec
    return (
        incident.status.get("phase") == Phase.DIAGNOSED.value
        and spec.get("source", "manual") == "manual"
        and bool((spec.get("feedback") or {}).get("resolution"))
    )


async def learn_incident(
    ctx: OperatorContext, incident: IncidentView, *, post: PostEvent, logger: Logger
) -> None:
    """Store ``incident`` in memory when it is resolved (or closed by its feedback) and
    not yet learned at this generation; the outcome goes to a ``Learned`` condition."""
    status = incident.status
    if ctx.memory is None or not incident.spec.get("feedback"):
        return
    generation = incident.generation
    if (status.get("learned") or {}).get("generation") == generation:
        return
    manual_close = _closes_manual_incident(incident)
    if status.get("phase") != Phase.RESOLVED.value and not manual_close:
        return
    namespace, name = incident.namespace, incident.name
    now = ctx.clock()
    existing = parse_conditions(status.get("conditions"))
    try:
        raw_diagnosis = status.get("diagnosis")
        record, text = record_from_incident(
            name=name,
            namespace=namespace,
            spec=IncidentSpec.model_validate(incident.spec),
            diagnosis=Diagnosis.model_validate(raw_diagnosis) if raw_diagnosis else None,
            cluster=ctx.settings.cluster_name,
            created_at=parse_time(incident.meta.get("creationTimestamp")),
            resolved_at=now,
        )
        record_id = await ctx.memory.store(record, text)
    except (NothingToLearn, ValidationError, IncidentMemoryError) as error:
        failed = condition("Learned", "False", type(error).__name__, str(error), now=now)
        conditions = conditions_body(merge_conditions(existing, [failed]))
        if conditions != status.get("conditions"):
            await ctx.incidents.patch_status(namespace, name, {"conditions": conditions})
        logger.warning("not learned: %s", error)
        return
    learned = condition(
        "Learned",
        "True",
        "Stored",
        f"remembered as {record.category.value}"
        + (" (category corrected by feedback)" if record.corrected else ""),
        now=now,
    )
    patch: dict[str, Any] = {
        "learned": {
            "recordId": record_id,
            "generation": generation,
            "category": record.category.value,
            "at": now.isoformat(),
        },
        "observedGeneration": generation,
        "conditions": conditions_body(merge_conditions(existing, [learned])),
    }
    if manual_close:
        patch["phase"] = Phase.RESOLVED.value
    await ctx.incidents.patch_status(namespace, name, patch)
    post("Normal", "Learned", learned.message)

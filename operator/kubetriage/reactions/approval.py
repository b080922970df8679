"""Executing the remediation named by ``spec.approve`` if the policy allows it (the flow is
``kubetriage.remediation.actions``): the outcome goes to ``status.remediation`` and a
``Remediated`` condition; the Events it asks for (on the Incident and on the target) are
returned for the handler to post.
"""

from __future__ import annotations

from typing import Any

from kubetriage.models.incident import IncidentView, RemediationRecord
from kubetriage.reactions.context import SETTLED_PHASES, Logger, OperatorContext
from kubetriage.remediation.actions import (
    Outcome,
    execute_approval,
    remediation_condition_fields,
)
from kubetriage.remediation.cluster import ClusterAdapter
from kubetriage.status import condition, conditions_body, merge_conditions, parse_conditions


def _record_body(record: RemediationRecord) -> dict[str, Any]:
    """status.remediation as a merge patch: absent fields are sent as null so nothing of a
    previous record survives into this one."""
    return record.model_dump(by_alias=True, mode="json")


async def approve_remediation(
    ctx: OperatorContext, incident: IncidentView, *, logger: Logger
) -> Outcome:
    """Carry out ``spec.approve`` and record the outcome in the Incident's status."""
    namespace, name, status = incident.namespace, incident.name, incident.status

    async def record_progress(record: RemediationRecord) -> None:
        await ctx.incidents.patch_status(namespace, name, {"remediation": _record_body(record)})

    outcome = await execute_approval(
        incident,
        cluster=ClusterAdapter(
            ctx.api_client, request_timeout=ctx.settings.kube_request_timeout_seconds
        ),
        policy_file=ctx.settings.policy_file,
        scope=ctx.stages.tenancy.scope(namespace),
        now=ctx.clock,
        record_progress=record_progress,
    )
    cond_status, reason, message = remediation_condition_fields(outcome.record)
    remediated = condition("Remediated", cond_status, reason, message, now=ctx.clock())
    patch: dict[str, Any] = {
        "remediation": _record_body(outcome.record),
        "conditions": conditions_body(
            merge_conditions(parse_conditions(status.get("conditions")), [remediated])
        ),
    }
    if status.get("phase") in SETTLED_PHASES:
        patch["observedGeneration"] = incident.generation
    await ctx.incidents.patch_status(namespace, name, patch)
    logger.info(
        "remediation %s: %s (%s)",
        outcome.record.id,
        outcome.record.result.value,
        outcome.record.reason,
    )
    return outcome

"""The small reactions: acknowledge a generation that needs no diagnosis, keep the metrics'
index of Incidents, hand every change to the notifier."""

from __future__ import annotations

from typing import Any

from kubetriage.metrics import incident_state
from kubetriage.models.incident import IncidentView
from kubetriage.reactions.context import SETTLED_PHASES, OperatorContext


async def acknowledge_generation(ctx: OperatorContext, incident: IncidentView) -> None:
    """A feedback edit (or a cleared approval) bumps the generation without asking for a
    new diagnosis; record that this generation was seen so a restart does not redo it.
    An approval is acknowledged by the approval itself."""
    if incident.status.get("phase") not in SETTLED_PHASES:
        return
    await ctx.incidents.patch_status(
        incident.namespace, incident.name, {"observedGeneration": incident.generation}
    )


def index_incident(
    ctx: OperatorContext, namespace: str, name: str, status: dict[str, Any] | None
) -> None:
    """Keep the ``kubetriage_incidents`` gauge's index of phase and category; ``status``
    None when the Incident was deleted."""
    if ctx.metrics is not None:
        state = None if status is None else incident_state(status)
        ctx.metrics.incidents.update(namespace, name, state)


def notify_change(ctx: OperatorContext, namespace: str, name: str) -> None:
    """Every change (status writes included) goes to the notifier, which runs apart from
    the handlers: a slow or failing sink never delays or fails a diagnosis."""
    if ctx.notifier is not None:
        ctx.notifier.enqueue(namespace, name)

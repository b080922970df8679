"""Status conditions, as every kind with ``status.conditions`` reports them. Pure."""

from __future__ import annotations

from typing import Any

from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.raw import as_str, as_time, clip_text, dicts
from kubetriage.models.object_evidence import PodCondition


def conditions(raw: Any, limits: EvidenceLimits) -> list[PodCondition]:
    result = []
    for condition in dicts(raw)[: limits.max_conditions]:
        kind, status = as_str(condition.get("type")), as_str(condition.get("status"))
        if kind is None or status is None:
            continue
        result.append(
            PodCondition(
                type=kind,
                status=status,
                reason=as_str(condition.get("reason")),
                message=clip_text(as_str(condition.get("message")), limits.max_string_length),
                last_transition_time=as_time(condition.get("lastTransitionTime")),
            )
        )
    return result

"""Small text helpers of the prompt's sections: clipping, times, label pairs, object
references and conditions, each bounded so one huge value cannot eat the budget.
Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import ContainerState, PodCondition

# One line per log line or event message: a single huge line must not eat the budget.
MAX_LINE_CHARS = 400
MAX_RESOLUTION_CHARS = 500
MAX_FIELD_CHARS = 300


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split()) if "\n" in text else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def when(value: datetime | None) -> str:
    if value is None:
        return "?"
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def known(value: int | bool | None) -> str:
    """A count or condition the evidence may not have read (a Service's endpoints, a
    workload's desired replicas, a scaler's Ready): ``unknown`` then, never ``None``."""
    return "unknown" if value is None else str(value)


def pairs(values: dict[str, str], limit: int = MAX_FIELD_CHARS) -> str:
    return clip(", ".join(f"{k}={v}" for k, v in values.items()), limit)


def ref_text(ref: ObjectRef | None) -> str:
    return ref.display() if ref is not None else "?"


def conditions_text(conditions: Sequence[PodCondition], *, only_bad: bool) -> str:
    shown = []
    for cond in conditions:
        if only_bad and cond.status == "True":
            continue
        text = f"{cond.type}={cond.status}"
        if cond.reason:
            text += f" ({cond.reason})"
        if cond.message:
            text += f": {clip(cond.message, 160)}"
        shown.append(text)
    return "; ".join(shown)


def state_text(state: ContainerState) -> str:
    """A container state: ``waiting(CrashLoopBackOff)``, ``terminated(Error, exit 1) at ...``."""
    text: str = state.state
    exit_text = (
        f"exit {state.exit_code}" + (f" signal {state.signal}" if state.signal else "")
        if state.exit_code is not None
        else None
    )
    details = [part for part in (state.reason, exit_text) if part]
    if details:
        text += f"({', '.join(details)})"
    if state.message:
        text += f": {clip(state.message, 200)}"
    if state.finished_at is not None:
        text += f" at {when(state.finished_at)}"
    return text

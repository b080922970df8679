"""What the evidence builder could not use or had to cut: collection errors and truncation
notes, the bounded list that records its cut, and the guard that turns one malformed object
into a note instead of a failed diagnosis. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from kubetriage.evidence.raw import display
from kubetriage.models.objects import JsonDict

_T = TypeVar("_T")


@dataclass
class Notes:
    """``Evidence.collection_errors`` (each once) and ``Evidence.truncated``, in the order the
    build met them."""

    errors: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)

    def error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)

    def cut(self, what: str, kept: int, total: int, order: str = "") -> None:
        if total > kept:
            suffix = f", {order}" if order else ""
            self.truncated.append(f"{what}: kept {kept} of {total}{suffix}")


def bounded(items: list[_T], limit: int, what: str, notes: Notes, order: str = "") -> list[_T]:
    """The first ``limit`` items; a cut is noted with what was cut and in which order."""
    notes.cut(what, min(limit, len(items)), len(items), order)
    return items[:limit]


def safe(notes: Notes, obj: JsonDict, summarise: Callable[[], _T]) -> _T | None:
    """Run one object's summary; a malformed object is skipped, not fatal."""
    try:
        return summarise()
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        notes.error(f"skipped malformed {display(obj)}: {type(exc).__name__}")
        return None


def summarise_all(
    objs: Iterable[JsonDict], notes: Notes, summarise: Callable[[JsonDict], _T]
) -> list[_T]:
    """Each object's summary, the malformed ones skipped and noted."""
    result = []
    for obj in objs:
        summary = safe(notes, obj, partial(summarise, obj))
        if summary is not None:
            result.append(summary)
    return result

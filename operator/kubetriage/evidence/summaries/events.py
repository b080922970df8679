"""Events about the objects in scope, merged by (object, reason, message), newest first.
Reads both ``core/v1`` and ``events.k8s.io/v1`` shapes. Pure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.notes import Notes, bounded, safe
from kubetriage.evidence.raw import as_dict, as_int, as_str, as_time, clip_middle
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import EventEvidence
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import meta as _meta
from kubetriage.models.objects import namespace as _ns


def _event_ref(event: JsonDict) -> tuple[str, str, str] | None:
    involved = as_dict(event.get("involvedObject")) or as_dict(event.get("regarding"))
    kind, name = as_str(involved.get("kind")), as_str(involved.get("name"))
    if kind is None or name is None:
        return None
    # Node events carry no namespace (or "default" in older clusters); nodes are global.
    namespace = "" if kind == "Node" else as_str(involved.get("namespace")) or _ns(event)
    return (kind, namespace, name)


def event_summaries(
    index: ObjectIndex,
    in_scope: Callable[[tuple[str, str, str]], bool],
    limits: EvidenceLimits,
    notes: Notes,
) -> list[EventEvidence]:
    """Events about objects in scope, merged by (object, reason, message), newest first."""
    merged: dict[tuple[str, str, str, str, str], EventEvidence] = {}
    for event in index.kind("Event"):
        key = _event_ref(event)
        if key is None or not in_scope(key):
            continue
        summary = safe(notes, event, partial(_event, event, key, limits))
        if summary is None:
            continue
        dedup = (*key, summary.reason, summary.message)
        seen = merged.get(dedup)
        if seen is None:
            merged[dedup] = summary
            continue
        seen.count += summary.count
        if summary.type == "Warning":
            seen.type = "Warning"
        firsts = [t for t in (seen.first_seen, summary.first_seen) if t is not None]
        lasts = [t for t in (seen.last_seen, summary.last_seen) if t is not None]
        seen.first_seen = min(firsts) if firsts else None
        seen.last_seen = max(lasts) if lasts else None
    epoch = datetime.min.replace(tzinfo=UTC)
    ordered = sorted(merged.values(), key=lambda e: e.last_seen or epoch, reverse=True)
    return bounded(ordered, limits.max_events, "events", notes, "newest first")


def _event(event: JsonDict, key: tuple[str, str, str], limits: EvidenceLimits) -> EventEvidence:
    series = as_dict(event.get("series"))
    first = as_time(event.get("firstTimestamp")) or as_time(event.get("eventTime"))
    last = (
        as_time(series.get("lastObservedTime"))
        or as_time(event.get("lastTimestamp"))
        or as_time(event.get("eventTime"))
        or as_time(_meta(event).get("creationTimestamp"))
    )
    count = (
        as_int(event.get("count"))
        or as_int(series.get("count"))
        or as_int(event.get("deprecatedCount"))
    )
    source = as_str(as_dict(event.get("source")).get("component")) or as_str(
        event.get("reportingComponent")
    )
    message = as_str(event.get("message")) or as_str(event.get("note")) or ""
    return EventEvidence(
        type=as_str(event.get("type")) or "Normal",
        reason=as_str(event.get("reason")) or "",
        message=clip_middle(message, limits.max_string_length),
        involved=ObjectRef(kind=key[0], namespace=key[1] or None, name=key[2]),
        count=max(count or 1, 1),
        first_seen=first or last,
        last_seen=last or first,
        source=source or None,
    )

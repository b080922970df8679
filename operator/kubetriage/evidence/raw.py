"""Tolerant readers of raw Kubernetes JSON (objects exactly as the API serialises them).

Objects come from clusters in every state, so nothing here trusts a field's presence or type:
a missing or mistyped field reads as absent. Pure; shared by the evidence builder's modules
(metadata, owner references and selectors are read by ``kubetriage.models.objects``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.models.base import ObjectRef
from kubetriage.models.objects import JsonDict

# The container readers live with the metadata readers (``kubetriage.networkpolicy`` and other
# modules below the evidence package use them); re-exported here for the evidence modules.
from kubetriage.models.objects import as_dict as as_dict
from kubetriage.models.objects import as_list as as_list
from kubetriage.models.objects import dicts as dicts
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns


def as_str(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def as_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def clip_text(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def clip_middle(text: str, limit: int) -> str:
    """``text`` clipped as ``clip_text`` clips it, with its last ``limit // 2`` characters
    kept after the ellipsis: a wrapped error ("attach failed: rpc error: ... failed with ...:
    <the cloud's reason>") names the operation first and the root cause last, so both ends
    are kept and the middle (resource paths, ids) is what goes."""
    tail = limit // 2
    if len(text) <= limit + tail:
        return text
    return text[: limit - 1] + "…" + text[len(text) - tail :]


def str_map(value: Any, limits: EvidenceLimits, *, drop: Collection[str] = ()) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, raw in as_dict(value).items():
        text = as_str(raw)
        if not isinstance(key, str) or text is None or key in drop:
            continue
        if len(result) >= limits.max_labels:
            break
        result[key] = clip_text(text, limits.max_string_length) or ""
    return result


def kind_of(obj: JsonDict) -> str:
    return str(obj.get("kind"))


def display(obj: JsonDict) -> str:
    ns = _ns(obj)
    return f"{kind_of(obj)}/{ns}/{_name(obj)}" if ns else f"{kind_of(obj)}/{_name(obj)}"


def ref_of(obj: JsonDict) -> ObjectRef:
    return ObjectRef(
        kind=kind_of(obj),
        name=_name(obj),
        namespace=_ns(obj) or None,
        api_version=as_str(obj.get("apiVersion")),
    )


def obj_key(obj: JsonDict) -> tuple[str, str, str]:
    return (kind_of(obj), _ns(obj), _name(obj))


def ref_key(ref: ObjectRef) -> tuple[str, str, str]:
    return (ref.kind, ref.namespace or "", ref.name)


def listed(objects: Iterable[JsonDict], ref: ObjectRef) -> JsonDict | None:
    """The object among ``objects`` (a list call's answer) that ``ref`` names; None if absent."""
    key = ref_key(ref)
    return next((obj for obj in objects if obj_key(obj) == key), None)


def condition(obj: JsonDict, kind: str) -> JsonDict | None:
    """The object's status condition of type ``kind`` (a custom resource's Ready, Synced...)."""
    conditions = dicts(as_dict(obj.get("status")).get("conditions"))
    return next((c for c in conditions if c.get("type") == kind), None)


def ready_status(obj: JsonDict) -> bool | None:
    """Its Ready condition: True or False as it says, None when absent or Unknown."""
    ready = condition(obj, "Ready")
    status = as_str(ready.get("status")) if ready is not None else None
    return {"True": True, "False": False}.get(status or "")


def api_group(api_version: str | None) -> str:
    """The API group of an ``apiVersion`` (``apps/v1`` -> ``apps``; ``v1`` -> the core, "")."""
    return api_version.rpartition("/")[0] if api_version and "/" in api_version else ""

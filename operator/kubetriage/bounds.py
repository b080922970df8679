"""The size bound of an Incident, by construction: one pure function over status patches.

A real API server refuses an object past ~1.5 MB (etcd's request limit), after which the
Incident would stop updating. One total (``KUBETRIAGE_INCIDENT_MAX_BYTES``, 900 KiB by
default, at most 1,000,000 bytes) is split into a budget per part, and the budgets add up
to at most the total:

- ``metadata`` and ``spec`` are reserved up front (``METADATA_RESERVE``, ``SPEC_RESERVE``):
  the API server and people write metadata; the receiver bounds ``spec.alerts``
  (``receiver/state.py``: 384 KiB of alerts, the rest of the spec is bounded by the CRD).
- the rest is shared by the status parts in fixed proportions (``STATUS_SHARES``); status
  keys not named there (``phase``, ``target``, ``learned``, ``clipped``...) share ``other``.

``bound_status`` is applied where status patches leave the process (``IncidentStore``
and the receiver's writer), so no write can grow a part past its budget. A part over its
budget is cut in this order, each step only if the one before was not enough:

1. strings longer than 256 characters are shortened, the longest first, all to one cap
   (water-filling), so ids, enums, hashes and timestamps are never touched;
2. list items are dropped from the end of the longest list (lists are ranked best first);
3. the part is left out of the write altogether (``null``: a merge patch removes it).

What was cut is counted per part in ``status.clipped`` (strings shortened plus items
dropped, plus one for a part left out); a part written without cuts clears its count.
Sizes are those of compact UTF-8 JSON, as the API server stores a custom resource.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

DEFAULT_MAX_BYTES = 900 * 1024
MAX_BYTES_CEILING = 1_000_000
METADATA_RESERVE = 48 * 1024
SPEC_RESERVE = 416 * 1024
# The smallest total the setting accepts: the reserves plus room for a status.
MIN_MAX_BYTES = METADATA_RESERVE + SPEC_RESERVE + 256 * 1024
OTHER = "other"
STATUS_SHARES: Mapping[str, float] = MappingProxyType(
    {
        "diagnosis": 0.38,
        "remediation": 0.20,
        "alertGroup": 0.18,
        "conditions": 0.12,
        "modelCache": 0.06,
        "notifications": 0.04,
        OTHER: 0.02,
    }
)
STRING_FLOOR = 256


@dataclass(frozen=True)
class Budget:
    """Bytes per part, derived from one total; ``sum(parts) + reserves <= total``."""

    total: int
    parts: dict[str, int]

    @classmethod
    def from_total(cls, total: int = DEFAULT_MAX_BYTES) -> Budget:
        if not MIN_MAX_BYTES <= total <= MAX_BYTES_CEILING:
            raise ValueError(
                f"incident size budget {total} bytes outside [{MIN_MAX_BYTES}, {MAX_BYTES_CEILING}]"
            )
        status = total - METADATA_RESERVE - SPEC_RESERVE
        return cls(total=total, parts={k: int(status * s) for k, s in STATUS_SHARES.items()})

    @property
    def status(self) -> int:
        return sum(self.parts.values())


@dataclass(frozen=True)
class Bounded:
    status: dict[str, Any]
    clipped: dict[str, int]


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON, as stored by the API server."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def bound_status(status: Mapping[str, Any], budget: Budget) -> Bounded:
    """``status`` (a merge patch or a whole status) with every part within its budget, and
    ``clipped`` set for each part it carries: the count of what was cut, ``None`` (clears
    the stored count) when nothing was."""
    named = {k: v for k, v in status.items() if k in budget.parts and k != OTHER}
    rest = {k: v for k, v in status.items() if k not in named and k != "clipped"}
    out: dict[str, Any] = {}
    counts: dict[str, int | None] = {}
    for part, value in named.items():
        out[part], counts[part] = _bound_part(value, budget.parts[part])
    if rest:
        bounded_rest, counts[OTHER] = _bound_part(rest, budget.parts[OTHER])
        out.update(bounded_rest or dict.fromkeys(rest))
    clipped = {part: n for part, n in counts.items() if n}
    if counts:
        out["clipped"] = {part: n or None for part, n in counts.items()}
    return Bounded(status=out, clipped=clipped)


def _bound_part(value: Any, limit: int) -> tuple[Any, int]:
    if json_size(value) <= limit:
        return value, 0
    value = copy.deepcopy(value)
    shortened = _shorten_strings(value, limit)
    if json_size(value) <= limit:
        return value, shortened
    dropped = _drop_items(value, limit)
    if json_size(value) <= limit:
        return value, shortened + dropped
    return None, shortened + dropped + 1


def _strings(value: Any) -> list[tuple[Any, Any, str]]:
    """(container, key, string) for every string value below ``value``."""
    found: list[tuple[Any, Any, str]] = []
    stack = [value]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            if isinstance(child, str):
                found.append((node, key, child))
            elif isinstance(child, dict | list):
                stack.append(child)
    return found


def _shorten_strings(value: Any, limit: int) -> int:
    """Shorten the strings above ``STRING_FLOOR`` characters to the largest common cap that
    fits ``limit`` (or to the floor when none does); the count of strings shortened."""
    long = [(c, k, s) for c, k, s in _strings(value) if len(s) > STRING_FLOOR]
    if not long:
        return 0
    over = json_size(value) - limit
    low, high = STRING_FLOOR, max(len(s) for _, _, s in long)

    def saving(cap: int) -> int:
        return sum(len(s[cap:].encode()) for _, _, s in long if len(s) > cap)

    while low < high:  # the largest cap whose saving covers what is over
        mid = (low + high + 1) // 2
        if saving(mid) >= over:
            low = mid
        else:
            high = mid - 1
    count = 0
    for container, key, text in long:
        if len(text) > low:
            container[key] = text[:low]
            count += 1
    return count


def _lists(value: Any) -> list[list[Any]]:
    found: list[list[Any]] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            found.append(node)
        children = node.values() if isinstance(node, dict) else node
        stack.extend(c for c in children if isinstance(c, dict | list))
    return found


def _drop_items(value: Any, limit: int) -> int:
    """Drop items from the end of the longest (in bytes) list until ``value`` fits."""
    lists = [lst for lst in _lists(value) if lst]
    sizes = {id(lst): json_size(lst) for lst in lists}
    size, count = json_size(value), 0
    while size > limit and lists:
        longest = max(lists, key=lambda lst: sizes[id(lst)])
        item = longest.pop()
        freed = json_size(item) + (1 if longest else 0)
        sizes[id(longest)] -= freed
        size -= freed
        count += 1
        if not longest:
            lists.remove(longest)
        if size <= limit:
            size = json_size(value)  # the running figure ignores nesting; check exactly
    return count

"""The fixed present of synthetic evidence (the case format's now, 2026-11-20T10:00:00Z)
and the times before it that builders stamp on objects.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)

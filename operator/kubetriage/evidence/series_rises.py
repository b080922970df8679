"""When a series first rose into the episode it still shows: the first sign of a symptom, as
an SRE dates it from a graph ("the 502s began at 09:20"), where ``changed_at`` dates only the
latest step and ``departed_at`` only a rise that got half-way within minutes.

A raw counter (``..._total``, ``..._count`` read without ``rate()``) rises in its increments,
not its level: a counter of errors that ticks at a steady background rate climbs all along,
and what begins is a faster climb. Its increments are read instead (a reset counts from zero,
as Prometheus' ``increase`` does).

The rise is the first sample of the final run of samples at least ``RISE_SHARE`` of the way
from the starting level (the median of the first ``LEVEL_SAMPLES``) to the peak, where no two
consecutive samples of the run lie more than ``RECUR`` apart: failures that come in bursts
(a backend killed and restarted every few minutes) are one episode from their first burst,
while an earlier burst followed by a long quiet is an episode that ended. None when the
samples show no quiet of ``RECUR`` before the run (it may have begun before the window:
missing data proves no onset) or the series is flat.

``climbed_at`` dates the same episode from where it first cleared its starting level by
``CLIMB_SHARE`` of the way to its peak: a store's parts or backlog climbing for 40 minutes
was half-way only 20 minutes in, and the climb, not its half-way mark, is what came first.

Pure: shared by the Prometheus collector and the offline case replay through
``evidence.prometheus.summarize_series``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Final

Point = tuple[datetime, float]

# The share of the way from the starting level to the peak a sample must reach to count.
RISE_SHARE: Final = 0.5
# ... for when a climb began (``climbed_at``): the first samples clear of the starting
# level's noise, where the half-way mark of a slow climb comes long after its start.
CLIMB_SHARE: Final = 0.1
# Samples of the same episode lie at most this far apart; a longer quiet ends an episode.
RECUR: Final = timedelta(minutes=15)
# Samples that show the level the series began at (fewer show none).
LEVEL_SAMPLES: Final = 3
# A rise smaller than this share of the series' magnitude is noise on a flat series.
_FLAT: Final = 0.1
_RAW_COUNTER: Final = re.compile(r"_(total|count)\b")
_RATE_FUNCTION: Final = re.compile(r"\b(i?rate|increase|deriv|i?delta)\(")


def _counter(query: str) -> bool:
    """Whether the query reads a raw counter: named so, with no function turning it into a
    rate (a ratio or ``sum by`` of a rate is a rate)."""
    return bool(_RAW_COUNTER.search(query)) and not _RATE_FUNCTION.search(query)


def _increments(points: Sequence[Point]) -> list[Point]:
    """A counter's increase at each sample after the first (a drop is a reset: the new value
    is what it counted since)."""
    return [
        (ts, value - before if value >= before else value)
        for (_, before), (ts, value) in pairwise(points)
    ]


def rose_at(points: Sequence[Point], query: str, share: float = RISE_SHARE) -> datetime | None:
    """When the series rose into the episode it still shows (module doc); ``points`` sorted
    and finite. ``share``: the share of the way to its peak a sample must reach."""
    view = _increments(points) if _counter(query) else list(points)
    if len(view) <= LEVEL_SAMPLES:
        return None
    values = [value for _, value in view]
    level = sorted(values[:LEVEL_SAMPLES])[LEVEL_SAMPLES // 2]
    peak = max(values)
    if peak - level <= _FLAT * max(abs(level), abs(peak)):
        return None
    bar = level + share * (peak - level)
    high = [ts for ts, value in view if value >= bar]
    start = high[-1]
    for earlier in reversed(high[:-1]):
        if start - earlier > RECUR:
            break
        start = earlier
    # An episode is known to begin only after a quiet as long as the gaps it spans: one
    # seen from (nearly) the first samples may have begun before them (a pod crash-looping
    # since yesterday restarts every few minutes all through the window).
    return start if start - view[0][0] >= RECUR else None


def climbed_at(points: Sequence[Point], query: str) -> datetime | None:
    """When the series began the climb it is still on (module doc): ``rose_at`` at
    ``CLIMB_SHARE`` of the way to its peak."""
    return rose_at(points, query, CLIMB_SHARE)

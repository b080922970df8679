"""What a metric series shows, summarised for analyzers and the prompt (pure): its first,
last, lowest and highest values, trend, when it last stepped and when it first left the
level it began at, its shape (step, ramp, spike, flat) and the value it has held since.
``summarize_series`` turns one series' points into a ``MetricSummary``; the Prometheus
adapter (``kubetriage.evidence.prometheus``) and the offline golden replays call it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from kubetriage.evidence.series_rises import climbed_at, rose_at
from kubetriage.models.signals import MetricSummary

Point = tuple[datetime, float]

# A trend is "flat" unless last and first differ by more than this share of their magnitude;
# a step is "significant" when one jump exceeds this share of the series' whole range.
TREND_THRESHOLD = 0.1
STEP_THRESHOLD = 0.1
# A series departs from the level it began at when it moves more than ``STEP_THRESHOLD`` of
# its range away from it and, without coming back, gets at least this share of its range
# away within ``DEPARTURE_RISE``: a symptom with a moment it began, not a drift or a blip.
DEPARTURE_SHARE = 0.5
DEPARTURE_RISE = timedelta(minutes=10)
# Samples at the starting level before a departure: fewer show no level to depart from.
DEPARTURE_LEVEL_SAMPLES = 3


def _trend(first: float, last: float) -> Literal["rising", "falling", "flat"]:
    scale = max(abs(first), abs(last))
    delta = last - first
    if scale == 0.0 or abs(delta) <= TREND_THRESHOLD * scale:
        return "flat"
    return "rising" if delta > 0 else "falling"


def _changed_at(points: Sequence[Point], low: float, high: float) -> datetime | None:
    """When the last step change began: the first point after the latest big jump.

    A jump is big when it exceeds ``STEP_THRESHOLD`` of the series' range (max - min), so a
    flat series has none and a smooth ramp (many small steps) has none either, while a
    probe going 1 -> 0 or a counter of restarts stepping up does.
    """
    spread = high - low
    if spread <= 0.0:
        return None
    for index in range(len(points) - 1, 0, -1):
        if abs(points[index][1] - points[index - 1][1]) > STEP_THRESHOLD * spread:
            return points[index][0]
    return None


def _departed_at(points: Sequence[Point], low: float, high: float) -> datetime | None:
    """When the series first left the level it began at (the median of its first
    ``DEPARTURE_LEVEL_SAMPLES`` samples): the first sample more than ``STEP_THRESHOLD`` of the
    range away from it that starts a move of ``DEPARTURE_SHARE`` of the range within
    ``DEPARTURE_RISE`` without coming back in between (nor right after it).

    The onset of what the series shows, where ``_changed_at`` dates its latest move: a
    latency that rose at 09:38 and eased at 09:55 departed at 09:38. None when the series
    shows no starting level (it moves from its first samples on), drifts there slowly (a
    ramp has no moment it began), or only blips away and back.
    """
    spread = high - low
    if spread <= TREND_THRESHOLD * max(abs(low), abs(high)) or len(points) <= (
        DEPARTURE_LEVEL_SAMPLES
    ):
        return None  # flat (as ``_shape`` says), or too short to show a level
    values = [value for _, value in points]
    level = sorted(values[:DEPARTURE_LEVEL_SAMPLES])[DEPARTURE_LEVEL_SAMPLES // 2]
    near = STEP_THRESHOLD * spread
    start: int | None = None
    for index in range(DEPARTURE_LEVEL_SAMPLES - 1, len(points)):
        away = values[index] - level
        if abs(away) <= near:
            start = None  # back at the level: what left it was a blip
            continue
        start = index if start is None else start
        # The next sample stays away on the same side: not one noisy or blipping sample.
        after = values[index + 1] - level if index + 1 < len(points) else away
        held = abs(after) > near and (after > 0) == (away > 0)
        if abs(away) >= DEPARTURE_SHARE * spread and held:
            rise = points[index][0] - points[start][0]
            return points[start][0] if rise <= DEPARTURE_RISE else None  # else a drift
    return None


# The range of a rate()-like function over a counter: ``rate(x[5m])``.
_RATE_RANGE = re.compile(r"\b(?:i?rate|increase)\(.*?\[(\d+)([smh])\]")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


# A query that ends in a filtering comparison (``... > 0.1``, not ``> bool``): its series
# begins where the value crossed the threshold, so its first point is an onset, not data
# that begins inside the window.
_FILTERED = re.compile(r"(?<![<>=!])[<>]=?\s*(?!bool\b)[-+.\deE]+\s*$")


def _settled(points: Sequence[Point], query: str) -> list[Point]:
    """The points of a rate series once its range is full: within ``[5m]`` of the series'
    first sample a rate sees only part of its range (a new pod's first minutes, or data
    that begins inside the queried window) and reads low, which is no change in demand.
    A thresholded series keeps its first points: they are where it crossed the threshold."""
    match = _RATE_RANGE.search(query)
    if match is None or len(points) < 3 or _FILTERED.search(query):
        return list(points)
    full = points[0][0] + timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])
    settled = [p for p in points if p[0] >= full]
    return settled if len(settled) >= 2 else list(points)


def summarize_series(
    name: str, query: str, labels: dict[str, str], points: Sequence[Point]
) -> MetricSummary:
    """Summarise one series: first/last/min/max, trend and when it last stepped.

    Points that are NaN or infinite (e.g. 0/0 ratios) are ignored; points need not be
    sorted.
    """
    finite = _settled(sorted(((ts, value) for ts, value in points if math.isfinite(value))), query)
    if not finite:
        return MetricSummary(name=name, query=query, labels=labels, samples=0)
    values = [value for _, value in finite]
    low, high = min(values), max(values)
    changed_at = _changed_at(finite, low, high)
    departed_at = _departed_at(finite, low, high)
    shape, before, after = _shape(finite, changed_at)
    return MetricSummary(
        name=name,
        query=query,
        labels=labels,
        first=values[0],
        last=values[-1],
        min=low,
        max=high,
        trend=_trend(values[0], values[-1]) if len(values) > 1 else "unknown",
        changed_at=changed_at,
        departed_at=departed_at,
        rose_at=rose_at(finite, query),
        climbed_at=climbed_at(finite, query),
        samples=len(finite),
        first_at=finite[0][0],
        shape=shape,
        before=before,
        after=after,
        held_since=_held_since(finite),
    )


def _held_since(points: Sequence[Point]) -> datetime | None:
    """When the series took the value it has held exactly ever since (a counter that stopped
    counting, a rate back at zero): the first sample of its final run of equal values. None
    for a single sample."""
    if len(points) < 2:
        return None
    last = points[-1][1]
    since = points[-1][0]
    for ts, value in reversed(points):
        if not math.isclose(value, last, rel_tol=1e-9, abs_tol=1e-12):
            break
        since = ts
    return since


Shape = Literal["step", "ramp", "spike", "flat", "unknown"]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _shape(
    points: Sequence[Point], changed_at: datetime | None
) -> tuple[Shape, float | None, float | None]:
    """How the series moved, to tell a change (a step at one moment) from growing load (a
    ramp) and from a blip (a spike that came back), with the levels around a step.

    - flat: the whole range is within ``TREND_THRESHOLD`` of the series' magnitude;
    - step: the mean after the last big jump differs from the mean before it by more than
      half the range, and the series stays near its new level;
    - spike: the peak (or trough) stands far from both ends, which are close to each other;
    - ramp: otherwise, a rise or fall spread over many small moves.
    """
    values = [v for _, v in points]
    if len(values) < 3:
        return "unknown", None, None
    low, high = min(values), max(values)
    spread = high - low
    scale = max(abs(low), abs(high))
    if scale == 0.0 or spread <= TREND_THRESHOLD * scale:
        return "flat", None, None
    if changed_at is not None:
        split = next((i for i, (ts, _) in enumerate(points) if ts >= changed_at), len(points))
        if 0 < split < len(points):
            before, after = _mean(values[:split]), _mean(values[split:])
            settled = abs(values[-1] - after) <= 0.25 * spread
            if abs(after - before) >= 0.5 * spread and settled:
                return "step", before, after
    ends = abs(values[-1] - values[0])
    peak = max(abs(high - values[0]), abs(values[0] - low))
    if ends <= 0.25 * spread and peak >= 0.75 * spread:
        return "spike", None, None
    return "ramp", None, None

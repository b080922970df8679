"""Prometheus evidence: run the applicable query templates and summarise what came back.

The evidence pipeline builds one ``PrometheusEvidenceCollector`` from ``Settings`` and calls
``collect(target, alerts, now)`` next to the Kubernetes collector; the result's summaries go
into ``Evidence.metrics`` and its status/message into a condition. Collection never raises
for Prometheus' sake: down, slow, or unauthorised becomes ``status="unavailable"``.

``prometheus-api-client`` is synchronous (``requests``), so each call runs in a worker thread.
One cheap instant query first checks that Prometheus answers, so an unreachable server
costs one timeout, not one per template.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from pydantic import BaseModel, Field
from urllib3.util.retry import Retry

from kubetriage.evidence.queries import (
    RenderedQuery,
    alert_families,
    alert_queries,
    build_scope,
    select_queries,
)
from kubetriage.evidence.series_rises import rose_at
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.object_evidence import MetricSummary
from kubetriage.settings import Settings

MetricsStatus = Literal["ok", "no_data", "unavailable", "not_configured"]
Point = tuple[datetime, float]

# A trend is "flat" unless last and first differ by more than this share of their magnitude;
# a step is "significant" when one jump exceeds this share of the series' whole range.
TREND_THRESHOLD = 0.1
STEP_THRESHOLD = 0.1
MAX_POINTS = 120
# A series departs from the level it began at when it moves more than ``STEP_THRESHOLD`` of
# its range away from it and, without coming back, gets at least this share of its range
# away within ``DEPARTURE_RISE``: a symptom with a moment it began, not a drift or a blip.
DEPARTURE_SHARE = 0.5
DEPARTURE_RISE = timedelta(minutes=10)
# Samples at the starting level before a departure: fewer show no level to depart from.
DEPARTURE_LEVEL_SAMPLES = 3


class MetricsResult(BaseModel):
    """What ``collect`` returns: summaries plus how the collection went."""

    status: MetricsStatus
    message: str = ""
    summaries: list[MetricSummary] = Field(default_factory=list)
    queries_run: int = 0
    query_errors: list[str] = Field(default_factory=list)


class PrometheusUnavailable(Exception):
    """Prometheus could not be reached or did not answer in time."""


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


def choose_step(start: datetime, end: datetime, max_points: int = MAX_POINTS) -> int:
    """A whole-second step that keeps a range query at or under ``max_points`` points."""
    span = max(0.0, (end - start).total_seconds())
    return max(1, math.ceil(span / max(1, max_points - 1)))


def _points(raw_values: Sequence[Sequence[Any]]) -> list[Point]:
    return [(datetime.fromtimestamp(float(ts), tz=UTC), float(value)) for ts, value in raw_values]


def _series_peak(series: dict[str, Any]) -> float:
    values = [float(v) for _, v in series.get("values", [])]
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else -math.inf


def _default_client(
    url: str, headers: dict[str, str], session: requests.Session
) -> PrometheusConnect:
    # No retries: a down Prometheus must fail fast (the library default retries 3 times with
    # backoff). ``read=False`` re-raises a read timeout as itself, so requests reports it as
    # ``requests.Timeout`` rather than wrapping it in a generic ``ConnectionError``.
    retry = Retry(total=0, read=False)
    return PrometheusConnect(url=url, headers=headers, session=session, retry=retry)


class PrometheusEvidenceCollector:
    """Runs the query templates that fit an incident and summarises the series."""

    def __init__(
        self,
        url: str | None,
        *,
        auth_header: str | None = None,
        timeout_seconds: float = 10.0,
        window: timedelta = timedelta(minutes=60),
        verify_tls: bool = True,
        max_series_per_query: int = 5,
        max_summaries: int = 40,
        max_concurrency: int = 4,
    ) -> None:
        self._url = url.rstrip("/") if url else None
        self._auth_header = auth_header
        self._timeout = timeout_seconds
        self._window = window
        self._verify_tls = verify_tls
        self._max_series_per_query = max_series_per_query
        self._max_summaries = max_summaries
        self._max_concurrency = max_concurrency

    @classmethod
    def from_settings(cls, settings: Settings) -> PrometheusEvidenceCollector:
        auth = settings.prometheus_auth_header
        return cls(
            settings.prometheus_url,
            auth_header=auth.get_secret_value() if auth is not None else None,
            timeout_seconds=settings.prometheus_timeout_seconds,
            window=timedelta(minutes=settings.metrics_window_minutes),
        )

    def plan(
        self,
        target: ObjectRef | None,
        alerts: Sequence[Alert],
        now: datetime,
        dependency_hosts: Sequence[str] = (),
        callees: Sequence[ObjectRef] = (),
        claims: Sequence[ObjectRef] = (),
        tenants: Sequence[ObjectRef] = (),
        *,
        namespace_wide: bool = False,
        workload: ObjectRef | None = None,
        scrapes: bool = False,
    ) -> tuple[list[RenderedQuery], datetime]:
        """The queries to run and the range start (earliest alert start minus the window)."""
        starts = [a.starts_at for a in alerts if a.starts_at is not None and a.starts_at <= now]
        start = min(starts, default=now) - self._window
        scope = build_scope(
            target,
            alerts,
            dependency_hosts,
            callees,
            claims,
            tenants,
            namespace_wide=namespace_wide,
            workload=workload,
            scrapes=scrapes,
        )
        queries = alert_queries(alerts) + select_queries(
            scope, now - start, families=alert_families(alerts)
        )
        return queries, start

    async def collect(
        self,
        target: ObjectRef | None,
        alerts: Sequence[Alert],
        now: datetime,
        dependency_hosts: Sequence[str] = (),
        callees: Sequence[ObjectRef] = (),
        claims: Sequence[ObjectRef] = (),
        tenants: Sequence[ObjectRef] = (),
        *,
        namespace_wide: bool = False,
        workload: ObjectRef | None = None,
        scrapes: bool = False,
    ) -> MetricsResult:
        """Query Prometheus for the window around the alert; never raises for I/O."""
        if not self._url:
            return MetricsResult(status="not_configured", message="no Prometheus URL set")
        queries, start = self.plan(
            target,
            alerts,
            now,
            dependency_hosts,
            callees,
            claims,
            tenants,
            namespace_wide=namespace_wide,
            workload=workload,
            scrapes=scrapes,
        )
        headers = {"Authorization": self._auth_header} if self._auth_header else {}
        session = requests.Session()
        session.verify = self._verify_tls
        try:
            client = _default_client(self._url, headers, session)
            try:
                await asyncio.to_thread(self._check, client, now)
            except PrometheusUnavailable as exc:
                return MetricsResult(status="unavailable", message=str(exc))
            return await self._run(client, queries, start, now)
        finally:
            session.close()

    def _check(self, client: PrometheusConnect, now: datetime) -> None:
        try:
            client.custom_query("1", params={"time": now.timestamp()}, timeout=self._timeout)
        except (KeyError, TypeError, ValueError) as exc:
            # A 200 answer without Prometheus' JSON shape (a login page, a wrong path). Checked
            # first because requests' JSONDecodeError is also a RequestException.
            raise PrometheusUnavailable(
                f"{self._url} does not answer like a Prometheus API: {type(exc).__name__}"
            ) from exc
        except requests.Timeout as exc:
            raise PrometheusUnavailable(
                f"Prometheus at {self._url} did not answer within {self._timeout:g}s"
            ) from exc
        except requests.RequestException as exc:
            raise PrometheusUnavailable(
                f"Prometheus at {self._url} is unreachable: {type(exc).__name__}"
            ) from exc
        except PrometheusApiClientException as exc:
            raise PrometheusUnavailable(
                f"Prometheus at {self._url} rejected a trivial query: {str(exc)[:200]}"
            ) from exc

    def _range(
        self, client: PrometheusConnect, promql: str, start: datetime, end: datetime, step: int
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = client.custom_query_range(
            promql,
            start_time=start,
            end_time=end,
            step=str(step),
            params={"timeout": f"{self._timeout:g}s"},
            timeout=self._timeout,
        )
        return result

    async def _run(
        self,
        client: PrometheusConnect,
        queries: list[RenderedQuery],
        start: datetime,
        end: datetime,
    ) -> MetricsResult:
        step = choose_step(start, end)
        limiter = asyncio.Semaphore(self._max_concurrency)

        async def run_one(query: RenderedQuery) -> list[dict[str, Any]] | str:
            async with limiter:
                try:
                    return await asyncio.to_thread(
                        self._range, client, query.promql, start, end, step
                    )
                except (KeyError, TypeError, ValueError) as exc:
                    return f"{query.name}: malformed answer ({type(exc).__name__})"
                except requests.RequestException as exc:
                    return f"{query.name}: {type(exc).__name__}"
                except PrometheusApiClientException as exc:
                    return f"{query.name}: {str(exc)[:200]}"

        # Threads cannot be cancelled, so the deadline is per request (requests' timeout);
        # gather then finishes within about ceil(queries / concurrency) timeouts at worst.
        outcomes = await asyncio.gather(*(run_one(q) for q in queries))
        summaries: list[MetricSummary] = []
        errors: list[str] = []
        for query, outcome in zip(queries, outcomes, strict=True):
            if isinstance(outcome, str):
                errors.append(outcome)
                continue
            # Keep the series that peaked highest (memory, ratios, restarts: higher is worse).
            worst_first = sorted(outcome, key=_series_peak, reverse=True)
            for series in worst_first[: self._max_series_per_query]:
                summary = summarize_series(
                    query.name,
                    query.promql,
                    {str(k): str(v) for k, v in series.get("metric", {}).items()},
                    _points(series.get("values", [])),
                )
                if summary.samples:
                    summaries.append(summary)
        truncated = len(summaries) > self._max_summaries
        summaries = summaries[: self._max_summaries]
        parts: list[str] = []
        if summaries:
            status: MetricsStatus = "ok"
            parts.append(f"{len(summaries)} series from {len(queries)} queries")
        elif errors and len(errors) == len(queries):
            status = "unavailable"
            parts.append(f"every query to Prometheus at {self._url} failed")
        else:
            status = "no_data"
            parts.append(f"none of {len(queries)} queries returned data")
        if truncated:
            parts.append(f"kept the first {self._max_summaries} series")
        if errors:
            parts.append(f"{len(errors)} queries failed")
        return MetricsResult(
            status=status,
            message="; ".join(parts),
            summaries=summaries,
            queries_run=len(queries),
            query_errors=errors,
        )

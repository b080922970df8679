"""Prometheus evidence: run the applicable query templates and summarise what came back
(each series by ``kubetriage.evidence.series.summarize_series``).

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
from kubetriage.evidence.series import Point, summarize_series
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.signals import MetricSummary
from kubetriage.settings import Settings

MetricsStatus = Literal["ok", "no_data", "unavailable", "not_configured"]
# The most points a range query asks for (``choose_step``).
MAX_POINTS = 120


class MetricsResult(BaseModel):
    """What ``collect`` returns: summaries plus how the collection went."""

    status: MetricsStatus
    message: str = ""
    summaries: list[MetricSummary] = Field(default_factory=list)
    queries_run: int = 0
    query_errors: list[str] = Field(default_factory=list)


class PrometheusUnavailable(Exception):
    """Prometheus could not be reached or did not answer in time."""


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

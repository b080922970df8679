"""The operator's Prometheus metrics, served on ``/metrics`` by the operator process.

``OperatorMetrics`` owns a dedicated ``CollectorRegistry`` (never prometheus-client's global
one, so several operators in one test process do not collide) and is built once by
``kubetriage run``; the Kopf handlers record diagnoses and keep the Incident index from
their events, the Alertmanager receiver's app counts its requests through
``webhook_middleware`` (or ``observe_webhook``), and ``MetricsEndpoint`` serves the
registry with aiohttp on ``KUBETRIAGE_METRICS_PORT``. The metric names are a contract with
the Helm chart's dashboard:

- ``kubetriage_incidents`` (gauge; phase, category): Incidents the operator currently sees;
- ``kubetriage_diagnosis_duration_seconds`` (histogram): completed diagnoses;
- ``kubetriage_llm_calls_total`` (outcome = ok | the LLM client's error type);
- ``kubetriage_llm_tokens_total`` (type = input | output);
- ``kubetriage_llm_estimated_cost_total`` (model): from ``llm_prices``, priced models only;
- ``kubetriage_llm_skipped_total`` (reason = the gating rule or the budget limit);
- ``kubetriage_llm_budget_remaining`` (gauge; limit): what is left of each configured
  budget, read at scrape time;
- ``kubetriage_webhook_requests_total`` (code);
- ``kubetriage_memory_records`` (gauge): records in incident memory, read at scrape time;
- ``kubetriage_analyzer_hits_total`` (analyzer, category).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter as Tally
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from kubetriage.llm.budget import Limit
from kubetriage.llm.spend import estimated_cost, price_for
from kubetriage.models.findings import Finding
from kubetriage.settings import ModelPrice

logger = logging.getLogger(__name__)

NOT_DIAGNOSED = "none"
# Diagnoses take seconds (no LLM) to a couple of minutes (a slow model, retries).
DIAGNOSIS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class MemoryCounter(Protocol):
    def record_count(self) -> int | None: ...


class BudgetReader(Protocol):
    def remaining(self) -> dict[Limit, float]: ...


@dataclass(frozen=True)
class IncidentState:
    phase: str
    category: str


class IncidentIndex:
    """Phase and category of every Incident seen, keyed by namespace/name; fed by the Kopf
    event handler (so writes from anyone, including a person resolving an Incident, count)
    and read by the ``kubetriage_incidents`` collector on the scrape thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[tuple[str, str], IncidentState] = {}

    def update(self, namespace: str, name: str, state: IncidentState | None) -> None:
        """Record the Incident's state; None forgets it (deleted)."""
        with self._lock:
            if state is None:
                self._states.pop((namespace, name), None)
            else:
                self._states[(namespace, name)] = state

    def counts(self) -> dict[IncidentState, int]:
        with self._lock:
            return dict(Tally(self._states.values()))


def incident_state(status: object) -> IncidentState:
    """Phase and category from an Incident's ``.status`` (absent ones: Pending / none)."""
    body = status if isinstance(status, dict) else {}
    diagnosis = body.get("diagnosis") if isinstance(body.get("diagnosis"), dict) else None
    category = (diagnosis or {}).get("category") or NOT_DIAGNOSED
    return IncidentState(phase=str(body.get("phase") or "Pending"), category=str(category))


class _IncidentCollector(Collector):
    def __init__(self, index: IncidentIndex) -> None:
        self._index = index

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "kubetriage_incidents",
            "Incidents the operator sees, by phase and diagnosed category.",
            labels=["phase", "category"],
        )
        for state, count in sorted(self._index.counts().items(), key=lambda i: str(i[0])):
            family.add_metric([state.phase, state.category], count)
        yield family

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily("kubetriage_incidents", "", labels=["phase", "category"])]


class _MemoryCollector(Collector):
    def __init__(self, memory: MemoryCounter) -> None:
        self._memory = memory

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "kubetriage_memory_records", "Resolved incidents stored in incident memory."
        )
        try:
            count = self._memory.record_count()
        except Exception:  # a scrape must not fail because Qdrant is down
            logger.warning("incident memory count failed", exc_info=True)
            count = None
        if count is not None:
            family.add_metric([], count)
        yield family

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily("kubetriage_memory_records", "")]


class _BudgetCollector(Collector):
    def __init__(self, budget: BudgetReader) -> None:
        self._budget = budget

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "kubetriage_llm_budget_remaining",
            "What is left of each configured LLM budget: calls in the per-minute bucket, "
            "tokens in the current hour and day.",
            labels=["limit"],
        )
        for limit, left in self._budget.remaining().items():
            family.add_metric([limit.value], left)
        yield family

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily("kubetriage_llm_budget_remaining", "", labels=["limit"])]


class OperatorMetrics:
    """The operator's metric families in their own registry. ``prices`` (settings'
    ``llm_prices``) and ``model`` (the configured one) give the estimated cost."""

    def __init__(
        self,
        *,
        memory: MemoryCounter | None = None,
        budget: BudgetReader | None = None,
        prices: Mapping[str, ModelPrice] | None = None,
        model: str | None = None,
    ) -> None:
        self._prices = dict(prices or {})
        self._model = model
        self.registry = CollectorRegistry(auto_describe=True)
        self.incidents = IncidentIndex()
        self.diagnosis_duration = Histogram(
            "kubetriage_diagnosis_duration_seconds",
            "Time from start to result of a completed diagnosis.",
            buckets=DIAGNOSIS_BUCKETS,
            registry=self.registry,
        )
        self.llm_calls = Counter(
            "kubetriage_llm_calls",
            "LLM diagnoses asked for, by outcome (ok or the error type).",
            ["outcome"],
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "kubetriage_llm_tokens",
            "Tokens used by LLM diagnoses.",
            ["type"],
            registry=self.registry,
        )
        self.llm_cost = Counter(
            "kubetriage_llm_estimated_cost",
            "Estimated cost of LLM calls from the configured per-model prices (the price "
            "table's currency); models without a price are not counted.",
            ["model"],
            registry=self.registry,
        )
        self.llm_skipped = Counter(
            "kubetriage_llm_skipped",
            "Diagnoses made without the model on purpose, by the gating rule or budget limit.",
            ["reason"],
            registry=self.registry,
        )
        self.webhook_requests = Counter(
            "kubetriage_webhook_requests",
            "Alertmanager webhook requests, by HTTP status code.",
            ["code"],
            registry=self.registry,
        )
        self.receiver_rejected = Counter(
            "kubetriage_receiver_rejected",
            "Alertmanager notifications refused with a 4xx, by reason (unauthorized, "
            "too_large, bad_encoding, invalid_payload, api_refused, ...).",
            ["reason"],
            registry=self.registry,
        )
        self.analyzer_hits = Counter(
            "kubetriage_analyzer_hits",
            "Findings produced by analyzers, by analyzer and category.",
            ["analyzer", "category"],
            registry=self.registry,
        )
        self.registry.register(_IncidentCollector(self.incidents))
        if memory is not None:
            self.registry.register(_MemoryCollector(memory))
        if budget is not None:
            self.registry.register(_BudgetCollector(budget))

    def observe_webhook(self, code: int) -> None:
        """One Alertmanager webhook request answered with HTTP ``code``."""
        self.webhook_requests.labels(code=str(code)).inc()

    def observe_rejected(self, reason: str) -> None:
        """One webhook notification refused (4xx) for ``reason``."""
        self.receiver_rejected.labels(reason=reason).inc()

    def webhook_middleware(self) -> Middleware:
        """An aiohttp middleware counting every POST (the webhook routes) by status code,
        including requests that end in an exception; add it to the receiver's app before it
        starts."""

        @web.middleware
        async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.method != "POST":
                return await handler(request)
            try:
                response = await handler(request)
            except web.HTTPException as error:
                self.observe_webhook(error.status)
                raise
            except Exception:
                self.observe_webhook(500)
                raise
            self.observe_webhook(response.status)
            return response

        return count

    def observe_diagnosis(
        self,
        *,
        seconds: float,
        findings: Iterable[Finding],
        llm_outcome: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
        model: str | None = None,
        skipped: str | None = None,
    ) -> None:
        """One completed diagnosis; ``llm_outcome`` is None when no model was asked (not
        configured, the previous answer reused, or ``skipped`` by a rule or the budget)."""
        self.diagnosis_duration.observe(seconds)
        for finding in findings:
            self.analyzer_hits.labels(
                analyzer=finding.analyzer, category=finding.category.value
            ).inc()
        if skipped is not None:
            self.llm_skipped.labels(reason=skipped).inc()
        if llm_outcome is None:
            return
        self.llm_calls.labels(outcome=llm_outcome).inc()
        if input_tokens:
            self.llm_tokens.labels(type="input").inc(input_tokens)
        if output_tokens:
            self.llm_tokens.labels(type="output").inc(output_tokens)
        price = price_for(self._prices, model, self._model)
        if price is not None and (input_tokens or output_tokens):
            self.llm_cost.labels(model=model or self._model or "unknown").inc(
                estimated_cost(price, input_tokens, output_tokens)
            )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsEndpoint:
    """``GET /metrics`` for one ``OperatorMetrics``, served on the operator's event loop;
    the exposition itself runs in a thread (the memory count is blocking I/O)."""

    def __init__(self, metrics: OperatorMetrics, *, host: str, port: int) -> None:
        self._metrics = metrics
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    async def _serve(self, request: web.Request) -> web.Response:
        body = await asyncio.to_thread(self._metrics.exposition)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._serve)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        logger.info("serving metrics on %s:%s/metrics", self._host, self.port)

    @property
    def port(self) -> int:
        """The bound port (the chosen one when started on port 0)."""
        if self._runner is None:
            return self._port
        for address in self._runner.addresses:
            return int(address[1])
        return self._port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

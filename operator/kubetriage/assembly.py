"""Assembling the operator: the one place that turns settings and an API client into the
``OperatorContext`` the handlers run with (pipeline stages, Incident client, memory writer,
metrics, notifier). Used by ``kubetriage run``, the replay sessions (``diagnose``, ``eval``,
``demo``) and the tests' ``OperatorThread``, so all three run the operator built the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from kubernetes import client as k8s

from kubetriage.app import Components, MemoryStage, build_components, build_notifier, wall_clock
from kubetriage.handlers import RunOptions, run_operator
from kubetriage.incidents import IncidentStore
from kubetriage.metrics import MetricsEndpoint, OperatorMetrics
from kubetriage.pipeline import Stages
from kubetriage.reactions.context import MemoryWriter, OperatorContext
from kubetriage.settings import Settings
from kubetriage.telemetry import Telemetry

if TYPE_CHECKING:
    from kubetriage.memory.embeddings import Embedder


@dataclass(frozen=True)
class AssembledOperator:
    context: OperatorContext
    # What was built here (LLM connections, the memory store, the budget) and must be
    # closed; None when the caller brought its own stages.
    components: Components | None

    async def run(self, options: RunOptions) -> None:
        """Run the operator until ``options.stop_flag`` is set (or forever), with its
        ``/metrics`` endpoint when there are metrics and ``settings.metrics_port`` is not 0;
        then close what was assembled (``aclose``): an assembled operator runs once."""
        ctx = self.context
        endpoint: MetricsEndpoint | None = None
        if ctx.metrics is not None and ctx.settings.metrics_port:
            endpoint = MetricsEndpoint(
                ctx.metrics, host=ctx.settings.metrics_host, port=ctx.settings.metrics_port
            )
            await endpoint.start()
        try:
            await run_operator(ctx, options)
        finally:
            if endpoint is not None:
                await endpoint.stop()
            await self.aclose()

    async def aclose(self) -> None:
        """Drain the notifier (bounded), then release connections and the store's lock."""
        if self.context.notifier is not None:
            await self.context.notifier.aclose()
        if self.components is not None:
            await self.components.aclose()


def assemble_operator(
    settings: Settings,
    client: k8s.ApiClient,
    *,
    stages: Stages | None = None,
    memory: MemoryWriter | None = None,
    telemetry: Telemetry | None = None,
    metrics: bool = False,
    notify: bool = False,
    clock: Callable[[], datetime] = wall_clock,
    budget_clock: Callable[[], datetime] = wall_clock,
    embedder: Embedder | None = None,
) -> AssembledOperator:
    """The operator's context. ``stages`` (and ``memory``) replace the ones built from
    ``settings`` (tests and benchmarks count or script them); ``metrics`` adds the Prometheus
    metrics the handlers record (served when ``settings.metrics_port`` is set); ``notify``
    posts to the sinks the settings configure (raises ``SecretFileError`` when a mounted
    secret cannot be read); ``clock`` is the operator's time (replay runs at the case's),
    ``budget_clock`` the wall clock of the LLM budget's windows (tests drive it),
    ``embedder`` an incident-memory embedder already loaded (replays share one)."""
    components: Components | None = None
    if stages is None:
        components = build_components(
            settings, client, telemetry, clock=budget_clock, embedder=embedder
        )
        stages, memory = components.stages, memory or components.memory
    incidents = IncidentStore.from_settings(client, settings)
    operator_metrics = (
        OperatorMetrics(
            memory=memory if isinstance(memory, MemoryStage) else None,
            budget=components.budget if components is not None else None,
            prices=settings.llm_prices,
            model=settings.llm_model,
        )
        if metrics
        else None
    )
    context = OperatorContext(
        settings=settings,
        stages=stages,
        incidents=incidents,
        api_client=client,
        clock=clock,
        memory=memory,
        metrics=operator_metrics,
        notifier=build_notifier(settings, incidents) if notify else None,
    )
    return AssembledOperator(context=context, components=components)

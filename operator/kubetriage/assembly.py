"""Assembling the operator: the one place that turns settings and an API client into the
``OperatorContext`` the handlers run with (pipeline stages, Incident client, memory writer,
metrics). Used by ``kubetriage run``, the replay sessions (``diagnose``, ``eval``, ``demo``)
and the tests' ``OperatorThread``, so all three run the operator built the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from kubernetes import client as k8s

from kubetriage.app import Components, MemoryStage, build_components
from kubetriage.handlers import MemoryWriter, OperatorContext
from kubetriage.incidents import IncidentStore
from kubetriage.metrics import OperatorMetrics
from kubetriage.pipeline import Stages
from kubetriage.settings import Settings
from kubetriage.telemetry import Telemetry


@dataclass(frozen=True)
class AssembledOperator:
    context: OperatorContext
    # What was built here (LLM connections, the memory store) and must be closed; None when
    # the caller brought its own stages.
    components: Components | None

    async def aclose(self) -> None:
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
    clock: Callable[[], datetime] | None = None,
) -> AssembledOperator:
    """The operator's context; ``stages`` (and ``memory``) replace the ones built from
    ``settings`` (tests and benchmarks count or script them); ``metrics`` adds the
    Prometheus metrics the handlers record (served when ``settings.metrics_port`` is set)."""
    components: Components | None = None
    if stages is None:
        components = build_components(settings, client, telemetry)
        stages, memory = components.stages, memory or components.memory
    context = OperatorContext(
        settings=settings,
        stages=stages,
        incidents=IncidentStore(client, request_timeout=settings.kube_request_timeout_seconds),
        api_client=client,
        clock=clock or (lambda: datetime.now(UTC)),
        memory=memory,
        metrics=OperatorMetrics(memory=memory if isinstance(memory, MemoryStage) else None)
        if metrics
        else None,
    )
    return AssembledOperator(context=context, components=components)

"""The operator under measurement: the real operator in a thread, with counting adapters
around its evidence collector and LLM stage (peaks of concurrent calls), its settings for a
benchmark, and an Incident watch on the API server it runs against.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from benchmarks.api_servers import ApiServer, Backend
from benchmarks.phases import PhaseWatcher
from kubernetes import client as k8s

from kubetriage.kubeclient import api_client
from kubetriage.models.base import ObjectRef
from kubetriage.models.case import Case
from kubetriage.models.diagnosis import SimilarIncident
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.incident import Alert
from kubetriage.pipeline import EvidenceSource, ModelOutcome, ModelSource
from kubetriage.settings import Settings
from kubetriage.tenancy import Scope
from tests.support.openai_server import ScriptedOpenAIServer
from tests.support.operator import OperatorThread


class InFlight:
    """Counts concurrent calls and remembers the peak (thread-safe: the watcher and the
    operator may live on different threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0
        self.calls = 0

    def enter(self) -> None:
        with self._lock:
            self.current += 1
            self.calls += 1
            self.peak = max(self.peak, self.current)

    def exit(self) -> None:
        with self._lock:
            self.current -= 1


class CountingEvidence:
    """The real evidence collector, counted: how many collections run at once."""

    def __init__(self, inner: EvidenceSource, counter: InFlight) -> None:
        self._inner = inner
        self._counter = counter

    async def collect(
        self,
        *,
        target: ObjectRef | None,
        alerts: list[Alert],
        title: str,
        description: str | None,
        now: datetime,
        scope: Scope,
    ) -> Evidence:
        self._counter.enter()
        try:
            return await self._inner.collect(
                target=target,
                alerts=alerts,
                title=title,
                description=description,
                now=now,
                scope=scope,
            )
        finally:
            self._counter.exit()


class CountingModel:
    """The real LLM stage, counted: how many model calls run at once."""

    def __init__(self, inner: ModelSource, counter: InFlight) -> None:
        self._inner = inner
        self._counter = counter

    async def __call__(
        self, evidence: Evidence, findings: list[Finding], similar: list[SimilarIncident]
    ) -> ModelOutcome:
        self._counter.enter()
        try:
            return await self._inner(evidence, findings, similar)
        finally:
            self._counter.exit()


def llm_settings(server: ScriptedOpenAIServer | None, concurrency: int) -> Settings:
    base: dict[str, Any] = {
        "memory_enabled": False,
        "concurrency": concurrency,
        "metrics_port": 0,
        "retry_delay_seconds": 1.0,
    }
    if server is not None:
        base |= {"llm_base_url": server.base_url, "llm_model": "scripted", "llm_max_retries": 0}
    return Settings(**base)


@dataclasses.dataclass
class Running:
    server: ApiServer
    operator: OperatorThread
    watcher: PhaseWatcher
    api: k8s.CustomObjectsApi
    collections: InFlight
    model_calls: InFlight


@contextlib.contextmanager
def running_operator(
    backend: Backend, cases: Sequence[Case], settings: Settings
) -> Iterator[Running]:
    """An API server with the cases' objects, the real operator in a thread with its
    evidence and model stages counted, and an Incident watch."""
    with backend(cases) as server:
        operator = OperatorThread(server.kubeconfig, settings=settings)
        collections, model_calls = InFlight(), InFlight()
        stages = operator.stages
        operator.stages = dataclasses.replace(
            stages,
            evidence=CountingEvidence(stages.evidence, collections),
            model=CountingModel(stages.model, model_calls) if stages.model else None,
        )
        client = api_client(server.kubeconfig)
        watch = PhaseWatcher(server.url, server.token, server.context)
        try:
            with operator, watch as watcher:
                yield Running(
                    server,
                    operator,
                    watcher,
                    k8s.CustomObjectsApi(client),
                    collections,
                    model_calls,
                )
        finally:
            client.close()  # type: ignore[no-untyped-call]

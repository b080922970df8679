"""The operator under measurement: the real operator in a thread, with counting adapters
(``tests.support.counting``) around its evidence collector and LLM stage (peaks of concurrent
calls), its settings for a benchmark, and an Incident watch on the API server it runs against.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

from benchmarks.api_servers import ApiServer, Backend
from benchmarks.phases import PhaseWatcher
from kubernetes import client as k8s

from kubetriage.kubeclient import api_client
from kubetriage.models.case import Case
from kubetriage.settings import Settings
from tests.support.counting import CountingEvidence, CountingModel, InFlight
from tests.support.openai_server import ScriptedOpenAIServer
from tests.support.operator import OperatorThread


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

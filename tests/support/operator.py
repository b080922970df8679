"""The real kubetriage operator (Kopf + pipeline) run in a background thread for synchronous
tests, against whatever API server a kubeconfig names (the emulator or a real cluster)."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from kubetriage.app import MemoryStage, wall_clock
from kubetriage.assembly import assemble_operator
from kubetriage.handlers import RunOptions
from kubetriage.kubeclient import api_client
from kubetriage.lifecycle import StartStop
from kubetriage.pipeline import Stages
from kubetriage.settings import Settings
from tests.support.openai_server import ScriptedOpenAIServer


class OperatorThread(StartStop):
    def __init__(
        self,
        kubeconfig: Path,
        *,
        settings: Settings | None = None,
        stages: Stages | None = None,
        memory: MemoryStage | None = None,
        namespaces: list[str] | None = None,
        standalone: bool = True,
        clock: Callable[[], datetime] = wall_clock,
        serve_metrics: bool = False,
    ) -> None:
        """``clock``: the wall clock of the LLM budget's windows (a test drives it).
        ``serve_metrics``: serve ``/metrics`` on ``settings.metrics_host:metrics_port``, as
        ``kubetriage run`` builds it."""
        self.settings = settings or Settings(memory_enabled=False)
        self.client = api_client(kubeconfig)
        self.operator = assemble_operator(
            self.settings,
            self.client,
            stages=stages,
            memory=memory,
            metrics=serve_metrics,
            notify=True,
            budget_clock=clock,
        )
        # May be replaced before start (benchmarks count the stages' calls).
        self.stages = self.operator.context.stages
        self.metrics = self.operator.context.metrics
        self.namespaces = namespaces or []
        self.standalone = standalone
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kubetriage-operator", daemon=True)
        self.error: BaseException | None = None

    async def _main(self) -> None:
        context = dataclasses.replace(self.operator.context, stages=self.stages)
        await dataclasses.replace(self.operator, context=context).run(
            RunOptions(
                namespaces=self.namespaces,
                standalone=self.standalone,
                stop_flag=self._stop,
                ready_flag=self._ready,
            )
        )

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # surfaced to the test by __exit__/start
            self.error = error
            self._ready.set()

    def start(self) -> Self:
        self._thread.start()
        if not self._ready.wait(timeout=60):
            raise RuntimeError("the operator did not become ready within 60s")
        if self.error is not None:
            raise RuntimeError("the operator failed to start") from self.error
        return self

    @property
    def alive(self) -> bool:
        """Whether the operator's thread still runs (False once stopped or crashed)."""
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.client.close()  # type: ignore[no-untyped-call]
        if self._thread.is_alive():
            raise RuntimeError("the operator did not stop within 30s")

    def __exit__(self, *exc_info: object) -> None:
        super().__exit__(*exc_info)
        if self.error is not None and exc_info[0] is None:
            raise RuntimeError("the operator crashed during the test") from self.error


def scripted_model_settings(server: ScriptedOpenAIServer, **extra: Any) -> Settings:
    """Settings of an operator whose model is the scripted ``server`` (no memory, one try
    of the model call within 5 s), with ``extra`` on top."""
    values: dict[str, Any] = {
        "memory_enabled": False,
        "llm_base_url": server.base_url,
        "llm_model": "scripted",
        "llm_timeout_seconds": 5,
        "llm_max_retries": 0,
    }
    values.update(extra)
    return Settings(**values)

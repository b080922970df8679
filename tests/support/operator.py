"""The real kubetriage operator (Kopf + pipeline) run in a background thread for synchronous
tests, against whatever API server a kubeconfig names (the emulator or a real cluster)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType

from kubetriage.app import (
    Components,
    MemoryStage,
    build_components,
    build_notifier,
    wall_clock,
)
from kubetriage.handlers import OperatorContext, run_operator
from kubetriage.incidents import IncidentStore
from kubetriage.kubeclient import api_client
from kubetriage.metrics import OperatorMetrics
from kubetriage.pipeline import Stages
from kubetriage.settings import Settings


class OperatorThread:
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
        self.components: Components | None = None
        if stages is None:
            self.components = build_components(self.settings, self.client, clock=clock)
            stages, memory = self.components.stages, memory or self.components.memory
        self.stages = stages
        self.memory = memory
        self.metrics: OperatorMetrics | None = None
        if serve_metrics:
            self.metrics = OperatorMetrics(
                memory=memory,
                budget=self.components.budget if self.components else None,
                prices=self.settings.llm_prices,
                model=self.settings.llm_model,
            )
        self.namespaces = namespaces or []
        self.standalone = standalone
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kubetriage-operator", daemon=True)
        self.error: BaseException | None = None

    async def _main(self) -> None:
        incidents = IncidentStore(self.client)
        # Slack / Teams / CloudEvents when the settings configure any sink (else None).
        notifier = build_notifier(self.settings, incidents)
        ctx = OperatorContext(
            settings=self.settings,
            stages=self.stages,
            incidents=incidents,
            api_client=self.client,
            memory=self.memory,
            metrics=self.metrics,
            notifier=notifier,
        )
        try:
            await run_operator(
                ctx,
                namespaces=self.namespaces,
                standalone=self.standalone,
                stop_flag=self._stop,
                ready_flag=self._ready,
            )
        finally:
            if notifier is not None:
                await notifier.aclose()
            if self.components is not None:
                await self.components.aclose()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # surfaced to the test by __exit__/start
            self.error = error
            self._ready.set()

    def start(self) -> OperatorThread:
        self._thread.start()
        if not self._ready.wait(timeout=60):
            raise RuntimeError("the operator did not become ready within 60s")
        if self.error is not None:
            raise RuntimeError("the operator failed to start") from self.error
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.client.close()  # type: ignore[no-untyped-call]
        if self._thread.is_alive():
            raise RuntimeError("the operator did not stop within 30s")

    def __enter__(self) -> OperatorThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self.error is not None and exc is None:
            raise RuntimeError("the operator crashed during the test") from self.error

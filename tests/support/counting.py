"""Counting adapters around the pipeline's stages: how many evidence collections and model
calls run at once, their peak and their total. The benchmarks measure the operator's
concurrency with them, and the concurrency test asserts its limit with them.
"""

from __future__ import annotations

import threading
from datetime import datetime

from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import SimilarIncident
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.incident import Alert
from kubetriage.pipeline import EvidenceSource, ModelOutcome, ModelSource
from kubetriage.tenancy import Scope
from tests.support.polling import wait_for_async


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
    """The real evidence collector, counted: how many collections run at once. ``hold_until``:
    each collection stays in flight until that many have been in flight at once (a test's
    burst piles up behind the operator's limit), then every one goes through."""

    def __init__(self, inner: EvidenceSource, counter: InFlight, *, hold_until: int = 0) -> None:
        self._inner = inner
        self._counter = counter
        self._hold_until = hold_until

    async def _peak(self) -> int:
        return self._counter.peak

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
            if self._hold_until:
                await wait_for_async(
                    self._peak,
                    until=lambda peak: peak >= self._hold_until,
                    what=f"{self._hold_until} evidence collections in flight at once",
                    within=60,
                )
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

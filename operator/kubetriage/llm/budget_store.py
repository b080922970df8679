"""The LLM budget's usage kept in a ConfigMap, so an operator restart within a window does
not hand out a fresh budget.

``ConfigMapBudgetStore`` reads and writes one ConfigMap (key ``state.json``) through the
official ``kubernetes`` client; ``PersistentBudget`` is what the pipeline's ``Stages``
carry: the pure ``LLMBudget`` plus that store. It loads the saved usage before the first
call, and saves after every grant (before the model is called, so a crash mid-call cannot
forget it) and every settle, coalescing writes that pile up. With several replicas only the
active one (Kopf peering) diagnoses, so one writer at a time.

A replica idle for a minute reads the ConfigMap again before its next call, so one that
peering paused sees what the active one spent meanwhile.

A ConfigMap that cannot be read (API down, hand-edited into something invalid) refuses the
call with ``budget-state-unavailable`` rather than risking an unknown spend; the read is
tried again on the next call. A save that fails leaves the call allowed and says so in the
grant (the Incident's ``LLMBudgetExhausted`` condition message).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from kubetriage.llm.budget import BudgetState, Decision, Denial, Grant, Limit, LLMBudget
from kubetriage.models.vocabulary import Severity

logger = logging.getLogger(__name__)

STATE_KEY = "state.json"
# Idle this long, a replica reads the saved usage again before its next call.
REREAD_AFTER_IDLE = timedelta(seconds=60)


class BudgetStateError(Exception):
    """The saved budget usage cannot be read."""


def _api_error(error: ApiException | OSError) -> str:
    """One line for an API failure: status, reason and the server's message."""
    if not isinstance(error, ApiException):
        return f"{type(error).__name__}: {error}"
    message = ""
    try:
        message = str(json.loads(error.body or "{}").get("message") or "")
    except (ValueError, AttributeError):
        message = ""
    return f"HTTP {error.status} {error.reason}" + (f": {message}" if message else "")


class BudgetStore(Protocol):
    @property
    def where(self) -> str:
        """Where the usage is kept, for messages."""
        ...

    async def load(self) -> BudgetState | None: ...

    async def save(self, state: BudgetState) -> None: ...


class ConfigMapBudgetStore:
    def __init__(
        self,
        api_client: k8s.ApiClient,
        *,
        namespace: str,
        name: str,
        request_timeout: float = 10.0,
    ) -> None:
        self._api = k8s.CoreV1Api(api_client)
        self.namespace = namespace
        self.name = name
        self._timeout = request_timeout

    @property
    def where(self) -> str:
        return f"ConfigMap {self.namespace}/{self.name}"

    async def load(self) -> BudgetState | None:
        try:
            config_map = await asyncio.to_thread(
                self._api.read_namespaced_config_map,
                self.name,
                self.namespace,
                _request_timeout=self._timeout,
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise BudgetStateError(f"{self.where}: {_api_error(error)}") from error
        raw = (config_map.data or {}).get(STATE_KEY)
        if raw is None:
            return None
        try:
            return BudgetState.model_validate_json(raw)
        except ValidationError as error:
            raise BudgetStateError(
                f"{self.where} key {STATE_KEY} is not a budget state "
                f"(delete it to start the budget afresh): {error}"
            ) from error

    async def save(self, state: BudgetState) -> None:
        data = {STATE_KEY: state.model_dump_json()}
        try:
            await asyncio.to_thread(
                self._api.patch_namespaced_config_map,
                self.name,
                self.namespace,
                k8s.V1ConfigMap(data=data),
                _request_timeout=self._timeout,
            )
        except ApiException as error:
            if error.status != 404:
                raise
            body = k8s.V1ConfigMap(
                metadata=k8s.V1ObjectMeta(
                    name=self.name,
                    namespace=self.namespace,
                    labels={"app.kubernetes.io/managed-by": "kubetriage"},
                ),
                data=data,
            )
            await asyncio.to_thread(
                self._api.create_namespaced_config_map,
                self.namespace,
                body,
                _request_timeout=self._timeout,
            )


class PersistentBudget:
    """``pipeline.ModelBudget``: the shared ``LLMBudget`` with its usage saved in a store.

    The saved usage is read before the first call, and again before a call after
    ``reread_after_idle`` without any (no call in flight, nothing unsaved): a replica that
    Kopf peering paused while another one worked then sees what the other one spent."""

    def __init__(
        self,
        budget: LLMBudget,
        store: BudgetStore | None = None,
        *,
        reread_after_idle: timedelta = REREAD_AFTER_IDLE,
    ) -> None:
        self.budget = budget
        self._store = store
        self._reread_after_idle = reread_after_idle
        self._loaded = store is None
        self._load_lock = asyncio.Lock()
        self._save_lock = asyncio.Lock()
        self._dirty = False
        self._in_flight = 0
        self._last_active: datetime | None = None

    def _must_read(self) -> bool:
        if self._store is None:
            return False
        if not self._loaded:
            return True
        if self._in_flight or self._dirty or self._last_active is None:
            return False  # our own usage is not all saved yet: keep it
        return self.budget.now() - self._last_active >= self._reread_after_idle

    async def _ensure_loaded(self) -> str | None:
        """None once the saved usage is in the budget, else why it is not."""
        if self._store is None or not self._must_read():
            return None
        async with self._load_lock:
            if not self._must_read():
                return None
            try:
                state = await self._store.load()
            except (BudgetStateError, ApiException, OSError) as error:
                text = str(error) if isinstance(error, BudgetStateError) else _api_error(error)
                if self._loaded:
                    # A re-read failing: this replica's own count is still a good one.
                    logger.warning("LLM budget usage not re-read: %s", text)
                    self._last_active = self.budget.now()
                    return None
                logger.error("LLM budget state unavailable: %s", text)
                return text[:500]
            if state is not None:
                self.budget.restore(state)
            self._loaded = True
            self._last_active = self.budget.now()
            return None

    async def _save(self) -> str | None:
        """Write the current usage (coalesced); None when saved, else why not."""
        if self._store is None:
            return None
        self._dirty = True
        async with self._save_lock:
            if not self._dirty:
                return None  # a write that started after our change already carried it
            self._dirty = False
            try:
                await self._store.save(self.budget.state())
            except (ApiException, OSError) as error:
                self._dirty = True
                text = f"usage not saved in {self._store.where}: {_api_error(error)}"[:300]
                logger.warning("LLM budget %s", text)
                return text
        return None

    async def acquire(self, severity: Severity) -> Decision:
        problem = await self._ensure_loaded()
        if problem is not None:
            return Denial(
                limit=Limit.STATE_UNAVAILABLE,
                message=f"the saved budget usage cannot be read, so no call is risked: {problem}",
            )
        decision = self.budget.acquire(severity)
        if isinstance(decision, Grant):
            self._in_flight += 1
            self._last_active = self.budget.now()
            warning = await self._save()
            if warning is not None:
                decision = replace(decision, warning=warning)
        return decision

    def remaining(self) -> dict[Limit, float]:
        return self.budget.remaining()

    async def settle(self, grant: Grant, tokens: int | None) -> None:
        self.budget.settle(grant, tokens)
        self._in_flight = max(0, self._in_flight - 1)
        self._last_active = self.budget.now()
        await self._save()

"""Incident objects through the official ``kubernetes`` client: read, create, patch spec and
status. A small adapter at the edge; used by the handlers (status writes that must be visible
while a diagnosis runs), the Alertmanager receiver, and the replay tooling. Calls are sync in
the client, so each runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

from kubernetes import client as k8s
from pydantic import ValidationError

from kubetriage.bounds import Budget, bound_status
from kubetriage.models.diagnosis import LLMUsage
from kubetriage.models.findings import ModelOpinion
from kubetriage.models.incident import GROUP, PLURAL, VERSION
from kubetriage.pipeline import ModelOutcome


class IncidentStore:
    def __init__(
        self,
        api_client: k8s.ApiClient,
        *,
        request_timeout: float = 10.0,
        budget: Budget | None = None,
    ) -> None:
        self._api = k8s.CustomObjectsApi(api_client)
        self._timeout = request_timeout
        self._budget = budget or Budget.from_total()

    async def get(self, namespace: str, name: str) -> dict[str, Any]:
        return cast(
            "dict[str, Any]",
            await asyncio.to_thread(
                self._api.get_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                _request_timeout=self._timeout,
            ),
        )

    async def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        if namespace:
            result = await asyncio.to_thread(
                self._api.list_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                _request_timeout=self._timeout,
            )
        else:
            result = await asyncio.to_thread(
                self._api.list_cluster_custom_object,
                GROUP,
                VERSION,
                PLURAL,
                _request_timeout=self._timeout,
            )
        return cast("list[dict[str, Any]]", cast("dict[str, Any]", result).get("items", []))

    async def create(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return cast(
            "dict[str, Any]",
            await asyncio.to_thread(
                self._api.create_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                body,
                _request_timeout=self._timeout,
            ),
        )

    async def patch(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return cast(
            "dict[str, Any]",
            await asyncio.to_thread(
                self._api.patch_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                body,
                _request_timeout=self._timeout,
            ),
        )

    async def patch_status(
        self,
        namespace: str,
        name: str,
        status: dict[str, Any],
        *,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        """A merge patch of the status; with ``resource_version`` it applies only if the
        object is still at that version (409 Conflict otherwise), as optimistic locking.
        Every part is kept within its budget first (``kubetriage.bounds``)."""
        body: dict[str, Any] = {"status": bound_status(status, self._budget).status}
        if resource_version is not None:
            body["metadata"] = {"resourceVersion": resource_version}
        return cast(
            "dict[str, Any]",
            await asyncio.to_thread(
                self._api.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                body,
                _request_timeout=self._timeout,
            ),
        )


class StatusModelCache:
    """``pipeline.ModelCache`` kept in the Incident's own ``status.modelCache``: written the
    moment the model answers, read when the same evidence is diagnosed again (an operator
    restart mid-diagnosis), so the answer is paid for once."""

    def __init__(
        self, store: IncidentStore, namespace: str, name: str, status: Mapping[str, Any]
    ) -> None:
        self._store = store
        self._namespace = namespace
        self._name = name
        self._cached = status.get("modelCache") or {}

    async def get(self, digest: str) -> ModelOutcome | None:
        if not isinstance(self._cached, Mapping) or self._cached.get("evidenceHash") != digest:
            return None
        try:
            opinion = ModelOpinion.model_validate_json(self._cached.get("opinion") or "")
            usage = LLMUsage.model_validate(self._cached.get("usage") or {"used": True})
        except ValidationError:
            return None  # a hand-edited or older cache entry is ignored, not trusted
        return ModelOutcome(opinion=opinion, usage=usage)

    async def put(self, digest: str, outcome: ModelOutcome) -> None:
        if outcome.opinion is None:
            return
        entry = {
            "evidenceHash": digest,
            "opinion": outcome.opinion.model_dump_json(by_alias=True)[:16384],
            "usage": outcome.usage.dump_k8s(),
        }
        await self.patch(entry)

    async def patch(self, entry: dict[str, Any]) -> None:
        await self._store.patch_status(self._namespace, self._name, {"modelCache": entry})
        self._cached = entry

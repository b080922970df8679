"""Incident objects through the official ``kubernetes`` client: read, create, patch spec and
status (optionally at a resourceVersion). A small adapter at the edge and the one Incident
client; used by the handlers (status writes that must be visible while a diagnosis runs), the
Alertmanager receiver's writer, the notifier, and the replay tooling. Calls are sync in the
client, so each runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from kubetriage.bounds import Budget, bound_status
from kubetriage.models.diagnosis import LLMUsage
from kubetriage.models.findings import ModelOpinion
from kubetriage.models.incident import GROUP, PLURAL, VERSION
from kubetriage.pipeline import ModelOutcome
from kubetriage.settings import Settings


def _at_version(body: dict[str, Any], resource_version: str | None) -> dict[str, Any]:
    """``body`` that applies only if the object is still at ``resource_version`` (409
    Conflict otherwise): optimistic locking. Unchanged without a version."""
    if resource_version is None:
        return body
    return {**body, "metadata": {**body.get("metadata", {}), "resourceVersion": resource_version}}


class IncidentStore:
    """The one client of the Incident API: the handlers, the receiver's writer, the
    notifier, the Slack endpoint, ``kubectl triage`` and the replay tooling all use it. Errors
    are the client's ``ApiException`` (404 Not Found, 409 Conflict or AlreadyExists...)."""

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

    @classmethod
    def from_settings(cls, api_client: k8s.ApiClient, settings: Settings) -> IncidentStore:
        """The store as the operator and the receiver use it: the settings' request timeout
        and the Incident's size bound."""
        return cls(
            api_client,
            request_timeout=settings.kube_request_timeout_seconds,
            budget=Budget.from_total(settings.incident_max_bytes),
        )

    async def _call(self, method: Callable[..., Any], *args: Any) -> dict[str, Any]:
        """``method(GROUP, VERSION, *args)`` of the custom-objects API, in a worker thread."""
        result = await asyncio.to_thread(
            method, GROUP, VERSION, *args, _request_timeout=self._timeout
        )
        return cast("dict[str, Any]", result)

    async def served(self) -> bool:
        """Whether the API server serves Incidents: ``incidents`` is in the discovery of
        their group and version. False when the CRD is not installed (or not established
        yet); other API errors are raised."""
        try:
            found = await asyncio.to_thread(
                self._api.get_api_resources, GROUP, VERSION, _request_timeout=self._timeout
            )
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return any(resource.name == PLURAL for resource in found.resources or [])

    async def get(self, namespace: str, name: str) -> dict[str, Any]:
        return await self._call(self._api.get_namespaced_custom_object, namespace, PLURAL, name)

    async def find(self, namespace: str, name: str) -> dict[str, Any] | None:
        """``get``, but None when there is no such Incident."""
        try:
            return await self.get(namespace, name)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    async def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        if namespace:
            result = await self._call(self._api.list_namespaced_custom_object, namespace, PLURAL)
        else:
            result = await self._call(self._api.list_cluster_custom_object, PLURAL)
        return cast("list[dict[str, Any]]", result.get("items", []))

    async def create(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call(self._api.create_namespaced_custom_object, namespace, PLURAL, body)

    async def patch(
        self,
        namespace: str,
        name: str,
        body: dict[str, Any],
        *,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        """A merge patch; with ``resource_version`` it applies only at that version."""
        return await self._call(
            self._api.patch_namespaced_custom_object,
            namespace,
            PLURAL,
            name,
            _at_version(body, resource_version),
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
        body = {"status": bound_status(status, self._budget).status}
        return await self._call(
            self._api.patch_namespaced_custom_object_status,
            namespace,
            PLURAL,
            name,
            _at_version(body, resource_version),
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

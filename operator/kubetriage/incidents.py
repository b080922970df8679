"""Incident objects through the official ``kubernetes`` client: read, create, patch spec and
status. A small adapter at the edge; used by the handlers (status writes that must be visible
while a diagnosis runs), the Alertmanager receiver, and the replay tooling. Calls are sync in
the client, so each runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from kubernetes import client as k8s

from kubetriage.models.incident import GROUP, PLURAL, VERSION


class IncidentStore:
    def __init__(self, api_client: k8s.ApiClient, *, request_timeout: float = 10.0) -> None:
        self._api = k8s.CustomObjectsApi(api_client)
        self._timeout = request_timeout

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
        self, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        return cast(
            "dict[str, Any]",
            await asyncio.to_thread(
                self._api.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                {"status": status},
                _request_timeout=self._timeout,
            ),
        )

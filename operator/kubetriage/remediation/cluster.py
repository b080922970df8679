"""The cluster edge of remediation: reads and writes the objects a remediation touches
through the official ``kubernetes`` client in worker threads, raw JSON in and out. Built by
the handlers, used by ``kubetriage.remediation.actions.execute_approval``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kubetriage.kubeclient import raw_body
from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import Remediation
from kubetriage.models.vocabulary import Action
from kubetriage.remediation.patches import Eviction, JsonObj, PatchStep, PatchType
from kubetriage.remediation.plan import Related

CONTENT_TYPES: dict[PatchType, str] = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}
_API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "Node": "v1"}


class ClusterAdapter:
    """Reads and writes the objects a remediation touches, as raw JSON."""

    def __init__(self, api_client: k8s.ApiClient, *, request_timeout: float = 10.0) -> None:
        self._apps = k8s.AppsV1Api(api_client)
        self._core = k8s.CoreV1Api(api_client)
        self._timeout = request_timeout

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        data = raw_body(method, *args, timeout=self._timeout, **kwargs)
        return json.loads(data) if data else None

    async def _run(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self._call, method, *args, **kwargs)

    async def read(self, target: ObjectRef) -> JsonObj | None:
        readers: dict[str, Callable[..., Any]] = {
            "Deployment": self._apps.read_namespaced_deployment,
            "StatefulSet": self._apps.read_namespaced_stateful_set,
        }
        try:
            if target.kind == "Node":
                body = await self._run(self._core.read_node, target.name)
            elif target.kind in readers and target.namespace:
                body = await self._run(readers[target.kind], target.name, target.namespace)
            else:
                return None
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        if isinstance(body, dict):
            body.setdefault("kind", target.kind)
            body.setdefault("apiVersion", _API_VERSIONS[target.kind])
            return body
        return None

    async def related(self, remediation: Remediation) -> Related:
        target = remediation.target
        if remediation.action is Action.ROLLBACK and target.kind == "Deployment":
            listed = await self._run(self._apps.list_namespaced_replica_set, target.namespace)
            return Related(replica_sets=list((listed or {}).get("items") or []))
        if remediation.action is Action.ROLLBACK and target.kind == "StatefulSet":
            listed = await self._run(
                self._apps.list_namespaced_controller_revision, target.namespace
            )
            return Related(controller_revisions=list((listed or {}).get("items") or []))
        if remediation.action is Action.DRAIN_NODE:
            listed = await self._run(
                self._core.list_pod_for_all_namespaces,
                field_selector=f"spec.nodeName={target.name}",
            )
            return Related(pods=list((listed or {}).get("items") or []))
        return Related()

    async def patch(self, step: PatchStep, *, dry_run: bool) -> None:
        patchers: dict[str, Callable[..., Any]] = {
            "Deployment": self._apps.patch_namespaced_deployment,
            "StatefulSet": self._apps.patch_namespaced_stateful_set,
        }
        extra: dict[str, Any] = {"_content_type": CONTENT_TYPES[step.patch_type]}
        if dry_run:
            extra["dry_run"] = "All"
        if step.kind == "Node":
            await self._run(self._core.patch_node, step.name, step.body, **extra)
        else:
            await self._run(patchers[step.kind], step.name, step.namespace, step.body, **extra)

    async def evict(self, eviction: Eviction, *, dry_run: bool) -> None:
        body = k8s.V1Eviction(
            metadata=k8s.V1ObjectMeta(name=eviction.name, namespace=eviction.namespace),
            delete_options=k8s.V1DeleteOptions(dry_run=["All"]) if dry_run else None,
        )
        extra: dict[str, Any] = {"dry_run": "All"} if dry_run else {}
        await self._run(
            self._core.create_namespaced_pod_eviction,
            eviction.name,
            eviction.namespace,
            body,
            **extra,
        )

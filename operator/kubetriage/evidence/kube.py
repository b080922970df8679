"""Collect the Kubernetes objects and logs around an incident and build its Evidence.

The I/O edge of evidence gathering, called by the diagnosis pipeline once per Incident. It
uses the official synchronous ``kubernetes`` client through ``asyncio.to_thread`` and hands
everything it read to the pure ``build_evidence``. Objects are read as raw JSON
(``_preload_content=False``), so the builder sees exactly what the API server sent, the same
shape as a case file's ``cluster`` list.

What is read: the target (the first candidate from ``candidate_targets`` that exists), its
owner chain up to the workload and back down to the workload's ReplicaSets/revisions and pods,
the events of those objects, log tails of troubled containers (current and previous), their
nodes and volume claims, and the namespace's Services, Endpoints, NetworkPolicies, HPAs,
ResourceQuotas, Ingresses, cert-manager Certificates and ConfigMaps (keys only: values are
dropped as soon as a response is parsed). Secrets are never read, not even for existence.

Errors: a failing optional lookup becomes a line in ``collection_errors``; an API server that
cannot be reached or answers 5xx/429 while the target is looked up raises
``TemporaryCollectionError`` so the operator retries; a target that does not exist is a fact
reported in the evidence, not an error.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubetriage.errors import RetryableError
from kubetriage.evidence.build import build_evidence
from kubetriage.evidence.index import WORKLOAD_KINDS, referenced_config, sort_pods
from kubetriage.evidence.logs import tail_from_text
from kubetriage.evidence.raw import JsonDict
from kubetriage.evidence.dependencies import (
    config_map_hosts,
    event_texts,
    mentioned_objects,
    named_hosts,
    pod_texts,
    resolve,
)
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.targets import focus_containers
from kubetriage.kubeclient import api_client
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence, LogTail
from kubetriage.models.incident import Alert
from kubetriage.models.objects import controller_ref, selector_query
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope, allowed_candidates

# Candidates tried before giving up on finding the target (each costs one GET).
_MAX_CANDIDATES = 8
# Pods whose healthy containers' logs are read too (the first ones, troubled pods first).
_HEALTHY_LOG_PODS = 3
# Owner kinds worth following from a pod upwards.
_OWNER_KINDS = frozenset({"ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job"})


class TemporaryCollectionError(RetryableError):
    """The API server was unreachable or failing (5xx, 429, timeout); worth retrying."""


def api_client_from_kubeconfig(path: str | None) -> client.ApiClient:
    """An ApiClient from ``path``, else in-cluster config, else the default kubeconfig.

    Delegates to ``kubetriage.kubeclient`` so the process has one way to build clients.
    """
    return api_client(path)


@dataclass
class _Run:
    """What one ``collect`` call has gathered so far, and its request gate."""

    gate: asyncio.Semaphore
    objects: dict[tuple[str, str, str], JsonDict] = field(default_factory=dict)
    logs: list[LogTail] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)
    unavailable: set[str] = field(default_factory=set)

    def add(self, obj: JsonDict | None) -> JsonDict | None:
        if obj is None:
            return None
        meta = obj.get("metadata") or {}
        key = (str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))
        self.objects.setdefault(key, obj)
        return self.objects[key]

    def error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)


@dataclass(frozen=True)
class _Kind:
    """How to read one kind: its apiVersion and the typed client's get method."""

    api_version: str
    read: Callable[..., Any]
    namespaced: bool = True


def _strip_config_map(obj: JsonDict) -> JsonDict:
    """Keep a ConfigMap's identity, key names and when it was written (the change timeline);
    its values never leave this function."""
    meta = obj.get("metadata") or {}
    writes = [
        {
            "manager": entry.get("manager"),
            "operation": entry.get("operation"),
            "time": entry.get("time"),
        }
        for entry in meta.get("managedFields") or []
        if isinstance(entry, dict)
    ]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "creationTimestamp": meta.get("creationTimestamp"),
            "managedFields": writes,
        },
        "data": dict.fromkeys(obj.get("data") or {}, ""),
        "binaryData": dict.fromkeys(obj.get("binaryData") or {}, ""),
        # Only the cluster Service hosts the values name (dependencies to follow).
        "serviceHosts": config_map_hosts(obj),
    }


class KubeEvidenceCollector:
    """Reads the cluster around an incident's target; one instance serves many incidents."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        limits: EvidenceLimits,
        request_timeout: float = 10.0,
        concurrency: int = 8,
    ) -> None:
        self._limits = limits
        self._timeout = request_timeout
        self._concurrency = concurrency
        self._core = client.CoreV1Api(api_client)
        self._apps = client.AppsV1Api(api_client)
        self._batch = client.BatchV1Api(api_client)
        self._networking = client.NetworkingV1Api(api_client)
        self._autoscaling = client.AutoscalingV2Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)
        self._kinds: dict[str, _Kind] = {
            "Pod": _Kind("v1", self._core.read_namespaced_pod),
            "Service": _Kind("v1", self._core.read_namespaced_service),
            "Endpoints": _Kind("v1", self._core.read_namespaced_endpoints),
            "PersistentVolumeClaim": _Kind(
                "v1", self._core.read_namespaced_persistent_volume_claim
            ),
            "Node": _Kind("v1", self._core.read_node, namespaced=False),
            "Deployment": _Kind("apps/v1", self._apps.read_namespaced_deployment),
            "StatefulSet": _Kind("apps/v1", self._apps.read_namespaced_stateful_set),
            "DaemonSet": _Kind("apps/v1", self._apps.read_namespaced_daemon_set),
            "ReplicaSet": _Kind("apps/v1", self._apps.read_namespaced_replica_set),
            "Job": _Kind("batch/v1", self._batch.read_namespaced_job),
            "CronJob": _Kind("batch/v1", self._batch.read_namespaced_cron_job),
            "ConfigMap": _Kind("v1", self._core.read_namespaced_config_map),
            "NetworkPolicy": _Kind(
                "networking.k8s.io/v1", self._networking.read_namespaced_network_policy
            ),
            "Ingress": _Kind("networking.k8s.io/v1", self._networking.read_namespaced_ingress),
            "HorizontalPodAutoscaler": _Kind(
                "autoscaling/v2", self._autoscaling.read_namespaced_horizontal_pod_autoscaler
            ),
        }

    # --- raw calls ------------------------------------------------------------------------

    def _json(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        response = method(*args, _preload_content=False, _request_timeout=self._timeout, **kwargs)
        try:
            data: bytes = response.data
        finally:
            response.release_conn()
        return data

    async def _get(
        self,
        run: _Run,
        what: str,
        method: Callable[..., Any],
        *args: Any,
        core: bool = False,
        kind: str | None = None,
        **kwargs: Any,
    ) -> bytes | None:
        """One API call; None for 404 and for failures recorded in ``run``.

        ``core`` calls (the target lookup) raise TemporaryCollectionError on 5xx, 429 and
        connection failures; ``kind`` is marked unavailable when its lookup failed, so the
        builder treats its absence as unknown.
        """
        async with run.gate:
            try:
                return await asyncio.to_thread(self._json, method, *args, **kwargs)
            except ApiException as exc:
                status = int(exc.status or 0)
                if status == 404:
                    # A missing object, or a resource type this cluster does not serve.
                    if kind is not None:
                        run.unavailable.add(kind)
                    return None
                retryable = status == 0 or status == 429 or status >= 500
                if core and retryable:
                    raise TemporaryCollectionError(f"{what}: HTTP {status} {exc.reason}") from exc
                label = "forbidden" if status in {401, 403} else f"HTTP {status} {exc.reason}"
                run.error(f"{what}: {label}")
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if core:
                    raise TemporaryCollectionError(f"{what}: {type(exc).__name__}") from exc
                run.error(f"{what}: {type(exc).__name__}")
            if kind is not None:
                run.unavailable.add(kind)
            return None

    async def _read(
        self, run: _Run, kind: str, namespace: str | None, name: str, *, core: bool = False
    ) -> JsonDict | None:
        spec = self._kinds.get(kind)
        if spec is None:
            if kind == "Certificate" and namespace:
                raw = await self._get(
                    run,
                    f"get Certificate {namespace}/{name}",
                    self._custom.get_namespaced_custom_object,
                    "cert-manager.io",
                    "v1",
                    namespace,
                    "certificates",
                    name,
                    core=core,
                )
                return run.add(self._parse(run, raw, "Certificate", "cert-manager.io/v1"))
            run.error(
                "Secrets are never read" if kind == "Secret" else f"cannot look up kind {kind}"
            )
            return None
        where = f"{namespace}/{name}" if spec.namespaced else name
        args = (name, namespace) if spec.namespaced else (name,)
        if spec.namespaced and not namespace:
            return None
        raw = await self._get(run, f"get {kind} {where}", spec.read, *args, core=core)
        obj = self._parse(run, raw, kind, spec.api_version)
        if obj is not None and kind == "ConfigMap":
            obj = _strip_config_map(obj)
        return run.add(obj)

    @staticmethod
    def _parse(run: _Run, raw: bytes | None, kind: str, api_version: str) -> JsonDict | None:
        if raw is None:
            return None
        try:
            body = json.loads(raw)
        except ValueError:
            run.error(f"unparseable {kind} response")
            return None
        if not isinstance(body, dict):
            return None
        body.setdefault("kind", kind)
        body.setdefault("apiVersion", api_version)
        return body

    async def _namespace_pods(
        self, run: _Run, namespace: str, *, what: str, **kwargs: Any
    ) -> list[JsonDict]:
        return await self._list(
            run, "Pod", "v1", self._core.list_namespaced_pod, namespace, what=what, **kwargs
        )

    async def _list(
        self,
        run: _Run,
        kind: str,
        api_version: str,
        method: Callable[..., Any],
        *args: Any,
        what: str,
        **kwargs: Any,
    ) -> list[JsonDict]:
        kwargs.setdefault("limit", self._limits.max_list_items)
        raw = await self._get(run, what, method, *args, kind=kind, **kwargs)
        body = self._parse(run, raw, f"{kind}List", api_version)
        if body is None:
            return []
        items = [item for item in body.get("items") or [] if isinstance(item, dict)]
        for item in items:
            # Items of a list response carry no kind/apiVersion of their own.
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", api_version)
        if (body.get("metadata") or {}).get("continue"):
            run.truncated.append(f"{what}: only the first {len(items)} read")
            run.unavailable.add(kind)  # absence from a partial list proves nothing
        return items

    # --- the walk -------------------------------------------------------------------------

    async def _find_target(
        self, run: _Run, target: ObjectRef | None, alerts: list[Alert], scope: Scope
    ) -> tuple[ObjectRef | None, JsonDict | None]:
        candidates, refused = allowed_candidates(scope, target, alerts)
        for ref in refused[:3]:
            run.error(f"not read: {scope.refusal(ref)}")
        for candidate in candidates[:_MAX_CANDIDATES]:
            if candidate.kind == "Secret":
                # Never read, not even for existence; its users are found through pods.
                return candidate, None
            if candidate.kind == "Namespace":
                # Namespace-wide incident; reading the Namespace object itself adds nothing.
                if target is not None and target.kind != "Namespace":
                    run.error(f"target {target.display()} not found; using {candidate.display()}")
                return candidate, None
            obj = await self._read(
                run, candidate.kind, candidate.namespace, candidate.name, core=True
            )
            if obj is not None:
                if target is not None and not candidate.same_object(target):
                    run.error(f"target {target.display()} not found; using {candidate.display()}")
                return candidate, obj
        if len(candidates) > 1:
            run.error(
                "none of the candidate targets exists: "
                + ", ".join(c.display() for c in candidates[:_MAX_CANDIDATES])
            )
        return (candidates[0] if candidates else None), None

    async def _climb(self, run: _Run, obj: JsonDict) -> JsonDict | None:
        """The top-most workload owning ``obj`` (Pod -> ReplicaSet -> Deployment...)."""
        workload = obj if obj.get("kind") in WORKLOAD_KINDS else None
        current = obj
        for _ in range(3):
            ref = controller_ref(current)
            if ref is None or ref.get("kind") not in _OWNER_KINDS or not ref.get("name"):
                break
            owner = await self._read(run, str(ref["kind"]), _ns(current), str(ref["name"]))
            if owner is None:
                break
            if owner.get("kind") in WORKLOAD_KINDS:
                workload = owner
            current = owner
        return workload

    async def _pods_for(
        self, run: _Run, target: ObjectRef | None, target_obj: JsonDict | None, scope: Scope
    ) -> tuple[list[JsonDict], JsonDict | None]:
        """Pods in scope and the workload, following the target's kind."""
        pods: list[JsonDict] = []
        workload: JsonDict | None = None
        if target is None:
            return pods, workload
        kind, namespace = target.kind, target.namespace or ""
        if target_obj is not None and kind == "Pod":
            pods = [target_obj]
            workload = await self._climb(run, target_obj)
        elif target_obj is not None and kind in WORKLOAD_KINDS:
            workload = await self._climb(run, target_obj)
        elif target_obj is not None and kind == "HorizontalPodAutoscaler":
            ref = (target_obj.get("spec") or {}).get("scaleTargetRef") or {}
            if ref.get("kind") in self._kinds and ref.get("name"):
                scaled = await self._read(run, str(ref["kind"]), namespace, str(ref["name"]))
                workload = await self._climb(run, scaled) if scaled is not None else None
        elif target_obj is not None and kind == "Service":
            selector = (target_obj.get("spec") or {}).get("selector") or {}
            if selector:
                pods = await self._namespace_pods(
                    run,
                    namespace,
                    what=f"list pods of Service {namespace}/{target.name}",
                    label_selector=selector_query({"matchLabels": selector}),
                )
        elif kind == "PersistentVolumeClaim":
            listed = await self._namespace_pods(
                run,
                namespace,
                what=f"list pods in {namespace}",
            )
            pods = [
                p
                for p in listed
                if any(
                    ((v.get("persistentVolumeClaim") or {}).get("claimName")) == target.name
                    for v in (p.get("spec") or {}).get("volumes") or []
                )
            ]
        elif kind in {"ConfigMap", "Secret"}:
            listed = await self._namespace_pods(
                run,
                namespace,
                what=f"list pods in {namespace}",
            )
            pods = [
                p for p in listed if (kind, target.name) in referenced_config(p.get("spec") or {})
            ]
        elif kind == "Node":
            listed = await self._list(
                run,
                "Pod",
                "v1",
                self._core.list_pod_for_all_namespaces,
                what=f"list pods on node {target.name}",
                field_selector=f"spec.nodeName={target.name}",
            )
            # The node's other tenants are shown only where the tenancy rule allows.
            pods = [p for p in listed if scope.may_read(_ns(p))]
        elif kind == "Namespace":
            pods = await self._list(
                run,
                "Pod",
                "v1",
                self._core.list_namespaced_pod,
                target.name,
                what=f"list pods in {target.name}",
            )
        if (
            workload is None
            and pods
            and kind
            in {
                "Service",
                "PersistentVolumeClaim",
                "ConfigMap",
                "Secret",
            }
        ):
            workload = await self._climb(run, pods[0])
        return pods, workload

    async def _workload_children(self, run: _Run, workload: JsonDict) -> list[JsonDict]:
        """The workload's pods (by its selector) plus its ReplicaSets or revisions."""
        namespace, kind = _ns(workload), str(workload.get("kind"))
        selector = selector_query((workload.get("spec") or {}).get("selector") or {})
        if selector is None:
            run.error(f"{kind} {namespace}/{_name(workload)} has no usable selector")
            return []
        what = f"{kind} {namespace}/{_name(workload)}"
        calls = [
            self._list(
                run,
                "Pod",
                "v1",
                self._core.list_namespaced_pod,
                namespace,
                what=f"list pods of {what}",
                label_selector=selector,
            )
        ]
        if kind == "Deployment":
            calls.append(
                self._list(
                    run,
                    "ReplicaSet",
                    "apps/v1",
                    self._apps.list_namespaced_replica_set,
                    namespace,
                    what=f"list ReplicaSets of {what}",
                    label_selector=selector,
                )
            )
        elif kind in {"StatefulSet", "DaemonSet"}:
            calls.append(
                self._list(
                    run,
                    "ControllerRevision",
                    "apps/v1",
                    self._apps.list_namespaced_controller_revision,
                    namespace,
                    what=f"list revisions of {what}",
                    label_selector=selector,
                )
            )
        results = await asyncio.gather(*calls)
        pods = results[0]
        for items in results[1:]:
            for item in items:
                run.add(item)
        return pods

    # --- the rest of the picture ------------------------------------------------------------

    async def _events_about(self, run: _Run, kind: str, namespace: str | None, name: str) -> None:
        selector = f"involvedObject.kind={kind},involvedObject.name={name}"
        # Events about cluster-scoped objects (Nodes) are recorded in "default" by the
        # kubelet and the node controller; listing there keeps the RBAC namespaced.
        where = namespace or "default"
        items = await self._list(
            run,
            "Event",
            "v1",
            self._core.list_namespaced_event,
            where,
            what=f"list events of {kind} {namespace + '/' if namespace else ''}{name}",
            field_selector=selector,
            limit=self._limits.max_events_fetched,
        )
        for item in items:
            run.add(item)

    async def _log(
        self, run: _Run, namespace: str, pod: str, container: str, *, previous: bool
    ) -> None:
        limits = self._limits
        # limitBytes cuts the *start* of the tail window, so it is only a safety cap against
        # giant lines; the builder trims to max_log_tail_bytes keeping the newest lines.
        cap = max(limits.max_log_tail_bytes * 4, limits.max_log_lines * limits.max_log_line_bytes)
        what = f"logs of {namespace}/{pod}/{container}{' (previous)' if previous else ''}"
        async with run.gate:
            try:
                raw = await asyncio.to_thread(
                    self._json,
                    self._core.read_namespaced_pod_log,
                    pod,
                    namespace,
                    container=container,
                    previous=previous,
                    tail_lines=limits.max_log_lines,
                    limit_bytes=cap,
                )
            except ApiException as exc:
                # 400: no previous terminated container, or the container is still waiting
                # to start; 404: the pod went away. Both are normal, not collection errors.
                if exc.status not in {400, 404}:
                    run.error(f"{what}: HTTP {exc.status} {exc.reason}")
                return
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                run.error(f"{what}: {type(exc).__name__}")
                return
        text = raw[:cap].decode("utf-8", errors="replace")
        if text.strip():
            run.logs.append(
                tail_from_text(namespace, pod, container, text, previous=previous, limits=limits)
            )

    def _log_requests(
        self, pods: list[JsonDict], focus: list[str]
    ) -> list[tuple[str, str, str, bool]]:
        """(namespace, pod, container, previous) to fetch, most useful first, bounded."""
        wanted: list[tuple[int, tuple[str, str, str, bool]]] = []
        for pod_rank, pod in enumerate(pods[: self._limits.max_pods]):
            spec, status = pod.get("spec") or {}, pod.get("status") or {}
            statuses = {
                cs.get("name"): cs
                for cs in (status.get("containerStatuses") or [])
                + (status.get("initContainerStatuses") or [])
                if isinstance(cs, dict)
            }
            for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
                name = container.get("name") if isinstance(container, dict) else None
                if not isinstance(name, str):
                    continue
                cs = statuses.get(name) or {}
                state = cs.get("state") or {}
                restarted = int(cs.get("restartCount") or 0) > 0 or "terminated" in (
                    cs.get("lastState") or {}
                )
                troubled = cs.get("ready") is False or "running" not in state or restarted
                in_focus = name in focus
                # Healthy containers of the first pods too: a failing dependency shows only
                # in the logs of a container that runs fine, and not every replica logs it
                # (only the one that took the failing request).
                if not (troubled or in_focus or pod_rank < _HEALTHY_LOG_PODS):
                    continue
                priority = (0 if in_focus else 1) * 1000 + pod_rank
                wanted.append((priority, (_ns(pod), _name(pod), name, False)))
                if restarted:
                    wanted.append((priority, (_ns(pod), _name(pod), name, True)))
        wanted.sort(key=lambda item: item[0])
        return [request for _, request in wanted[: self._limits.max_log_tails]]

    async def _namespace_objects(self, run: _Run, namespace: str) -> None:
        core, net = self._core, self._networking
        calls = [
            self._list(
                run,
                "Service",
                "v1",
                core.list_namespaced_service,
                namespace,
                what=f"list Services in {namespace}",
            ),
            self._list(
                run,
                "Endpoints",
                "v1",
                core.list_namespaced_endpoints,
                namespace,
                what=f"list Endpoints in {namespace}",
            ),
            self._list(
                run,
                "Pod",
                "v1",
                core.list_namespaced_pod,
                namespace,
                what=f"list pods in {namespace}",
            ),
            self._list(
                run,
                "NetworkPolicy",
                "networking.k8s.io/v1",
                net.list_namespaced_network_policy,
                namespace,
                what=f"list NetworkPolicies in {namespace}",
            ),
            self._list(
                run,
                "Ingress",
                "networking.k8s.io/v1",
                net.list_namespaced_ingress,
                namespace,
                what=f"list Ingresses in {namespace}",
            ),
            self._list(
                run,
                "HorizontalPodAutoscaler",
                "autoscaling/v2",
                self._autoscaling.list_namespaced_horizontal_pod_autoscaler,
                namespace,
                what=f"list HPAs in {namespace}",
            ),
            self._list(
                run,
                "ResourceQuota",
                "v1",
                core.list_namespaced_resource_quota,
                namespace,
                what=f"list ResourceQuotas in {namespace}",
            ),
            self._list(
                run,
                "PersistentVolumeClaim",
                "v1",
                core.list_namespaced_persistent_volume_claim,
                namespace,
                what=f"list PVCs in {namespace}",
            ),
            self._list(
                run,
                "ConfigMap",
                "v1",
                core.list_namespaced_config_map,
                namespace,
                what=f"list ConfigMaps in {namespace}",
            ),
        ]
        results = await asyncio.gather(*calls)
        for items in results:
            for item in items:
                run.add(_strip_config_map(item) if item.get("kind") == "ConfigMap" else item)
        await self._certificates(run, namespace)

    async def _certificates(self, run: _Run, namespace: str) -> None:
        """cert-manager Certificates, then (when there are any) the CertificateRequests and
        Issuers behind their renewals. A 404 means cert-manager is not installed, which is
        normal and not reported."""
        if not await self._cert_manager_list(run, namespace, "Certificate", "certificates"):
            return
        await asyncio.gather(
            self._cert_manager_list(run, namespace, "CertificateRequest", "certificaterequests"),
            self._cert_manager_list(run, namespace, "Issuer", "issuers"),
        )

    async def _cert_manager_list(self, run: _Run, namespace: str, kind: str, plural: str) -> int:
        raw = await self._get(
            run,
            f"list {kind}s in {namespace}",
            self._custom.list_namespaced_custom_object,
            "cert-manager.io",
            "v1",
            namespace,
            plural,
            limit=self._limits.max_list_items,
        )
        body = self._parse(run, raw, f"{kind}List", "cert-manager.io/v1")
        items = [i for i in (body or {}).get("items") or [] if isinstance(i, dict)]
        for item in items:
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", "cert-manager.io/v1")
            # A request's PEM payloads are long and never needed; its conditions are.
            (item.get("spec") or {}).pop("request", None)
            (item.get("status") or {}).pop("certificate", None)
            (item.get("status") or {}).pop("ca", None)
            run.add(item)
        return len(items)

    async def _nodes(self, run: _Run, pods: list[JsonDict], target: ObjectRef | None) -> None:
        # Pods and target are in scope here; the Nodes they run on are their context.
        names: list[str] = []
        if target is not None and target.kind == "Node":
            names.append(target.name)
        for pod in pods[: self._limits.max_pods]:
            node = (pod.get("spec") or {}).get("nodeName")
            if isinstance(node, str) and node not in names:
                names.append(node)
        names = names[: self._limits.max_nodes]
        unplaced = any(not (p.get("spec") or {}).get("nodeName") for p in pods)
        if unplaced or (target is not None and target.kind == "Namespace"):
            # Where could the pod go? Every node's taints and allocatable matter then.
            listed = await self._list(run, "Node", "v1", self._core.list_node, what="list nodes")
            nodes = [run.add(n) for n in listed]
        else:
            nodes = await asyncio.gather(*(self._read(run, "Node", None, n) for n in names))
        for node in nodes:
            if node is not None:
                # The image list of a node is long and never relevant to a diagnosis.
                (node.get("status") or {}).pop("images", None)

    def _event_subjects(
        self,
        run: _Run,
        chosen: ObjectRef | None,
        workload: JsonDict | None,
        pods: list[JsonDict],
    ) -> list[tuple[str, str | None, str]]:
        """Objects whose events are read one field-selected list each, bounded."""
        limits = self._limits
        subjects: list[tuple[str, str | None, str]] = []
        if chosen is not None and chosen.kind != "Namespace":
            subjects.append((chosen.kind, chosen.namespace, chosen.name))
        if workload is not None:
            subjects.append((str(workload.get("kind")), _ns(workload), _name(workload)))
        kept = pods[: limits.max_pods]
        subjects += [("Pod", _ns(p), _name(p)) for p in kept]
        claims = {
            (_ns(p), str(claim))
            for p in kept
            for v in (p.get("spec") or {}).get("volumes") or []
            if (claim := (v.get("persistentVolumeClaim") or {}).get("claimName"))
        }
        nodes = {(p.get("spec") or {}).get("nodeName") for p in kept}
        if chosen is not None and chosen.kind == "Node":
            nodes.add(chosen.name)
        for (kind, ns, name), obj in run.objects.items():
            if kind == "ReplicaSet" and workload is not None:
                owner = controller_ref(obj) or {}
                if owner.get("kind") == workload.get("kind") and owner.get("name") == _name(
                    workload
                ):
                    subjects.append((kind, ns, name))
            elif kind == "Node" and name in nodes:
                subjects.append((kind, None, name))
            elif kind == "PersistentVolumeClaim" and (ns, name) in claims:
                subjects.append((kind, ns, name))
            elif kind == "HorizontalPodAutoscaler" and workload is not None:
                ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
                if ref.get("name") == _name(workload):
                    subjects.append((kind, ns, name))
            elif kind == "Certificate":
                subjects.append((kind, ns, name))
        unique = list(dict.fromkeys(subjects))
        cap = limits.max_pods + limits.max_revisions + limits.max_nodes + limits.max_pvcs + 8
        if len(unique) > cap:
            run.truncated.append(f"event lookups: {cap} of {len(unique)} objects")
        return unique[:cap]

    async def _follow_dependencies(
        self,
        run: _Run,
        namespace: str,
        pods: list[JsonDict],
        workload: JsonDict | None,
        scope: Scope,
    ) -> None:
        """Read the Services (and workloads) the pods name in env, args, ConfigMaps, logs and
        events, in any namespace the tenancy rule (``scope.may_read``) allows, with their
        pods, ReplicaSets, workload and events; ``build_evidence`` summarises them as
        ``Evidence.dependencies``. A dependency the rule keeps out is a collection error."""
        limits = self._limits
        lines = [
            (f"log {t.namespace}/{t.pod}/{t.container}", line)
            for t in run.logs
            if t.namespace == namespace
            for line in t.lines
        ]
        lines += event_texts(o for (kind, ns, _), o in run.objects.items() if kind == "Event")
        config_maps = [
            o for (kind, ns, _), o in run.objects.items() if kind == "ConfigMap" and ns == namespace
        ]
        hosts = named_hosts(pod_texts(pods[: limits.max_pods], workload) + lines, config_maps)
        if lines:
            # An error line may name a workload of the namespace that no Service fronts.
            listed = await self._list(
                run,
                "Deployment",
                "apps/v1",
                self._apps.list_namespaced_deployment,
                namespace,
                what=f"list Deployments in {namespace}",
            )
            for item in listed:
                run.add(item)
        local = [
            o
            for (kind, ns, _), o in run.objects.items()
            if ns == namespace and kind in ("Service", *WORKLOAD_KINDS)
        ]
        hosts += mentioned_objects(lines, local)
        exclude = set()
        if workload is not None:
            exclude.add((str(workload.get("kind")), namespace, _name(workload)))
        resolved = resolve(hosts, namespace, exclude)
        followed = 0
        for kind, ns, name, _ in resolved:
            if followed >= limits.max_dependencies:
                run.truncated.append(
                    f"dependencies: followed {followed} of {len(resolved)} named hosts"
                )
                break
            if not scope.may_read(ns):
                ref = ObjectRef(kind=kind, namespace=ns, name=name)
                run.error(f"dependency not followed: {scope.refusal(ref)}")
                continue
            obj = run.objects.get((kind, ns, name))
            if obj is None and kind in self._kinds:
                obj = await self._read(run, kind, ns, name)
            if obj is None:
                continue
            followed += 1
            await self._dependency_children(run, obj, namespace)

    async def _dependency_children(self, run: _Run, obj: JsonDict, incident_namespace: str) -> None:
        """Pods and ReplicaSets behind a dependency, its workload and their events, and, in
        another namespace, the NetworkPolicies that decide whether it accepts the call."""
        namespace, spec = _ns(obj), obj.get("spec") or {}
        if namespace != incident_namespace:
            policies = await self._list(
                run,
                "NetworkPolicy",
                "networking.k8s.io/v1",
                self._networking.list_namespaced_network_policy,
                namespace,
                what=f"list NetworkPolicies in {namespace}",
            )
            for policy in policies:
                run.add(policy)
        if obj.get("kind") == "Service":
            selector = selector_query({"matchLabels": spec.get("selector") or {}})
        else:
            selector = selector_query(spec.get("selector") or {})
        if selector is None:
            return
        what = f"{obj.get('kind')} {namespace}/{_name(obj)}"
        if (
            obj.get("kind") == "Service"
            and run.objects.get(("Endpoints", namespace, _name(obj))) is None
        ):
            await self._read(run, "Endpoints", namespace, _name(obj))
        pods, replica_sets = await asyncio.gather(
            self._list(
                run,
                "Pod",
                "v1",
                self._core.list_namespaced_pod,
                namespace,
                what=f"list pods of dependency {what}",
                label_selector=selector,
            ),
            self._list(
                run,
                "ReplicaSet",
                "apps/v1",
                self._apps.list_namespaced_replica_set,
                namespace,
                what=f"list ReplicaSets of dependency {what}",
                label_selector=selector,
            ),
        )
        for item in pods + replica_sets:
            run.add(item)
        owner = next((w for rs in replica_sets if (w := controller_ref(rs)) is not None), None)
        subjects = [(str(obj.get("kind")), _name(obj))]
        if owner is not None and owner.get("kind") in self._kinds and owner.get("name"):
            subjects.append((str(owner["kind"]), str(owner["name"])))
            if run.objects.get((str(owner["kind"]), namespace, str(owner["name"]))) is None:
                await self._read(run, str(owner["kind"]), namespace, str(owner["name"]))
        subjects += [("Pod", _name(p)) for p in pods[:3]]
        await asyncio.gather(*(self._events_about(run, k, namespace, n) for k, n in subjects))

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
        """Read the cluster around the incident and build its bounded Evidence; only what
        ``scope`` (the tenancy rule for the Incident's namespace) allows is read."""
        run = _Run(gate=asyncio.Semaphore(self._concurrency))
        chosen, target_obj = await self._find_target(run, target, alerts, scope)
        run.add(target_obj)
        scoped_pods, workload = await self._pods_for(run, chosen, target_obj, scope)
        if workload is not None:
            scoped_pods += await self._workload_children(run, workload)
        pods: list[JsonDict] = []
        for pod in scoped_pods:
            kept = run.add(pod)
            if kept is not None and all(kept is not p for p in pods):
                pods.append(kept)
        pods = sort_pods(pods, target_obj if target_obj is not None and pods else None)

        namespace = chosen.name if chosen is not None and chosen.kind == "Namespace" else None
        namespace = namespace or (chosen.namespace if chosen is not None else None)
        if namespace is None and workload is not None:
            namespace = _ns(workload)

        tasks = []
        if namespace:
            tasks.append(self._namespace_objects(run, namespace))
        tasks.append(self._nodes(run, pods, chosen))
        tasks += [
            self._log(run, ns, pod, container, previous=previous)
            for ns, pod, container, previous in self._log_requests(pods, focus_containers(alerts))
        ]
        await asyncio.gather(*tasks)

        # Events last, once the objects in scope are known.
        if chosen is not None and chosen.kind == "Namespace":
            events = await self._list(
                run,
                "Event",
                "v1",
                self._core.list_namespaced_event,
                chosen.name,
                what=f"list events in {chosen.name}",
                limit=self._limits.max_events_fetched,
            )
            for event in events:
                run.add(event)
        subjects = self._event_subjects(run, chosen, workload, pods)
        await asyncio.gather(*(self._events_about(run, k, ns, n) for k, ns, n in subjects))
        # Dependencies last: their names come from logs, env, ConfigMaps and events.
        if namespace:
            await self._follow_dependencies(run, namespace, pods, workload, scope)

        return build_evidence(
            list(run.objects.values()),
            run.logs,
            target=chosen,
            alerts=alerts,
            title=title,
            description=description,
            now=now,
            limits=self._limits,
            unavailable_kinds=run.unavailable,
            collection_errors=run.errors,
            truncated=run.truncated,
        )

"""The Kubernetes API as the evidence collector reads it: one ``KubeReader`` per collector,
reading into one ``CollectionRun`` per ``collect`` call.

Each kind is read through the official typed client (one table of kinds, ``kinds``) or as a
custom object, by requests that follow the collector's error policy (``ApiRequests``,
``kubetriage.evidence.api_requests``). Objects are read as raw JSON
(``_preload_content=False``), so the builder sees exactly what the API server sent, the same
shape as a case file's ``cluster`` list. ConfigMap values are dropped as soon as a response is
parsed; Secrets are never read.
"""

from __future__ import annotations

from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubetriage.evidence.api_requests import ApiRequests, CollectionRun
from kubetriage.evidence.cloud_controllers import config_map_credentials
from kubetriage.evidence.config_values import config_map_topics
from kubetriage.evidence.connection_slots import config_map_connection_limit, config_map_pool_sizes
from kubetriage.evidence.corefile import config_map_forwards
from kubetriage.evidence.dependencies import config_map_endpoints, config_map_hosts
from kubetriage.evidence.kinds import typed_kinds
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import tail_from_text
from kubetriage.evidence.readcache import ReadCache
from kubetriage.models.objects import JsonDict
from kubetriage.models.signals import LogSource


def without_images(node: JsonDict) -> None:
    """Drop a Node's image list: long, and never relevant to a diagnosis."""
    (node.get("status") or {}).pop("images", None)


def strip_config_map(obj: JsonDict) -> JsonDict:
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
        # ... and those with a port, structured (a wrong port is a config problem).
        "serviceEndpoints": config_map_endpoints(obj),
        # ... and the topics and queues its keys say they hold (a consumer's queue).
        "topicValues": config_map_topics(obj),
        # ... and the zones a DNS server's Corefile forwards, with their upstream addresses.
        "dnsForwards": config_map_forwards(obj),
        # ... and a server's connection limit, and a client's pool sizes (connection slots).
        "connectionLimit": config_map_connection_limit(obj),
        "poolSizes": config_map_pool_sizes(obj),
        # ... and the Secrets a cloud config names for its credentials.
        "credentialSecrets": config_map_credentials(obj),
    }


def _typed(items: list[Any], kind: str, api_version: str) -> list[JsonDict]:
    """The objects of a list response; its items carry no kind/apiVersion of their own."""
    objects = [item for item in items if isinstance(item, dict)]
    for item in objects:
        item.setdefault("kind", kind)
        item.setdefault("apiVersion", api_version)
    return objects


class KubeReader(ApiRequests):
    """Gets, lists, events and log tails as raw JSON, with the collector's error policy
    (``ApiRequests``).
    ``shared``: the operator's ``ReadCache``, when concurrent diagnoses share their reads."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        limits: EvidenceLimits,
        request_timeout: float,
        shared: ReadCache | None = None,
    ) -> None:
        super().__init__(request_timeout=request_timeout, shared=shared)
        self._limits = limits
        self._core = client.CoreV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)
        self._apis = client.ApisApi(api_client)
        self._kinds = typed_kinds(api_client)

    def readable(self, kind: str) -> bool:
        """Whether one object of ``kind`` can be read by name."""
        spec = self._kinds.get(kind)
        return spec is not None and spec.read is not None

    def listable(self, kind: str) -> bool:
        """Whether the objects of ``kind`` in a namespace can be listed."""
        spec = self._kinds.get(kind)
        return spec is not None and spec.listing is not None

    def listable_everywhere(self, kind: str) -> bool:
        """Whether the objects of ``kind`` in every namespace can be listed at once."""
        spec = self._kinds.get(kind)
        return spec is not None and spec.listing_everywhere is not None

    # --- objects --------------------------------------------------------------------------

    async def read(
        self,
        run: CollectionRun,
        kind: str,
        namespace: str | None,
        name: str,
        *,
        core: bool = False,
    ) -> JsonDict | None:
        """One object by name, added to ``run``; None when missing or unreadable."""
        spec = self._kinds.get(kind)
        if spec is None or spec.read is None:
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
            obj = strip_config_map(obj)
        return run.add(obj)

    async def list_of(
        self,
        run: CollectionRun,
        kind: str,
        namespace: str | None,
        *,
        what: str,
        **kwargs: Any,
    ) -> list[JsonDict]:
        """The objects of ``kind`` in ``namespace`` (None: the cluster's, or every
        namespace's), at most ``max_list_items`` unless ``limit`` says otherwise. A partial
        or failed list marks the kind unavailable. The caller adds what it keeps to ``run``."""
        spec = self._kinds[kind]
        args: tuple[str, ...] = ()
        if namespace is not None:
            method, args = spec.listing, (namespace,)
        elif spec.namespaced:
            method = spec.listing_everywhere
        else:
            method = spec.listing
        if method is None:
            raise ValueError(f"no list call for {kind}")
        kwargs.setdefault("limit", self._limits.max_list_items)
        raw = await self._get(run, what, method, *args, kind=kind, **kwargs)
        body = self._parse(run, raw, f"{kind}List", spec.api_version)
        if body is None:
            return []
        items = _typed(body.get("items") or [], kind, spec.api_version)
        if (body.get("metadata") or {}).get("continue"):
            run.truncated.append(f"{what}: only the first {len(items)} read")
            run.unavailable.add(kind)  # absence from a partial list proves nothing
        return items

    async def add_listed(
        self, run: CollectionRun, kind: str, namespace: str | None, *, what: str, **kwargs: Any
    ) -> None:
        """``list_of``, every object kept in ``run``."""
        for item in await self.list_of(run, kind, namespace, what=what, **kwargs):
            run.add(item)

    async def cert_manager_list(
        self, run: CollectionRun, namespace: str, kind: str, plural: str
    ) -> int:
        """cert-manager objects of ``kind`` in ``namespace``, added to ``run``; how many. A 404
        means cert-manager is not installed, which is normal and not reported."""
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
        items = _typed((body or {}).get("items") or [], kind, "cert-manager.io/v1")
        for item in items:
            # A request's PEM payloads are long and never needed; its conditions are.
            (item.get("spec") or {}).pop("request", None)
            (item.get("status") or {}).pop("certificate", None)
            (item.get("status") or {}).pop("ca", None)
            run.add(item)
        return len(items)

    async def custom_list(
        self,
        run: CollectionRun,
        namespace: str | None,
        api: tuple[str, str, str, str],
    ) -> list[JsonDict]:
        """Custom objects (``api``: group, version, kind, plural; the Gateway API's routes,
        Istio's Gateways) in ``namespace`` (every namespace's when None), added to ``run``. A
        404 means the API is not installed, which is normal and not reported."""
        group, version, kind, plural = api
        where = f"in {namespace}" if namespace else "in every namespace"
        if namespace:
            raw = await self._get(
                run,
                f"list {kind}s {where}",
                self._custom.list_namespaced_custom_object,
                group,
                version,
                namespace,
                plural,
                limit=self._limits.max_list_items,
            )
        else:
            raw = await self._get(
                run,
                f"list {kind}s {where}",
                self._custom.list_cluster_custom_object,
                group,
                version,
                plural,
                limit=self._limits.max_list_items,
            )
        body = self._parse(run, raw, f"{kind}List", f"{group}/{version}")
        items = _typed((body or {}).get("items") or [], kind, f"{group}/{version}")
        return [kept for item in items if (kept := run.add(item)) is not None]

    async def custom_get(
        self, run: CollectionRun, namespace: str | None, api: tuple[str, str, str, str], name: str
    ) -> JsonDict | None:
        """One custom object (``api``: group, version, kind, plural) by name, added to
        ``run``; None when missing or unreadable."""
        group, version, kind, plural = api
        where = f"{namespace}/{name}" if namespace else name
        if namespace:
            raw = await self._get(
                run,
                f"get {kind} {where}",
                self._custom.get_namespaced_custom_object,
                group,
                version,
                namespace,
                plural,
                name,
            )
        else:
            raw = await self._get(
                run,
                f"get {kind} {where}",
                self._custom.get_cluster_custom_object,
                group,
                version,
                plural,
                name,
            )
        return run.add(self._parse(run, raw, kind, f"{group}/{version}"))

    async def served(self, run: CollectionRun) -> dict[str, str]:
        """The API groups the server serves, each with its preferred version (discovery)."""
        raw = await self._get(run, "list API groups", self._apis.get_api_versions)
        body = self._parse(run, raw, "APIGroupList", "v1") or {}
        served: dict[str, str] = {}
        for group in body.get("groups") or []:
            if isinstance(group, dict) and isinstance(group.get("name"), str):
                preferred = group.get("preferredVersion") or {}
                served[group["name"]] = str(preferred.get("version") or "")
        return served

    async def plural(self, run: CollectionRun, group: str, version: str, kind: str) -> str | None:
        """The resource name (plural) serving ``kind`` in ``group/version`` (discovery)."""
        raw = await self._get(
            run,
            f"discover {group}/{version}",
            self._custom.get_api_resources,
            group,
            version,
        )
        body = self._parse(run, raw, "APIResourceList", "v1") or {}
        for resource in body.get("resources") or []:
            if isinstance(resource, dict) and resource.get("kind") == kind:
                name = str(resource.get("name") or "")
                if name and "/" not in name:
                    return name
        return None

    async def events_about(
        self, run: CollectionRun, kind: str, namespace: str | None, name: str
    ) -> None:
        """The events about one object, added to ``run``."""
        selector = f"involvedObject.kind={kind},involvedObject.name={name}"
        # Events about cluster-scoped objects (Nodes) are recorded in "default" by the
        # kubelet and the node controller; listing there keeps the RBAC namespaced.
        where = namespace or "default"
        await self.add_listed(
            run,
            "Event",
            where,
            what=f"list events of {kind} {namespace + '/' if namespace else ''}{name}",
            field_selector=selector,
            limit=self._limits.max_events_fetched,
        )

    # --- logs -----------------------------------------------------------------------------

    async def log(
        self,
        run: CollectionRun,
        namespace: str,
        pod: str,
        container: str,
        *,
        previous: bool,
        source: LogSource,
    ) -> None:
        """One container's log tail, bounded, added to ``run`` when it says anything, marked
        with why it was read (``source``)."""
        limits = self._limits
        # limitBytes cuts the *start* of the tail window, so it is only a safety cap against
        # giant lines; the builder trims to max_log_tail_bytes keeping the newest lines.
        cap = max(limits.max_log_tail_bytes * 4, limits.max_log_lines * limits.max_log_line_bytes)
        what = f"logs of {namespace}/{pod}/{container}{' (previous)' if previous else ''}"
        async with run.gate:
            try:
                raw = await self._call(
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
                tail_from_text(
                    namespace, pod, container, text, previous=previous, limits=limits, source=source
                )
            )

"""The reads around an incident's scope that take no walk: the lists of its namespace, its
Gateway routes and VirtualServices, its cert-manager Certificates (and their requests and
issuers), the Jobs a batch queue holds there (Kueue's Workloads, each held one's Job and
CronJob), its Dapr Components when its pods run Dapr, the Nodes its pods run on, the KEDA
scalers of its workload, and the Namespaces' labels once a NetworkPolicy was read. Each
reads through ``KubeReader`` into the run; ``KubeEvidenceCollector``
(``kubetriage.evidence.kube``) decides when.
"""

from __future__ import annotations

import asyncio

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.dapr_components import COMPONENT_API, runs_dapr
from kubetriage.evidence.host_routes import INGRESS_ROUTE_API
from kubetriage.evidence.index import referenced_config
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.mesh_routes import VIRTUAL_SERVICE_API
from kubetriage.evidence.raw import as_dict, dicts
from kubetriage.evidence.reader import KubeReader, strip_config_map, without_images
from kubetriage.evidence.summaries.gateway_routes import ROUTE_APIS
from kubetriage.evidence.summaries.generic import POD_RUNNER_APIS
from kubetriage.evidence.summaries.scalers import SCALER_APIS, TRIGGER_AUTH_API
from kubetriage.evidence.workload_queues import WORKLOAD_API, held_workloads
from kubetriage.models.base import ObjectRef
from kubetriage.models.objects import JsonDict, controller_ref
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope

# What is listed in the incident's namespace, and how the lists are named in notes.
_NAMESPACE_LISTS = (
    ("Service", "Services"),
    ("Endpoints", "Endpoints"),
    ("Pod", "pods"),
    ("NetworkPolicy", "NetworkPolicies"),
    ("Ingress", "Ingresses"),
    ("HorizontalPodAutoscaler", "HPAs"),
    ("ResourceQuota", "ResourceQuotas"),
    ("PersistentVolumeClaim", "PVCs"),
    ("ConfigMap", "ConfigMaps"),
)


async def namespace_objects(reader: KubeReader, run: CollectionRun, namespace: str) -> None:
    """The lists of the incident's namespace (ConfigMaps stripped of their values), its
    cert-manager Certificates and the custom kinds that run pods."""
    calls = [
        reader.list_of(run, kind, namespace, what=f"list {plural} in {namespace}")
        for kind, plural in _NAMESPACE_LISTS
    ]
    results = await asyncio.gather(*calls)
    for items in results:
        for item in items:
            run.add(strip_config_map(item) if item.get("kind") == "ConfigMap" else item)
    await certificates(reader, run, namespace)
    for api in POD_RUNNER_APIS:
        await reader.custom_list(run, namespace, api)
    await queued_runs(reader, run, namespace)
    await dapr_components(reader, run, namespace)


async def queued_runs(reader: KubeReader, run: CollectionRun, namespace: str) -> None:
    """The namespace's Kueue Workloads, and for each one its queue holds the Job it belongs
    to with that Job's CronJob (``workload_queues``: a held Job has no pod to say why; a 404
    means Kueue is not installed, not reported)."""
    for workload in held_workloads(await reader.custom_list(run, namespace, WORKLOAD_API)):
        owner = controller_ref(workload)
        if owner is None or owner.get("kind") != "Job" or not owner.get("name"):
            continue
        job = await reader.read(run, "Job", namespace, str(owner["name"]))
        stamper = controller_ref(job) if job is not None else None
        if stamper is not None and stamper.get("kind") == "CronJob" and stamper.get("name"):
            await reader.read(run, "CronJob", namespace, str(stamper["name"]))


async def dapr_components(reader: KubeReader, run: CollectionRun, namespace: str) -> None:
    """The namespace's Dapr Components, when one of its pods runs Dapr: what the sidecar
    loads at its start (a 404 means Dapr is not installed, not reported)."""
    pods = [o for (kind, ns, _), o in run.objects.items() if kind == "Pod" and ns == namespace]
    if runs_dapr(pods):
        await reader.custom_list(run, namespace, COMPONENT_API)


async def gateway_routes(reader: KubeReader, run: CollectionRun, namespace: str) -> None:
    """The namespace's Gateway API routes (the builder checks their backendRefs), Traefik
    IngressRoutes (which Service a public host reaches: its callers by that host) and
    Istio VirtualServices (where the sidecars send the hosts the pods call)."""
    for api in (*ROUTE_APIS, INGRESS_ROUTE_API, VIRTUAL_SERVICE_API):
        await reader.custom_list(run, namespace, api)


async def certificates(reader: KubeReader, run: CollectionRun, namespace: str) -> None:
    """cert-manager Certificates, then (when there are any) the CertificateRequests and
    Issuers behind their renewals. A 404 means cert-manager is not installed, which is
    normal and not reported."""
    if not await reader.cert_manager_list(run, namespace, "Certificate", "certificates"):
        return
    await asyncio.gather(
        reader.cert_manager_list(run, namespace, "CertificateRequest", "certificaterequests"),
        reader.cert_manager_list(run, namespace, "Issuer", "issuers"),
    )


def secret_users(
    run: CollectionRun, namespace: str, scope: Scope, limits: EvidenceLimits
) -> list[str]:
    """The other namespaces whose pods, read by the dependency walk, use a Secret: where
    the serving certificate of a followed dependency is written by a Certificate."""
    found = {
        ns
        for (kind, ns, _), obj in run.objects.items()
        if kind == "Pod"
        and ns != namespace
        and scope.may_read(ns)
        and any(k == "Secret" for k, _ in referenced_config(obj.get("spec") or {}))
    }
    return sorted(found)[: limits.max_dependencies]


async def nodes(
    reader: KubeReader,
    run: CollectionRun,
    pods: list[JsonDict],
    target: ObjectRef | None,
    limits: EvidenceLimits,
) -> None:
    """The Nodes the pods run on (every Node when a pod is not placed or the target is a
    Namespace: where could it go?), without their image lists."""
    # Pods and target are in scope here; the Nodes they run on are their context.
    names: list[str] = []
    if target is not None and target.kind == "Node":
        names.append(target.name)
    for pod in pods[: limits.max_pods]:
        node = (pod.get("spec") or {}).get("nodeName")
        if isinstance(node, str) and node not in names:
            names.append(node)
    names = names[: limits.max_nodes]
    unplaced = any(not (p.get("spec") or {}).get("nodeName") for p in pods)
    if unplaced or (target is not None and target.kind == "Namespace"):
        # Where could the pod go? Every node's taints and allocatable matter then.
        listed = await reader.list_of(run, "Node", None, what="list nodes")
        nodes = [run.add(n) for n in listed]
    else:
        nodes = await asyncio.gather(*(reader.read(run, "Node", None, n) for n in names))
    for node in nodes:
        if node is not None:
            without_images(node)


async def scaled_objects(reader: KubeReader, run: CollectionRun, workload: JsonDict | None) -> None:
    """The KEDA ScaledObjects and ScaledJobs of the workload's namespace (a 404: KEDA not
    installed), and its TriggerAuthentications once a trigger names one: which Secret keys
    a scaler takes its connection and credentials from."""
    if workload is None:
        return
    listed = await asyncio.gather(
        *(reader.custom_list(run, _ns(workload), api) for api in SCALER_APIS)
    )
    if any(
        as_dict(trigger).get("authenticationRef")
        for objects in listed
        for obj in objects
        for trigger in dicts(as_dict(obj.get("spec")).get("triggers"))
    ):
        await reader.custom_list(run, _ns(workload), TRIGGER_AUTH_API)


async def namespace_labels(reader: KubeReader, run: CollectionRun, scope: Scope) -> None:
    """The Namespaces, once a NetworkPolicy was read: its namespace selectors match their
    labels (``team: payments``), which only the Namespace objects carry. Cluster-scoped,
    so only under a scope that may read the cluster."""
    if not scope.may_read(None) or not any(k == "NetworkPolicy" for k, _, _ in run.objects):
        return
    await reader.add_listed(run, "Namespace", None, what="list namespaces")

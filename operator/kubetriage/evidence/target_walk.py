"""Which object an incident is about: the first candidate target (the Incident's own, then
what its alerts' labels name, ``kubetriage.evidence.targets``) that exists and the tenancy
rule lets the operator read. A probe's URL leads to the Ingress serving its host; a queue's
alert in the broker's namespace to the queue's consumer (``caller_walk``); a mesh label that
names its callee without a namespace to the one readable object of that name; an alert that
names only a telemetry service, no namespace, to the one workload declaring that service
(``service_owner``); a node filesystem alert about a pod's volume mount to the claim bound to
that PersistentVolume (``targets.mounted_volumes``); a node agent's alert naming its node only
by address (``instance_nodes``) to that Node, or to the one workload on it that drives the
alert's resource (``node_tenants``).

I/O through ``KubeReader``; called once per collection by ``KubeEvidenceCollector``.
"""

from __future__ import annotations

from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.caller_walk import find_queue_consumer
from kubetriage.evidence.delivered_apps import (
    APPLICATION_API,
    delivered_targets,
    named_applications,
    with_delivered,
)
from kubetriage.evidence.ingress_walk import probed_ingress
from kubetriage.evidence.instance_nodes import (
    instance_addresses,
    node_at,
    own_target,
    with_instance_node,
)
from kubetriage.evidence.node_tenants import alert_resource, node_tenant, tenant_namespaces
from kubetriage.evidence.raw import listed
from kubetriage.evidence.reader import KubeReader
from kubetriage.evidence.service_owner import OWNER_KINDS, unplaced_owner
from kubetriage.evidence.stream_jobs import stream_namespace, task_workload, with_task_workload
from kubetriage.evidence.targets import (
    target_namespace,
    unplaced_names,
    with_probed,
)
from kubetriage.evidence.volume_alerts import mounted_volumes, volume_claim
from kubetriage.evidence.work_namespaces import (
    LAUNCHER_KINDS,
    LOCAL_QUEUE_API,
    checked_namespaces,
    cluster_queues,
    failing_elsewhere,
    launch_namespaces,
    may_take,
    own_namespace,
    queue_namespaces,
    with_work_namespaces,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.objects import JsonDict
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope, allowed_candidates

# Candidates tried before giving up on finding the target (each costs one GET).
_MAX_CANDIDATES = 8


async def find_target(
    reader: KubeReader,
    run: CollectionRun,
    target: ObjectRef | None,
    alerts: list[Alert],
    scope: Scope,
) -> tuple[ObjectRef | None, JsonDict | None]:
    """The incident's target and its object: None for a Secret (never read), a namespace-wide
    incident or a target that does not exist (the first candidate is then still named, and
    why in ``run``'s errors)."""
    candidates, refused = allowed_candidates(scope, target, alerts)
    # A probe's URL: the Ingress serving its host, before a namespace of the alert's.
    probed = await probed_ingress(reader, run, alerts, scope)
    candidates = with_probed(candidates, probed)
    # A node agent's alert: the Node its ``instance`` address belongs to, or the workload on
    # it that drives the alert's resource (``node_tenants``), before the alert's labels.
    node = await _node_subject(reader, run, target, alerts, scope)
    candidates = with_instance_node(candidates, node)
    # A delivery tool's application alert: what its Application deploys, before the tool's
    # own namespace.
    candidates = with_delivered(candidates, await _delivered(reader, run, alerts, scope))
    # A batch controller's alert in its own namespace: the namespaces of the work it holds or
    # launches, when pods fail there and not here (``work_namespaces``).
    candidates = with_work_namespaces(
        candidates, await _work_namespaces(reader, run, candidates, alerts, scope)
    )
    # A stream job's alert (Flink's ``job_name``): the workload running its tasks, after the
    # Job of that name, before the namespace (``stream_jobs``).
    candidates = with_task_workload(
        candidates, await _task_workload(reader, run, candidates, alerts, scope)
    )
    for ref in refused[:3]:
        run.error(f"not read: {scope.refusal(ref)}")
    if target is None or target.kind == "Namespace":
        # An Incident about a namespace (the alert's, here the scraped exporter's) or nothing.
        mounted = await _mounted_claim(reader, run, alerts, scope)
        if mounted is not None:
            return mounted
    tried = candidates[:_MAX_CANDIDATES]
    for index, candidate in enumerate(tried):
        if candidate.kind == "Secret":
            # Never read, not even for existence; its users are found through pods.
            return candidate, None
        if candidate.kind == "Namespace" and any(c.kind == "Namespace" for c in tried[index + 1 :]):
            # Another namespace is left to try (the scraped exporter's, after the one the
            # series are about): a namespace without a pod has nothing to diagnose.
            listed = await reader.list_of(
                run, "Pod", candidate.name, what=f"list pods in {candidate.name}", limit=1
            )
            if not listed:
                continue
        consumer = await find_queue_consumer(reader, run, candidate, alerts, scope)
        if consumer is not None:
            return consumer  # the broker's namespace: the queue's consumer is the target
        if candidate.kind == "Namespace":
            placed = await _placed(reader, run, alerts, scope)
            if placed is not None:
                return placed
            # Namespace-wide incident; reading the Namespace object itself adds nothing.
            if target is not None and target.kind != "Namespace":
                run.error(f"target {target.display()} not found; using {candidate.display()}")
            return candidate, None
        obj = await reader.read(run, candidate.kind, candidate.namespace, candidate.name, core=True)
        if obj is not None:
            inferred = candidate is probed or candidate is node
            if target is not None and not candidate.same_object(target) and not inferred:
                run.error(f"target {target.display()} not found; using {candidate.display()}")
            return candidate, obj
    owner = await _unplaced_owner(reader, run, alerts, scope)
    if owner is not None:
        return owner
    if len(candidates) > 1:
        run.error(
            "none of the candidate targets exists: "
            + ", ".join(c.display() for c in candidates[:_MAX_CANDIDATES])
        )
    return (candidates[0] if candidates else None), None


async def _delivered(
    reader: KubeReader, run: CollectionRun, alerts: list[Alert], scope: Scope
) -> list[ObjectRef]:
    """What the first Application an alert names without its destination deploys here
    (``delivered_apps``), of what ``scope`` may target; empty when none is readable."""
    for app in named_applications(alerts):
        if not scope.may_read(app.namespace):
            continue
        obj = await reader.custom_get(run, app.namespace, APPLICATION_API, app.name)
        if obj is not None:
            return [t for t in delivered_targets(obj) if scope.may_target(t)]
    return []


async def _work_namespaces(
    reader: KubeReader,
    run: CollectionRun,
    candidates: list[ObjectRef],
    alerts: list[Alert],
    scope: Scope,
) -> list[str]:
    """The namespaces where the work of a namespace-wide alert's controller runs (the
    LocalQueues submitting to the Kueue ClusterQueue it names, the namespace its workloads
    launch task pods in: ``work_namespaces``) that have a pod failing now while the alert's
    own namespace has none; empty for an alert naming an object of its own."""
    own = own_namespace(candidates)
    if own is None or not scope.may_read(own):
        return []
    found: list[str] = []
    queues = cluster_queues(alerts)
    if queues and scope.may_read(None):
        found += queue_namespaces(await reader.custom_list(run, None, LOCAL_QUEUE_API), queues)
    workloads: list[JsonDict] = []
    for kind in LAUNCHER_KINDS:
        if reader.listable(kind):
            workloads += await reader.list_of(run, kind, own, what=f"list {kind}s in {own}")
    found += launch_namespaces(workloads, own)
    names = checked_namespaces(found, own, lambda n: may_take(scope, n))
    if not names:
        return []
    own_pods = await reader.list_of(run, "Pod", own, what=f"list pods in {own}")
    elsewhere = {n: await reader.list_of(run, "Pod", n, what=f"list pods in {n}") for n in names}
    return failing_elsewhere(own_pods, elsewhere)


async def _task_workload(
    reader: KubeReader,
    run: CollectionRun,
    candidates: list[ObjectRef],
    alerts: list[Alert],
    scope: Scope,
) -> ObjectRef | None:
    """The Deployment running the tasks of the one Flink cluster in the namespace of an alert
    naming a stream job (``stream_jobs``), when ``scope`` may be about it."""
    namespace = stream_namespace(candidates, alerts)
    if namespace is None or not scope.may_read(namespace) or not reader.listable("Deployment"):
        return None
    listed = await reader.list_of(
        run, "Deployment", namespace, what=f"list Deployments in {namespace}"
    )
    found = task_workload(listed)
    return found if found is not None and scope.may_target(found) else None


async def _node_subject(
    reader: KubeReader,
    run: CollectionRun,
    target: ObjectRef | None,
    alerts: list[Alert],
    scope: Scope,
) -> ObjectRef | None:
    """What a node agent's alert is about when its ``instance`` is a node's address
    (``instance_nodes``, from the listed Nodes): the one workload on that Node that drives the
    alert's resource (``node_tenants``: the node's pods, then the pods and autoscalers of
    their namespaces), else the Node. Only for an incident without its own object target
    under a scope that may read the cluster."""
    if own_target(target, alerts) or not scope.may_read(None):
        return None
    addresses = instance_addresses(alerts)
    if not addresses or not reader.listable("Node"):
        return None
    nodes = await reader.list_of(run, "Node", None, what="list nodes")
    node = node_at(nodes, addresses)
    if node is None or not scope.may_target(node):
        return None
    if alert_resource(alerts) is None:
        return node
    here = await reader.list_of(
        run,
        "Pod",
        None,
        what=f"list pods on node {node.name}",
        field_selector=f"spec.nodeName={node.name}",
    )
    spaces = [ns for ns in tenant_namespaces(node.name, here) if scope.may_read(ns)]
    pods: list[JsonDict] = []
    scalers: list[JsonDict] = []
    for namespace in spaces:
        pods += await reader.list_of(run, "Pod", namespace, what=f"list pods in {namespace}")
        if reader.listable("HorizontalPodAutoscaler"):
            scalers += await reader.list_of(
                run,
                "HorizontalPodAutoscaler",
                namespace,
                what=f"list HorizontalPodAutoscalers in {namespace}",
            )
    obj = listed(nodes, node) or {}
    tenant = node_tenant(obj, pods, scalers, alerts)
    return tenant if tenant is not None and scope.may_target(tenant) else node


async def _mounted_claim(
    reader: KubeReader, run: CollectionRun, alerts: list[Alert], scope: Scope
) -> tuple[ObjectRef, JsonDict] | None:
    """The claim bound to the PersistentVolume a node filesystem alert's mountpoint names
    (``targets.mounted_volumes``): the alert is about that volume, not the node's disk."""
    if not scope.may_read(None) or not reader.readable("PersistentVolume"):
        return None
    for volume in mounted_volumes(alerts):
        claim = volume_claim(await reader.read(run, "PersistentVolume", None, volume))
        if claim is None or not scope.may_target(claim):
            continue
        obj = await reader.read(run, claim.kind, claim.namespace, claim.name, core=True)
        if obj is not None:
            return claim, obj
    return None


async def _placed(
    reader: KubeReader, run: CollectionRun, alerts: list[Alert], scope: Scope
) -> tuple[ObjectRef, JsonDict] | None:
    """The one object, in any readable namespace, of a kind and name a mesh destination
    label gives without its namespace (``targets.unplaced_names``), when the alert's own
    namespace has none: the callee of the failing requests, before a namespace-wide
    view of where the reporting proxy runs."""
    if not scope.may_read(None):
        return None
    for kind, name in unplaced_names(alerts):
        listed = await reader.list_of(
            run,
            kind,
            None,
            what=f"list {kind}s named {name}",
            field_selector=f"metadata.name={name}",
        )
        readable = [o for o in listed if _name(o) == name and scope.may_read(_ns(o))]
        if len(readable) != 1:
            continue
        ref = ObjectRef(kind=kind, namespace=_ns(readable[0]), name=name)
        if scope.may_target(ref):
            run.add(readable[0])
            run.error(f"{kind} {name} is not in the alert's namespace; using {ref.display()}")
            return ref, readable[0]
    return None


async def _unplaced_owner(
    reader: KubeReader, run: CollectionRun, alerts: list[Alert], scope: Scope
) -> tuple[ObjectRef, JsonDict] | None:
    """The one workload, in any readable namespace, that declares the telemetry service an
    alert without any namespace names, or that its summary names (``unplaced_owner``), when
    no candidate target exists."""
    if not scope.may_read(None) or any(target_namespace(a.labels) for a in alerts):
        return None
    workloads: list[JsonDict] = []
    for kind in OWNER_KINDS:
        if reader.readable(kind):
            workloads += await reader.list_of(
                run,
                kind,
                None,
                what=f"list {kind}s in every namespace (an alert without a namespace)",
            )
    readable = [w for w in workloads if scope.may_read(_ns(w))]
    found = unplaced_owner(alerts, readable)
    if found is None or not scope.may_target(found):
        return None
    obj = listed(readable, found)
    if obj is None:
        return None
    run.add(obj)
    run.error(f"the alert names no namespace; using {found.display()}")
    return found, obj

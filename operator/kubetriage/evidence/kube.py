"""Collect the Kubernetes objects and logs around an incident and build its Evidence.

The I/O edge of evidence gathering, called by the diagnosis pipeline once per Incident: the
walk from the target outwards. The calls themselves (raw JSON, the error policy of
``kubetriage.evidence.api_requests``, ConfigMap values dropped, Secrets never read) are
``KubeReader``'s (``kubetriage.evidence.reader``); everything read is handed to the pure
``build_evidence``, the same shape as a case file's ``cluster`` list. The reads that take no
walk (the namespace's lists, Nodes, Certificates, scalers, Namespace labels) are in
``kubetriage.evidence.scope_reads``.

What is read: the target (the first candidate from ``candidate_targets`` that exists; for a
queue's alert in the broker's namespace, the queue's consumer wherever it runs), its
owner chain up to the workload and back down to the workload's ReplicaSets/revisions and pods,
the events of those objects, log tails of troubled containers (current and previous), their
nodes and volume claims, the ingress controllers and Gateway proxies in front of the pods,
the namespace's Services, Endpoints, NetworkPolicies, HPAs,
ResourceQuotas, Ingresses, cert-manager Certificates and ConfigMaps (keys only: values are
dropped as soon as a response is parsed), and the dependencies all these name
(``DependencyWalk``) with the cert-manager Certificates of their namespaces when their pods
use Secrets, and the admission webhooks events report failing (``WebhookWalk``), the aggregated
metrics APIs an autoscaler cannot read (``AggregatedApiWalk``), the KEDA ScaledObjects
and ScaledJobs scaling the workload with the operator pods that run their scalers and
their tails (``follow_scaler_operator``), what writes a Secret the pods cannot get
(``SecretWriterWalk``), and the controller an overdue Certificate or an unresolved host
waits on (``follow_reconcilers``), and the controller reconciling a custom resource read
(``follow_resource_controllers``).
Secrets are never read, not even for existence.

Errors: a failing optional lookup becomes a line in ``collection_errors``; an API server that
cannot be reached or answers 5xx/429 while the target is looked up raises
``TemporaryCollectionError`` so the operator retries; a target that does not exist is a fact
reported in the evidence, not an error.
"""

from __future__ import annotations

import asyncio
from typing import Unpack

from kubernetes import client

from kubetriage.evidence.agent_walk import follow_agent_rollouts, follow_overlay_agents
from kubetriage.evidence.aggregated_api_walk import AggregatedApiWalk
from kubetriage.evidence.api_requests import CollectionRun
from kubetriage.evidence.build import build_evidence
from kubetriage.evidence.caller_walk import follow_callers
from kubetriage.evidence.dependency_walk import DependencyWalk
from kubetriage.evidence.disruption_walk import follow_disruption_budgets
from kubetriage.evidence.dns_client_walk import follow_dns_clients
from kubetriage.evidence.event_subjects import event_subjects
from kubetriage.evidence.failing_pods import failed_run_owners, failing_owners
from kubetriage.evidence.index import (
    JOB_STAMPERS,
    WORKLOAD_KINDS,
    departed_pods,
    pod_uses_claim,
    referenced_config,
    sibling_runs,
    sort_pods,
    stamped_runs,
)
from kubetriage.evidence.ingress_walk import (
    follow_front_balancers,
    follow_gateway_proxies,
    follow_ingress_controllers,
)
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import log_requests
from kubetriage.evidence.node_tenant_walk import follow_node_tenants
from kubetriage.evidence.producer_walk import follow_topic_producers
from kubetriage.evidence.query import EvidenceQuery
from kubetriage.evidence.readcache import ReadCache
from kubetriage.evidence.reader import KubeReader
from kubetriage.evidence.reconciler_walk import follow_reconcilers
from kubetriage.evidence.refused_client_walk import follow_refused_clients
from kubetriage.evidence.resource_controller_walk import follow_resource_controllers
from kubetriage.evidence.scaler_walk import follow_scaler_operator
from kubetriage.evidence.scope_reads import (
    certificates,
    gateway_routes,
    namespace_labels,
    namespace_objects,
    nodes,
    scaled_objects,
    secret_users,
)
from kubetriage.evidence.secret_writer_walk import SecretWriterWalk
from kubetriage.evidence.sibling_walk import follow_fresh_neighbour, follow_siblings
from kubetriage.evidence.summaries.fresh_restarts import alert_onset
from kubetriage.evidence.target_walk import find_target
from kubetriage.evidence.targets import focus_containers
from kubetriage.evidence.webhook_walk import WebhookWalk
from kubetriage.kubeclient import api_client
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.objects import (
    JsonDict,
    controller_ref,
    ingress_backends,
    selector_query,
)
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns
from kubetriage.tenancy import Scope

# Targets whose scope is the pods of their namespace that use them.
_USED_BY_PODS = frozenset({"PersistentVolumeClaim", "ConfigMap", "Secret"})
# A namespace-wide incident whose pods have at most this many owners (ReplicaSets of one
# Deployment during a rollout) is checked for being about one workload.
_MAX_SOLE_OWNERS = 3
# The backend Services of an Ingress target that are followed to their pods.
_MAX_INGRESS_BACKENDS = 3
# The revision history of a workload kind, and how its list is named in notes.
_HISTORY = {
    "Deployment": ("ReplicaSet", "ReplicaSets"),
    "StatefulSet": ("ControllerRevision", "revisions"),
    "DaemonSet": ("ControllerRevision", "revisions"),
}


def _uses(pod: JsonDict, kind: str, name: str) -> bool:
    """Whether the pod mounts the claim, or refers to the ConfigMap or Secret, ``name``."""
    if kind == "PersistentVolumeClaim":
        return pod_uses_claim(pod, name)
    return (kind, name) in referenced_config(pod.get("spec") or {})


def api_client_from_kubeconfig(path: str | None) -> client.ApiClient:
    """An ApiClient from ``path``, else in-cluster config, else the default kubeconfig.

    Delegates to ``kubetriage.kubeclient`` so the process has one way to build clients.
    """
    return api_client(path)


def _climbable(obj: JsonDict, ref: JsonDict) -> bool:
    """Whether the climb to ``obj``'s workload goes on through its controller ``ref``: a
    workload, or the pod controlling a pod (Spark on Kubernetes makes the driver pod the
    owner of its executors, so they are the driver's workload's pods)."""
    kind = ref.get("kind")
    return kind in WORKLOAD_KINDS or (kind == "Pod" and obj.get("kind") == "Pod")


class KubeEvidenceCollector:
    """Reads the cluster around an incident's target; one instance serves many incidents.
    ``shared``: the reads concurrent diagnoses share (None: each reads for itself)."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        limits: EvidenceLimits,
        request_timeout: float = 10.0,
        concurrency: int = 8,
        shared: ReadCache | None = None,
    ) -> None:
        self._limits = limits
        self._concurrency = concurrency
        self._reader = KubeReader(
            api_client, limits=limits, request_timeout=request_timeout, shared=shared
        )
        self._dependencies = DependencyWalk(self._reader, limits)
        self._webhooks = WebhookWalk(self._reader, limits)
        self._aggregated_apis = AggregatedApiWalk(self._reader, limits)
        self._secret_writers = SecretWriterWalk(self._reader, limits)

    # --- the walk -------------------------------------------------------------------------

    async def _climb(self, run: CollectionRun, obj: JsonDict) -> JsonDict | None:
        """The top-most workload owning ``obj`` (Pod -> ReplicaSet -> Deployment...; a pod
        controlled by another pod, as Spark's executors by their driver, through that pod)."""
        workload = obj if obj.get("kind") in WORKLOAD_KINDS else None
        current = obj
        for _ in range(4):
            ref = controller_ref(current)
            if ref is None or not ref.get("name") or not _climbable(current, ref):
                break
            owner = await self._reader.read(run, str(ref["kind"]), _ns(current), str(ref["name"]))
            if owner is None:
                break
            if owner.get("kind") in WORKLOAD_KINDS:
                workload = owner
            current = owner
        ref = controller_ref(current)
        if current.get("kind") == "Job" and ref is not None and ref.get("kind") == "CronJob":
            # The CronJob stamping the Job out: its schedule, its last success and its events
            # (the previous runs' outcomes) are what "did this work yesterday?" asks.
            await self._reader.read(run, "CronJob", _ns(current), str(ref.get("name") or ""))
        return workload

    async def _pods_for(
        self,
        run: CollectionRun,
        target: ObjectRef | None,
        target_obj: JsonDict | None,
        scope: Scope,
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
        elif target_obj is not None and kind in JOB_STAMPERS:
            # A CronJob or ScaledJob has no pods of its own: the incident is about its run to
            # read first (a ScaledJob with none left, about itself: ``resolve_scope``).
            listed = await self._reader.list_of(
                run, "Job", namespace, what=f"list Jobs of {kind} {namespace}/{target.name}"
            )
            runs = stamped_runs(target_obj, listed)
            for job in runs:
                run.add(job)
            workload = runs[0] if runs else (target_obj if kind == "ScaledJob" else None)
        elif target_obj is not None and kind == "HorizontalPodAutoscaler":
            ref = (target_obj.get("spec") or {}).get("scaleTargetRef") or {}
            if self._reader.readable(str(ref.get("kind"))) and ref.get("name"):
                scaled = await self._reader.read(run, str(ref["kind"]), namespace, str(ref["name"]))
                workload = await self._climb(run, scaled) if scaled is not None else None
        elif target_obj is not None and kind == "Service":
            pods = await self._service_pods(run, target_obj)
        elif target_obj is not None and kind == "Ingress":
            # An Ingress is about the Services behind it, and so about their pods.
            for backend in ingress_backends(target_obj)[:_MAX_INGRESS_BACKENDS]:
                service = await self._reader.read(run, "Service", namespace, backend)
                pods += await self._service_pods(run, service) if service is not None else []
            pods = list({(_ns(p), _name(p)): p for p in pods}.values())
        elif kind in _USED_BY_PODS:
            # The object may well be missing (that is the incident); its users are the scope.
            listed = await self._reader.list_of(
                run, "Pod", namespace, what=f"list pods in {namespace}"
            )
            pods = [p for p in listed if _uses(p, kind, target.name)]
        elif kind == "Node":
            listed = await self._reader.list_of(
                run,
                "Pod",
                None,
                what=f"list pods on node {target.name}",
                field_selector=f"spec.nodeName={target.name}",
            )
            # The node's other tenants are shown only where the tenancy rule allows.
            pods = [p for p in listed if scope.may_read(_ns(p))]
        elif kind == "Namespace":
            pods = await self._reader.list_of(
                run, "Pod", target.name, what=f"list pods in {target.name}"
            )
            workload = await self._sole_workload(run, pods)
        if workload is None and pods and (kind in ("Service", "Ingress") or kind in _USED_BY_PODS):
            workload = await self._climb(run, pods[0])
        return pods, workload

    async def _sole_workload(self, run: CollectionRun, pods: list[JsonDict]) -> JsonDict | None:
        """The one workload every pod belongs to (a namespace-wide incident in a namespace
        that runs one application is about it), else the one workload whose pods fail now,
        or None."""
        owners: dict[tuple[str, str], JsonDict] = {}
        for pod in pods:
            ref = controller_ref(pod)
            if ref is None or not _climbable(pod, ref):
                owners = {}  # a bare or foreign-owned pod: not one application
                break
            owners.setdefault((str(ref.get("kind")), str(ref.get("name"))), pod)
        sole = await self._one_workload(run, owners)
        # ... or, among several, the one workload whose pods fail now (``failing_pods``), or
        # with none failing now, the one whose run ended Failed.
        if sole is not None:
            return sole
        return await self._one_workload(run, failing_owners(pods) or failed_run_owners(pods))

    async def _one_workload(
        self, run: CollectionRun, owners: dict[tuple[str, str], JsonDict]
    ) -> JsonDict | None:
        """The workload the pods of ``owners`` (one per controller owner) climb to, when they
        climb to one."""
        if not owners or len(owners) > _MAX_SOLE_OWNERS:
            return None
        climbed = [await self._climb(run, pod) for pod in owners.values()]
        keys = {(str(w.get("kind")), _name(w)) if w is not None else None for w in climbed}
        return climbed[0] if len(keys) == 1 and None not in keys else None

    async def _service_pods(self, run: CollectionRun, service: JsonDict) -> list[JsonDict]:
        """The pods a Service selects (none when it has no selector)."""
        selector = (service.get("spec") or {}).get("selector") or {}
        if not selector:
            return []
        namespace = _ns(service)
        return await self._reader.list_of(
            run,
            "Pod",
            namespace,
            what=f"list pods of Service {namespace}/{_name(service)}",
            label_selector=selector_query({"matchLabels": selector}),
        )

    async def _workload_children(self, run: CollectionRun, workload: JsonDict) -> list[JsonDict]:
        """The workload's pods (by its selector) plus its ReplicaSets or revisions."""
        namespace, kind = _ns(workload), str(workload.get("kind"))
        selector = selector_query((workload.get("spec") or {}).get("selector") or {})
        if selector is None:
            run.error(f"{kind} {namespace}/{_name(workload)} has no usable selector")
            return []
        what = f"{kind} {namespace}/{_name(workload)}"
        lists = [("Pod", "pods")] + ([_HISTORY[kind]] if kind in _HISTORY else [])
        results = await asyncio.gather(
            *(
                self._reader.list_of(
                    run, listed, namespace, what=f"list {plural} of {what}", label_selector=selector
                )
                for listed, plural in lists
            )
        )
        pods = results[0]
        for items in results[1:]:
            for item in items:
                run.add(item)
        return pods

    async def _sibling_run_pods(self, run: CollectionRun, job: JsonDict) -> list[JsonDict]:
        """When a CronJob's Job has no pods left, the pods of the CronJob's newest other
        runs (``sibling_runs``); nothing for any other workload."""
        controller = controller_ref(job)
        if job.get("kind") != "Job" or controller is None or controller.get("kind") != "CronJob":
            return []
        namespace = _ns(job)
        listed = await self._reader.list_of(
            run, "Job", namespace, what=f"list Jobs of CronJob {namespace}/{controller.get('name')}"
        )
        runs = sibling_runs(job, listed)
        for other in runs:
            run.add(other)
        found = await asyncio.gather(*(self._workload_children(run, other) for other in runs))
        return [pod for pods in found for pod in pods]

    async def collect(self, *, scope: Scope, **query: Unpack[EvidenceQuery]) -> Evidence:
        """Read the cluster around the incident and build its bounded Evidence; only what
        ``scope`` (the tenancy rule for the Incident's namespace) allows is read."""
        alerts = query["alerts"]
        run = CollectionRun(gate=asyncio.Semaphore(self._concurrency))
        chosen, target_obj = await find_target(self._reader, run, query["target"], alerts, scope)
        run.add(target_obj)
        scoped_pods, workload = await self._pods_for(run, chosen, target_obj, scope)
        if workload is not None:
            own = await self._workload_children(run, workload)
            scoped_pods += own or await self._sibling_run_pods(run, workload)
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
            tasks.append(namespace_objects(self._reader, run, namespace))
            tasks.append(gateway_routes(self._reader, run, namespace))
        tasks.append(nodes(self._reader, run, pods, chosen, self._limits))
        tasks.append(scaled_objects(self._reader, run, workload))
        tasks += [
            self._reader.log(run, ns, pod, container, previous=previous, source="scope")
            for ns, pod, container, previous in log_requests(
                pods, focus_containers(alerts), self._limits
            )
        ]
        await asyncio.gather(*tasks)

        # Events last, once the objects in scope are known.
        if chosen is not None and chosen.kind == "Namespace":
            await self._reader.add_listed(
                run,
                "Event",
                chosen.name,
                what=f"list events in {chosen.name}",
                limit=self._limits.max_events_fetched,
            )
        subjects = event_subjects(run, chosen, workload, pods, self._limits)
        await asyncio.gather(*(self._reader.events_about(run, k, ns, n) for k, ns, n in subjects))
        if workload is not None:
            # A Job's deleted pods: their events, named by the Job's, say why the run failed.
            events = [o for (kind, _, _), o in run.objects.items() if kind == "Event"]
            gone = departed_pods(workload, events, [_name(p) for p in pods])
            await asyncio.gather(
                *(self._reader.events_about(run, "Pod", _ns(workload), pod) for pod in gone)
            )
        # A cordoned node or a refused eviction: the budgets holding it and their workloads.
        await follow_disruption_budgets(self._reader, run, pods, scope, self._climb, self._limits)
        # Dependencies last: their names come from logs, env, ConfigMaps and events.
        if namespace:
            # The ingress controller first: the dependency walk follows it in front of
            # healthy pods (``request_path.controller_hosts``).
            await follow_ingress_controllers(self._reader, run, namespace, pods, scope)
            await follow_gateway_proxies(self._reader, run, namespace, pods, scope)
            await follow_front_balancers(self._reader, run, namespace, pods, chosen, scope)
            await self._dependencies.follow(
                run,
                namespace,
                pods,
                workload,
                scope,
                [a.labels for a in alerts],
                alert_onset(alerts, query["now"]),
            )
            await asyncio.gather(
                *(
                    certificates(self._reader, run, ns)
                    for ns in secret_users(run, namespace, scope, self._limits)
                )
            )
            await follow_callers(self._reader, run, namespace, pods, workload, scope, self._limits)
            # The API server throttles it: the node agents that rolled out.
            await follow_agent_rollouts(self._reader, run, scope)
            # Responses stall mid-transfer: where the CNI agent takes the pod network's MTU.
            await follow_overlay_agents(self._reader, run, scope)
            # A server out of slots names the clients it refuses: their pods and rollouts.
            await follow_refused_clients(self._reader, run, namespace, scope)
            # The cluster's DNS server: its clients whose releases changed their DNS settings.
            await follow_dns_clients(self._reader, run, workload, scope)
            # It cannot decode what it reads: the writers of its topics, and their rollouts.
            await follow_topic_producers(self._reader, run, pods, workload, scope)
            if chosen is not None and chosen.kind != "Namespace":
                # The other components of its application, those short of ready replicas.
                await follow_siblings(self._reader, run, workload, self._limits)
                # ... and the neighbour whose pods began restarting with the alert.
                await follow_fresh_neighbour(
                    self._reader,
                    run,
                    workload,
                    alert_onset(alerts, query["now"]),
                    query["now"],
                    self._limits,
                )
        # A Node's alert: the workloads of its pods, with their rollouts.
        await follow_node_tenants(self._reader, run, chosen, pods, scope)
        # Webhooks last: an event names them, the dependency walk has read their Service.
        await self._webhooks.follow(run, scope, alerts, podless=not pods)
        # An autoscaler that cannot get its metrics: the aggregated API serving them.
        await self._aggregated_apis.follow(run, namespace, scope)
        # A ScaledObject or ScaledJob scales the workload: the pods that run its scalers.
        await follow_scaler_operator(self._reader, run, workload, scope)
        # A Secret the pods cannot get that a controller writes: the writer and its input.
        await self._secret_writers.follow(run, namespace, pods, scope)
        # An overdue Certificate or an unresolved host: the controller that owes it.
        await follow_reconcilers(self._reader, run, alerts, query["now"], scope)
        # A custom resource read: the controller that reconciles it, and its tails.
        await follow_resource_controllers(self._reader, run, scope)
        await namespace_labels(self._reader, run, scope)

        query["target"] = chosen
        return build_evidence(
            list(run.objects.values()),
            run.logs,
            limits=self._limits,
            unavailable_kinds=run.unavailable,
            collection_errors=run.errors,
            truncated=run.truncated,
            **query,
        )

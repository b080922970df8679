"""Evidence from a captured snapshot (a case's objects and logs) instead of a live API.

The same pure builder the operator uses on live objects; used to seed memory with the
signature a live diagnosis of a case would have, and as an ``EvidenceSource`` wherever a
pipeline runs on captured state (tests, benchmarks). It reads the snapshot the way the
collector reads the cluster: the target is the first candidate that exists (a probed URL's
Ingress among them, ``targets.with_probed``), and each log tail is marked with why the
collector reads it (``LogTail.source``) by the requests the collector issues
(``kubetriage.evidence.logs``): the incident's own are those ``log_requests`` asks for from
the pods in scope, a failing admission webhook's backend those ``webhook_log_requests`` asks
for, and every other tail is a followed dependency's (the builder keeps those of a
dependency's first pods, as the collector's dependency walk reads them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Unpack

from kubetriage.evidence.build import build_evidence
from kubetriage.evidence.conversion_webhooks import (
    CRD,
    alert_texts,
    conversion_service,
    named_conversions,
)
from kubetriage.evidence.delivered_apps import (
    delivered_targets,
    named_applications,
    with_delivered,
)
from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.instance_nodes import (
    instance_addresses,
    node_at,
    own_target,
    with_instance_node,
)
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.logs import log_requests, tail_from_text, webhook_log_requests
from kubetriage.evidence.node_tenants import node_tenant, tenant_namespaces
from kubetriage.evidence.notes import Notes
from kubetriage.evidence.query import EvidenceQuery
from kubetriage.evidence.scope import choose_target, mounted_claim, queue_consumer, resolve_scope
from kubetriage.evidence.service_owner import OWNER_KINDS, unplaced_owner
from kubetriage.evidence.stream_jobs import stream_namespace, task_workload, with_task_workload
from kubetriage.evidence.summaries.gateway_routes import (
    ROUTE_KINDS,
    credential_target,
    gateway_names,
    routed_service,
    served_credential,
)
from kubetriage.evidence.summaries.ingress import serving_ingress
from kubetriage.evidence.summaries.webhooks import (
    WEBHOOK_CONFIGURATION_KINDS,
    failing_webhook_names,
    webhook_services,
)
from kubetriage.evidence.targets import (
    candidate_targets,
    focus_containers,
    probed_hosts,
    unplaced_names,
    with_probed,
)
from kubetriage.evidence.work_namespaces import (
    LAUNCHER_KINDS,
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
from kubetriage.models.case import Case, parse_go_duration
from kubetriage.models.evidence import Evidence
from kubetriage.models.incident import Alert
from kubetriage.models.objects import name as name_of
from kubetriage.models.objects import namespace as namespace_of
from kubetriage.models.signals import LogSource, LogTail
from kubetriage.tenancy import Scope, allowed_candidates


def alert_of(case: Case, now: datetime) -> Alert:
    return Alert(
        status="firing",
        labels=dict(case.alert.labels),
        annotations=dict(case.alert.annotations),
        starts_at=now - parse_go_duration(case.alert.starts_ago),
    )


def _container_statuses(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    status = pod.get("status") or {}
    statuses = (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])
    return {s.get("name", ""): s for s in statuses if isinstance(s, dict)}


def log_placement(case: Case) -> list[tuple[str, str, str, str, bool]]:
    """Where each case log goes: a container that is waiting or terminated now, with a
    terminated ``lastState``, printed those lines in its previous run, which is what
    ``kubectl logs --previous`` serves; otherwise they are the current container's log."""
    pods = {
        ((o.get("metadata") or {}).get("namespace", ""), o["metadata"]["name"]): o
        for o in case.cluster
        if o.get("kind") == "Pod"
    }
    placed = []
    for key, text in case.logs.items():
        namespace, pod_name, container = key.split("/")
        previous = False
        pod = pods.get((namespace, pod_name))
        if pod is not None:
            state = _container_statuses(pod).get(container, {})
            current = state.get("state") or {}
            last = state.get("lastState") or {}
            previous = "running" not in current and "terminated" in last
        placed.append((namespace, pod_name, container, text, previous))
    return placed


class SnapshotEvidenceSource:
    """An ``EvidenceSource`` answering from a case's objects and logs."""

    def __init__(self, case: Case, *, limits: EvidenceLimits | None = None) -> None:
        self._case = case
        self._limits = limits or EvidenceLimits()
        # In the order an API server lists them (by namespace, then name: its storage keys),
        # whatever order the case writes them in, as the live collector reads them.
        self._objects = sorted(case.cluster, key=lambda o: (namespace_of(o), name_of(o)))

    async def collect(
        self, *, scope: Scope | None = None, **query: Unpack[EvidenceQuery]
    ) -> Evidence:
        if scope is not None:
            allowed, _ = allowed_candidates(scope, query["target"], query["alerts"])
            allowed = with_probed(allowed, self._probed(query["alerts"], scope))
            allowed = with_instance_node(allowed, self._node_subject(query, scope))
            allowed = with_delivered(allowed, self._delivered(query["alerts"], scope))
            allowed = with_work_namespaces(allowed, self._work(allowed, query["alerts"], scope))
            allowed = with_task_workload(allowed, self._tasks(allowed, query["alerts"], scope))
            chosen = self._first_present(allowed)
            mounted = self._mounted(query["target"], query["alerts"], scope)
            chosen = mounted or chosen
            if chosen is not None and chosen.kind == "Namespace":
                chosen = self._placed(query["alerts"], scope) or chosen
            chosen = self._owner_or(chosen, query["alerts"], scope)
            query["target"] = self._consumer_or(chosen, query, scope)
        return self.build(**query)

    def _mounted(
        self, target: ObjectRef | None, alerts: list[Alert], scope: Scope
    ) -> ObjectRef | None:
        """The claim of the PersistentVolume a node filesystem alert's mountpoint names
        (``scope.mounted_claim``), as the collector reads the volume before any candidate,
        only for an incident without its own object target (none, or a namespace) and a scope
        that may read the cluster."""
        if (target is not None and target.kind != "Namespace") or not scope.may_read(None):
            return None
        claim = mounted_claim(ObjectIndex(self._objects, Notes()), alerts)
        return claim if claim is not None and scope.may_target(claim) else None

    def _consumer_or(
        self, chosen: ObjectRef | None, query: EvidenceQuery, scope: Scope
    ) -> ObjectRef | None:
        """The consumer of the queue the alerts name when ``chosen`` is the broker's
        namespace, as the collector finds it among the workloads of every namespace (only
        when ``scope`` may read them all); else ``chosen``."""
        if not scope.may_read(None):
            return chosen
        index = ObjectIndex(self._objects, Notes())
        consumer = queue_consumer(index, chosen, query["alerts"])
        return consumer if consumer is not None and scope.may_target(consumer) else chosen

    def _owner_or(
        self, chosen: ObjectRef | None, alerts: list[Alert], scope: Scope
    ) -> ObjectRef | None:
        """``chosen`` when the snapshot holds it; else the one workload declaring the
        telemetry service an alert without a namespace names, or that its summary names
        (``unplaced_owner``), among those ``scope`` may read, as the collector lists them in
        every namespace."""
        index = ObjectIndex(self._objects, Notes())
        if chosen is not None and (chosen.kind in ("Namespace", "Secret") or index.exists(chosen)):
            return chosen
        if not scope.may_read(None):
            return chosen
        workloads = [
            w
            for kind in OWNER_KINDS
            for w in index.kind(kind)
            if scope.may_read((w.get("metadata") or {}).get("namespace"))
        ]
        found = unplaced_owner(alerts, workloads)
        return found if found is not None and scope.may_target(found) else chosen

    def _node_subject(self, query: EvidenceQuery, scope: Scope) -> ObjectRef | None:
        """What a node agent's alert is about when its ``instance`` is a node's address
        (``instance_nodes``), as the collector finds it: the one workload on that Node that
        drives the alert's resource (``node_tenants``, from the pods and autoscalers of the
        node's namespaces), else the Node. Only for an incident without its own object
        target and a scope that may read the cluster."""
        target = query["target"]
        if own_target(target, query["alerts"]) or not scope.may_read(None):
            return None
        addresses = instance_addresses(query["alerts"])
        if not addresses:
            return None
        index = ObjectIndex(self._objects, Notes())
        node = node_at(index.kind("Node"), addresses)
        if node is None or not scope.may_target(node):
            return None
        here = [p for p in index.kind("Pod") if (p.get("spec") or {}).get("nodeName") == node.name]
        spaces = [ns for ns in tenant_namespaces(node.name, here) if scope.may_read(ns)]
        pods = [p for ns in spaces for p in index.in_namespace("Pod", ns)]
        scalers = [a for ns in spaces for a in index.in_namespace("HorizontalPodAutoscaler", ns)]
        obj = index.get("Node", None, node.name) or {}
        tenant = node_tenant(obj, pods, scalers, query["alerts"])
        return tenant if tenant is not None and scope.may_target(tenant) else node

    def _probed(self, alerts: list[Alert], scope: Scope) -> ObjectRef | None:
        """The Ingress serving a host the alerts' probe URLs name, as the collector finds it
        among the Ingresses ``scope`` may read."""
        ingresses = [
            o
            for o in self._objects
            if o.get("kind") == "Ingress"
            and scope.may_read((o.get("metadata") or {}).get("namespace"))
        ]
        found = serving_ingress(ingresses, probed_hosts(alerts))
        if found is None:
            # No Ingress: the Service behind the Gateway API route serving the host, or
            # the broken one behind a Gateway the alerts name.
            readable = [
                o
                for o in self._objects
                if scope.may_read((o.get("metadata") or {}).get("namespace"))
            ]
            found = routed_service(
                [o for o in readable if o.get("kind") in ROUTE_KINDS],
                [o for o in readable if o.get("kind") == "Service"],
                probed_hosts(alerts),
                gateway_names(alerts),
            )
            served = served_credential(readable, probed_hosts(alerts))
            if found is None and served is not None:
                certificates = [o for o in readable if o.get("kind") == "Certificate"]
                found = credential_target(certificates, *served)
        return found if found is not None and scope.may_target(found) else None

    def _delivered(self, alerts: list[Alert], scope: Scope) -> list[ObjectRef]:
        """What the first Application an alert names without its destination deploys here
        (``delivered_apps``), as the collector reads the Application by name."""
        index = ObjectIndex(self._objects, Notes())
        for app in named_applications(alerts):
            obj = index.get(app.kind, app.namespace, app.name)
            if obj is not None and scope.may_read(app.namespace):
                return [t for t in delivered_targets(obj) if scope.may_target(t)]
        return []

    def _work(self, candidates: list[ObjectRef], alerts: list[Alert], scope: Scope) -> list[str]:
        """The namespaces of a namespace-wide alert's controller's work with a pod failing
        now while the alert's own has none (``work_namespaces``), as the collector lists the
        LocalQueues (under a scope that reads every namespace), the alert namespace's
        workloads and the pods of both."""
        own = own_namespace(candidates)
        if own is None or not scope.may_read(own):
            return []
        index = ObjectIndex(self._objects, Notes())
        found: list[str] = []
        queues = cluster_queues(alerts)
        if queues and scope.may_read(None):
            found += queue_namespaces(index.kind("LocalQueue"), queues)
        found += launch_namespaces(
            [w for kind in LAUNCHER_KINDS for w in index.in_namespace(kind, own)], own
        )
        names = checked_namespaces(found, own, lambda n: may_take(scope, n))
        elsewhere = {n: index.in_namespace("Pod", n) for n in names}
        return failing_elsewhere(index.in_namespace("Pod", own), elsewhere) if names else []

    def _tasks(
        self, candidates: list[ObjectRef], alerts: list[Alert], scope: Scope
    ) -> ObjectRef | None:
        """The Deployment running the tasks of the one Flink cluster in the namespace of an
        alert naming a stream job (``stream_jobs``), as the collector lists its Deployments."""
        namespace = stream_namespace(candidates, alerts)
        if namespace is None or not scope.may_read(namespace):
            return None
        index = ObjectIndex(self._objects, Notes())
        found = task_workload(index.in_namespace("Deployment", namespace))
        return found if found is not None and scope.may_target(found) else None

    def _placed(self, alerts: list[Alert], scope: Scope) -> ObjectRef | None:
        """The one object of a kind and name a mesh destination label gives without its
        namespace (``targets.unplaced_names``), among those ``scope`` may read, as the
        collector lists them in every namespace before settling for a namespace."""
        if not scope.may_read(None):
            return None
        for kind, name in unplaced_names(alerts):
            found = [
                (o.get("metadata") or {}).get("namespace")
                for o in self._objects
                if o.get("kind") == kind
                and (o.get("metadata") or {}).get("name") == name
                and scope.may_read((o.get("metadata") or {}).get("namespace"))
            ]
            if len(found) == 1 and isinstance(found[0], str):
                ref = ObjectRef(kind=kind, namespace=found[0], name=name)
                if scope.may_target(ref):
                    return ref
        return None

    def _first_present(self, candidates: list[ObjectRef]) -> ObjectRef | None:
        """The first candidate the snapshot holds, as the collector takes the first one it can
        read (a Secret or a Namespace it takes unread, a namespace with a later one to try only
        when it has a pod); else the first candidate."""
        index = ObjectIndex(self._objects, Notes())

        def present(at: int, candidate: ObjectRef) -> bool:
            if candidate.kind == "Namespace":
                # Taken unread, unless another namespace is left to try: then it needs a pod.
                later = any(c.kind == "Namespace" for c in candidates[at + 1 :])
                return not later or bool(index.in_namespace("Pod", candidate.name))
            return candidate.kind == "Secret" or index.exists(candidate)

        found = (c for at, c in enumerate(candidates) if present(at, c))
        return next(found, candidates[0] if candidates else None)

    def _tails(self, **query: Unpack[EvidenceQuery]) -> list[LogTail]:
        """The case's log tails, each marked with why the collector reads it, by the requests
        it issues: the incident's own (``log_requests`` of the pods in scope), a failing
        admission webhook's backend (``webhook_log_requests``) and every other one a followed
        dependency's (the builder keeps those of a dependency's first pods, as the walk reads
        them). A tail read for two reasons is handed over once for each, as the collector
        reads it once for each."""
        index = ObjectIndex(self._objects, Notes())
        chosen = choose_target(index, query["target"], query["alerts"], Notes())
        scope_pods = resolve_scope(index, chosen).pods
        focus = focus_containers(query["alerts"])
        own = {r[:3] for r in log_requests(scope_pods, focus, self._limits)}
        configurations = [c for kind in WEBHOOK_CONFIGURATION_KINDS for c in index.kind(kind)]
        names = failing_webhook_names(index.kind("Event"))[: self._limits.max_dependencies]
        services = webhook_services(configurations, names)
        if not scope_pods:
            # The alert's objects run no pod: the conversion webhooks of the kinds it names.
            crds = named_conversions(index.kind(CRD), alert_texts(query["alerts"]))
            services += [s for c in crds if (s := conversion_service(c)) and s not in services]
        backends = {
            request[:3]
            for service in services
            for request in webhook_log_requests(
                index.get("Service", service.namespace, service.name),
                index.in_namespace("Pod", service.namespace or ""),
            )
        }
        tails: list[LogTail] = []
        for namespace, pod, container, text, previous in log_placement(self._case):
            key = (namespace, pod, container)
            sources: list[LogSource] = ["scope" if key in own else "dependency"]
            sources += ["webhook"] if key in backends else []
            tails += [
                tail_from_text(
                    namespace,
                    pod,
                    container,
                    text,
                    previous=previous,
                    limits=self._limits,
                    source=source,
                )
                for source in sources
            ]
        return tails

    def build(self, **query: Unpack[EvidenceQuery]) -> Evidence:
        candidates = candidate_targets(query["target"], query["alerts"])
        candidates = with_probed(candidates, self._probed(query["alerts"], Scope.unrestricted()))
        candidates = with_instance_node(candidates, self._node_subject(query, Scope.unrestricted()))
        candidates = with_delivered(
            candidates, self._delivered(query["alerts"], Scope.unrestricted())
        )
        candidates = with_work_namespaces(
            candidates, self._work(candidates, query["alerts"], Scope.unrestricted())
        )
        candidates = with_task_workload(
            candidates, self._tasks(candidates, query["alerts"], Scope.unrestricted())
        )
        chosen = self._owner_or(
            self._first_present(candidates), query["alerts"], Scope.unrestricted()
        )
        query["target"] = self._consumer_or(chosen, query, Scope.unrestricted())
        return build_evidence(self._objects, self._tails(**query), limits=self._limits, **query)

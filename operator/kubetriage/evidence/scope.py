"""The incident's target and what is in scope around it.

``choose_target`` decides which object the incident is about (the claim of a volume a node
filesystem alert names, the object the alerts name, the consumer of a queue whose broker's
namespace holds none); ``resolve_scope`` finds its workload (through ownership, the runs a
CronJob stamped, the one workload whose pods fail in a namespace) and the pods that matter
(the target's, its Service's or claim's users, its workload's and their co-endpoints), most
interesting first. Pure, over an ``ObjectIndex`` (``kubetriage.evidence.index``).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubetriage.evidence.co_endpoints import co_endpoint_pods
from kubetriage.evidence.failing_pods import failed_run_owners, failing_owners
from kubetriage.evidence.index import (
    JOB_STAMPERS,
    WORKLOAD_KINDS,
    ObjectIndex,
    pod_uses_claim,
    referenced_config,
    same_object,
    sibling_runs,
    sort_pods,
    stamped_runs,
    workload_of,
)
from kubetriage.evidence.notes import Notes
from kubetriage.evidence.queue_consumers import (
    CONSUMER_KINDS,
    QUEUE_SCALER_KINDS,
    SCALED_CONSUMER_KINDS,
    consumer_elsewhere,
)
from kubetriage.evidence.raw import as_dict, as_str, kind_of, obj_key
from kubetriage.evidence.targets import candidate_targets
from kubetriage.evidence.volume_alerts import mounted_volumes, volume_claim
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.objects import (
    JsonDict,
    controller_ref,
    ingress_backends,
    selector_matches,
    service_selects,
)
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns


@dataclass
class EvidenceScope:
    target: ObjectRef | None
    target_obj: JsonDict | None
    namespace: str | None
    workload: JsonDict | None
    pods: list[JsonDict]  # all pods in scope, most interesting first
    namespace_wide: bool


def choose_target(
    index: ObjectIndex, target: ObjectRef | None, alerts: list[Alert], notes: Notes
) -> ObjectRef | None:
    if target is None or target.kind == "Namespace":
        mounted = mounted_claim(index, alerts)
        if mounted is not None:
            return mounted
    if target is not None:
        if not index.exists(target):
            notes.error(f"target {target.display()} not found")
        return target
    candidates = candidate_targets(None, alerts)
    for candidate in candidates:
        if index.exists(candidate):
            return queue_consumer(index, candidate, alerts) or candidate
    if candidates:
        notes.error("no candidate target exists: " + ", ".join(c.display() for c in candidates[:5]))
        return candidates[0]
    return None


def mounted_claim(index: ObjectIndex, alerts: list[Alert]) -> ObjectRef | None:
    """The claim bound to the PersistentVolume a node filesystem alert's mountpoint names
    (``targets.mounted_volumes``), when both exist: the alert is about that volume."""
    for volume in mounted_volumes(alerts):
        claim = volume_claim(index.get("PersistentVolume", None, volume))
        if claim is not None and index.exists(claim):
            return claim
    return None


def queue_consumer(
    index: ObjectIndex, chosen: ObjectRef | None, alerts: list[Alert]
) -> ObjectRef | None:
    """The consumer of the queue the alerts name, when the chosen namespace (the broker's)
    holds none of them (``consumer_elsewhere`` over every workload in ``index``)."""
    if chosen is None or chosen.kind != "Namespace":
        return None
    kinds = CONSUMER_KINDS + SCALED_CONSUMER_KINDS + QUEUE_SCALER_KINDS
    workloads = [w for kind in kinds for w in index.kind(kind)]
    pods = index.in_namespace("Pod", chosen.name)
    return consumer_elsewhere(alerts, chosen, pods, workloads, index.kind("ConfigMap"))


def _selected_by(service: JsonDict, pods: list[JsonDict]) -> list[JsonDict]:
    """The pods of the Service's namespace that its (equality-only) selector matches."""
    selector = {
        k: v
        for k, v in as_dict(as_dict(service.get("spec")).get("selector")).items()
        if isinstance(v, str)
    }
    return [p for p in pods if _ns(p) == _ns(service) and service_selects(selector, _labels(p))]


def resolve_scope(index: ObjectIndex, target: ObjectRef | None) -> EvidenceScope:
    target_obj = (
        index.get(target.kind, target.namespace, target.name) if target is not None else None
    )
    namespace = target.namespace if target is not None else None
    if target is not None and target.kind == "Namespace":
        namespace = target.name
    workload: JsonDict | None = None
    pods: list[JsonDict] = []
    all_pods = index.kind("Pod")
    if target_obj is not None:
        kind = kind_of(target_obj)
        if kind == "Pod":
            workload = workload_of(index, target_obj)
            pods = [target_obj]
        elif kind in WORKLOAD_KINDS:
            workload = workload_of(index, target_obj)
        elif kind in JOB_STAMPERS:
            runs = stamped_runs(target_obj, index.kind("Job"))
            # A ScaledJob that has no run left is read as itself: its triggers still say
            # what should have started one.
            workload = runs[0] if runs else (target_obj if kind == "ScaledJob" else None)
        elif kind == "HorizontalPodAutoscaler":
            ref = as_dict(as_dict(target_obj.get("spec")).get("scaleTargetRef"))
            scaled = index.get(
                as_str(ref.get("kind")) or "", _ns(target_obj), as_str(ref.get("name"))
            )
            workload = workload_of(index, scaled) if scaled is not None else None
        elif kind == "Service":
            pods = _selected_by(target_obj, all_pods)
        elif kind == "Ingress":
            # An Ingress is about the Services behind it, and so about their pods.
            for backend in ingress_backends(target_obj):
                service = index.get("Service", _ns(target_obj), backend)
                pods += _selected_by(service, all_pods) if service is not None else []
            pods = list({obj_key(p): p for p in pods}.values())
        elif kind == "PersistentVolumeClaim":
            claim = _name(target_obj)
            pods = [p for p in all_pods if _ns(p) == _ns(target_obj) and pod_uses_claim(p, claim)]
        elif kind == "Node":
            pods = [
                p for p in all_pods if as_dict(p.get("spec")).get("nodeName") == _name(target_obj)
            ]
    if target is not None and target.kind in {"ConfigMap", "Secret"}:
        # The object may well be missing (that is the incident); its users are the scope.
        wanted = (target.kind, target.name)
        pods = [
            p
            for p in all_pods
            if _ns(p) == (target.namespace or "")
            and wanted in referenced_config(as_dict(p.get("spec")))
        ]
    if target is not None and target.kind in {
        "Service",
        "Ingress",
        "PersistentVolumeClaim",
        "ConfigMap",
        "Secret",
    }:
        # A workload only when every pod in scope belongs to the same one.
        owners = {obj_key(w): w for p in pods if (w := workload_of(index, p)) is not None}
        if len(owners) == 1:
            workload = next(iter(owners.values()))
    namespace_wide = target is None or target.kind == "Namespace"
    if namespace_wide:
        pods = [p for p in all_pods if namespace is None or _ns(p) == namespace]
    if target is not None and target.kind == "Namespace" and pods:
        # A namespace that runs one application: the incident is about that workload.
        apps = [workload_of(index, p) for p in pods]
        sole = {obj_key(w): w for w in apps if w is not None}
        if len(sole) == 1 and None not in apps:
            workload = next(iter(sole.values()))
        else:
            # ... or, among several, the one workload whose pods fail now.
            chosen = failing_owners(pods) or failed_run_owners(pods)
            failing = [workload_of(index, p) for p in chosen.values()]
            owners = {obj_key(w): w for w in failing if w is not None}
            if len(owners) == 1 and None not in failing:
                workload = next(iter(owners.values()))
    if workload is not None:
        owned = [p for p in all_pods if same_object(workload_of(index, p), workload)]
        if not owned:
            selector = as_dict(as_dict(workload.get("spec")).get("selector"))
            owned = [
                p
                for p in all_pods
                if _ns(p) == _ns(workload)
                and controller_ref(p) is None
                and selector
                and selector_matches(selector, _labels(p))
            ]
        if not owned:
            runs = sibling_runs(workload, index.kind("Job"))
            owned = [
                p for p in all_pods if any(same_object(workload_of(index, p), r) for r in runs)
            ]
        seen = {obj_key(p) for p in pods}
        pods = pods + [p for p in owned if obj_key(p) not in seen]
        namespace = namespace or _ns(workload)
        if not namespace_wide:
            pods += co_endpoint_pods(
                index.kind("Service"), owned, all_pods, lambda p: workload_of(index, p)
            )
    return EvidenceScope(
        target=target,
        target_obj=target_obj,
        namespace=namespace,
        workload=workload,
        pods=sort_pods(pods, target_obj if target_obj is not None and pods else None),
        namespace_wide=namespace_wide,
    )

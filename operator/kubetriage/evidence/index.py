"""The objects read, indexed, and what is in scope around the incident's target.

``ObjectIndex`` holds the objects by kind and by (kind, namespace, name); ownership follows
controller references up to the workload (Pod -> ReplicaSet -> Deployment...); the scope is
the target, its workload and the pods that matter, most interesting first. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubetriage.evidence.co_endpoints import co_endpoint_pods
from kubetriage.evidence.failing_pods import failed_run_owners, failing_owners
from kubetriage.evidence.notes import Notes
from kubetriage.evidence.queue_consumers import (
    CONSUMER_KINDS,
    QUEUE_SCALER_KINDS,
    SCALED_CONSUMER_KINDS,
    consumer_elsewhere,
)
from kubetriage.evidence.raw import (
    as_dict,
    as_int,
    as_str,
    as_time,
    dicts,
    kind_of,
    obj_key,
)
from kubetriage.evidence.targets import candidate_targets
from kubetriage.evidence.volume_alerts import mounted_volumes, volume_claim
from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import Alert
from kubetriage.models.objects import (
    JsonDict,
    controller_ref,
    ingress_backends,
    pod_workload,
    selector_matches,
    service_selects,
)
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import meta as _meta
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})
# The kinds that stamp out Jobs from a template (a schedule's, a queue's scaler's).
JOB_STAMPERS = frozenset({"CronJob", "ScaledJob"})

# The other runs of a CronJob read when a Job's own pods are gone, newest first.
MAX_SIBLING_RUNS = 3
# The pods a Job created that are gone whose events are read, newest first.
MAX_DEPARTED_PODS = 3
# The job controller's words when it creates or deletes one of a Job's pods.
_JOB_POD_EVENT = re.compile(r"^(?:Created|Deleted) pod: (?P<pod>[a-z0-9][a-z0-9.-]*)$")


class ObjectIndex:
    """The objects by kind and by (kind, namespace, name), after basic validation."""

    def __init__(self, objects: Iterable[Any], notes: Notes) -> None:
        self.by_kind: dict[str, list[JsonDict]] = {}
        self.by_key: dict[tuple[str, str, str], JsonDict] = {}
        for position, obj in enumerate(objects):
            if (
                not isinstance(obj, dict)
                or not isinstance(obj.get("kind"), str)
                or not isinstance(_meta(obj).get("name"), str)
            ):
                notes.error(f"skipped object #{position}: no kind or metadata.name")
                continue
            self.by_kind.setdefault(kind_of(obj), []).append(obj)
            self.by_key.setdefault(obj_key(obj), obj)

    def get(self, kind: str, namespace: str | None, name: str | None) -> JsonDict | None:
        if name is None:
            return None
        return self.by_key.get((kind, namespace or "", name))

    def kind(self, kind: str) -> list[JsonDict]:
        return self.by_kind.get(kind, [])

    def in_namespace(self, kind: str, namespace: str) -> list[JsonDict]:
        return [obj for obj in self.kind(kind) if _ns(obj) == namespace]

    def exists(self, ref: ObjectRef) -> bool:
        if ref.kind == "Namespace":
            return self.get("Namespace", None, ref.name) is not None or any(
                key[1] == ref.name for key in self.by_key
            )
        return self.get(ref.kind, ref.namespace, ref.name) is not None


def _owner(index: ObjectIndex, obj: JsonDict) -> JsonDict | None:
    ref = controller_ref(obj)
    if ref is None:
        return None
    owner = index.get(as_str(ref.get("kind")) or "", _ns(obj), as_str(ref.get("name")))
    if owner is None and ref.get("kind") == "ReplicaSet" and kind_of(obj) == "Pod":
        # The ReplicaSet may be missing from a partial snapshot; its Deployment is named after
        # it (``pod_workload``).
        workload = pod_workload(obj)
        if workload is not None:
            return index.get(workload[0], _ns(obj), workload[1])
    return owner


def workload_of(index: ObjectIndex, obj: JsonDict) -> JsonDict | None:
    """The top-most workload controlling ``obj`` (Pod -> ReplicaSet -> Deployment...)."""
    current = obj
    found: JsonDict | None = obj if kind_of(obj) in WORKLOAD_KINDS else None
    for _ in range(4):  # Pod -> ReplicaSet -> Deployment is the deepest built-in chain
        owner = _owner(index, current)
        if owner is None:
            break
        if kind_of(owner) in WORKLOAD_KINDS:
            found = owner
        current = owner
    return found


def sibling_runs(job: JsonDict, jobs: Iterable[JsonDict]) -> list[JsonDict]:
    """The other Jobs the CronJob that stamped ``job`` created, newest first, at most
    ``MAX_SIBLING_RUNS``: every run of a CronJob comes from the same template, so when a
    Job's own pods are gone (its deadline or backoff limit deleted them, a TTL cleaned
    them up) the runs next to it show how the CronJob's runs fail. None for a Job that no
    CronJob controls."""
    stamped_by = controller_ref(job)
    if kind_of(job) != "Job" or stamped_by is None or stamped_by.get("kind") != "CronJob":
        return []
    epoch = datetime.min.replace(tzinfo=UTC)
    siblings = [
        other
        for other in jobs
        if kind_of(other) == "Job"
        and _ns(other) == _ns(job)
        and not same_object(other, job)
        and (ref := controller_ref(other)) is not None
        and ref.get("kind") == "CronJob"
        and ref.get("name") == stamped_by.get("name")
        and not (ref.get("uid") and stamped_by.get("uid") and ref["uid"] != stamped_by["uid"])
    ]
    siblings.sort(key=lambda j: as_time(_meta(j).get("creationTimestamp")) or epoch, reverse=True)
    return siblings[:MAX_SIBLING_RUNS]


def stamped_runs(cron_job: JsonDict | None, jobs: Iterable[JsonDict]) -> list[JsonDict]:
    """The Jobs ``cron_job`` (a CronJob, or a KEDA ScaledJob: ``JOB_STAMPERS``) stamped, the
    run to read first leading: the newest that has not completed (a run still waiting or
    failing is what an alert on it is about), then the rest newest first, at most
    ``MAX_SIBLING_RUNS``. Neither has pods or a selector of its own; its runs' pods are how
    it fails. None for any other kind."""
    if cron_job is None or kind_of(cron_job) not in JOB_STAMPERS:
        return []
    epoch = datetime.min.replace(tzinfo=UTC)
    uid = _meta(cron_job).get("uid")
    runs = [
        job
        for job in jobs
        if kind_of(job) == "Job"
        and _ns(job) == _ns(cron_job)
        and (ref := controller_ref(job)) is not None
        and ref.get("kind") == kind_of(cron_job)
        and ref.get("name") == _name(cron_job)
        and not (ref.get("uid") and uid and ref["uid"] != uid)
    ]
    runs.sort(key=lambda j: as_time(_meta(j).get("creationTimestamp")) or epoch, reverse=True)
    runs.sort(key=_completed)  # stable: unfinished runs first, each group newest first
    return runs[:MAX_SIBLING_RUNS]


def _completed(job: JsonDict) -> bool:
    conditions = dicts(as_dict(job.get("status")).get("conditions"))
    return any(c.get("type") == "Complete" and c.get("status") == "True" for c in conditions)


def departed_pods(job: JsonDict, events: Iterable[JsonDict], present: Iterable[str]) -> list[str]:
    """The pods the job controller reports creating or deleting for ``job`` ("Created pod:
    x", "Deleted pod: x") that are not ``present`` any more, newest first, at most
    ``MAX_DEPARTED_PODS``: a Job's deadline or backoff limit deletes its pods, but their
    events (the kubelet's "couldn't find key", "Failed to pull image") outlive them and say
    why the run never ran. None for any other workload."""
    if kind_of(job) != "Job":
        return []
    epoch = datetime.min.replace(tzinfo=UTC)
    gone = set(present)
    named: dict[str, datetime] = {}
    for event in events:
        involved = as_dict(event.get("involvedObject")) or as_dict(event.get("regarding"))
        if (
            as_str(involved.get("kind")) != "Job"
            or as_str(involved.get("name")) != _name(job)
            or (as_str(involved.get("namespace")) or _ns(event)) != _ns(job)
        ):
            continue
        match = _JOB_POD_EVENT.match((as_str(event.get("message")) or "").strip())
        if match is None or match["pod"] in gone:
            continue
        when = as_time(event.get("lastTimestamp")) or as_time(event.get("eventTime")) or epoch
        named[match["pod"]] = max(when, named.get(match["pod"], epoch))
    newest = sorted(named, key=lambda pod: named[pod], reverse=True)
    return newest[:MAX_DEPARTED_PODS]


def same_object(a: JsonDict | None, b: JsonDict | None) -> bool:
    return a is not None and b is not None and obj_key(a) == obj_key(b)


@dataclass
class EvidenceScope:
    target: ObjectRef | None
    target_obj: JsonDict | None
    namespace: str | None
    workload: JsonDict | None
    pods: list[JsonDict]  # all pods in scope, most interesting first
    namespace_wide: bool


def _pod_trouble(pod: JsonDict) -> tuple[int, int]:
    """(troubled, restarts) so that pods in trouble and restarting most sort first."""
    status = as_dict(pod.get("status"))
    statuses = dicts(status.get("containerStatuses")) + dicts(status.get("initContainerStatuses"))
    restarts = sum(as_int(cs.get("restartCount")) or 0 for cs in statuses)
    troubled = (
        status.get("phase") not in {"Running", "Succeeded"}
        or bool(status.get("reason"))
        or any(cs.get("ready") is not True for cs in dicts(status.get("containerStatuses")))
        or any("waiting" in as_dict(cs.get("state")) for cs in statuses)
        or restarts > 0
    )
    return (1 if troubled else 0, restarts)


def sort_pods(pods: list[JsonDict], first: JsonDict | None = None) -> list[JsonDict]:
    """``first`` (the target pod), then troubled pods, most restarts first, then newest."""
    epoch = datetime.min.replace(tzinfo=UTC)

    def key(pod: JsonDict) -> tuple[int, int, int, float]:
        troubled, restarts = _pod_trouble(pod)
        created = as_time(_meta(pod).get("creationTimestamp")) or epoch
        return (0 if same_object(pod, first) else 1, -troubled, -restarts, -created.timestamp())

    return sorted(pods, key=key)


def claim_names(pod: JsonDict) -> list[str]:
    """The PersistentVolumeClaims a pod mounts. A StatefulSet's pod mounts the claims of its
    ``volumeClaimTemplates`` as ``<template>-<pod name>`` (the controller's naming contract),
    so a mount whose volume a trimmed snapshot of the pod does not list is read that way."""
    spec = as_dict(pod.get("spec"))
    volumes = dicts(spec.get("volumes"))
    names = [
        name
        for volume in volumes
        if (name := as_str(as_dict(volume.get("persistentVolumeClaim")).get("claimName")))
    ]
    owner = controller_ref(pod)
    if owner is None or owner.get("kind") != "StatefulSet":
        return names
    declared = {as_str(v.get("name")) for v in volumes}
    for container in dicts(spec.get("initContainers")) + dicts(spec.get("containers")):
        for mount in dicts(container.get("volumeMounts")):
            volume = as_str(mount.get("name"))
            claim = f"{volume}-{_name(pod)}"
            if volume and volume not in declared and claim not in names:
                names.append(claim)
    return names


def pod_uses_claim(pod: JsonDict, claim: str) -> bool:
    return claim in claim_names(pod)


def referenced_config(pod_spec: JsonDict) -> set[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret a pod spec refers to."""
    found: set[tuple[str, str]] = set()
    containers = dicts(pod_spec.get("initContainers")) + dicts(pod_spec.get("containers"))
    for container in containers:
        for var in dicts(container.get("env")):
            source = as_dict(var.get("valueFrom"))
            found.add(("ConfigMap", str(as_dict(source.get("configMapKeyRef")).get("name"))))
            found.add(("Secret", str(as_dict(source.get("secretKeyRef")).get("name"))))
        for source in dicts(container.get("envFrom")):
            found.add(("ConfigMap", str(as_dict(source.get("configMapRef")).get("name"))))
            found.add(("Secret", str(as_dict(source.get("secretRef")).get("name"))))
    for volume in dicts(pod_spec.get("volumes")):
        found.add(("ConfigMap", str(as_dict(volume.get("configMap")).get("name"))))
        found.add(("Secret", str(as_dict(volume.get("secret")).get("secretName"))))
        for projected in dicts(as_dict(volume.get("projected")).get("sources")):
            found.add(("ConfigMap", str(as_dict(projected.get("configMap")).get("name"))))
            found.add(("Secret", str(as_dict(projected.get("secret")).get("name"))))
    for secret in dicts(pod_spec.get("imagePullSecrets")):
        found.add(("Secret", str(secret.get("name"))))
    return {ref for ref in found if ref[1] != "None"}


# The kinds whose events say a Secret was written: the Secret's own, and its source's (an
# ExternalSecret or SealedSecret writes the Secret of the same name by default).
SECRET_WRITERS = ("Secret", "ExternalSecret", "SealedSecret")


def secret_writers(
    workload: JsonDict | None, pods: Sequence[JsonDict], limit: int
) -> list[tuple[str, str, str]]:
    """The objects whose events say that a Secret the workload's pods read was written (at
    most ``limit`` Secrets): Secrets are never read, so their events, and their writers', are
    how the timeline learns that one changed (``changes.secret_changes``)."""
    specs = [as_dict(p.get("spec")) for p in pods]
    if workload is not None:
        template = as_dict(as_dict(workload.get("spec")).get("template"))
        specs.insert(0, as_dict(template.get("spec")))
    namespace = _ns(workload) if workload is not None else (_ns(pods[0]) if pods else "")
    if not namespace:
        return []
    names = sorted(
        {name for spec in specs for kind, name in referenced_config(spec) if kind == "Secret"}
    )
    return [(kind, namespace, name) for name in names[:limit] for kind in SECRET_WRITERS]


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

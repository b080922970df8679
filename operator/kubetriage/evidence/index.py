"""The objects read, indexed, and what they say about each other.

``ObjectIndex`` holds the objects by kind and by (kind, namespace, name); ownership follows
controller references up to the workload (Pod -> ReplicaSet -> Deployment...); a Job's runs
are read beside it (the other runs its CronJob stamped, the pods the job controller deleted);
a pod spec names its claims, ConfigMaps and Secrets; pods sort most interesting first. Pure;
what is in scope around the incident's target is ``kubetriage.evidence.scope``'s.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from kubetriage.evidence.notes import Notes
from kubetriage.evidence.raw import (
    as_dict,
    as_int,
    as_list,
    as_str,
    as_time,
    dicts,
    kind_of,
    obj_key,
)
from kubetriage.models.base import ObjectRef
from kubetriage.models.objects import JsonDict, controller_ref, pod_workload
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


# What separates the words of a command line: blanks, a flag from its value, list commas.
_ARG_WORD = re.compile(r"[\s=,]+")


def configs_named_in_args(pod_spec: JsonDict, names: Collection[str]) -> set[str]:
    """Those of ``names`` (the ConfigMaps of the pod's namespace) a container's command or
    args give as a whole word: a controller told which ConfigMap to read
    (``--configmap workflow-controller-configmap``, ``--configmap=ns/ingress-controller``)
    reads it through the API and mounts nothing, yet it configures the pods as much as a
    mounted one. A name that is only part of a word (``--prefix=cfg-v2`` for ``cfg``) is not."""
    words: set[str] = set()
    containers = dicts(pod_spec.get("initContainers")) + dicts(pod_spec.get("containers"))
    for container in containers:
        for arg in as_list(container.get("command")) + as_list(container.get("args")):
            for word in _ARG_WORD.split(as_str(arg) or ""):
                # ``namespace/name`` names the ConfigMap by its namespace too.
                words.add(word.rsplit("/", 1)[-1])
    return {name for name in names if name in words}


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

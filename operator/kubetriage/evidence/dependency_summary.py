"""What stands behind a dependency, summarised from what was read of its namespace: the
workload behind the Service (or the workload named directly), its replicas, failing pods,
recent rollouts (``kubetriage.evidence.changes``), Warning events and ReplicaFailure
conditions, and the Secrets its pods mount (where its serving certificate lives).

Pure; ``summarise_dependency`` is called by ``build_evidence``'s dependency and webhook
summaries once ``kubetriage.evidence.dependencies`` has said which Services are called.
"""

from __future__ import annotations

from datetime import datetime

from kubetriage.evidence.changes import recent_rollouts
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.mounts import config_mounts
from kubetriage.evidence.raw import as_dict as _d
from kubetriage.evidence.raw import dicts as _dicts
from kubetriage.models.base import ObjectRef
from kubetriage.models.naming import NamingSource
from kubetriage.models.object_evidence import ServiceEvidence
from kubetriage.models.objects import JsonDict, controller_ref, endpoint_pods
from kubetriage.models.objects import labels as _labels
from kubetriage.models.objects import meta as _meta
from kubetriage.models.objects import service_selects as _selects
from kubetriage.models.relations import DependencyEvidence, PodTrouble


def _owner(obj: JsonDict) -> JsonDict:
    return controller_ref(obj, controller_only=True) or {}


def pod_trouble(pod: JsonDict) -> PodTrouble | None:
    """What is wrong with ``pod`` (a bad phase, or its first waiting or unready container with
    why its last run ended); None for a pod that runs and is ready."""
    name = str(_meta(pod).get("name"))
    status = _d(pod.get("status"))
    phase = status.get("phase")
    bad_phase = str(phase) if phase in ("Pending", "Failed", "Unknown") else None
    for cs in _dicts(status.get("containerStatuses")):
        state = _d(cs.get("state"))
        waiting = _d(state.get("waiting"))
        restarts = cs.get("restartCount") if isinstance(cs.get("restartCount"), int) else 0
        container = str(cs.get("name"))
        last = _d(_d(cs.get("lastState")).get("terminated")).get("reason")
        if waiting:
            # A pod whose container waits to be created or pulled is still Pending; one
            # waiting to restart (CrashLoopBackOff) says in lastState why its last run ended.
            reason = str(waiting.get("reason"))
            return PodTrouble(
                pod=name,
                phase=bad_phase,
                container=container,
                waiting=reason,
                restarts=restarts,
                last_terminated=str(last) if last else None,
            )
        if bad_phase is not None:
            continue
        if cs.get("ready") is False:
            return PodTrouble(
                pod=name,
                container=container,
                restarts=restarts,
                last_terminated=str(last) if last else None,
            )
    return PodTrouble(pod=name, phase=bad_phase) if bad_phase is not None else None


def _finished(container_status: JsonDict) -> datetime | None:
    """When the container's last run ended (``lastState.terminated.finishedAt``)."""
    value = _d(_d(container_status.get("lastState")).get("terminated")).get("finishedAt")
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def restarted(pod: JsonDict) -> PodTrouble | None:
    """A pod that runs with every container ready but whose first restarted container has a
    last run that ended (why and when, from lastState): a process killed and started again
    that serves between its kills. None for a pod never restarted, or not running and ready
    (``pod_trouble`` reports those)."""
    if pod_trouble(pod) is not None:
        return None
    for cs in _dicts(_d(pod.get("status")).get("containerStatuses")):
        restarts = cs.get("restartCount") if isinstance(cs.get("restartCount"), int) else 0
        last = _d(_d(cs.get("lastState")).get("terminated")).get("reason")
        if restarts and last:
            return PodTrouble(
                pod=str(_meta(pod).get("name")),
                container=str(cs.get("name")),
                restarts=restarts,
                last_terminated=str(last),
                last_finished=_finished(cs),
            )
    return None


# Sources kept of what names a dependency.
_MAX_NAMING_SOURCES = 5


def naming_sources(sources: list[NamingSource]) -> list[NamingSource]:
    """The first sources that name a dependency, bounded, in order; the first log line that
    names it stays in even when the spec's mentions (one per pod: "pod x env DB_URL") fill
    the bound first: what the workload said about the dependency tells a call it makes from
    an address it is configured with, whatever its replica count."""
    kept = sources[:_MAX_NAMING_SOURCES]
    said = next((s for s in sources if s.kind == "log"), None)
    if said is None or said in kept:
        return kept
    return [*kept[: _MAX_NAMING_SOURCES - 1], said]


def summarise_dependency(
    service: ServiceEvidence | None,
    named: JsonDict | None,
    sources: list[NamingSource],
    objects: list[JsonDict],
    limits: EvidenceLimits,
) -> DependencyEvidence:
    """The dependency (a Service, or a workload ``named`` directly) with its workload,
    failing pods, rollouts and warnings, from ``objects`` (what was read of its namespace)."""
    if service is not None:
        namespace, selector = service.namespace, service.selector
    elif named is not None:
        namespace = str(_meta(named).get("namespace"))
        match = _d(_d(_d(named.get("spec")).get("selector")).get("matchLabels"))
        selector = {k: v for k, v in match.items() if isinstance(v, str)}
    else:
        raise ValueError("a dependency needs a Service or a workload")
    in_ns = [o for o in objects if _meta(o).get("namespace") == namespace]
    pods = [o for o in in_ns if o.get("kind") == "Pod" and _selects(selector, _labels(o))]
    if service is not None and not selector:
        # No selector: the pods its Endpoints name (another controller writes them).
        endpoints = next(
            (
                o
                for o in in_ns
                if o.get("kind") == "Endpoints" and _meta(o).get("name") == service.name
            ),
            {},
        )
        targeted = set(endpoint_pods(endpoints))
        pods = [o for o in in_ns if o.get("kind") == "Pod" and _meta(o).get("name") in targeted]
    replica_sets = {str(_meta(o).get("name")): o for o in in_ns if o.get("kind") == "ReplicaSet"}
    workload: JsonDict | None = named
    for pod in [] if named is not None else pods:
        owner = _owner(pod)
        if owner.get("kind") == "ReplicaSet":
            rs_owner = _owner(replica_sets.get(str(owner.get("name")), {}))
            owner = rs_owner or owner
        workload = next(
            (
                o
                for o in in_ns
                if o.get("kind") == owner.get("kind") and _meta(o).get("name") == owner.get("name")
            ),
            None,
        )
        if workload is not None:
            break
    changes = []
    ref: ObjectRef | None = None
    desired = ready = None
    if workload is not None:
        ref = ObjectRef(
            kind=str(workload.get("kind")),
            namespace=namespace,
            name=str(_meta(workload).get("name")),
        )
        history = [rs for rs in replica_sets.values() if _owner(rs).get("name") == ref.name] + [
            o
            for o in in_ns
            if o.get("kind") == "ControllerRevision" and _owner(o).get("name") == ref.name
        ]
        changes = recent_rollouts(workload, history, 3)
        spec, status = _d(workload.get("spec")), _d(workload.get("status"))
        desired = spec.get("replicas") if isinstance(spec.get("replicas"), int) else None
        ready = status.get("readyReplicas") if isinstance(status.get("readyReplicas"), int) else 0
        if workload.get("kind") == "DaemonSet":
            # One pod per node it is scheduled on: its counts are the nodes'.
            scheduled, ready = status.get("desiredNumberScheduled"), status.get("numberReady")
            desired = scheduled if isinstance(scheduled, int) else None
            ready = ready if isinstance(ready, int) else 0
    failing = [trouble for p in pods if (trouble := pod_trouble(p))]
    subjects = {("Pod", str(_meta(p).get("name"))) for p in pods}
    if service is not None:
        subjects.add(("Service", service.name))
    if ref is not None:
        subjects.add((ref.kind, ref.name))
        subjects |= {("ReplicaSet", name) for name in replica_sets}
    warnings = []
    if ref is not None and workload is not None:
        # A controller that cannot create pods says why in its status (quota, admission).
        for condition in _dicts(_d(workload.get("status")).get("conditions")):
            if condition.get("type") == "ReplicaFailure" and condition.get("status") == "True":
                text = f"{ref.kind}/{ref.name} ReplicaFailure {condition.get('reason')}: "
                warnings.append((text + str(condition.get("message") or ""))[:300])
    for event in in_ns:
        involved = _d(event.get("involvedObject")) or _d(event.get("regarding"))
        if event.get("kind") != "Event" or event.get("type") != "Warning":
            continue
        if (involved.get("kind"), involved.get("name")) not in subjects:
            continue
        text = f"{involved.get('kind')}/{involved.get('name')} {event.get('reason')}: "
        warnings.append((text + str(event.get("message") or event.get("note") or ""))[:300])
    mounted = sorted(
        {
            str(_d(v.get("secret")).get("secretName"))
            for p in pods
            for v in _dicts(_d(p.get("spec")).get("volumes"))
            if _d(v.get("secret")).get("secretName")
        }
    )
    mounts = {
        (m.kind, m.name, m.path): m
        for p in pods[:3]
        for c in _dicts(_d(p.get("spec")).get("containers"))
        for m in config_mounts(_d(p.get("spec")), c, limit=10)
    }
    secret_mounts = [m for m in mounts.values() if m.kind == "Secret"]
    configmap_mounts = [m for m in mounts.values() if m.kind == "ConfigMap"]
    named_ref = service.ref() if service is not None else ref
    return DependencyEvidence(
        ref=named_ref,
        mounted_secrets=mounted[:5],
        secret_mounts=secret_mounts[:5],
        config_mounts=configmap_mounts[:5],
        service=service,
        named_by=naming_sources(sources),
        workload=ref,
        desired_replicas=desired,
        ready_replicas=ready,
        pods=len(pods),
        failing_pods=failing[:5],
        restarted_pods=[r for p in pods if (r := restarted(p))][:5],
        pod_nodes=dict(
            (str(_meta(p).get("name")), str(node))
            for p in pods[: limits.max_pods]
            if (node := _d(p.get("spec")).get("nodeName"))
        ),
        changes=changes,
        warnings=warnings[:5],
    )

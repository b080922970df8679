"""Workloads (Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, with a Job's CronJob) and
their revision history (ReplicaSets or ControllerRevisions), newest first. Pure."""

from __future__ import annotations

from kubetriage.evidence.index import ObjectIndex
from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.notes import Notes, bounded
from kubetriage.evidence.raw import (
    as_dict,
    as_int,
    as_list,
    as_str,
    as_time,
    dicts,
    display,
    kind_of,
    ref_of,
    str_map,
)
from kubetriage.evidence.summaries.conditions import conditions
from kubetriage.evidence.summaries.pods import container_summaries
from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import RevisionEvidence, WorkloadEvidence
from kubetriage.models.objects import DEPLOYMENT_REVISION, JsonDict, controlled_by, controller_ref
from kubetriage.models.objects import meta as _meta
from kubetriage.models.objects import name as _name
from kubetriage.models.objects import namespace as _ns

# Annotations every object carries that say nothing about the incident.
NOISY_ANNOTATIONS = frozenset(
    {"kubectl.kubernetes.io/last-applied-configuration", DEPLOYMENT_REVISION}
)


def workload_summary(obj: JsonDict, limits: EvidenceLimits, notes: Notes) -> WorkloadEvidence:
    spec, status, meta = as_dict(obj.get("spec")), as_dict(obj.get("status")), _meta(obj)
    kind = kind_of(obj)
    template_spec = as_dict(as_dict(spec.get("template")).get("spec"))
    if kind == "DaemonSet":
        desired = as_int(status.get("desiredNumberScheduled"))
        ready = as_int(status.get("numberReady"))
        available = as_int(status.get("numberAvailable"))
        updated = as_int(status.get("updatedNumberScheduled"))
        unavailable = as_int(status.get("numberUnavailable"))
    elif kind == "Job":
        desired = as_int(spec.get("completions")) or as_int(spec.get("parallelism"))
        ready = as_int(status.get("ready"))
        available = as_int(status.get("succeeded"))
        updated = None
        unavailable = as_int(status.get("failed"))
    else:
        # Deployment, StatefulSet, ReplicaSet; an absent spec.replicas defaults to 1.
        desired = as_int(spec.get("replicas"))
        if desired is None and "replicas" not in spec:
            desired = 1
        ready = as_int(status.get("readyReplicas"))
        available = as_int(status.get("availableReplicas"))
        updated = as_int(status.get("updatedReplicas"))
        unavailable = as_int(status.get("unavailableReplicas"))
    annotations = as_dict(meta.get("annotations"))
    stamped_by = controller_ref(obj) if kind == "Job" else None
    controller = (
        ObjectRef(kind="CronJob", namespace=_ns(obj), name=str(stamped_by["name"]))
        if stamped_by is not None
        and stamped_by.get("kind") == "CronJob"
        and isinstance(stamped_by.get("name"), str)
        else None
    )
    return WorkloadEvidence(
        ref=ref_of(obj),
        desired_replicas=desired,
        ready_replicas=ready or 0,
        available_replicas=available or 0,
        updated_replicas=updated or 0,
        unavailable_replicas=unavailable or 0,
        conditions=conditions(status.get("conditions"), limits),
        selector=str_map(as_dict(spec.get("selector")).get("matchLabels"), limits),
        containers=container_summaries(template_spec, {}, limits, notes, display(obj)),
        revision=as_int(annotations.get(DEPLOYMENT_REVISION)),
        generation=as_int(meta.get("generation")),
        observed_generation=as_int(status.get("observedGeneration")),
        annotations=str_map(annotations, limits, drop=NOISY_ANNOTATIONS),
        controller=controller,
    )


# Words kept of each container's command and args in a revision.
_MAX_WORDS = 16


def _template_spec(replica_set: JsonDict) -> JsonDict:
    return as_dict(as_dict(as_dict(replica_set.get("spec")).get("template")).get("spec"))


def _images(pod_spec: JsonDict) -> dict[str, str]:
    return {
        c["name"]: as_str(c.get("image")) or ""
        for c in dicts(pod_spec.get("initContainers")) + dicts(pod_spec.get("containers"))
        if isinstance(c.get("name"), str)
    }


def _commands(pod_spec: JsonDict) -> dict[str, list[str]]:
    """Each container's command and args (a bounded few words of each)."""
    return {
        c["name"]: [as_str(a) or "" for a in as_list(c.get("command")) + as_list(c.get("args"))][
            :_MAX_WORDS
        ]
        for c in dicts(pod_spec.get("initContainers")) + dicts(pod_spec.get("containers"))
        if isinstance(c.get("name"), str)
    }


def revision_history(
    index: ObjectIndex, workload: JsonDict, limits: EvidenceLimits, notes: Notes
) -> tuple[list[RevisionEvidence], list[JsonDict]]:
    """The workload's revisions, newest first, and the ReplicaSets (or ControllerRevisions)
    behind them."""
    revisions: list[RevisionEvidence] = []
    replica_sets: list[JsonDict] = []
    kind = kind_of(workload)
    if kind == "Deployment":
        current = as_int(as_dict(_meta(workload).get("annotations")).get(DEPLOYMENT_REVISION))
        replica_sets = [
            rs
            for rs in index.in_namespace("ReplicaSet", _ns(workload))
            if controlled_by(rs, workload)
        ]
        for rs in replica_sets:
            status = as_dict(rs.get("status"))
            number = as_int(as_dict(_meta(rs).get("annotations")).get(DEPLOYMENT_REVISION))
            if number is None:
                notes.error(f"{display(rs)} has no revision annotation")
                continue
            revisions.append(
                RevisionEvidence(
                    name=_name(rs),
                    revision=number,
                    images=_images(_template_spec(rs)),
                    commands=_commands(_template_spec(rs)),
                    replicas=as_int(status.get("replicas")) or 0,
                    ready_replicas=as_int(status.get("readyReplicas")) or 0,
                    available_replicas=as_int(status.get("availableReplicas")) or 0,
                    created_at=as_time(_meta(rs).get("creationTimestamp")),
                    current=current is not None and number == current,
                )
            )
    elif kind in {"StatefulSet", "DaemonSet"}:
        history = [
            cr
            for cr in index.in_namespace("ControllerRevision", _ns(workload))
            if controlled_by(cr, workload)
        ]
        replica_sets = history
        update_revision = as_str(as_dict(workload.get("status")).get("updateRevision"))
        newest = max((as_int(cr.get("revision")) or 0 for cr in history), default=None)
        for cr in history:
            number = as_int(cr.get("revision")) or 0
            template = as_dict(as_dict(as_dict(cr.get("data")).get("spec")).get("template"))
            is_current = _name(cr) == update_revision if update_revision else number == newest
            revisions.append(
                RevisionEvidence(
                    name=_name(cr),
                    revision=number,
                    images=_images(as_dict(template.get("spec"))),
                    commands=_commands(as_dict(template.get("spec"))),
                    created_at=as_time(_meta(cr).get("creationTimestamp")),
                    current=is_current,
                )
            )
    revisions.sort(key=lambda r: r.revision, reverse=True)
    return bounded(revisions, limits.max_revisions, "revisions", notes, "newest first"), (
        replica_sets
    )

"""Planning an approved remediation (pure): ``build_plan`` turns the remediation's typed
parameters, the live object (and, for rollback, its ReplicaSets or ControllerRevisions; for
drain, the node's pods) into a ``Plan``: a ``PatchStep``, the before/after of every changed
field and the inverse patch (written with ``kubetriage.remediation.patches``). Bounds from the
policy cap every increase here. The display command is never read. Used by
``kubetriage.remediation.actions``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import Remediation
from kubetriage.models.incident import FieldChange, RemediationUndo
from kubetriage.models.objects import (
    DEPLOYMENT_REVISION,
    RESTARTED_AT,
    annotations_of,
    controlled_by,
    controller_ref,
    meta,
    without_nulls,
)
from kubetriage.models.quantity import format_cpu, format_memory, parse_quantity
from kubetriage.models.remediation import (
    CpuParameters,
    MemoryParameters,
    RollbackParameters,
    ScaleParameters,
)
from kubetriage.models.vocabulary import Action
from kubetriage.remediation.patches import (
    Eviction,
    JsonObj,
    PatchStep,
    PatchType,
    Plan,
    PlanError,
    json_text,
    leaf_changes,
    metadata_patch,
    undo_of,
)
from kubetriage.remediation.policy import (
    LEDGER_ANNOTATION,
    Bounds,
    bounded_increase,
    bounded_replicas,
)

# The most changed fields a plan lists.
MAX_CHANGES = 32


def _containers(obj: JsonObj) -> list[JsonObj]:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [c for c in spec.get("containers") or [] if isinstance(c, dict)]


def _pick_container(obj: JsonObj, wanted: str | None) -> JsonObj:
    containers = _containers(obj)
    if wanted is not None:
        for container in containers:
            if container.get("name") == wanted:
                return container
        raise PlanError("ContainerNotFound", f"the workload has no container named {wanted}")
    if len(containers) == 1:
        return containers[0]
    names = ", ".join(str(c.get("name")) for c in containers)
    raise PlanError(
        "AmbiguousContainer",
        f"the remediation names no container and the workload has several ({names})",
    )


# --- planning (pure) --------------------------------------------------------------------------


def plan_resources(
    target: ObjectRef,
    obj: JsonObj,
    parameters: MemoryParameters | CpuParameters,
    bounds: Bounds,
    ledger_value: str,
) -> Plan:
    """increase-memory / increase-cpu: the container's limit (and, with a suggested memory
    value, its memory request) raised to the suggested value, capped at the policy's factor
    of the current limit; without a suggestion, the factor itself."""
    if isinstance(parameters, MemoryParameters):
        resource, suggested = "memory", parameters.memory
        factor, fmt = bounds.max_memory_factor, format_memory
    else:
        resource, suggested = "cpu", parameters.cpu
        factor, fmt = bounds.max_cpu_factor, format_cpu
    container = _pick_container(obj, parameters.container)
    name = str(container.get("name"))
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    current = parse_quantity(limits.get(resource))
    if current is None or current <= 0:
        raise PlanError(
            "NoLimit",
            f"container {name} has no {resource} limit to raise; change it by hand",
        )
    bounded = bounded_increase(current, parse_quantity(suggested), factor)
    new_limit = fmt(bounded.value)
    if (parse_quantity(new_limit) or 0.0) <= current:
        raise PlanError(
            "NotAnIncrease",
            f"{resource} limit {limits.get(resource)} would not grow (policy factor {factor})",
        )
    new_resources: JsonObj = {"limits": {resource: new_limit}}
    undo_resources: JsonObj = {"limits": {resource: limits.get(resource)}}
    changes = [
        FieldChange(
            path=f"spec.template.spec.containers[{name}].resources.limits.{resource}",
            before=json_text(limits.get(resource)),
            after=json_text(new_limit),
        )
    ]
    if resource == "memory" and suggested is not None:
        new_resources["requests"] = {resource: new_limit}
        undo_resources["requests"] = {resource: requests.get(resource)}
        if requests.get(resource) != new_limit:
            changes.append(
                FieldChange(
                    path=f"spec.template.spec.containers[{name}].resources.requests.{resource}",
                    before=json_text(requests.get(resource)),
                    after=json_text(new_limit),
                )
            )
    body = {
        "metadata": metadata_patch(obj, ledger_value),
        "spec": {
            "template": {"spec": {"containers": [{"name": name, "resources": new_resources}]}}
        },
    }
    undo_body = {
        "spec": {
            "template": {"spec": {"containers": [{"name": name, "resources": undo_resources}]}}
        }
    }
    capped = f" (capped by the policy at {factor}x)" if bounded.capped else ""
    return Plan(
        patch=PatchStep(target.kind, target.namespace, target.name, "strategic", body),
        changes=changes,
        undo=undo_of(target, "strategic", undo_body),
        summary=f"{resource} limit of {name}: {limits.get(resource)} -> {new_limit}{capped}",
    )


def plan_restart(target: ObjectRef, obj: JsonObj, now: datetime, ledger_value: str) -> Plan:
    """A rolling restart, as ``kubectl rollout restart`` does it: a new pod-template
    annotation, so the controller replaces every pod."""
    template_meta = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
    before = (template_meta.get("annotations") or {}).get(RESTARTED_AT)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "metadata": metadata_patch(obj, ledger_value),
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}},
    }
    return Plan(
        patch=PatchStep(target.kind, target.namespace, target.name, "strategic", body),
        changes=[
            FieldChange(
                path=f"spec.template.metadata.annotations[{RESTARTED_AT}]",
                before=json_text(before),
                after=json_text(stamp),
            )
        ],
        undo=RemediationUndo(note="A rolling restart cannot be undone: the pods were replaced."),
        summary=f"rolling restart of {target.display()}",
    )


def plan_scale(
    target: ObjectRef,
    obj: JsonObj,
    parameters: ScaleParameters,
    bounds: Bounds,
    ledger_value: str,
) -> Plan:
    """More replicas through spec.replicas (not /scale, so the ledger annotation and the
    resourceVersion precondition travel in the same write), within maxReplicas and
    maxReplicaFactor."""
    current = int((obj.get("spec") or {}).get("replicas", 1))
    bounded = bounded_replicas(current, parameters.replicas, bounds)
    new = int(bounded.value)
    if new <= current:
        raise PlanError(
            "NotAnIncrease",
            f"{target.display()} has {current} replicas; the policy allows at most {new}",
        )
    body = {"metadata": metadata_patch(obj, ledger_value), "spec": {"replicas": new}}
    capped = " (capped by the policy)" if bounded.capped else ""
    return Plan(
        patch=PatchStep(target.kind, target.namespace, target.name, "merge", body),
        changes=[
            FieldChange(path="spec.replicas", before=json_text(current), after=json_text(new))
        ],
        undo=undo_of(target, "merge", {"spec": {"replicas": current}}),
        summary=f"replicas of {target.display()}: {current} -> {new}{capped}",
    )


def _target_revision(wanted: int | None, current: int, available: list[int]) -> int:
    if wanted is None:
        older = [r for r in available if r < current]
        if not older:
            raise PlanError("NoPreviousRevision", "there is no earlier revision to roll back to")
        return max(older)
    if wanted not in available:
        raise PlanError("RevisionNotFound", f"revision {wanted} no longer exists")
    return wanted


def plan_rollback_deployment(
    target: ObjectRef,
    obj: JsonObj,
    replica_sets: list[JsonObj],
    parameters: RollbackParameters,
    ledger_value: str,
) -> Plan:
    """``kubectl rollout undo``: the pod template of the ReplicaSet of the chosen revision
    (without its pod-template-hash label) replaces the Deployment's template, in a JSON
    patch guarded by a resourceVersion test."""
    owned = {}
    for rs in replica_sets:
        label = annotations_of(rs).get(DEPLOYMENT_REVISION, "")
        if controlled_by(rs, obj) and label.isdigit():
            owned[int(label)] = rs
    current_text = annotations_of(obj).get(DEPLOYMENT_REVISION, "")
    current = int(current_text) if current_text.isdigit() else max(owned, default=0)
    revision = _target_revision(parameters.revision, current, sorted(owned))
    template = copy.deepcopy((owned[revision].get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop("pod-template-hash", None)
    before = (obj.get("spec") or {}).get("template") or {}
    if template == before:
        raise PlanError("AlreadyAtRevision", f"the pod template already is revision {revision}'s")
    annotations = {**annotations_of(obj), LEDGER_ANNOTATION: ledger_value}
    body = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": meta(obj).get("resourceVersion"),
        },
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "add", "path": "/metadata/annotations", "value": annotations},
    ]
    undo_body = [{"op": "replace", "path": "/spec/template", "value": before}]
    return _rollback_plan(
        target, "json", (body, undo_body), (before, template), (current, revision)
    )


def plan_rollback_statefulset(
    target: ObjectRef,
    obj: JsonObj,
    revisions: list[JsonObj],
    parameters: RollbackParameters,
    ledger_value: str,
) -> Plan:
    """``kubectl rollout undo`` for a StatefulSet: the chosen ControllerRevision's data (a
    strategic merge patch that replaces the pod template) applied to the StatefulSet."""
    owned = {int(r["revision"]): r for r in revisions if controlled_by(r, obj) and "revision" in r}
    update_name = (obj.get("status") or {}).get("updateRevision") or (obj.get("status") or {}).get(
        "currentRevision"
    )
    by_name = {meta(r).get("name"): n for n, r in owned.items()}
    current = by_name.get(update_name, max(owned, default=0))
    revision = _target_revision(parameters.revision, current, sorted(owned))
    data = copy.deepcopy(owned[revision].get("data") or {})
    template = copy.deepcopy(((data.get("spec") or {}).get("template")) or {})
    template.pop("$patch", None)
    before = (obj.get("spec") or {}).get("template") or {}
    if not template:
        raise PlanError("RevisionNotFound", f"revision {revision} holds no pod template")
    body = {**data, "metadata": metadata_patch(obj, ledger_value)}
    # In a merge patch null means "delete"; a template's "creationTimestamp: null" is absent.
    undo_body = {"spec": {"template": {**without_nulls(before), "$patch": "replace"}}}
    return _rollback_plan(
        target, "strategic", (body, undo_body), (before, template), (current, revision)
    )


def _rollback_plan(
    target: ObjectRef,
    patch_type: PatchType,
    patches: tuple[Any, Any],
    templates: tuple[JsonObj, JsonObj],
    revisions: tuple[int, int],
) -> Plan:
    """The plan of a rollout undo: ``patches`` (forward, inverse) move the pod template
    ``templates`` (before, after) from revision ``revisions[0]`` to ``revisions[1]``."""
    body, undo_body = patches
    before, template = templates
    current, revision = revisions
    undo = undo_of(
        target,
        patch_type,
        undo_body,
        note=f"or: kubectl -n {target.namespace} rollout undo {target.kind.lower()}/{target.name} "
        f"--to-revision={current}",
    )
    return Plan(
        patch=PatchStep(target.kind, target.namespace, target.name, patch_type, body),
        changes=leaf_changes(before, template, "spec.template")[:MAX_CHANGES],
        undo=undo,
        summary=f"{target.display()} rolled back from revision {current} to {revision}",
    )


def _evictable(pod: JsonObj) -> bool:
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    if "kubernetes.io/config.mirror" in annotations_of(pod):
        return False
    return (controller_ref(pod) or {}).get("kind") != "DaemonSet"


def plan_drain(target: ObjectRef, node: JsonObj, pods: list[JsonObj], ledger_value: str) -> Plan:
    """``kubectl drain``: cordon (spec.unschedulable) and evict every pod but DaemonSet and
    mirror pods, through the Eviction API so PodDisruptionBudgets are honoured."""
    before = bool((node.get("spec") or {}).get("unschedulable", False))
    evictions = [
        Eviction(str(meta(p).get("namespace")), str(meta(p).get("name")))
        for p in pods
        if _evictable(p) and (p.get("spec") or {}).get("nodeName") == target.name
    ]
    body = {"metadata": metadata_patch(node, ledger_value), "spec": {"unschedulable": True}}
    undo = undo_of(
        target,
        "merge",
        {"spec": {"unschedulable": before or None}},
        note=f"or: kubectl uncordon node/{target.name}; evicted pods were recreated elsewhere "
        f"by their controllers",
    )
    changes = [
        FieldChange(path="spec.unschedulable", before=json_text(before), after=json_text(True)),
        *[
            FieldChange(
                path=f"eviction[{e.namespace}/{e.name}]", before='"Running"', after='"Evicted"'
            )
            for e in evictions[: MAX_CHANGES - 1]
        ],
    ]
    return Plan(
        patch=PatchStep("Node", None, target.name, "strategic", body),
        changes=changes,
        undo=undo,
        summary=f"node {target.name} cordoned, {len(evictions)} pod(s) evicted",
        evictions=evictions,
    )


@dataclass(frozen=True)
class Related:
    """Objects besides the target that a plan needs."""

    replica_sets: list[JsonObj] = field(default_factory=list)
    controller_revisions: list[JsonObj] = field(default_factory=list)
    pods: list[JsonObj] = field(default_factory=list)


def build_plan(
    remediation: Remediation,
    obj: JsonObj,
    related: Related,
    bounds: Bounds,
    ledger_value: str,
    now: datetime,
) -> Plan:
    """The concrete change for ``remediation`` on the live ``obj``; raises ``PlanError``.
    Executes the remediation's typed parameters; its display command is never read."""
    action, target, parameters = remediation.action, remediation.target, remediation.parameters
    if isinstance(parameters, MemoryParameters | CpuParameters):
        return plan_resources(target, obj, parameters, bounds, ledger_value)
    if action is Action.RESTART:
        return plan_restart(target, obj, now, ledger_value)
    if isinstance(parameters, ScaleParameters):
        return plan_scale(target, obj, parameters, bounds, ledger_value)
    if isinstance(parameters, RollbackParameters) and target.kind == "Deployment":
        return plan_rollback_deployment(target, obj, related.replica_sets, parameters, ledger_value)
    if isinstance(parameters, RollbackParameters) and target.kind == "StatefulSet":
        return plan_rollback_statefulset(
            target, obj, related.controller_revisions, parameters, ledger_value
        )
    if action is Action.DRAIN_NODE and target.kind == "Node":
        return plan_drain(target, obj, related.pods, ledger_value)
    raise PlanError("NotExecutable", f"kubetriage cannot execute {action.value} on {target.kind}")

"""Executing an approved remediation: plan it as a concrete Kubernetes patch, check the
policy, dry-run it on the server, apply it once, and say exactly what changed and how to undo.

Three layers, called by the ``approve`` handler in ``kubetriage.handlers``:

- pure planning: ``build_plan`` turns an action, the live object (and, for rollback, its
  ReplicaSets or ControllerRevisions; for drain, the node's pods) into ``PatchStep``s, the
  before/after of every changed field and the inverse patch. Bounds from the policy cap
  every increase here.
- ``ClusterAdapter``: the I/O edge, the official ``kubernetes`` client in worker threads,
  raw JSON in and out.
- ``execute_approval``: the flow (find the remediation, policy, plan, dry-run, apply) that
  returns a ``RemediationRecord`` plus the Events to post; it never raises for an expected
  outcome.

Exactly once: every patch carries the target's ``resourceVersion`` (a concurrent change is
a conflict, not a lost update) and appends an entry to the target's
``kubetriage.io/last-remediations`` annotation in the same write, so "was this approval
applied?" is answered by the target itself, whatever happened to the operator in between.
"""

from __future__ import annotations

import asyncio
import copy
import json
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from kubetriage.models.base import ObjectRef
from kubetriage.models.diagnosis import Diagnosis, Remediation
from kubetriage.models.incident import (
    FieldChange,
    Phase,
    RemediationRecord,
    RemediationResult,
    RemediationUndo,
)
from kubetriage.models.quantity import format_cpu, format_memory, parse_quantity
from kubetriage.models.remediation import (
    CpuParameters,
    MemoryParameters,
    RollbackParameters,
    ScaleParameters,
)
from kubetriage.models.vocabulary import Action
from kubetriage.remediation.policy import (
    LEDGER_ANNOTATION,
    Bounds,
    LedgerEntry,
    PolicyError,
    RemediationPolicy,
    Request,
    append_ledger,
    bounded_increase,
    bounded_replicas,
    evaluate,
    load_policy,
    parse_ledger,
)

JsonObj = dict[str, Any]
PatchType = Literal["strategic", "merge", "json"]
CONTENT_TYPES: dict[PatchType, str] = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
DEPLOYMENT_REVISION = "deployment.kubernetes.io/revision"
MAX_CHANGES = 32
MAX_UNDO_PATCH = 30_000
_API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "Node": "v1"}
_RESOURCE = {"Deployment": "deployment", "StatefulSet": "statefulset", "Node": "node"}


class PlanError(Exception):
    """The remediation cannot be turned into a safe, bounded change; a rejection."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PatchStep:
    kind: str
    namespace: str | None
    name: str
    patch_type: PatchType
    body: Any


@dataclass(frozen=True)
class Eviction:
    namespace: str
    name: str


@dataclass(frozen=True)
class Plan:
    patch: PatchStep
    changes: list[FieldChange]
    undo: RemediationUndo
    summary: str
    evictions: list[Eviction] = field(default_factory=list)


# --- small JSON helpers -----------------------------------------------------------------------


def _meta(obj: JsonObj) -> JsonObj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _annotations(obj: JsonObj) -> dict[str, str]:
    return dict(_meta(obj).get("annotations") or {})


def _jtext(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


def _leaf_changes(before: Any, after: Any, path: str) -> list[FieldChange]:
    """Every leaf that differs between two JSON values, as FieldChanges."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes = []
        for key in sorted(set(before) | set(after)):
            changes += _leaf_changes(before.get(key), after.get(key), f"{path}.{key}")
        return changes
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        changes = []
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            label = b.get("name") if isinstance(b, dict) and "name" in b else index
            changes += _leaf_changes(b, a, f"{path}[{label}]")
        return changes
    if before == after:
        return []
    return [FieldChange(path=path, before=_jtext(before), after=_jtext(after))]


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _metadata_patch(obj: JsonObj, ledger_value: str) -> JsonObj:
    return {
        "resourceVersion": _meta(obj).get("resourceVersion"),
        "annotations": {LEDGER_ANNOTATION: ledger_value},
    }


def _kubectl_patch(target: ObjectRef, patch_type: PatchType, patch: Any) -> str:
    ns = f"-n {shlex.quote(target.namespace)} " if target.namespace else ""
    ref = shlex.quote(f"{_RESOURCE.get(target.kind, target.kind.lower())}/{target.name}")
    body = json.dumps(patch, separators=(",", ":"))
    return f"kubectl {ns}patch {ref} --type {patch_type} -p {shlex.quote(body)}"


def _undo(
    target: ObjectRef, patch_type: PatchType, patch: Any, note: str | None = None
) -> RemediationUndo:
    text = json.dumps(patch, separators=(",", ":"))
    if len(text) > MAX_UNDO_PATCH:
        return RemediationUndo(note=(note or "") + " The inverse patch is too large to record.")
    return RemediationUndo(
        patch_type=patch_type,
        patch=text,
        command=_kubectl_patch(target, patch_type, patch),
        note=note,
    )


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
            before=_jtext(limits.get(resource)),
            after=_jtext(new_limit),
        )
    ]
    if resource == "memory" and suggested is not None:
        new_resources["requests"] = {resource: new_limit}
        undo_resources["requests"] = {resource: requests.get(resource)}
        if requests.get(resource) != new_limit:
            changes.append(
                FieldChange(
                    path=f"spec.template.spec.containers[{name}].resources.requests.{resource}",
                    before=_jtext(requests.get(resource)),
                    after=_jtext(new_limit),
                )
            )
    body = {
        "metadata": _metadata_patch(obj, ledger_value),
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
        undo=_undo(target, "strategic", undo_body),
        summary=f"{resource} limit of {name}: {limits.get(resource)} -> {new_limit}{capped}",
    )


def plan_restart(target: ObjectRef, obj: JsonObj, now: datetime, ledger_value: str) -> Plan:
    """A rolling restart, as ``kubectl rollout restart`` does it: a new pod-template
    annotation, so the controller replaces every pod."""
    template_meta = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
    before = (template_meta.get("annotations") or {}).get(RESTARTED_AT)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "metadata": _metadata_patch(obj, ledger_value),
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}},
    }
    return Plan(
        patch=PatchStep(target.kind, target.namespace, target.name, "strategic", body),
        changes=[
            FieldChange(
                path=f"spec.template.metadata.annotations[{RESTARTED_AT}]",
                before=_jtext(before),
                after=_jtext(stamp),
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
    body = {"metadata": _metadata_patch(obj, ledger_value), "spec": {"replicas": new}}
    capped = " (capped by the policy)" if bounded.capped else ""
    return Plan(
        patch=PatchStep(target.kind, target.namespace, target.name, "merge", body),
        changes=[FieldChange(path="spec.replicas", before=_jtext(current), after=_jtext(new))],
        undo=_undo(target, "merge", {"spec": {"replicas": current}}),
        summary=f"replicas of {target.display()}: {current} -> {new}{capped}",
    )


def _owned_by(obj: JsonObj, owner: JsonObj) -> bool:
    owner_meta = _meta(owner)
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("kind") != owner.get("kind") or ref.get("name") != owner_meta.get("name"):
            continue
        if ref.get("uid") and owner_meta.get("uid") and ref["uid"] != owner_meta["uid"]:
            continue
        return True
    return False


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
        label = _annotations(rs).get(DEPLOYMENT_REVISION, "")
        if _owned_by(rs, obj) and label.isdigit():
            owned[int(label)] = rs
    current_text = _annotations(obj).get(DEPLOYMENT_REVISION, "")
    current = int(current_text) if current_text.isdigit() else max(owned, default=0)
    revision = _target_revision(parameters.revision, current, sorted(owned))
    template = copy.deepcopy((owned[revision].get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop("pod-template-hash", None)
    before = (obj.get("spec") or {}).get("template") or {}
    if template == before:
        raise PlanError("AlreadyAtRevision", f"the pod template already is revision {revision}'s")
    annotations = {**_annotations(obj), LEDGER_ANNOTATION: ledger_value}
    body = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": _meta(obj).get("resourceVersion"),
        },
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "add", "path": "/metadata/annotations", "value": annotations},
    ]
    undo_body = [{"op": "replace", "path": "/spec/template", "value": before}]
    undo = _undo(
        target,
        "json",
        undo_body,
        note=f"or: kubectl -n {target.namespace} rollout undo deployment/{target.name} "
        f"--to-revision={current}",
    )
    return Plan(
        patch=PatchStep(target.kind, target.namespace, target.name, "json", body),
        changes=_leaf_changes(before, template, "spec.template")[:MAX_CHANGES],
        undo=undo,
        summary=f"{target.display()} rolled back from revision {current} to {revision}",
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
    owned = {int(r["revision"]): r for r in revisions if _owned_by(r, obj) and "revision" in r}
    update_name = (obj.get("status") or {}).get("updateRevision") or (obj.get("status") or {}).get(
        "currentRevision"
    )
    by_name = {_meta(r).get("name"): n for n, r in owned.items()}
    current = by_name.get(update_name, max(owned, default=0))
    revision = _target_revision(parameters.revision, current, sorted(owned))
    data = copy.deepcopy(owned[revision].get("data") or {})
    template = copy.deepcopy(((data.get("spec") or {}).get("template")) or {})
    template.pop("$patch", None)
    before = (obj.get("spec") or {}).get("template") or {}
    if not template:
        raise PlanError("RevisionNotFound", f"revision {revision} holds no pod template")
    body = {**data, "metadata": _metadata_patch(obj, ledger_value)}
    # In a merge patch null means "delete"; a template's "creationTimestamp: null" is absent.
    undo_body = {"spec": {"template": {**_drop_nulls(before), "$patch": "replace"}}}
    undo = _undo(
        target,
        "strategic",
        undo_body,
        note=f"or: kubectl -n {target.namespace} rollout undo statefulset/{target.name} "
        f"--to-revision={current}",
    )
    return Plan(
        patch=PatchStep(target.kind, target.namespace, target.name, "strategic", body),
        changes=_leaf_changes(before, template, "spec.template")[:MAX_CHANGES],
        undo=undo,
        summary=f"{target.display()} rolled back from revision {current} to {revision}",
    )


def _evictable(pod: JsonObj) -> bool:
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    if "kubernetes.io/config.mirror" in _annotations(pod):
        return False
    owners = _meta(pod).get("ownerReferences") or []
    return not any(o.get("kind") == "DaemonSet" for o in owners)


def plan_drain(target: ObjectRef, node: JsonObj, pods: list[JsonObj], ledger_value: str) -> Plan:
    """``kubectl drain``: cordon (spec.unschedulable) and evict every pod but DaemonSet and
    mirror pods, through the Eviction API so PodDisruptionBudgets are honoured."""
    before = bool((node.get("spec") or {}).get("unschedulable", False))
    evictions = [
        Eviction(str(_meta(p).get("namespace")), str(_meta(p).get("name")))
        for p in pods
        if _evictable(p) and (p.get("spec") or {}).get("nodeName") == target.name
    ]
    body = {"metadata": _metadata_patch(node, ledger_value), "spec": {"unschedulable": True}}
    undo = _undo(
        target,
        "merge",
        {"spec": {"unschedulable": before or None}},
        note=f"or: kubectl uncordon node/{target.name}; evicted pods were recreated elsewhere "
        f"by their controllers",
    )
    changes = [
        FieldChange(path="spec.unschedulable", before=_jtext(before), after=_jtext(True)),
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


# --- who approved -----------------------------------------------------------------------------


def approver(
    spec: JsonObj, meta: JsonObj
) -> tuple[str, Literal["spec.approvedBy", "managedFields", "unknown"]]:
    """``spec.approvedBy`` when given; else the field manager that last wrote spec.approve
    (a client name such as ``kubectl-patch``, since managedFields do not name users)."""
    given = spec.get("approvedBy")
    if isinstance(given, str) and given.strip():
        return given.strip()[:256], "spec.approvedBy"
    writers = []
    for entry in meta.get("managedFields") or []:
        fields = (entry.get("fieldsV1") or {}).get("f:spec") or {}
        if "f:approve" in fields and entry.get("manager"):
            writers.append((str(entry.get("time") or ""), str(entry["manager"])))
    if writers:
        return max(writers)[1][:256], "managedFields"
    return "unknown", "unknown"


# --- the cluster edge -------------------------------------------------------------------------


class ClusterAdapter:
    """Reads and writes the objects a remediation touches, as raw JSON."""

    def __init__(self, api_client: k8s.ApiClient, *, request_timeout: float = 10.0) -> None:
        self._apps = k8s.AppsV1Api(api_client)
        self._core = k8s.CoreV1Api(api_client)
        self._timeout = request_timeout

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        response = method(*args, _preload_content=False, _request_timeout=self._timeout, **kwargs)
        try:
            data: bytes = response.data
        finally:
            response.release_conn()
        return json.loads(data) if data else None

    async def _run(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self._call, method, *args, **kwargs)

    async def read(self, target: ObjectRef) -> JsonObj | None:
        readers: dict[str, Callable[..., Any]] = {
            "Deployment": self._apps.read_namespaced_deployment,
            "StatefulSet": self._apps.read_namespaced_stateful_set,
        }
        try:
            if target.kind == "Node":
                body = await self._run(self._core.read_node, target.name)
            elif target.kind in readers and target.namespace:
                body = await self._run(readers[target.kind], target.name, target.namespace)
            else:
                return None
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        if isinstance(body, dict):
            body.setdefault("kind", target.kind)
            body.setdefault("apiVersion", _API_VERSIONS[target.kind])
            return body
        return None

    async def related(self, remediation: Remediation) -> Related:
        target = remediation.target
        if remediation.action is Action.ROLLBACK and target.kind == "Deployment":
            listed = await self._run(self._apps.list_namespaced_replica_set, target.namespace)
            return Related(replica_sets=list((listed or {}).get("items") or []))
        if remediation.action is Action.ROLLBACK and target.kind == "StatefulSet":
            listed = await self._run(
                self._apps.list_namespaced_controller_revision, target.namespace
            )
            return Related(controller_revisions=list((listed or {}).get("items") or []))
        if remediation.action is Action.DRAIN_NODE:
            listed = await self._run(
                self._core.list_pod_for_all_namespaces,
                field_selector=f"spec.nodeName={target.name}",
            )
            return Related(pods=list((listed or {}).get("items") or []))
        return Related()

    async def patch(self, step: PatchStep, *, dry_run: bool) -> None:
        patchers: dict[str, Callable[..., Any]] = {
            "Deployment": self._apps.patch_namespaced_deployment,
            "StatefulSet": self._apps.patch_namespaced_stateful_set,
        }
        extra: dict[str, Any] = {"_content_type": CONTENT_TYPES[step.patch_type]}
        if dry_run:
            extra["dry_run"] = "All"
        if step.kind == "Node":
            await self._run(self._core.patch_node, step.name, step.body, **extra)
        else:
            await self._run(patchers[step.kind], step.name, step.namespace, step.body, **extra)

    async def evict(self, eviction: Eviction, *, dry_run: bool) -> None:
        body = k8s.V1Eviction(
            metadata=k8s.V1ObjectMeta(name=eviction.name, namespace=eviction.namespace),
            delete_options=k8s.V1DeleteOptions(dry_run=["All"]) if dry_run else None,
        )
        extra: dict[str, Any] = {"dry_run": "All"} if dry_run else {}
        await self._run(
            self._core.create_namespaced_pod_eviction,
            eviction.name,
            eviction.namespace,
            body,
            **extra,
        )


# --- the flow ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventNote:
    """A Kubernetes Event to post on the Incident and, when ``on_target``, the target."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str
    on_target: bool = True


@dataclass
class Outcome:
    record: RemediationRecord
    events: list[EventNote] = field(default_factory=list)
    # apiVersion/kind/metadata of the target, for Events on it; None when never read.
    target_body: JsonObj | None = None


@dataclass(frozen=True)
class Approval:
    """An approval as the handler sees it: the Incident's spec, status and metadata."""

    incident_namespace: str
    incident_name: str
    spec: JsonObj
    status: JsonObj
    meta: JsonObj


def read_policy_file(path: Path | None) -> RemediationPolicy | None:
    """The policy at ``path`` (read on every approval, so a ConfigMap update applies without
    a restart); None without a path. Raises ``PolicyError``."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(f"cannot read the policy file {path}: {error}") from error
    return load_policy(text)


def _api_error(error: ApiException) -> str:
    try:
        message = json.loads(error.body or "{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return f"{error.status} {message or error.reason or ''}".strip()[:1000]


async def execute_approval(
    approval: Approval,
    *,
    cluster: ClusterAdapter,
    policy_file: Path | None,
    now: Callable[[], datetime],
    record_progress: Callable[[RemediationRecord], Awaitable[None]],
) -> Outcome:
    """Carry out ``spec.approve`` if the policy allows it; every outcome is a record."""
    approved_id = str(approval.spec.get("approve") or "")
    who, source = approver(approval.spec, approval.meta)
    incident_key = f"{approval.incident_namespace}/{approval.incident_name}"
    started = now()
    base = RemediationRecord(
        id=approved_id,
        approved_by=who,
        approved_by_source=source,
        approved_at=started,
        result=RemediationResult.REJECTED,
        reason="",
        observed_generation=approval.meta.get("generation"),
    )
    approved_event = EventNote(
        "Normal", "RemediationApproved", f"{approved_id} approved by {who}", on_target=False
    )

    def rejected(reason: str, message: str, target_body: JsonObj | None = None) -> Outcome:
        record = base.model_copy(
            update={"result": RemediationResult.REJECTED, "reason": reason, "message": message}
        )
        return Outcome(
            record,
            [approved_event, EventNote("Warning", "RemediationRejected", message[:1000])],
            target_body,
        )

    if approval.status.get("phase") != Phase.DIAGNOSED.value:
        return rejected(
            "NotDiagnosed",
            f"the Incident is {approval.status.get('phase') or 'Pending'}; approve a "
            f"remediation once it is Diagnosed",
        )
    try:
        diagnosis = Diagnosis.model_validate(approval.status.get("diagnosis") or {})
    except ValidationError:
        return rejected("NotDiagnosed", "status.diagnosis is missing or malformed")
    by_id = {r.id: r for r in diagnosis.remediations}
    remediation = by_id.get(approved_id)
    if remediation is None:
        valid = ", ".join(by_id) or "none"
        return rejected(
            "UnknownRemediation",
            f"spec.approve {approved_id!r} is not a remediation of this diagnosis; "
            f"valid ids: {valid}",
        )
    base = base.model_copy(update={"action": remediation.action, "target": remediation.target})
    previous = approval.status.get("remediation") or {}
    if previous.get("id") == approved_id and previous.get("result") == RemediationResult.APPLIED:
        record = RemediationRecord.model_validate(previous).model_copy(
            update={"reason": "AlreadyApplied", "message": "this remediation was already applied"}
        )
        return Outcome(
            record, [EventNote("Normal", "RemediationAlreadyApplied", record.message, False)]
        )

    try:
        policy = read_policy_file(policy_file)
    except PolicyError as error:
        return rejected("PolicyInvalid", f"the remediation policy cannot be used: {error}")
    if policy is None:
        verdict = evaluate(None, _request(remediation, {}, [], who, started))
        return rejected(verdict.reason, verdict.message)

    try:
        obj = await cluster.read(remediation.target)
        if obj is None:
            return rejected(
                "TargetNotFound", f"{remediation.target.display()} does not exist (any more)"
            )
        target_body = {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "metadata": {k: _meta(obj).get(k) for k in ("name", "namespace", "uid")},
        }
        ledger = parse_ledger(_annotations(obj).get(LEDGER_ANNOTATION))
        if any(e.incident == incident_key and e.id == approved_id for e in ledger):
            # The write landed but the operator did not record it (crash, lost response).
            record = base.model_copy(
                update={
                    "result": RemediationResult.APPLIED,
                    "reason": "AlreadyApplied",
                    "message": f"{remediation.target.display()} records this remediation as "
                    f"applied",
                    "changes": RemediationRecord.model_validate(previous).changes
                    if previous.get("id") == approved_id
                    else [],
                    "undo": previous.get("undo") if previous.get("id") == approved_id else None,
                }
            )
            return Outcome(
                record,
                [EventNote("Normal", "RemediationAlreadyApplied", record.message, False)],
                target_body,
            )
        verdict = evaluate(
            policy,
            _request(remediation, obj, ledger, who, started, labels=_meta(obj).get("labels") or {}),
        )
        if not verdict.allowed:
            return rejected(verdict.reason, verdict.message, target_body)
        entry = LedgerEntry(
            at=started, action=remediation.action, id=approved_id, incident=incident_key
        )
        related = await cluster.related(remediation)
        plan = build_plan(
            remediation, obj, related, policy.bounds, append_ledger(ledger, entry), started
        )
    except PlanError as error:
        return rejected(error.reason, str(error))
    except ApiException as error:
        record = base.model_copy(
            update={
                "result": RemediationResult.FAILED,
                "reason": "ReadFailed",
                "message": f"reading {remediation.target.display()} failed: {_api_error(error)}",
            }
        )
        return Outcome(
            record, [approved_event, EventNote("Warning", "RemediationFailed", record.message)]
        )

    planned = base.model_copy(
        update={
            "result": RemediationResult.APPLYING,
            "reason": "DryRun",
            "message": plan.summary,
            "changes": plan.changes,
            "undo": plan.undo,
        }
    )
    await record_progress(planned)
    events = [approved_event]
    try:
        await cluster.patch(plan.patch, dry_run=True)
        for eviction in plan.evictions:
            await cluster.evict(eviction, dry_run=True)
    except ApiException as error:
        message = f"the server rejected the dry run of {plan.summary}: {_api_error(error)}"
        record = planned.model_copy(
            update={
                "result": RemediationResult.DRY_RUN_FAILED,
                "reason": "DryRunFailed",
                "message": message,
                "undo": None,
            }
        )
        events.append(EventNote("Warning", "RemediationFailed", message[:1000]))
        return Outcome(record, events, target_body)
    events.append(EventNote("Normal", "RemediationDryRun", f"dry run passed: {plan.summary}"))
    try:
        await cluster.patch(plan.patch, dry_run=False)
        for eviction in plan.evictions:
            await cluster.evict(eviction, dry_run=False)
    except ApiException as error:
        conflict = " (the object changed meanwhile; approve again)" if error.status == 409 else ""
        message = f"applying {plan.summary} failed: {_api_error(error)}{conflict}"
        record = planned.model_copy(
            update={"result": RemediationResult.FAILED, "reason": "ApplyFailed", "message": message}
        )
        events.append(EventNote("Warning", "RemediationFailed", message[:1000]))
        return Outcome(record, events, target_body)
    record = planned.model_copy(
        update={
            "result": RemediationResult.APPLIED,
            "reason": "Applied",
            "message": plan.summary,
            "applied_at": now(),
            "dry_run": True,
        }
    )
    events.append(
        EventNote("Normal", "RemediationApplied", f"{plan.summary} (approved by {who})"[:1000])
    )
    return Outcome(record, events, target_body)


def _request(
    remediation: Remediation,
    obj: JsonObj,
    ledger: list[LedgerEntry],
    who: str,
    now: datetime,
    *,
    labels: dict[str, str] | None = None,
) -> Request:
    return Request(
        action=remediation.action,
        target=remediation.target,
        labels=dict(labels or {}),
        annotations=_annotations(obj),
        ledger=ledger,
        approver_known=who != "unknown",
        now=now,
    )


def remediation_condition_fields(
    record: RemediationRecord,
) -> tuple[Literal["True", "False"], str, str]:
    """(status, reason, message) of the ``Remediated`` condition for ``record``."""
    applied = record.result is RemediationResult.APPLIED
    return ("True" if applied else "False", record.reason or record.result.value, record.message)

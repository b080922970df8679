"""The parts of a remediation plan and how one change is written (pure): the patch step the
cluster edge sends, the evictions of a drain, each changed field's before and after
(``leaf_changes``), the ledger annotation every patch carries (``metadata_patch``) and the
inverse patch with its display command (``undo_of``). The planners in
``kubetriage.remediation.plan`` build ``Plan``s from these; ``kubetriage.remediation.cluster``
applies them.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any, Literal

from kubetriage.models.base import ObjectRef
from kubetriage.models.incident import FieldChange, RemediationUndo
from kubetriage.models.objects import meta
from kubetriage.remediation.policy import LEDGER_ANNOTATION

JsonObj = dict[str, Any]
PatchType = Literal["strategic", "merge", "json"]
MAX_UNDO_PATCH = 30_000
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


def json_text(value: Any) -> str | None:
    """A JSON value as a ``FieldChange`` side: compact, keys sorted; None stays None."""
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


def leaf_changes(before: Any, after: Any, path: str) -> list[FieldChange]:
    """Every leaf that differs between two JSON values, as FieldChanges."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes = []
        for key in sorted(set(before) | set(after)):
            changes += leaf_changes(before.get(key), after.get(key), f"{path}.{key}")
        return changes
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        changes = []
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            label = b.get("name") if isinstance(b, dict) and "name" in b else index
            changes += leaf_changes(b, a, f"{path}[{label}]")
        return changes
    if before == after:
        return []
    return [FieldChange(path=path, before=json_text(before), after=json_text(after))]


def metadata_patch(obj: JsonObj, ledger_value: str) -> JsonObj:
    """The metadata every patch carries: the resourceVersion the plan was made from (so a
    changed object fails the write) and the remediation ledger annotation."""
    return {
        "resourceVersion": meta(obj).get("resourceVersion"),
        "annotations": {LEDGER_ANNOTATION: ledger_value},
    }


def _kubectl_patch(target: ObjectRef, patch_type: PatchType, patch: Any) -> str:
    ns = f"-n {shlex.quote(target.namespace)} " if target.namespace else ""
    ref = shlex.quote(f"{_RESOURCE.get(target.kind, target.kind.lower())}/{target.name}")
    body = json.dumps(patch, separators=(",", ":"))
    return f"kubectl {ns}patch {ref} --type {patch_type} -p {shlex.quote(body)}"


def undo_of(
    target: ObjectRef, patch_type: PatchType, patch: Any, note: str | None = None
) -> RemediationUndo:
    """The inverse patch as the status records it, with its ``kubectl patch`` command for
    display; only the note when the patch is too large to record."""
    text = json.dumps(patch, separators=(",", ":"))
    if len(text) > MAX_UNDO_PATCH:
        return RemediationUndo(note=(note or "") + " The inverse patch is too large to record.")
    return RemediationUndo(
        patch_type=patch_type,
        patch=text,
        command=_kubectl_patch(target, patch_type, patch),
        note=note,
    )

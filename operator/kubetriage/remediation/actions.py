"""Executing an approved remediation: find it, check the policy, plan it as a concrete
Kubernetes patch, dry-run it on the server, apply it once, and say exactly what changed and
how to undo. Called by the ``approve`` handler in ``kubetriage.handlers``.

- ``kubetriage.remediation.plan``: the pure planning (``build_plan``);
- ``kubetriage.remediation.cluster``: ``ClusterAdapter``, the I/O edge;
- here: ``execute_approval``, the flow (find the remediation, policy, plan, dry-run, apply)
  that returns a ``RemediationRecord`` plus the Events to post; it never raises for an
  expected outcome.

Exactly once: every patch carries the target's ``resourceVersion`` (a concurrent change is
a conflict, not a lost update) and appends an entry to the target's
``kubetriage.io/last-remediations`` annotation in the same write, so "was this approval
applied?" is answered by the target itself, whatever happened to the operator in between.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from kubetriage.models.diagnosis import Diagnosis, Remediation
from kubetriage.models.incident import IncidentView, Phase, RemediationRecord, RemediationResult
from kubetriage.models.objects import annotations_of, meta
from kubetriage.remediation.cluster import ClusterAdapter
from kubetriage.remediation.patches import JsonObj, PlanError
from kubetriage.remediation.plan import build_plan
from kubetriage.remediation.policy import (
    LEDGER_ANNOTATION,
    LedgerEntry,
    PolicyError,
    RemediationPolicy,
    Request,
    append_ledger,
    evaluate,
    load_policy,
    parse_ledger,
)
from kubetriage.tenancy import OUTSIDE_NAMESPACE, Scope

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
    approval: IncidentView,
    *,
    cluster: ClusterAdapter,
    policy_file: Path | None,
    scope: Scope,
    now: Callable[[], datetime],
    record_progress: Callable[[RemediationRecord], Awaitable[None]],
) -> Outcome:
    """Carry out ``spec.approve`` if the policy allows it; every outcome is a record.
    ``scope`` is the tenancy rule for the approving Incident's namespace, checked again here
    whatever the diagnosis says (``kubetriage.tenancy``)."""
    approved_id = str(approval.spec.get("approve") or "")
    who, source = approver(approval.spec, approval.meta)
    incident_key = f"{approval.namespace}/{approval.name}"
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
    if not scope.may_target(remediation.target):
        return rejected(OUTSIDE_NAMESPACE, scope.refusal(remediation.target))
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
            "metadata": {k: meta(obj).get(k) for k in ("name", "namespace", "uid")},
        }
        ledger = parse_ledger(annotations_of(obj).get(LEDGER_ANNOTATION))
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
            _request(
                remediation,
                obj,
                ledger,
                who,
                started,
                scope=scope,
                labels=meta(obj).get("labels") or {},
            ),
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
    scope: Scope | None = None,
    labels: dict[str, str] | None = None,
) -> Request:
    return Request(
        action=remediation.action,
        target=remediation.target,
        labels=dict(labels or {}),
        annotations=annotations_of(obj),
        ledger=ledger,
        approver_known=who != "unknown",
        now=now,
        scope=scope,
    )


def remediation_condition_fields(
    record: RemediationRecord,
) -> tuple[Literal["True", "False"], str, str]:
    """(status, reason, message) of the ``Remediated`` condition for ``record``."""
    applied = record.result is RemediationResult.APPLIED
    return ("True" if applied else "False", record.reason or record.result.value, record.message)
